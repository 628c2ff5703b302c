//! The study history as TPE sees it: encoded parameter rows and what each trial tells.
//!
//! A trial's parameters never change after it is created, so its encoded row is computed once
//! and cached by trial number; each proposal then only walks the trial list.
//!
//! Trials of an earlier study ([`WarmStart`]) come first, with a smaller weight.

use super::joint::Workspace;
use crate::sampler::Encoder;
use crate::space::SearchSpace;
use crate::study::{Direction, Trial, TrialState};

/// What one trial contributes to the densities.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Finished, with losses (objectives turned to minimisation).
    Complete(Vec<f64>),
    /// Stopped early, with its last report (if any): pruned trials fill the good set only
    /// when too few trials completed, ranked by how far they got, then by that report.
    Pruned(Option<LastReport>),
    /// Still running with no report yet: counted among the bad configurations (constant
    /// liar), so concurrent proposals move away from points already being evaluated. A
    /// running trial with a report (a rung behind it) counts as [`Outcome::Pruned`] there.
    Running,
}

/// The last intermediate report of a pruned trial.
#[derive(Debug, Clone, PartialEq)]
pub struct LastReport {
    /// Its step (the rung, for the search's schedulers).
    pub step: u64,
    /// Its values as losses.
    pub losses: Vec<f64>,
}

/// Finished trials of an earlier study on a related space, shown to TPE before the study's
/// own trials with their weight scaled by `weight`.
#[derive(Debug, Clone, Default)]
pub struct WarmStart {
    /// The earlier trials; parameters the space lacks are ignored, parameters it has but the
    /// trial lacks (or holds a choice it lacks) count as inactive, and numbers outside the
    /// space's range are clamped to it.
    pub trials: Vec<Trial>,
    /// Weight of each earlier trial relative to one of the study's own, in (0, 1].
    pub weight: f64,
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
    /// Weight in the densities: 1 for the study's own trials.
    pub weight: f64,
}

/// The encoded history of a study, reused across proposals. A sampler serves one study: rows
/// and finished observations are cached by trial number (a finished trial never changes; a
/// cached entry whose values differ from the trial's is rebuilt).
#[derive(Debug, Default)]
pub struct ObservationCache {
    space: Option<SearchSpace>,
    encoder: Option<Encoder>,
    /// Encoded rows, `dims` values each; NaN marks an inactive parameter.
    matrix: Vec<f64>,
    /// The same values column by column (`columns[d][row]`), for per-parameter scans.
    columns: Vec<Vec<f64>>,
    /// Per column, the rows where the parameter is present, in increasing order of value
    /// (ties in row order): kept up to date as rows arrive, so the per-kernel bandwidths of
    /// the joint densities need no sort per proposal.
    value_order: Vec<Vec<u32>>,
    /// What the joint densities keep between proposals, by row.
    workspace: Workspace,
    /// Row of each trial number, if encoded.
    row_of: Vec<Option<usize>>,
    /// Observation of each finished trial, by number.
    finished: Vec<Option<Finished>>,
    /// Observations of the running trials of the current proposal.
    running: Vec<Observation>,
    /// Trials of an earlier study, and their observations once encoded for the space.
    warm: WarmStart,
    warm_items: Vec<Observation>,
}

/// A cached observation and the values it was built from.
#[derive(Debug)]
struct Finished {
    values: Option<Vec<f64>>,
    observation: Observation,
}

/// Where an item of the current proposal lives.
enum Slot {
    Finished(usize),
    Running(usize),
}

/// A view of the history for one proposal.
#[derive(Debug)]
pub struct Observations<'a> {
    /// The space's encoder.
    pub encoder: &'a Encoder,
    matrix: &'a [f64],
    columns: &'a [Vec<f64>],
    value_order: &'a [Vec<u32>],
    dims: usize,
    /// The trials that count, in number order.
    pub items: Vec<&'a Observation>,
}

