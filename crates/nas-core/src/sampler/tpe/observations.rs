//! The study history as TPE sees it: encoded parameter rows and what each trial tells.
//!
//! A trial's parameters never change after it is created, so its encoded row is computed once
//! and cached by trial number; each proposal then only walks the trial list.

use crate::sampler::Encoder;
use crate::space::SearchSpace;
use crate::study::{Direction, Trial, TrialState};

/// What one trial contributes to the densities.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Finished, with losses (objectives turned to minimisation).
    Complete(Vec<f64>),
    /// Stopped early: counted among the bad configurations.
    Pruned,
    /// Still running: counted among the bad configurations (constant liar), so concurrent
    /// proposals move away from points already being evaluated.
    Running,
}

/// One trial as an observation.
#[derive(Debug, Clone)]
pub struct Observation {
    /// Row of the encoded parameters in [`Observations::row`].
    pub row: usize,
    /// What the trial tells.
    pub outcome: Outcome,
    /// Constraint values (feasible when all ≤ 0), if reported.
    pub constraints: Option<Vec<f64>>,
}

/// The encoded history of a study, reused across proposals.
#[derive(Debug, Default)]
pub struct ObservationCache {
    space: Option<SearchSpace>,
    encoder: Option<Encoder>,
    /// Encoded rows, `dims` values each; NaN marks an inactive parameter.
    matrix: Vec<f64>,
    /// Row of each trial number, if encoded.
    row_of: Vec<Option<usize>>,
}

/// A view of the history for one proposal.
#[derive(Debug)]
pub struct Observations<'a> {
    /// The space's encoder.
    pub encoder: &'a Encoder,
    matrix: &'a [f64],
    dims: usize,
    /// The trials that count, in number order.
    pub items: Vec<Observation>,
}

impl Observations<'_> {
    /// Encoded parameters of a row (NaN where inactive).
    pub fn row(&self, row: usize) -> &[f64] {
        &self.matrix[row * self.dims..(row + 1) * self.dims]
    }

    /// Number of completed trials.
    pub fn n_complete(&self) -> usize {
        self.items
            .iter()
            .filter(|o| matches!(o.outcome, Outcome::Complete(_)))
            .count()
    }
}

impl ObservationCache {
    /// The observations of `trials` over `space`. Running trials are included only when
    /// `constant_liar` is set; failed and waiting trials never count.
    pub fn observe<'a>(
        &'a mut self,
        space: &SearchSpace,
        directions: &[Direction],
        trials: &[Trial],
        constant_liar: bool,
    ) -> Observations<'a> {
        if self.space.as_ref() != Some(space) {
            *self = ObservationCache {
                space: Some(space.clone()),
                encoder: Some(Encoder::new(space)),
                ..ObservationCache::default()
            };
        }
        let mut items = Vec::with_capacity(trials.len());
        for trial in trials {
            let outcome = match trial.state {
                TrialState::Complete => match &trial.values {
                    Some(v) if v.len() == directions.len() => Outcome::Complete(
                        v.iter().zip(directions).map(|(&x, d)| d.to_loss(x)).collect(),
                    ),
                    _ => continue,
                },
                TrialState::Pruned => Outcome::Pruned,
                TrialState::Running if constant_liar => Outcome::Running,
                _ => continue,
            };
            let row = self.row_for(trial);
            items.push(Observation {
                row,
                outcome,
                constraints: trial.constraints.clone(),
            });
        }
        let encoder = self.encoder.as_ref().expect("encoder set above");
        Observations {
            encoder,
            dims: encoder.len(),
            matrix: &self.matrix,
            items,
        }
    }

    /// The cached row of a trial, encoding it on first sight.
    fn row_for(&mut self, trial: &Trial) -> usize {
        let n = trial.number as usize;
        if let Some(Some(row)) = self.row_of.get(n) {
            return *row;
        }
        let space = self.space.as_ref().expect("space set in observe");
        let encoder = self.encoder.as_ref().expect("encoder set in observe");
        let dims = encoder.len();
        let row = self.matrix.len() / dims.max(1);
        for (i, p) in space.params().iter().enumerate() {
            let x = trial
                .params
                .get(&p.name)
                .and_then(|v| encoder.encode(i, v))
                .unwrap_or(f64::NAN);
            self.matrix.push(x);
        }
        if self.row_of.len() <= n {
            self.row_of.resize(n + 1, None);
        }
        self.row_of[n] = Some(row);
        row
    }
}
