//! The model part of BOHB (Falkner et al. 2018): TPE fitted on the highest rung of the fidelity
//! ladder that has enough results, with a fixed share of uniform random proposals.
//!
//! Pair it with the Hyperband scheduler (`bohb`), which decides which trials reach which rung.

use rand::Rng;

use super::random::sample_uniform;
use super::{
    trial_rng, Encoder, SampleContext, Sampler, SamplerError, TpeConfig, TpeSampler, WarmStart,
};
use crate::space::{Config, SearchSpace};
use crate::study::{Direction, Trial, TrialState};

/// Settings of [`BohbSampler`].
#[derive(Debug, Clone, PartialEq)]
pub struct BohbConfig {
    /// The TPE fitted on one rung. BOHB's `min_points` decides when the model starts, so the
    /// default TPE needs only one result (`n_startup_trials = 1`) and is multivariate.
    pub tpe: TpeConfig,
    /// Share of proposals drawn uniformly at random, whatever the history.
    pub random_fraction: f64,
    /// Results a rung needs before the model is fitted on it; `None` = `min(d + 1, 20)` for a
    /// space of `d` parameters.
    pub min_points: Option<usize>,
}

impl Default for BohbConfig {
    fn default() -> Self {
        BohbConfig {
            tpe: TpeConfig {
                n_startup_trials: 1,
                ..TpeConfig::multivariate()
            },
            random_fraction: 1.0 / 3.0,
            min_points: None,
        }
    }
}

/// How [`BohbSampler`] proposes for one trial.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BohbChoice {
    /// A uniform random draw: the random share, or no rung has enough results yet.
    Random,
    /// TPE fitted on the results at this rung.
    Model {
        /// The rung whose results the model sees.
        rung: usize,
    },
}

/// BOHB's sampler: with probability `random_fraction` (drawn from the trial's own random
/// stream) a uniform draw; otherwise TPE on the highest rung `r` with at least `min_points`
/// usable results. The TPE sees every trial with a value at `r` as complete with
/// `values = intermediate[r]`, running trials without one as running (constant liar), and no
/// other trial. Without such a rung it draws at random.
#[derive(Debug)]
pub struct BohbSampler {
    config: BohbConfig,
    seed: u64,
    tpe: TpeSampler,
}

/// Offsets the TPE's seed so its stream differs from the one the random-share coin is drawn
/// from (the same stream would tie the TPE's first draws to the coin's outcome).
const TPE_SEED_OFFSET: u64 = 0x9E37_79B9_7F4A_7C15;

impl BohbSampler {
    /// A BOHB sampler with these settings and seed.
    pub fn new(config: BohbConfig, seed: u64) -> Self {
        let tpe = TpeSampler::new(config.tpe.clone(), seed ^ TPE_SEED_OFFSET);
        BohbSampler { config, seed, tpe }
    }

    /// The same sampler whose TPE also sees the finished trials of an earlier study (at their
    /// final values, with their weight scaled by `warm.weight`).
    pub fn with_warm_start(mut self, warm: WarmStart) -> Self {
        self.tpe = self.tpe.with_warm_start(warm);
        self
    }

    /// Results a rung needs before the model uses it, for `space`.
    pub fn min_points(&self, space: &SearchSpace) -> usize {
        self.config
            .min_points
            .unwrap_or_else(|| (space.len() + 1).min(20))
            .max(1)
    }

    /// How the proposal for `ctx.number` is made (the same answer [`Sampler::sample`] acts on).
    pub fn choice(&self, ctx: &SampleContext<'_>) -> BohbChoice {
        let mut rng = trial_rng(self.seed, ctx.number);
        self.choose(ctx, &mut rng)
    }

    fn choose<R: Rng>(&self, ctx: &SampleContext<'_>, rng: &mut R) -> BohbChoice {
        if rng.random::<f64>() < self.config.random_fraction {
            return BohbChoice::Random;
        }
        match model_rung(ctx.trials, ctx.directions, self.min_points(ctx.space)) {
            Some(rung) => BohbChoice::Model { rung },
            None => BohbChoice::Random,
        }
    }
}

impl Sampler for BohbSampler {
    fn name(&self) -> &'static str {
        "bohb"
    }

    fn sample(&mut self, ctx: &SampleContext<'_>) -> Result<Config, SamplerError> {
        let mut rng = trial_rng(self.seed, ctx.number);
        match self.choose(ctx, &mut rng) {
            BohbChoice::Random => Ok(sample_uniform(
                ctx.space,
                &Encoder::new(ctx.space),
                &mut rng,
            )),
            BohbChoice::Model { rung } => {
                let view = rung_view(ctx.trials, rung);
                self.tpe.sample(&SampleContext {
                    trials: &view,
                    ..*ctx
                })
            }
        }
    }

    fn supports(&self, space: &SearchSpace, directions: &[Direction]) -> Result<(), SamplerError> {
        self.tpe.supports(space, directions)
    }
}

/// A value at `rung` the model can use: one finite number per direction.
fn usable_at<'a>(trial: &'a Trial, rung: u64, directions: &[Direction]) -> Option<&'a Vec<f64>> {
    if trial.state == TrialState::Waiting {
        return None;
    }
    let values = trial.intermediate.get(&rung)?;
    (values.len() == directions.len() && values.iter().all(|v| v.is_finite())).then_some(values)
}

/// The highest rung with at least `min_points` usable results.
fn model_rung(trials: &[Trial], directions: &[Direction], min_points: usize) -> Option<usize> {
    let highest = trials
        .iter()
        .filter_map(|t| t.intermediate.keys().next_back().copied())
        .max()?;
    (0..=highest).rev().find_map(|rung| {
        let count = trials
            .iter()
            .filter(|t| usable_at(t, rung, directions).is_some())
            .count();
        (count >= min_points).then_some(rung as usize)
    })
}

/// The history as the TPE of `rung` sees it: trials with a value there as complete with those
/// values, running trials without one as running, nothing else.
fn rung_view(trials: &[Trial], rung: usize) -> Vec<Trial> {
    let rung = rung as u64;
    trials
        .iter()
        .filter_map(|t| match (t.state, t.intermediate.get(&rung)) {
            (TrialState::Waiting, _) => None,
            (_, Some(values)) => Some(Trial {
                state: TrialState::Complete,
                values: Some(values.clone()),
                ..t.clone()
            }),
            (TrialState::Running, None) => Some(t.clone()),
            _ => None,
        })
        .collect()
}
