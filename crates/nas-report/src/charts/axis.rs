//! An x axis with ticks of our choosing: plotters' own on a linear scale, round values
//! (1, 2, 5 times a power of ten) on a log scale, where plotters would tick 0.3162, 3.162.

use std::ops::Range;

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::coord::types::RangedCoordf64;

/// Most ticks on an axis.
const MAX_TICKS: usize = 8;

/// A linear `f64` axis (log10 values for a log scale) ticked at chosen positions.
pub(crate) struct TickedAxis {
    linear: RangedCoordf64,
    ticks: Vec<f64>,
}

impl TickedAxis {
    /// The axis over `range`, which holds log10 values when `log`.
    pub(crate) fn new(range: Range<f64>, log: bool) -> Self {
        let linear = RangedCoordf64::from(range.clone());
        let ticks = match log {
            true => round_log_ticks(&range).unwrap_or_else(|| linear.key_points(MAX_TICKS)),
            false => linear.key_points(MAX_TICKS),
        };
        TickedAxis { linear, ticks }
    }
}

impl Ranged for TickedAxis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        self.linear.map(value, limit)
    }

    fn key_points<Hint: KeyPointHint>(&self, _hint: Hint) -> Vec<f64> {
        self.ticks.clone()
    }

    fn range(&self) -> Range<f64> {
        self.linear.range()
    }
}

/// log10 of 1-2-5, 1-3 or 1 times powers of ten inside `range` (log10 units), the first
/// that gives at most [`MAX_TICKS`]; none when that leaves fewer than three.
fn round_log_ticks(range: &Range<f64>) -> Option<Vec<f64>> {
    let decades = range.start.floor() as i32..=range.end.ceil() as i32;
    let mantissas: [&[f64]; 3] = [&[1.0, 2.0, 5.0], &[1.0, 3.0], &[1.0]];
    let ticks = mantissas
        .iter()
        .map(|ms| {
            decades
                .clone()
                .flat_map(|k| ms.iter().map(move |m| (m * 10f64.powi(k)).log10()))
                .filter(|t| range.contains(t))
                .collect::<Vec<f64>>()
        })
        .find(|t| t.len() <= MAX_TICKS)?;
    (ticks.len() >= 3).then_some(ticks)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn powers(ticks: &[f64]) -> Vec<f64> {
        ticks
            .iter()
            .map(|t| (10f64.powf(*t) * 1e6).round() / 1e6)
            .collect()
    }

    #[test]
    fn log_ticks_are_round() {
        let ticks = round_log_ticks(&((0.2f64).log10()..(10.0f64).log10())).expect("ticks");
        assert_eq!(powers(&ticks), vec![0.2, 0.5, 1.0, 2.0, 5.0]);
        let wide = round_log_ticks(&(3.9..6.1)).expect("ticks");
        assert_eq!(powers(&wide), vec![1e4, 2e4, 5e4, 1e5, 2e5, 5e5, 1e6]);
    }

    #[test]
    fn a_narrow_log_range_falls_back() {
        assert_eq!(round_log_ticks(&(4.1..4.3)), None);
    }
}
