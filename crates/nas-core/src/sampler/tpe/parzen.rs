//! One-dimensional Parzen estimators: the densities `l(x)` and `g(x)` of univariate TPE.
//!
//! Numeric parameters (encoded in `[0, 1]`) get a mixture of Gaussians truncated to `[0, 1]`,
//! one per observation with a shared Scott's-rule bandwidth, plus a uniform prior component.
//! Categoricals get the same mixture over smoothed one-hot kernels, which collapses to one
//! categorical distribution.

use rand::Rng;
use rand_distr::{Distribution as _, StandardNormal};

use super::math::{exp_neg, norm_cdf, LN_SQRT_2PI};

/// How wide the kernels are.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BandwidthRule {
    /// Smallest bandwidth, as a fraction of the encoded range (`b_min` of Watanabe 2023).
    pub min_bandwidth: f64,
    /// Total number of observations of the study (both densities): Bergstra's "magic clip"
    /// keeps bandwidths ≥ `1 / min(100, n + 1)`.
    pub n_total: usize,
    /// Encoded width of one grid cell for ints and stepped floats: kernels are at least half a
    /// cell wide.
    pub grid: Option<f64>,
}

impl BandwidthRule {
    /// The floor every bandwidth is clipped to.
    pub fn floor(&self) -> f64 {
        let magic = 1.0 / (self.n_total.min(99) + 1) as f64;
        let cell = self.grid.map_or(0.0, |g| 0.5 * g);
        self.min_bandwidth.max(magic).max(cell)
    }

    /// Scott's rule `σ · n^(-1/(d+4))` for `d` jointly modelled dimensions, clipped to
    /// `[floor, 1]`.
    pub fn scott(&self, sigma: f64, n: usize, d: usize) -> f64 {
        let n = n.max(1) as f64;
        let h = 1.059 * sigma * n.powf(-1.0 / (d as f64 + 4.0));
        h.clamp(self.floor(), 1.0)
    }
}

/// Standard deviation of the reference distribution a mixture is fitted to: the weighted
/// points plus the uniform prior on `[0, 1]` (mean ½, variance 1/12) with weight
/// `prior_weight`. With few points the prior dominates and kernels stay wide; as points pile
/// up the spread shrinks towards theirs, so Scott's rule never sees a degenerate zero spread.
pub(crate) fn spread_with_prior(xs: &[f64], ws: &[f64], prior_weight: f64) -> f64 {
    let total: f64 = ws.iter().sum::<f64>() + prior_weight;
    if total <= 0.0 {
        return 0.0;
    }
    let mean = (xs.iter().zip(ws).map(|(x, w)| x * w).sum::<f64>() + 0.5 * prior_weight) / total;
    let points: f64 = xs
        .iter()
        .zip(ws)
        .map(|(x, w)| w * (x - mean) * (x - mean))
        .sum();
    let prior = prior_weight * (1.0 / 12.0 + (0.5 - mean) * (0.5 - mean));
    ((points + prior) / total).sqrt()
}

/// `ln` of the mass a Gaussian `N(mu, h)` puts on `[0, 1]`.
#[inline(always)]
pub(crate) fn log_truncation_mass(mu: f64, h: f64) -> f64 {
    (norm_cdf((1.0 - mu) / h) - norm_cdf(-mu / h)).max(1e-300).ln()
}

/// Draws from `N(mu, h)` truncated to `[0, 1]` by rejection (the mean lies in `[0, 1]`, so at
/// least a quarter of the draws are accepted).
pub(crate) fn sample_truncated<R: Rng>(rng: &mut R, mu: f64, h: f64) -> f64 {
    for _ in 0..64 {
        let z: f64 = StandardNormal.sample(rng);
        let x = mu + h * z;
        if (0.0..=1.0).contains(&x) {
            return x;
        }
    }
    mu.clamp(0.0, 1.0)
}

/// Picks an index with probability proportional to `weights` (which sum to `total`).
pub(crate) fn pick_weighted<R: Rng>(rng: &mut R, weights: &[f64], total: f64) -> usize {
    pick_at(weights, rng.random::<f64>() * total)
}

/// The index whose slice of the cumulative `weights` holds `target`.
pub(crate) fn pick_at(weights: &[f64], mut target: f64) -> usize {
    for (i, &w) in weights.iter().enumerate() {
        if target < w {
            return i;
        }
        target -= w;
    }
    weights.len() - 1
}

/// A truncated-Gaussian mixture on `[0, 1]` with a uniform prior component.
#[derive(Debug, Clone)]
pub struct NumericParzen {
    mus: Vec<f64>,
    weights: Vec<f64>,
    /// Per component: `ln(w_i / W) − ln h − ln Z_i − ln√(2π)` minus `max_coef`.
    coef: Vec<f64>,
    max_coef: f64,
    bandwidth: f64,
    prior_weight: f64,
    total_weight: f64,
}

impl NumericParzen {
    /// Fits the mixture to weighted observations in `[0, 1]`.
    pub fn fit(obs: &[f64], weights: &[f64], prior_weight: f64, rule: &BandwidthRule) -> Self {
        let sigma = spread_with_prior(obs, weights, prior_weight);
        let bandwidth = rule.scott(sigma, obs.len() + 1, 1);
        let total_weight = weights.iter().sum::<f64>() + prior_weight;
        let ln_h = bandwidth.ln();
        let mut coef: Vec<f64> = obs
            .iter()
            .zip(weights)
            .map(|(&mu, &w)| {
                (w / total_weight).ln() - ln_h - LN_SQRT_2PI - log_truncation_mass(mu, bandwidth)
            })
            .collect();
        let max_coef = coef.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        coef.iter_mut().for_each(|c| *c -= max_coef);
        NumericParzen {
            mus: obs.to_vec(),
            weights: weights.to_vec(),
            coef,
            max_coef,
            bandwidth,
            prior_weight,
            total_weight,
        }
    }

