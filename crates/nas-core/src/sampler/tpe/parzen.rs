//! One-dimensional Parzen estimators: the densities `l(x)` and `g(x)` of univariate TPE.
//!
//! Numeric parameters (encoded in `[0, 1]`) get a mixture of Gaussians truncated to `[0, 1]`,
//! one per observation with a shared Scott's-rule bandwidth, plus a uniform prior component.
//! Categoricals get the same mixture over smoothed one-hot kernels, which collapses to one
//! categorical distribution.

use rand::Rng;
use rand_distr::{Distribution as _, StandardNormal};

use super::math::{gaussian_sum, truncated_scales, weighted_moments, Block, BLOCK};

/// How wide the kernels are.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BandwidthRule {
    /// Smallest bandwidth, as a fraction of the encoded range (`b_min` of Watanabe 2023).
    pub min_bandwidth: f64,
    /// Encoded width of one grid cell for ints and stepped floats: kernels are at least half a
    /// cell wide.
    pub grid: Option<f64>,
}

impl BandwidthRule {
    /// The floor every bandwidth of an estimator over `n` observations is clipped to:
    /// `min_bandwidth`, half a grid cell, and Bergstra's "magic clip" `1 / min(100, n + 1)`.
    pub fn floor(&self, n: usize) -> f64 {
        let magic = 1.0 / (n.min(99) + 1) as f64;
        let cell = self.grid.map_or(0.0, |g| 0.5 * g);
        self.min_bandwidth.max(magic).max(cell)
    }

    /// The floor of a per-kernel bandwidth ([`BandwidthRule::neighbours_in_order`]) among `n`
    /// kernels: Optuna's magic clip `1 / min(100, n + 2)` (the prior counts as a kernel), and
    /// `min_bandwidth`. No grid floor: a kernel on a grid value may be narrower than a cell,
    /// so the bad density marks the values already tried.
    pub fn kernel_floor(&self, n: usize) -> f64 {
        self.min_bandwidth.max(1.0 / (n + 2).min(100) as f64)
    }

    /// [`BandwidthRule::neighbours_in_order`] of points in any order.
    #[cfg(test)]
    pub fn neighbours(&self, xs: &[f64]) -> Vec<f64> {
        // Sorted by value, ties in input order (so the result does not depend on the sort).
        let mut order: Vec<usize> = (0..xs.len()).collect();
        order.sort_unstable_by(|&a, &b| xs[a].total_cmp(&xs[b]).then(a.cmp(&b)));
        let mut hs = vec![1.0; xs.len()];
        self.neighbours_in_order(xs, &order, &mut hs);
        hs
    }

    /// One bandwidth per observation in `[0, 1]`, as in Bergstra et al. 2011 and Optuna: the
    /// larger of the distances to its two neighbours in sorted order, where the ends of
    /// `[0, 1]` count as neighbours except for the smallest and largest of two or more
    /// observations, which look only inwards; clipped to `[kernel_floor(n), 1]`. Clusters of
    /// good points get narrow kernels and lone points wide ones, where one shared width must
    /// be wrong for one or the other.
    ///
    /// The points are `xs[i]` for `i` in `order`, which lists them by increasing value (ties
    /// by index), so that callers which keep their points sorted need no sort; each one's
    /// bandwidth goes to `hs[i]`, and the other entries are left alone.
    pub fn neighbours_in_order(&self, xs: &[f64], order: &[usize], hs: &mut [f64]) {
        let n = order.len();
        let floor = self.kernel_floor(n);
        let at = |k: usize| xs[order[k]];
        for (k, &i) in order.iter().enumerate() {
            let h = match (k, n) {
                (_, 1) => at(0).max(1.0 - at(0)),
                (0, _) => at(1) - at(0),
                (k, n) if k + 1 == n => at(k) - at(k - 1),
                (k, _) => (at(k) - at(k - 1)).max(at(k + 1) - at(k)),
            };
            hs[i] = h.clamp(floor, 1.0);
        }
    }

