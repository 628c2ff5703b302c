//! Runs of a parameter's values that the conditions on it cannot tell apart, each as one
//! representative value and its length: the branches [`super::count`] multiplies over.

use crate::{Condition, Distribution, ParamValue};

/// Runs of values that satisfy the same `watched` conditions, each as a representative value and
/// the run's length (`None` for stretches of a continuous range).
pub(super) fn runs(
    distribution: &Distribution,
    watched: &[&Condition],
) -> Vec<(ParamValue, Option<u128>)> {
    match distribution {
        Distribution::Categorical { choices } => {
            choices.iter().map(|c| (c.clone(), Some(1))).collect()
        }
        Distribution::Float {
            low,
            high,
            step: None,
            ..
        } => continuous_runs(*low, *high, watched),
        _ => Grid::of(distribution)
            .map(|grid| grid.runs(watched))
            .unwrap_or_default(),
    }
}

/// Representatives of a continuous range: each point where a condition may change, and a point
/// between each two such points.
fn continuous_runs(low: f64, high: f64, watched: &[&Condition]) -> Vec<(ParamValue, Option<u128>)> {
    let mut cuts = vec![low, high];
    for condition in watched {
        match condition {
            Condition::In { values, .. } => {
                cuts.extend(values.iter().filter_map(ParamValue::as_f64))
            }
            Condition::Compare { value, .. } => cuts.push(*value),
        }
    }
    cuts.retain(|x| (low..=high).contains(x));
    cuts.sort_by(f64::total_cmp);
    cuts.dedup();
    let middles: Vec<f64> = cuts.windows(2).map(|w| (w[0] + w[1]) / 2.0).collect();
    cuts.into_iter()
        .chain(middles)
        .map(|x| (ParamValue::Float(x), None))
        .collect()
}

/// The values `low + k * step`, `k < len`, of an int or stepped float parameter.
enum Grid {
    Int { low: i64, step: i64, len: u128 },
    Float { low: f64, step: f64, len: u128 },
}

impl Grid {
    /// The grid of an int or stepped float distribution.
    fn of(distribution: &Distribution) -> Option<Self> {
        let len = distribution.cardinality()?;
        match *distribution {
            Distribution::Int { low, step, .. } => Some(Grid::Int { low, step, len }),
            Distribution::Float {
                low,
                step: Some(step),
                ..
            } => Some(Grid::Float { low, step, len }),
            _ => None,
        }
    }

    /// Number of values.
    fn len(&self) -> u128 {
        match *self {
            Grid::Int { len, .. } | Grid::Float { len, .. } => len,
        }
    }

    /// The `k`-th value, computed as the samplers do.
    fn value(&self, k: u128) -> ParamValue {
        match *self {
            Grid::Int { low, step, .. } => {
                let x = i128::from(low) + k as i128 * i128::from(step);
                ParamValue::Int(i64::try_from(x).unwrap_or(i64::MAX))
            }
            Grid::Float { low, step, .. } => ParamValue::Float(low + k as f64 * step),
        }
    }

    /// The position of `value` on the grid, if it is there (up to rounding, as conditions match
    /// values: see [`ParamValue::approx_eq`]).
    fn index(&self, value: &ParamValue) -> Option<u128> {
        let x = value.as_f64()?;
        let (low, step) = match *self {
            Grid::Int { low, step, .. } => (low as f64, step as f64),
            Grid::Float { low, step, .. } => (low, step),
        };
        let k = ((x - low) / step).round();
        (k >= 0.0 && (k as u128) < self.len() && self.value(k as u128).approx_eq(value))
            .then_some(k as u128)
    }

    /// Splits the grid where a watched condition may change: around each accepted value and at
    /// the first index where a comparison flips (comparisons are monotone along the grid).
    fn runs(&self, watched: &[&Condition]) -> Vec<(ParamValue, Option<u128>)> {
        let mut cuts = vec![0, self.len()];
        for condition in watched {
            match condition {
                Condition::In { values, .. } => {
                    for k in values.iter().filter_map(|v| self.index(v)) {
                        cuts.extend([k, k + 1]);
                    }
                }
                Condition::Compare { .. } => cuts.extend(self.first_flip(condition)),
            }
        }
        cuts.sort_unstable();
        cuts.dedup();
        cuts.windows(2)
            .map(|w| (self.value(w[0]), Some(w[1] - w[0])))
            .collect()
    }

    /// The first index where `condition` differs from its value at index 0 (binary search).
    fn first_flip(&self, condition: &Condition) -> Option<u128> {
        let start = condition.holds(&self.value(0));
        let (mut lo, mut hi) = (1, self.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if condition.holds(&self.value(mid)) == start {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        (lo < self.len()).then_some(lo)
    }
}