impl Observations<'_> {
    /// Encoded values of parameter `d`, indexed by row (NaN where inactive).
    pub fn column(&self, d: usize) -> &[f64] {
        &self.columns[d]
    }

    /// Every parameter's encoded values, indexed by row: `columns()[d]` is
    /// [`Observations::column`]`(d)`.
    pub fn columns(&self) -> &[Vec<f64>] {
        self.columns
    }

    /// The rows where parameter `d` is present, in increasing order of its value (ties in
    /// row order).
    pub fn value_order(&self, d: usize) -> &[u32] {
        &self.value_order[d]
    }

    /// Number of encoded rows (every row index is below it).
    pub fn n_rows(&self) -> usize {
        self.matrix.len() / self.dims.max(1)
    }

    /// Encoded parameters of a row (NaN where inactive).
    pub fn row(&self, row: usize) -> &[f64] {
        &self.matrix[row * self.dims..(row + 1) * self.dims]
    }

    /// Number of finished trials (complete or pruned), the warm-start ones included.
    pub fn n_finished(&self) -> usize {
        self.items
            .iter()
            .filter(|o| !matches!(o.outcome, Outcome::Running))
            .count()
    }
}

/// What a finished trial tells; `None` for a complete trial without one finite value per
/// direction.
fn outcome_of(trial: &Trial, directions: &[Direction]) -> Option<Outcome> {
    let as_losses = |v: &[f64]| -> Option<Vec<f64>> {
        (v.len() == directions.len() && v.iter().all(|x| x.is_finite())).then(|| {
            v.iter()
                .zip(directions)
                .map(|(&x, d)| d.to_loss(x))
                .collect()
        })
    };
    match trial.state {
        TrialState::Complete => Some(Outcome::Complete(as_losses(trial.values.as_deref()?)?)),
        _ => {
            let last = trial
                .intermediate
                .iter()
                .next_back()
                .and_then(|(&step, v)| {
                    Some(LastReport {
                        step,
                        losses: as_losses(v)?,
                    })
                });
            Some(Outcome::Pruned(last))
        }
    }
}

impl ObservationCache {
    /// An empty cache that shows `warm`'s trials before the study's own.
    pub fn with_warm_start(warm: WarmStart) -> Self {
        ObservationCache {
            warm,
            ..ObservationCache::default()
        }
    }

