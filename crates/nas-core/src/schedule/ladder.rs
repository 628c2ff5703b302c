//! Fidelity ladders: the rungs a trial trains through, from cheap to full fidelity.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::ScheduleError;

/// One rung of a fidelity ladder. Training progress is measured in images seen: a trial's full
/// budget is `epochs × (training images at the top rung)`, and rung r ends when `budget_share`
/// of it has been seen.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rung {
    /// Share of the trial's full training budget seen by the end of this rung, in (0, 1]; the
    /// top rung has 1.
    pub budget_share: f64,
    /// Share of the training split this rung trains on, in (0, 1]; 1 when left out.
    #[serde(default = "full_share")]
    pub data_fraction: f64,
    /// Image side length in pixels during this rung; `None` = the dataset's own resolution.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolution: Option<u32>,
}

fn full_share() -> f64 {
    1.0
}

impl Rung {
    /// A rung at full data and resolution ending at `budget_share`.
    pub fn at_budget(budget_share: f64) -> Self {
        Rung {
            budget_share,
            data_fraction: 1.0,
            resolution: None,
        }
    }
}

/// How a computed fidelity ladder shares a trial's budget between its rungs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LadderShape {
    /// Rung r at `eta^(r - top)` of the budget ([`FidelityLadder::geometric`]).
    #[default]
    Geometric,
    /// The same compute on every rung under successive halving ([`FidelityLadder::balanced`]).
    Balanced,
}

impl LadderShape {
    /// The names [`LadderShape::parse`] accepts.
    pub const NAMES: [&'static str; 2] = ["geometric", "balanced"];

    /// Parses `geometric` or `balanced`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "geometric" => Some(LadderShape::Geometric),
            "balanced" => Some(LadderShape::Balanced),
            _ => None,
        }
    }

    /// The name [`LadderShape::parse`] reads back.
    pub fn name(self) -> &'static str {
        match self {
            LadderShape::Geometric => "geometric",
            LadderShape::Balanced => "balanced",
        }
    }
}

/// `11%`, `3.7%`, `0.41%`: enough digits to tell small shares apart.
fn percent(share: f64) -> String {
    let p = share * 100.0;
    if p >= 10.0 {
        format!("{p:.0}%")
    } else if p >= 1.0 {
        format!("{p:.1}%")
    } else {
        format!("{p:.2}%")
    }
}

impl fmt::Display for Rung {
    /// `11% budget, 11% data, 14 px` (`full res` when the resolution is the dataset's).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} budget, {} data, ",
            percent(self.budget_share),
            percent(self.data_fraction)
        )?;
        match self.resolution {
            Some(px) => write!(f, "{px} px"),
            None => write!(f, "full res"),
        }
    }
}

/// The rungs of a multi-fidelity search and its reduction factor `eta`.
#[derive(Debug, Clone, PartialEq)]
pub struct FidelityLadder {
    rungs: Vec<Rung>,
    eta: f64,
}

impl FidelityLadder {
    /// The most rungs a ladder may have (with η ≥ 2, rung 0 of a geometric ladder of 64
    /// rungs already trains on less than 10⁻¹⁹ of the budget).
    pub const MAX_RUNGS: usize = 64;

    /// Validates: one to [`Self::MAX_RUNGS`] rungs; budget_share strictly increasing, the
    /// last one 1; data_fraction and resolution non-decreasing (`None` counts as the
    /// largest); each share in (0, 1]; resolutions positive; eta a finite number ≥ 2.
    pub fn new(rungs: Vec<Rung>, eta: f64) -> Result<Self, ScheduleError> {
        if !(eta.is_finite() && eta >= 2.0) {
            return Err(ScheduleError::Eta { eta });
        }
        check_rung_count(rungs.len())?;
        let top = rungs.len().checked_sub(1).ok_or(ScheduleError::NoRungs)?;
        for (r, rung) in rungs.iter().enumerate() {
            check_rung(r, rung)?;
            if r > 0 {
                check_step(r, &rungs[r - 1], rung)?;
            }
        }
        let last = rungs[top].budget_share;
        if last != 1.0 {
            return Err(ScheduleError::TopBudgetNotOne {
                rung: top,
                value: last,
            });
        }
        Ok(FidelityLadder { rungs, eta })
    }

    /// One rung at full fidelity (eta 3, irrelevant).
    pub fn full() -> Self {
        FidelityLadder {
            rungs: vec![Rung::at_budget(1.0)],
            eta: 3.0,
        }
    }

