//! GP-BO: Bayesian optimisation with a Gaussian-process surrogate.
//!
//! Each proposal (after `n_startup_trials` uniform random ones):
//!
//! 1. **Data.** Complete trials with a finite objective are encoded to `[0, 1]^d`
//!    ([`Encoder`](crate::sampler::Encoder): log parameters in log space, ints and stepped floats
//!    on their grid) and their losses ([`Direction::to_loss`](crate::study::Direction::to_loss))
//!    standardised to mean 0, variance 1. Failed and pruned trials are ignored; so are
//!    constraints.
//! 2. **Fit.** A zero-mean GP with an ARD Matérn-5/2 kernel (`kernel.rs`) has its length scales,
//!    signal and noise variances fitted by maximum a posteriori with weak log-normal priors and
//!    a noise floor of `1e-6` (`hyper.rs`), by projected L-BFGS on the analytic gradient of the
//!    log marginal likelihood (`regression.rs`, `lbfgs.rs`).
//! 3. **Constant liar.** Running and waiting trials are then added to the conditioning data
//!    with the *mean* observed loss as their value ("CL-mean", Ginsbourger et al. 2010) — after
//!    the fit, so lies never shape the hyper-parameters. The posterior variance at a pending
//!    point collapses, so concurrent workers asking at the same time are sent elsewhere, while
//!    the mean surface is distorted less than with the worst-value lie.
//! 4. **Acquire.** [`Acquisition::Ei`] (log expected improvement over the best posterior mean at
//!    an observed point) or [`Acquisition::Ucb`] (lower confidence bound on the loss) is
//!    maximised by random candidates plus perturbations of the best trials, refined by compass
//!    search (`optimize.rs`), and the winner is decoded onto the grid.
//!
//! **Spaces.** GP-BO is meant for small (≲ 10 inputs) unconditional spaces of floats and ints.
//! Unconditional categoricals are supported through a Hamming-distance kernel dimension
//! (equivalent to one-hot encoding). Conditional spaces, whose inputs come and go between
//! trials, and multi-objective studies are refused with [`SamplerError::Unsupported`].
//!
//! **Cost.** Fitting is `O(n³)` per likelihood evaluation and scoring `O(n²)` per candidate, for
//! `n` trials; meant for budgets of a few hundred trials.
//!
//! **Reproducibility.** A proposal depends only on the seed, the trial number and the trials
//! shown: all randomness comes from `trial_rng(seed, number)` and nothing is cached between
//! calls.

mod acquisition;
mod data;
mod hyper;
mod kernel;
mod lbfgs;
mod optimize;
mod regression;
#[cfg(test)]
mod tests;

pub use acquisition::Acquisition;

use rand::Rng;

use self::data::{single_direction, standardise, InputSpace, TrainingData};
use self::hyper::FitBudget;
use self::optimize::SearchBudget;
use self::regression::GpModel;
use crate::sampler::random::sample_uniform;
use crate::sampler::{trial_rng, SampleContext, Sampler, SamplerError};
use crate::space::{Config, SearchSpace};
use crate::study::Direction;

/// Observed trials whose neighbourhoods the acquisition search explores.
const N_ANCHORS: usize = 5;

/// Settings of [`GpSampler`].
#[derive(Debug, Clone, PartialEq)]
pub struct GpSamplerConfig {
    /// The acquisition function (default [`Acquisition::Ei`]).
    pub acquisition: Acquisition,
    /// Complete trials drawn uniformly at random before the GP is used (default 10; at least one
    /// is always drawn).
    pub n_startup_trials: usize,
    /// Starting points of the hyper-parameter fit: the prior mode plus `n_restarts − 1` draws
    /// from the prior (default 2).
    pub n_restarts: usize,
    /// L-BFGS iterations per start of the hyper-parameter fit (default 50).
    pub max_fit_iters: usize,
    /// Random candidates scored in the acquisition search (default 2048).
    pub n_candidates: usize,
    /// Best candidates refined by local compass search (default 5).
    pub n_refine: usize,
    /// Acquisition evaluations allowed per refinement (default 200).
    pub max_refine_evals: usize,
}