    /// Scott's rule `1.059 · σ · (n+1)^(-1/(d+4))` for `n` observations (plus the prior) in
    /// `d` jointly modelled dimensions, clipped to `[floor(n), 1]`.
    pub fn scott(&self, sigma: f64, n: usize, d: usize) -> f64 {
        let points = (n + 1) as f64;
        let h = 1.059 * sigma * points.powf(-1.0 / (d as f64 + 4.0));
        h.clamp(self.floor(n), 1.0)
    }
}

/// Standard deviation of the reference distribution a mixture is fitted to, from the points'
/// moments `(Σw, Σw·x, Σw·x²)`: the weighted points plus the uniform prior on `[0, 1]` (mean ½,
/// variance 1/12) with weight `prior_weight`. With few points the prior dominates and kernels
/// stay wide; as points pile up the spread shrinks towards theirs, so Scott's rule never sees
/// a degenerate zero spread.
fn spread_of((s0, s1, s2): (f64, f64, f64), prior_weight: f64) -> f64 {
    let total = s0 + prior_weight;
    if total <= 0.0 {
        return 0.0;
    }
    let mean = (s1 + 0.5 * prior_weight) / total;
    let points = s2 - 2.0 * mean * s1 + mean * mean * s0;
    let prior = prior_weight * (1.0 / 12.0 + (0.5 - mean) * (0.5 - mean));
    ((points + prior).max(0.0) / total).sqrt()
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

/// A truncated-Gaussian mixture on `[0, 1]`, one unit-weight component per observation, with a
/// uniform prior component.
#[derive(Debug, Clone)]
pub struct NumericParzen {
    /// Observations and their weights, for sampling, and the kernels' common bandwidth.
    mus: Vec<f64>,
    weights: Vec<f64>,
    bandwidth: f64,
    /// The density's components in single precision, in aligned blocks padded with
    /// zero-weight entries: centres, and weight `/ (Z·h·√(2π))`.
    mus32: Vec<Block>,
    scale32: Vec<Block>,
    prior_weight: f64,
    /// Sum of the observation weights and the prior weight.
    total_weight: f64,
}

/// Grid bins per kernel bandwidth when observations are binned.
const BINS_PER_BANDWIDTH: f64 = 8.0;

/// Linear binning of points in `[0, 1]` onto `bins` equally spaced grid points: each point
/// splits its weight between its two neighbouring grid points in proportion to
/// closeness. Returns the grid points and their weights.
fn linear_binning(xs: &[f64], ws: &[f64], bins: usize) -> (Vec<f64>, Vec<f64>) {
    let cells = (bins - 1) as f64;
    let mut weights = vec![0.0; bins];
    for (&x, &w) in xs.iter().zip(ws) {
        let pos = x.clamp(0.0, 1.0) * cells;
        let k = (pos as usize).min(bins - 2); // pos ≥ 0: truncation is floor
        let frac = pos - k as f64;
        weights[k] += w * (1.0 - frac);
        weights[k + 1] += w * frac;
    }
    let grid = (0..bins).map(|k| k as f64 / cells).collect();
    (grid, weights)
}

impl NumericParzen {
    /// Fits the mixture to observations in `[0, 1]` with one Scott's-rule bandwidth for all
    /// kernels.
    ///
    /// With many more observations than kernel widths in `[0, 1]`, the density is evaluated on
    /// linearly binned centres (Wand 1994) with at least [`BINS_PER_BANDWIDTH`] bins per
    /// bandwidth: its relative error is then below `1/(8·8²)` ≈ 0.2 %, and evaluation cost
    /// stops growing with the number of observations. Sampling always uses the observations.
    pub fn fit(obs: Vec<f64>, weights: Vec<f64>, prior_weight: f64, rule: &BandwidthRule) -> Self {
        let moments = weighted_moments(&obs, &weights);
        let h = rule.scott(spread_of(moments, prior_weight), obs.len(), 1);
        let bins = (BINS_PER_BANDWIDTH / h).ceil() as usize + 1;
        let mut p = if obs.len() > bins {
            let (grid, bin_weights) = linear_binning(&obs, &weights, bins);
            Self::with_components(&grid, &bin_weights, h, prior_weight)
        } else {
            Self::with_components(&obs, &weights, h, prior_weight)
        };
        p.total_weight = moments.0 + prior_weight;
        (p.mus, p.weights) = (obs, weights);
        p
    }

    /// The density arrays for weighted components of bandwidth `h`.
    fn with_components(centres: &[f64], weights: &[f64], h: f64, prior_weight: f64) -> Self {
        let blocks = centres.len().div_ceil(BLOCK);
        let mut scale32 = vec![Block::default(); blocks];
        truncated_scales(centres, h, &mut scale32);
        let norm = (h * (2.0 * std::f64::consts::PI).sqrt()) as f32;
        let scales = scale32.iter_mut().flat_map(|b| b.0.iter_mut());
        scales
            .zip(weights)
            .for_each(|(c, &w)| *c *= w as f32 / norm);
        let mut mus32 = vec![Block::default(); blocks];
        for (block, chunk) in mus32.iter_mut().zip(centres.chunks(BLOCK)) {
            chunk
                .iter()
                .enumerate()
                .for_each(|(k, &x)| block.0[k] = x as f32);
        }
        NumericParzen {
            mus: Vec::new(),
            weights: Vec::new(),
            bandwidth: h,
            mus32,
            scale32,
            prior_weight,
            total_weight: prior_weight,
        }
    }

    /// The kernel bandwidth.
    #[cfg(test)]
    pub fn bandwidth(&self) -> f64 {
        self.bandwidth
    }

    /// Draws one point: a component by weight (the prior's is `prior_weight`), then from its
    /// kernel.
    pub fn sample<R: Rng>(&self, rng: &mut R) -> f64 {
        let target = rng.random::<f64>() * self.total_weight;
        if target < self.prior_weight || self.mus.is_empty() {
            return rng.random::<f64>();
        }
        let k = pick_at(&self.weights, target - self.prior_weight);
        sample_truncated(rng, self.mus[k], self.bandwidth)
    }

    /// Density at `x ∈ [0, 1]`.
    pub fn pdf(&self, x: f64) -> f64 {
        let h = self.bandwidth;
        let kernels = gaussian_sum(x, 0.5 / (h * h), &self.mus32, &self.scale32);
        (self.prior_weight + kernels) / self.total_weight
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
        let kernel_own = (1.0 + prior_weight / k) / (1.0 + prior_weight);
        let kernel_other = (prior_weight / k) / (1.0 + prior_weight);
        let n: f64 = weights.iter().sum();
        probs.iter_mut().for_each(|p| *p += n * kernel_other);
        for (&c, &w) in obs.iter().zip(weights) {
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

    /// Probability of choice `c`.
    pub fn pmf(&self, c: usize) -> f64 {
        self.probs[c]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn ones(obs: impl AsRef<[f64]>) -> Vec<f64> {
        vec![1.0; obs.as_ref().len()]
    }

    fn rule() -> BandwidthRule {
        BandwidthRule {
            min_bandwidth: 0.01,
            grid: None,
        }
    }

    #[test]
    fn density_integrates_to_one() {
        let obs = [0.0, 0.1, 0.5, 0.52, 0.98];
        let p = NumericParzen::fit(obs.to_vec(), ones(obs), 1.0, &rule());
        let n = 20_000;
        let integral: f64 = (0..n)
            .map(|i| p.pdf((i as f64 + 0.5) / n as f64))
            .sum::<f64>()
            / n as f64;
        assert!((integral - 1.0).abs() < 1e-4, "{integral}");
    }

    #[test]
    fn bandwidth_never_collapses_below_the_floor() {
        let obs = [0.3; 50];
        let p = NumericParzen::fit(obs.to_vec(), ones(obs), 0.0, &rule());
        assert!(
            (p.bandwidth() - 1.0 / 51.0).abs() < 1e-12,
            "magic clip 1/(n+1)"
        );
        let few = NumericParzen::fit(vec![0.3, 0.3], vec![1.0; 2], 0.0, &rule());
        assert!(
            (few.bandwidth() - 1.0 / 3.0).abs() < 1e-12,
            "magic clip for small n"
        );
        // With the prior in the spread, 50 identical points still leave a kernel well above
        // the floor: σ² = (1/12 + 0.2²·50/51)/51 → h = 1.059·σ·51^(-1/5).
        let with_prior = NumericParzen::fit(obs.to_vec(), ones(obs), 1.0, &rule());
        assert!(with_prior.bandwidth() > 0.02, "{}", with_prior.bandwidth());
        let grid = BandwidthRule {
            grid: Some(0.25),
            ..rule()
        };
        assert!((grid.floor(1000) - 0.125).abs() < 1e-12);
        assert!((rule().floor(1000) - 0.01).abs() < 1e-12);
    }

    #[test]
    fn neighbour_bandwidths_follow_the_gaps() {
        let rule = rule();
        // Sorted 0.1, 0.2, 0.5, 0.9: the ends look inwards, the others take their wider gap;
        // 0.1's gap of 0.1 is below the clip 1 / (n + 2) = 1/6 for n = 4.
        let hs = rule.neighbours(&[0.5, 0.1, 0.9, 0.2]);
        let want = [0.4, 1.0 / 6.0, 0.4, 0.3];
        for (h, w) in hs.iter().zip(want) {
            assert!((h - w).abs() < 1e-12, "{hs:?}");
        }
        // One observation reaches the far end of [0, 1].
        assert!((rule.neighbours(&[0.3])[0] - 0.7).abs() < 1e-12);
        // Duplicates collapse to the magic clip 1 / min(100, n + 2).
        let same = rule.neighbours(&[0.4; 8]);
        assert!(same.iter().all(|&h| (h - 0.1).abs() < 1e-12), "{same:?}");
        assert!((rule.kernel_floor(500) - 0.01).abs() < 1e-12);
    }

    #[test]
    fn binned_density_matches_the_exact_one() {
        let obs: Vec<f64> = (0..3000)
            .map(|i| ((i as f64 * 0.618_034).fract()).powi(2))
            .collect();
        let binned = NumericParzen::fit(obs.clone(), ones(&obs), 1.0, &rule());
        assert!(binned.mus32.len() * BLOCK < obs.len(), "binning engaged");
        let exact_sum = |x: f64| {
            let h = binned.bandwidth();
            let kernels: f64 = obs
                .iter()
                .map(|&m| {
                    let z = (x - m) / h;
                    let phi = |z: f64| 0.5 * libm::erfc(-z / std::f64::consts::SQRT_2);
                    let mass = phi((1.0 - m) / h) - phi(-m / h);
                    (-0.5 * z * z).exp() / mass
                })
                .sum();
            (1.0 + kernels / (h * (2.0 * std::f64::consts::PI).sqrt())) / (obs.len() as f64 + 1.0)
        };
        for k in 0..=50 {
            let x = k as f64 / 50.0;
            let (got, want) = (binned.pdf(x), exact_sum(x));
            assert!((got - want).abs() < 2e-3 * want, "x={x}: {got} vs {want}");
        }
    }

    #[test]
    fn samples_follow_the_mixture() {
        let p = NumericParzen::fit(vec![0.2; 200], ones(vec![0.2; 200]), 0.0, &rule());
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
        assert!((c.pmf(0) - 0.625).abs() < 1e-12);
        assert!((c.pmf(1) - 0.375).abs() < 1e-12);
    }
}