    /// The shared kernel bandwidth.
    pub fn bandwidth(&self) -> f64 {
        self.bandwidth
    }

    /// Draws one point: a component by weight, then from its kernel.
    pub fn sample<R: Rng>(&self, rng: &mut R) -> f64 {
        let target = rng.random::<f64>() * self.total_weight;
        if target < self.prior_weight || self.mus.is_empty() {
            return rng.random::<f64>();
        }
        let k = pick_at(&self.weights, target - self.prior_weight);
        sample_truncated(rng, self.mus[k], self.bandwidth)
    }

    /// `ln` density at `x ∈ [0, 1]`.
    pub fn log_pdf(&self, x: f64) -> f64 {
        let half_inv_h2 = 0.5 / (self.bandwidth * self.bandwidth);
        let sum: f64 = self
            .mus
            .iter()
            .zip(&self.coef)
            .map(|(&mu, &c)| {
                let d = x - mu;
                exp_neg(c - half_inv_h2 * d * d)
            })
            .sum();
        let prior = self.prior_weight / self.total_weight;
        let mixture = self.max_coef.exp() * sum;
        (prior + mixture).ln()
    }
}

/// A categorical distribution smoothed towards uniform: each observation's kernel gives its
/// choice weight `1 + p/k` and every choice `p/k` (normalised by `1 + p`, with `p` the prior
/// weight), and a uniform prior component of weight `p` is mixed in.
#[derive(Debug, Clone)]
pub struct CategoricalParzen {
    probs: Vec<f64>,
}

impl CategoricalParzen {
    /// Fits the distribution over `n_choices` choices to weighted observed choice indices.
    pub fn fit(obs: &[usize], weights: &[f64], prior_weight: f64, n_choices: usize) -> Self {
        let k = n_choices as f64;
        let mut probs = vec![prior_weight / k; n_choices];
        for (&c, &w) in obs.iter().zip(weights) {
            let kernel_own = (1.0 + prior_weight / k) / (1.0 + prior_weight);
            let kernel_other = (prior_weight / k) / (1.0 + prior_weight);
            probs.iter_mut().for_each(|p| *p += w * kernel_other);
            probs[c] += w * (kernel_own - kernel_other);
        }
        let total: f64 = probs.iter().sum();
        probs.iter_mut().for_each(|p| *p /= total);
        CategoricalParzen { probs }
    }

    /// Draws a choice index.
    pub fn sample<R: Rng>(&self, rng: &mut R) -> usize {
        pick_weighted(rng, &self.probs, 1.0)
    }

    /// `ln` probability of choice `c`.
    pub fn log_pmf(&self, c: usize) -> f64 {
        self.probs[c].ln()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn rule(n: usize) -> BandwidthRule {
        BandwidthRule {
            min_bandwidth: 0.01,
            n_total: n,
            grid: None,
        }
    }

    #[test]
    fn density_integrates_to_one() {
        let obs = [0.0, 0.1, 0.5, 0.52, 0.98];
        let p = NumericParzen::fit(&obs, &[1.0; 5], 1.0, &rule(5));
        let n = 20_000;
        let integral: f64 = (0..n)
            .map(|i| p.log_pdf((i as f64 + 0.5) / n as f64).exp())
            .sum::<f64>()
            / n as f64;
        assert!((integral - 1.0).abs() < 1e-4, "{integral}");
    }

    #[test]
    fn bandwidth_never_collapses_below_the_floor() {
        let obs = [0.3; 50];
        let p = NumericParzen::fit(&obs, &[1.0; 50], 0.0, &rule(500));
        assert!((p.bandwidth() - 0.01).abs() < 1e-12);
        let few = NumericParzen::fit(&[0.3, 0.3], &[1.0; 2], 0.0, &rule(2));
        assert!((few.bandwidth() - 1.0 / 3.0).abs() < 1e-12, "magic clip for small n");
        // With the prior in the spread, 50 identical points still leave a kernel well above
        // the floor: σ² = (1/12 + 0.2²·50/51)/51 → h = 1.059·σ·51^(-1/5).
        let with_prior = NumericParzen::fit(&obs, &[1.0; 50], 1.0, &rule(500));
        assert!(with_prior.bandwidth() > 0.02, "{}", with_prior.bandwidth());
        let grid = BandwidthRule {
            grid: Some(0.25),
            ..rule(500)
        };
        assert!((grid.floor() - 0.125).abs() < 1e-12);
    }

    #[test]
    fn samples_follow_the_mixture() {
        let p = NumericParzen::fit(&[0.2], &[1.0], 0.0, &rule(1000));
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let xs: Vec<f64> = (0..5000).map(|_| p.sample(&mut rng)).collect();
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        assert!((mean - 0.2).abs() < 0.002, "{mean}");
        assert!(xs.iter().all(|x| (0.0..=1.0).contains(x)));
    }

    #[test]
    fn categorical_smoothing_matches_hand_computation() {
        // k = 2, prior weight 1, one observation of choice 0:
        // kernel = (1.5, 0.5) / 2, prior = (0.5, 0.5); total (1.25, 0.75) / 2.
        let c = CategoricalParzen::fit(&[0], &[1.0], 1.0, 2);
        assert!((c.log_pmf(0).exp() - 0.625).abs() < 1e-12);
        assert!((c.log_pmf(1).exp() - 0.375).abs() < 1e-12);
    }
}