    /// `num_rungs` rungs with `budget_share = eta^(r - top)`; `data_fraction` the same when
    /// `shrink_data`, else 1. With `resolution = Some((min, full))` rung 0 uses `min`, the top
    /// rung the dataset's own (`None`), and the rungs in between interpolate geometrically,
    /// rounded to whole pixels (never below `min`).
    pub fn geometric(
        eta: u32,
        num_rungs: usize,
        shrink_data: bool,
        resolution: Option<(u32, u32)>,
    ) -> Result<Self, ScheduleError> {
        if let Some((min, full)) = resolution {
            if min == 0 || min > full {
                return Err(ScheduleError::ResolutionRange { min, full });
            }
        }
        // Before the rungs are allocated: `num_rungs` may come from a config file.
        check_rung_count(num_rungs)?;
        let top = num_rungs.checked_sub(1).ok_or(ScheduleError::NoRungs)?;
        let rungs = (0..num_rungs)
            .map(|r| {
                let share = f64::from(eta).powi(r as i32 - top as i32);
                Rung {
                    budget_share: share,
                    data_fraction: if shrink_data { share } else { 1.0 },
                    resolution: resolution.and_then(|range| interpolate(range, r, top)),
                }
            })
            .collect();
        FidelityLadder::new(rungs, f64::from(eta))
    }

    /// The rungs, cheapest first.
    pub fn rungs(&self) -> &[Rung] {
        &self.rungs
    }

    /// Number of rungs.
    pub fn len(&self) -> usize {
        self.rungs.len()
    }

    /// Always false: a ladder has at least one rung.
    pub fn is_empty(&self) -> bool {
        self.rungs.is_empty()
    }

    /// The reduction factor.
    pub fn eta(&self) -> f64 {
        self.eta
    }

    /// `num_rungs` rungs at the resolutions of [`Self::geometric`], with budget shares that
    /// give every rung the same compute under successive halving: each promotion costs `eta`
    /// times the rung before it (in [`Self::cost`]'s units, so a rung at a lower resolution
    /// trains on more images for the same compute), and the `1/eta` of trials that reach the
    /// next rung spend there what the whole rung spent. `data_fraction` is the budget share,
    /// as with `shrink_data`. Two rungs from 14 to 28 px with η = 3: rung 0 at 4/7 of the
    /// budget (1/3 in the geometric ladder, whose promotion costs 8 first rungs).
    pub fn balanced(
        eta: u32,
        num_rungs: usize,
        (min, full): (u32, u32),
    ) -> Result<Self, ScheduleError> {
        let geometric = Self::geometric(eta, num_rungs, true, Some((min, full)))?;
        // The increment of rung r is proportional to eta^r over its resolution factor.
        let weights: Vec<f64> = geometric
            .rungs
            .iter()
            .enumerate()
            .map(|(r, rung)| f64::from(eta).powi(r as i32) / pixel_factor(rung.resolution, full))
            .collect();
        let total: f64 = weights.iter().sum();
        let mut seen = 0.0;
        let top = geometric.top();
        let rungs = geometric
            .rungs
            .iter()
            .zip(&weights)
            .enumerate()
            .map(|(r, (rung, w))| {
                seen += w / total;
                let share = if r == top { 1.0 } else { seen };
                Rung {
                    budget_share: share,
                    data_fraction: share,
                    resolution: rung.resolution,
                }
            })
            .collect();
        FidelityLadder::new(rungs, f64::from(eta))
    }

    /// `num_rungs` rungs from `min` to `full` pixels, their budget shared out as `shape` says
    /// (data fractions equal to the budget shares in both shapes).
    pub fn computed(
        shape: LadderShape,
        eta: u32,
        num_rungs: usize,
        (min, full): (u32, u32),
    ) -> Result<Self, ScheduleError> {
        match shape {
            LadderShape::Geometric => Self::geometric(eta, num_rungs, true, Some((min, full))),
            LadderShape::Balanced => Self::balanced(eta, num_rungs, (min, full)),
        }
    }

    /// Index of the last (full-fidelity) rung.
    pub fn top(&self) -> usize {
        self.rungs.len() - 1
    }

    /// Compute of training from the end of rung `from` (`None` = from scratch) to the end of
    /// rung `to`, in units of one full budget at full resolution: the sum over the rungs k of
    /// the segment of `(budget_share_k − budget_share_{k−1}) × (res_k / full_resolution)²`
    /// (`None` = full resolution). 0 when `to` is not past `from`; `to` beyond the top counts
    /// as the top; a `full_resolution` of 0 makes every resolution factor 1.
    pub fn cost(&self, from: Option<usize>, to: usize, full_resolution: u32) -> f64 {
        let start = from.map_or(0, |f| f + 1);
        let end = to.min(self.top());
        (start..=end)
            .map(|k| {
                let before = k.checked_sub(1).map_or(0.0, |p| self.rungs[p].budget_share);
                let rung = &self.rungs[k];
                (rung.budget_share - before) * pixel_factor(rung.resolution, full_resolution)
            })
            .sum()
    }
}