    /// The observations of `trials` over `space`, and what the joint fits of earlier
    /// proposals left (kept with the rows it is keyed by). Running trials with a report count
    /// as pruned at it; those without one are included only when `constant_liar` is set;
    /// failed and waiting trials never count.
    pub fn observe<'a>(
        &'a mut self,
        space: &SearchSpace,
        directions: &[Direction],
        trials: &[Trial],
        constant_liar: bool,
    ) -> (Observations<'a>, &'a mut Workspace) {
        if self.space.as_ref() != Some(space) {
            *self = ObservationCache {
                space: Some(space.clone()),
                encoder: Some(Encoder::new(space)),
                warm: std::mem::take(&mut self.warm),
                ..ObservationCache::default()
            };
            self.encode_warm_start(directions);
        }
        self.running.clear();
        let mut slots = Vec::with_capacity(trials.len());
        for trial in trials {
            match trial.state {
                TrialState::Complete | TrialState::Pruned
                    if self.cache_finished(trial, directions) =>
                {
                    slots.push(Slot::Finished(trial.number as usize));
                }
                // A running trial with a rung behind it (training the next, or waiting to
                // be promoted) tells what a trial pruned there would: it counts as one.
                TrialState::Running => {
                    let outcome = match outcome_of(trial, directions) {
                        Some(Outcome::Pruned(Some(last))) => Outcome::Pruned(Some(last)),
                        _ if constant_liar => Outcome::Running,
                        _ => continue,
                    };
                    let row = self.row_for(trial);
                    slots.push(Slot::Running(self.running.len()));
                    self.running.push(Observation {
                        row,
                        outcome,
                        constraints: None,
                        weight: 1.0,
                    });
                }
                _ => {}
            }
        }
        let own = slots.iter().filter_map(|slot| match *slot {
            Slot::Finished(n) => self.finished[n].as_ref().map(|f| &f.observation),
            Slot::Running(i) => Some(&self.running[i]),
        });
        let items = self.warm_items.iter().chain(own).collect();
        let encoder = self.encoder.as_ref().expect("encoder set above");
        let observations = Observations {
            encoder,
            dims: encoder.len(),
            matrix: &self.matrix,
            columns: &self.columns,
            value_order: &self.value_order,
            items,
        };
        (observations, &mut self.workspace)
    }

    /// Makes sure the finished trial's observation is cached; false if it does not count (a
    /// complete trial without one finite value per direction).
    fn cache_finished(&mut self, trial: &Trial, directions: &[Direction]) -> bool {
        let n = trial.number as usize;
        if let Some(Some(f)) = self.finished.get(n) {
            if f.values == trial.values {
                return true;
            }
            self.row_of[n] = None; // another trial under the same number: re-encode it too
        }
        let Some(outcome) = outcome_of(trial, directions) else {
            return false;
        };
        let row = self.row_for(trial);
        if self.finished.len() <= n {
            self.finished.resize_with(n + 1, || None);
        }
        self.finished[n] = Some(Finished {
            values: trial.values.clone(),
            observation: Observation {
                row,
                outcome,
                constraints: trial.constraints.clone(),
                weight: 1.0,
            },
        });
        true
    }

    /// Encodes the warm-start trials that finished with usable values.
    fn encode_warm_start(&mut self, directions: &[Direction]) {
        let warm = std::mem::take(&mut self.warm);
        self.warm_items = warm
            .trials
            .iter()
            .filter(|t| matches!(t.state, TrialState::Complete | TrialState::Pruned))
            .filter_map(|t| {
                Some(Observation {
                    outcome: outcome_of(t, directions)?,
                    row: self.push_row(&t.params),
                    constraints: t.constraints.clone(),
                    weight: warm.weight,
                })
            })
            .collect();
        self.warm = warm;
    }

    /// The cached row of a trial, encoding it on first sight.
    fn row_for(&mut self, trial: &Trial) -> usize {
        let n = trial.number as usize;
        if let Some(Some(row)) = self.row_of.get(n) {
            return *row;
        }
        let row = self.push_row(&trial.params);
        if self.row_of.len() <= n {
            self.row_of.resize(n + 1, None);
        }
        self.row_of[n] = Some(row);
        row
    }

    /// Encodes a configuration as a new row (NaN where a parameter is absent or out of range).
    fn push_row(&mut self, params: &crate::space::Config) -> usize {
        let space = self.space.as_ref().expect("space set in observe");
        let encoder = self.encoder.as_ref().expect("encoder set in observe");
        let dims = encoder.len();
        let row = self.matrix.len() / dims.max(1);
        self.columns.resize_with(dims, Vec::new);
        self.value_order.resize_with(dims, Vec::new);
        for (i, p) in space.params().iter().enumerate() {
            let x = params
                .get(&p.name)
                .and_then(|v| encoder.encode(i, v))
                .unwrap_or(f64::NAN);
            self.matrix.push(x);
            self.columns[i].push(x);
            if !x.is_nan() {
                // The new row is the last one, so it goes after every equal value.
                let column = &self.columns[i];
                let order = &mut self.value_order[i];
                let at = order.partition_point(|&r| column[r as usize] <= x);
                order.insert(at, row as u32);
            }
        }
        row
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::space::{Config, ParamValue};

    fn trial(number: u64, x: f64) -> Trial {
        let mut params = Config::new();
        params.insert("x".into(), ParamValue::Float(x));
        Trial::running(number, params)
    }

    #[test]
    fn a_running_trial_with_a_report_counts_as_pruned_there() {
        let toml = "[params.x]\ntype = \"float\"\nlow = 0.0\nhigh = 1.0\n";
        let space = SearchSpace::from_toml_str(toml, "x.toml").unwrap();
        let mut paused = trial(0, 0.2);
        paused.intermediate.insert(0, vec![0.7]);
        let fresh = trial(1, 0.4);
        let mut done = trial(2, 0.6);
        done.state = TrialState::Complete;
        done.values = Some(vec![0.9]);
        let trials = [paused, fresh, done];
        let outcomes = |liar: bool| -> Vec<Outcome> {
            let mut cache = ObservationCache::default();
            let (seen, _) = cache.observe(&space, &[Direction::Maximize], &trials, liar);
            seen.items.iter().map(|o| o.outcome.clone()).collect()
        };
        let at_rung_0 = Outcome::Pruned(Some(LastReport {
            step: 0,
            losses: vec![-0.7],
        }));
        // Without the liar the trial with no report is left out; with it, it counts as bad.
        assert_eq!(
            outcomes(false),
            vec![at_rung_0.clone(), Outcome::Complete(vec![-0.9])]
        );
        assert_eq!(
            outcomes(true),
            vec![at_rung_0, Outcome::Running, Outcome::Complete(vec![-0.9])]
        );
    }
}
