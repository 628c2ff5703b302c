//! The Pareto-best trials (as `nas_core::study::best_of` picks them) and the single best one.

use nas_core::study::{best_of, Direction, Trial, TrialState};

use crate::data::TrialRow;

/// Numbers of the Pareto-best complete trials (feasible-aware), ascending.
pub(crate) fn pareto_numbers(trials: &[Trial], directions: &[Direction]) -> Vec<u64> {
    let complete: Vec<Trial> = trials
        .iter()
        .filter(|t| t.state == TrialState::Complete)
        .cloned()
        .collect();
    let mut numbers: Vec<u64> = best_of(complete, directions)
        .iter()
        .map(|t| t.number)
        .collect();
    numbers.sort_unstable();
    numbers
}

/// The Pareto trial best in the first objective (lowest number among equals).
pub(crate) fn best<'a>(pareto: &'a [TrialRow], directions: &[Direction]) -> Option<&'a TrialRow> {
    let direction = *directions.first()?;
    let loss = |r: &TrialRow| r.value(0).map_or(f64::INFINITY, |v| direction.to_loss(v));
    pareto
        .iter()
        .min_by(|a, b| loss(a).total_cmp(&loss(b)).then(a.number.cmp(&b.number)))
}
