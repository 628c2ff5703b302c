//! Fitting the kernel hyper-parameters by maximum a posteriori ("type-II MAP", R&W §5.4.1).
//!
//! The objective over `θ = (ln ℓ_1, …, ln ℓ_d, ln σ_f², ln σ_n²)` is
//! `ln p(y | X, θ) + ln p(θ)`, maximised by projected L-BFGS with analytic gradients from the
//! prior mode and `n_restarts − 1` random starts drawn from the prior.
//!
//! The inputs live in `[0, 1]` and the targets are standardised, so one set of weak priors fits
//! every problem. Independent normal priors on the log-parameters (log-normal priors):
//!
//! | parameter | prior            | box                  |
//! |-----------|------------------|----------------------|
//! | `ln ℓ_d`  | `N(ln 0.5, 1²)`  | `ℓ_d ∈ [0.01, 100]`  |
//! | `ln σ_f²` | `N(0, 1²)`       | `σ_f² ∈ [0.01, 100]` |
//! | `ln σ_n²` | `N(ln 0.01, 2²)` | `σ_n² ∈ [1e-6, 1]`   |
//!
//! The length-scale prior keeps ℓ away from the degenerate extremes (white noise as ℓ → 0,
//! a constant as ℓ → ∞) unless the data insist; the noise prior is wide enough that noiseless
//! objectives reach the floor `σ_n² = 1e-6`, which also keeps `K_y` well conditioned when int or
//! grid parameters repeat an input.

use rand::Rng;
use rand_distr::{Distribution, StandardNormal};

use super::kernel::Hyper;
use super::lbfgs::{self, Bounds, Objective};
use super::regression::MarginalLikelihood;

/// The smallest noise variance (on standardised targets) the fit may reach.
pub(crate) const NOISE_FLOOR: f64 = 1e-6;

/// A normal prior on a log-parameter, with the box it is confined to.
#[derive(Debug, Clone, Copy)]
struct LogPrior {
    mean: f64,
    sd: f64,
    lo: f64,
    hi: f64,
}

/// Prior of every `ln ℓ_d`.
fn length_prior() -> LogPrior {
    LogPrior {
        mean: 0.5f64.ln(),
        sd: 1.0,
        lo: 0.01f64.ln(),
        hi: 100f64.ln(),
    }
}

/// Prior of `ln σ_f²`.
fn signal_prior() -> LogPrior {
    LogPrior {
        mean: 0.0,
        sd: 1.0,
        lo: 0.01f64.ln(),
        hi: 100f64.ln(),
    }
}

/// Prior of `ln σ_n²`.
fn noise_prior() -> LogPrior {
    LogPrior {
        mean: 0.01f64.ln(),
        sd: 2.0,
        lo: NOISE_FLOOR.ln(),
        hi: 0.0,
    }
}

/// The priors of `θ` for `dims` inputs, in `θ` order.
fn priors(dims: usize) -> Vec<LogPrior> {
    let mut p = vec![length_prior(); dims];
    p.push(signal_prior());
    p.push(noise_prior());
    p
}

/// The MAP objective `ln p(y | X, θ) + ln p(θ)`.
struct Posterior<'a> {
    likelihood: &'a MarginalLikelihood,
    priors: Vec<LogPrior>,
}

impl Posterior<'_> {
    /// `ln p(θ)` up to a constant: `−Σ (θ_j − m_j)² / (2 s_j²)`.
    fn log_prior(&self, theta: &[f64]) -> f64 {
        theta
            .iter()
            .zip(&self.priors)
            .map(|(t, p)| -0.5 * ((t - p.mean) / p.sd).powi(2))
            .sum()
    }
}

impl Objective for Posterior<'_> {
    fn value(&self, theta: &[f64]) -> Option<f64> {
        Some(self.likelihood.value(theta)? + self.log_prior(theta))
    }

    fn value_grad(&self, theta: &[f64]) -> Option<(f64, Vec<f64>)> {
        let (v, mut g) = self.likelihood.value_grad(theta)?;
        for ((gj, t), p) in g.iter_mut().zip(theta).zip(&self.priors) {
            *gj -= (t - p.mean) / (p.sd * p.sd);
        }
        Some((v + self.log_prior(theta), g))
    }
}