impl Default for GpSamplerConfig {
    fn default() -> Self {
        GpSamplerConfig {
            acquisition: Acquisition::Ei,
            n_startup_trials: 10,
            n_restarts: 2,
            max_fit_iters: 50,
            n_candidates: 2048,
            n_refine: 5,
            max_refine_evals: 200,
        }
    }
}

/// Gaussian-process Bayesian optimisation (see the [module docs](self)).
#[derive(Debug, Clone)]
pub struct GpSampler {
    config: GpSamplerConfig,
    seed: u64,
}

impl GpSampler {
    /// A GP sampler with these settings and seed.
    pub fn new(config: GpSamplerConfig, seed: u64) -> Self {
        GpSampler { config, seed }
    }

    /// The encoded point the GP proposes given enough observations: the maximiser of the
    /// acquisition under the fitted posterior.
    fn propose<R: Rng>(
        &self,
        inputs: &InputSpace,
        data: &TrainingData,
        rng: &mut R,
    ) -> Result<Vec<f64>, SamplerError> {
        let model = self.fit_model(inputs, data, rng)?;
        let best = data
            .x
            .iter()
            .map(|u| model.mean(u))
            .fold(f64::INFINITY, f64::min);
        let acquisition = self.config.acquisition;
        let score = |u: &[f64]| {
            let (mean, var) = model.predict(u);
            acquisition.score(mean, var, best)
        };
        let budget = SearchBudget {
            n_candidates: self.config.n_candidates.max(1),
            n_refine: self.config.n_refine,
            max_refine_evals: self.config.max_refine_evals,
        };
        let anchors = best_points(data, N_ANCHORS);
        Ok(optimize::maximise(&score, inputs, &anchors, budget, rng))
    }

    /// Fits the hyper-parameters to the standardised observations, then conditions the GP on
    /// the observations and the constant-liar points.
    fn fit_model<R: Rng>(
        &self,
        inputs: &InputSpace,
        data: &TrainingData,
        rng: &mut R,
    ) -> Result<GpModel, SamplerError> {
        let y = standardise(&data.loss);
        let categorical = inputs.categorical_mask();
        let budget = FitBudget {
            restarts: self.config.n_restarts.max(1),
            max_iters: self.config.max_fit_iters,
        };
        let hyper = hyper::fit(&data.x, &y, &categorical, budget, rng);
        let (x_all, y_all) = with_lies(data, &y);
        GpModel::fit(x_all, &y_all, &hyper, &categorical).map_err(|reason| {
            SamplerError::Numerical {
                sampler: data::NAME,
                reason,
            }
        })
    }
}

/// Observed inputs followed by pending ones, with the pending targets set to the mean
/// standardised loss, 0 (CL-mean).
fn with_lies(data: &TrainingData, y: &[f64]) -> (Vec<Vec<f64>>, Vec<f64>) {
    let mut x = data.x.clone();
    x.extend(data.pending.iter().cloned());
    let mut y = y.to_vec();
    y.resize(x.len(), 0.0);
    (x, y)
}

/// The inputs of the `k` lowest-loss observations, best first.
fn best_points(data: &TrainingData, k: usize) -> Vec<Vec<f64>> {
    let mut order: Vec<usize> = (0..data.loss.len()).collect();
    order.sort_by(|&a, &b| data.loss[a].total_cmp(&data.loss[b]));
    order
        .into_iter()
        .take(k)
        .map(|i| data.x[i].clone())
        .collect()
}

impl Sampler for GpSampler {
    fn name(&self) -> &'static str {
        data::NAME
    }

    fn supports(&self, space: &SearchSpace, directions: &[Direction]) -> Result<(), SamplerError> {
        InputSpace::new(space)?;
        single_direction(directions).map(|_| ())
    }

    fn sample(&mut self, ctx: &SampleContext<'_>) -> Result<Config, SamplerError> {
        let inputs = InputSpace::new(ctx.space)?;
        let direction = single_direction(ctx.directions)?;
        if ctx.space.is_empty() {
            return Ok(Config::new());
        }
        let mut rng = trial_rng(self.seed, ctx.number);
        let data = TrainingData::collect(ctx.trials, &inputs, direction);
        if data.x.len() < self.config.n_startup_trials.max(1) {
            return Ok(sample_uniform(ctx.space, inputs.encoder(), &mut rng));
        }
        let u = self.propose(&inputs, &data, &mut rng)?;
        Ok(inputs.decode(&u))
    }
}