impl fmt::Display for FidelityLadder {
    /// One line per rung: `rung 0: 11% budget, 11% data, 14 px`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (r, rung) in self.rungs.iter().enumerate() {
            if r > 0 {
                writeln!(f)?;
            }
            write!(f, "rung {r}: {rung}")?;
        }
        Ok(())
    }
}

/// `(res / full)²`, 1 for the full resolution.
fn pixel_factor(resolution: Option<u32>, full_resolution: u32) -> f64 {
    match resolution {
        Some(px) if full_resolution > 0 => (f64::from(px) / f64::from(full_resolution)).powi(2),
        _ => 1.0,
    }
}

/// Resolution of rung `r` of `top + 1` between `min` (rung 0) and full (the top, `None`).
fn interpolate((min, full): (u32, u32), r: usize, top: usize) -> Option<u32> {
    if r == top {
        return None;
    }
    let t = r as f64 / top as f64;
    let px = f64::from(min) * (f64::from(full) / f64::from(min)).powf(t);
    Some((px.round() as u32).max(min))
}

/// At most [`FidelityLadder::MAX_RUNGS`] rungs.
fn check_rung_count(rungs: usize) -> Result<(), ScheduleError> {
    if rungs > FidelityLadder::MAX_RUNGS {
        return Err(ScheduleError::TooManyRungs {
            rungs,
            max: FidelityLadder::MAX_RUNGS,
        });
    }
    Ok(())
}

/// Checks a rung's own values.
fn check_rung(r: usize, rung: &Rung) -> Result<(), ScheduleError> {
    let in_unit = |x: f64| x > 0.0 && x <= 1.0;
    for (field, value) in [
        ("budget_share", rung.budget_share),
        ("data_fraction", rung.data_fraction),
    ] {
        if !in_unit(value) {
            return Err(ScheduleError::ShareOutOfRange {
                rung: r,
                field,
                value,
            });
        }
    }
    if rung.resolution == Some(0) {
        return Err(ScheduleError::ZeroResolution { rung: r });
    }
    Ok(())
}

/// Checks that rung `r` does not go below rung `r − 1`.
fn check_step(r: usize, before: &Rung, rung: &Rung) -> Result<(), ScheduleError> {
    if rung.budget_share <= before.budget_share {
        return Err(ScheduleError::BudgetNotIncreasing {
            rung: r,
            value: rung.budget_share,
            previous_rung: r - 1,
            previous: before.budget_share,
        });
    }
    let decreasing = |field, value: String, previous: String| ScheduleError::FidelityDecreasing {
        rung: r,
        field,
        value,
        previous_rung: r - 1,
        previous,
    };
    if rung.data_fraction < before.data_fraction {
        return Err(decreasing(
            "data_fraction",
            rung.data_fraction.to_string(),
            before.data_fraction.to_string(),
        ));
    }
    // `None` is the dataset's own resolution, larger than any explicit one.
    let side = |res: Option<u32>| res.map_or(u64::MAX, u64::from);
    if side(rung.resolution) < side(before.resolution) {
        let show = |res: Option<u32>| res.map_or("full".to_string(), |px| px.to_string());
        return Err(decreasing(
            "resolution",
            show(rung.resolution),
            show(before.resolution),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fuzz_a_huge_rung_count_is_refused_before_allocating() {
        // Issue 18, fuzz target study_config (hand-made input): `rungs = 100000000000` in a
        // study config made `geometric` allocate 2.4 TB of rungs.
        let err = FidelityLadder::geometric(3, 100_000_000_000, true, Some((14, 28)));
        assert_eq!(
            err.unwrap_err().to_string(),
            "a fidelity ladder of 100000000000 rungs: at most 64 are allowed"
        );
        let err = FidelityLadder::new(vec![Rung::at_budget(1.0); 65], 3.0).unwrap_err();
        assert_eq!(err, ScheduleError::TooManyRungs { rungs: 65, max: 64 });
        let ladder = FidelityLadder::geometric(2, 64, true, Some((8, 1024))).unwrap();
        assert_eq!(ladder.len(), 64);
    }
}