/// How hard [`fit`] works.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FitBudget {
    /// Starting points: the prior mode and `restarts − 1` draws from the prior.
    pub(crate) restarts: usize,
    /// L-BFGS iterations per start.
    pub(crate) max_iters: usize,
}

/// The MAP hyper-parameters for targets `y` at inputs `x`; the prior mode if no start can
/// be evaluated.
pub(crate) fn fit<R: Rng>(
    x: &[Vec<f64>],
    y: &[f64],
    categorical: &[bool],
    budget: FitBudget,
    rng: &mut R,
) -> Hyper {
    let priors = priors(categorical.len());
    let bounds = Bounds {
        lo: priors.iter().map(|p| p.lo).collect(),
        hi: priors.iter().map(|p| p.hi).collect(),
    };
    let mode: Vec<f64> = priors.iter().map(|p| p.mean).collect();
    let mut starts = vec![mode.clone()];
    for _ in 1..budget.restarts {
        starts.push(priors.iter().map(|p| draw(p, rng)).collect());
    }
    let likelihood = MarginalLikelihood::new(x, y, categorical);
    let posterior = Posterior {
        likelihood: &likelihood,
        priors,
    };
    let best = starts
        .iter()
        .filter_map(|s| lbfgs::maximise(&posterior, s, &bounds, budget.max_iters))
        .max_by(|a, b| a.1.total_cmp(&b.1));
    Hyper::from_theta(&best.map_or(mode, |(theta, _)| theta))
}

/// One draw from a prior, clipped to its box.
fn draw<R: Rng>(p: &LogPrior, rng: &mut R) -> f64 {
    let z: f64 = StandardNormal.sample(rng);
    (p.mean + p.sd * z).clamp(p.lo, p.hi)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sampler::trial_rng;

    fn budget() -> FitBudget {
        FitBudget {
            restarts: 3,
            max_iters: 100,
        }
    }

    #[test]
    fn posterior_gradient_matches_finite_differences() {
        let x: Vec<Vec<f64>> = (0..7)
            .map(|i| vec![i as f64 / 7.0, (i * i % 5) as f64 / 5.0])
            .collect();
        let y: Vec<f64> = x.iter().map(|p| p[0].sin() + p[1]).collect();
        let lml = MarginalLikelihood::new(&x, &y, &[false, false]);
        let post = Posterior {
            likelihood: &lml,
            priors: priors(2),
        };
        let theta = vec![-0.3, 0.2, 0.4, -3.0];
        let (_, g) = post.value_grad(&theta).unwrap();
        for j in 0..theta.len() {
            let (mut up, mut down) = (theta.clone(), theta.clone());
            up[j] += 1e-5;
            down[j] -= 1e-5;
            let fd = (post.value(&up).unwrap() - post.value(&down).unwrap()) / 2e-5;
            assert!(
                (fd - g[j]).abs() < 1e-6 * (1.0 + fd.abs()),
                "θ_{j}: {fd} vs {}",
                g[j]
            );
        }
    }

    #[test]
    fn irrelevant_dimension_gets_a_longer_length_scale() {
        let mut rng = trial_rng(3, 0);
        let x: Vec<Vec<f64>> = (0..30).map(|_| vec![rng.random(), rng.random()]).collect();
        let y: Vec<f64> = x.iter().map(|p| (5.0 * p[0]).sin()).collect();
        let h = fit(&x, &y, &[false, false], budget(), &mut rng);
        assert!(h.log_lengths[1] > h.log_lengths[0] + 1.0, "{h:?}");
        assert!(h.noise() < 1e-3, "noiseless data, noise {}", h.noise());
    }

    #[test]
    fn noisy_data_gets_a_larger_noise() {
        let mut rng = trial_rng(4, 0);
        let x: Vec<Vec<f64>> = (0..40).map(|_| vec![rng.random()]).collect();
        let y: Vec<f64> = x
            .iter()
            .map(|p| {
                let e: f64 = StandardNormal.sample(&mut rng);
                p[0] + 0.3 * e
            })
            .collect();
        let h = fit(&x, &y, &[false], budget(), &mut rng);
        assert!(h.noise() > 0.02 && h.noise() < 0.5, "{h:?}");
    }
}
