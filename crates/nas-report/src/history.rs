//! How the search progressed: after each finished trial, the best value of the first objective
//! so far and (with two or more objectives) the hypervolume of the front so far.
//!
//! Finished trials (complete, pruned, failed) are taken in the order they finished
//! (`finished_at`; trials without it come last, by number). Only complete trials with a finite
//! value for every objective count, and only the feasible ones when any complete trial is
//! feasible (the rule `best_of` uses for the Pareto front).
//!
//! The hypervolume's reference point is fixed for the whole history, so that the curve never
//! decreases: per objective, the worst value of any complete trial, made 10% of that
//! objective's range worse (1 worse when all values are equal). A fixed point from the final
//! data keeps every trial inside the measured region, and the margin lets the extreme trials
//! add volume instead of sitting on the reference point's boundary.

use std::cmp::Ordering;

use nas_core::pareto::hypervolume;
use nas_core::study::{Direction, TrialState};
use serde::Serialize;

use crate::data::TrialRow;

/// Margin added to the worst value of each objective, as a fraction of its range.
const REFERENCE_MARGIN: f64 = 0.1;

/// The state of the search after one more trial finished.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HistoryPoint {
    /// How many trials had finished, from 1.
    pub index: usize,
    /// The trial that finished.
    pub trial: u64,
    /// How it finished.
    pub state: TrialState,
    /// Its first objective value, when it completed.
    pub value: Option<f64>,
    /// Best first objective value so far (in its own direction), once a trial completed.
    pub best: Option<f64>,
    /// Hypervolume of the complete trials so far, with two or more objectives.
    pub hypervolume: Option<f64>,
}

/// The progress of a study, one point per finished trial.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct History {
    /// The hypervolume's reference point in the objectives' own units (none with one
    /// objective or no complete trial).
    pub reference_point: Option<Vec<f64>>,
    /// One point per finished trial, in finishing order.
    pub points: Vec<HistoryPoint>,
}

impl History {
    /// The history of `rows`, for a study with `directions`.
    pub fn build(rows: &[TrialRow], directions: &[Direction]) -> Self {
        let scored = Scored::new(rows, directions);
        let reference = (directions.len() >= 2)
            .then(|| scored.reference_loss())
            .flatten();
        let mut front: Vec<Vec<f64>> = Vec::new();
        let mut volume = 0.0;
        let mut points = Vec::new();
        for (i, row) in finishing_order(rows).into_iter().enumerate() {
            if let Some(loss) = scored.loss_of(row) {
                front.push(loss);
                if let Some(r) = &reference {
                    volume = hypervolume(&front, r);
                }
            }
            points.push(HistoryPoint {
                index: i + 1,
                trial: row.number,
                state: row.state,
                value: row.value(0),
                best: best_value(&front, directions),
                hypervolume: reference.as_ref().map(|_| volume),
            });
        }
        let reference_point = reference.map(|r| from_loss(&r, directions));
        History {
            reference_point,
            points,
        }
    }
}

/// The complete trials whose values count, as losses (smaller is better).
struct Scored<'a> {
    directions: &'a [Direction],
    any_feasible: bool,
    all_losses: Vec<Vec<f64>>,
}

impl<'a> Scored<'a> {
    fn new(rows: &[TrialRow], directions: &'a [Direction]) -> Self {
        let valid: Vec<&TrialRow> = rows
            .iter()
            .filter(|r| losses(r, directions).is_some())
            .collect();
        Scored {
            directions,
            any_feasible: valid.iter().any(|r| r.feasible),
            all_losses: valid.iter().filter_map(|r| losses(r, directions)).collect(),
        }
    }

    /// The row's losses when it counts towards the front.
    fn loss_of(&self, row: &TrialRow) -> Option<Vec<f64>> {
        if self.any_feasible && !row.feasible {
            return None;
        }
        losses(row, self.directions)
    }

    /// Worst loss per objective over all complete trials, plus the margin.
    fn reference_loss(&self) -> Option<Vec<f64>> {
        let first = self.all_losses.first()?;
        let reference = (0..first.len())
            .map(|j| {
                let column = self.all_losses.iter().map(|l| l[j]);
                let worst = column.clone().fold(f64::NEG_INFINITY, f64::max);
                let range = worst - column.fold(f64::INFINITY, f64::min);
                worst
                    + if range > 0.0 {
                        REFERENCE_MARGIN * range
                    } else {
                        1.0
                    }
            })
            .collect();
        Some(reference)
    }
}

/// A complete trial's values as losses, when it has a finite value per objective.
fn losses(row: &TrialRow, directions: &[Direction]) -> Option<Vec<f64>> {
    let values = row.values.as_ref()?;
    let usable = row.state == TrialState::Complete
        && values.len() == directions.len()
        && values.iter().all(|v| v.is_finite());
    usable.then(|| from_loss(values, directions))
}

/// Turns values into losses or back (`to_loss` is its own inverse).
fn from_loss(values: &[f64], directions: &[Direction]) -> Vec<f64> {
    values
        .iter()
        .zip(directions)
        .map(|(&v, d)| d.to_loss(v))
        .collect()
}

/// The best first objective so far, in its own direction.
fn best_value(front: &[Vec<f64>], directions: &[Direction]) -> Option<f64> {
    let best = front.iter().map(|l| l[0]).min_by(f64::total_cmp)?;
    Some(directions.first()?.to_loss(best))
}

/// Finished trials by finishing time, those without one last, ties by number.
fn finishing_order(rows: &[TrialRow]) -> Vec<&TrialRow> {
    let mut finished: Vec<&TrialRow> = rows.iter().filter(|r| r.state.is_finished()).collect();
    finished.sort_by(|a, b| {
        let time = |r: &TrialRow| r.finished_at.unwrap_or(f64::INFINITY);
        match time(a).total_cmp(&time(b)) {
            Ordering::Equal => a.number.cmp(&b.number),
            other => other,
        }
    });
    finished
}
