//! Parameter densities on a discrete grid, the ingredient of PED-ANOVA: a Gaussian kernel
//! density (Scott's bandwidth) for numbers, smoothed counts for categories, each mixed with a
//! uniform prior of weight [`PRIOR_WEIGHT`] observations so that no grid point has density 0.

/// Grid points for a continuous (or wide integer) range.
pub(crate) const GRID_POINTS: usize = 64;

/// Weight, in observations, of the uniform prior mixed into every density.
const PRIOR_WEIGHT: f64 = 1.0;

/// Added to densities before dividing, so the divergence stays finite.
const EPSILON: f64 = 1e-12;

/// Where a numerical parameter's density is evaluated, in its (possibly log) scale.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct NumericGrid {
    points: Vec<f64>,
}

impl NumericGrid {
    /// [`GRID_POINTS`] evenly spaced points over `[low, high]`; none for an empty range.
    pub(crate) fn even(low: f64, high: f64) -> Option<Self> {
        if high <= low || !low.is_finite() || !high.is_finite() {
            return None;
        }
        let step = (high - low) / (GRID_POINTS - 1) as f64;
        let points = (0..GRID_POINTS).map(|i| low + step * i as f64).collect();
        Some(NumericGrid { points })
    }

    /// Exactly these points (the values of a narrow integer range), when there are two or more.
    pub(crate) fn at(points: Vec<f64>) -> Option<Self> {
        (points.len() >= 2 && points.iter().all(|p| p.is_finite()))
            .then_some(NumericGrid { points })
    }

    /// The density of `samples` on the grid (sums to 1).
    pub(crate) fn density(&self, samples: &[f64]) -> Vec<f64> {
        let bandwidth = scott_bandwidth(samples).max(self.min_bandwidth());
        let mut mass = vec![0.0; self.points.len()];
        for &x in samples {
            for (m, k) in mass.iter_mut().zip(self.kernel(x, bandwidth)) {
                *m += k;
            }
        }
        with_prior(mass, samples.len())
    }

    /// Half the mean spacing of the grid: no kernel is narrower.
    fn min_bandwidth(&self) -> f64 {
        let (first, last) = (self.points[0], self.points[self.points.len() - 1]);
        0.5 * (last - first) / (self.points.len() - 1) as f64
    }

    /// A Gaussian kernel centred on `x`, normalised over the grid (all on the nearest point
    /// when it underflows).
    fn kernel(&self, x: f64, bandwidth: f64) -> Vec<f64> {
        let weights: Vec<f64> = self
            .points
            .iter()
            .map(|&g| (-0.5 * ((g - x) / bandwidth).powi(2)).exp())
            .collect();
        let total: f64 = weights.iter().sum();
        if total > 0.0 {
            return weights.into_iter().map(|w| w / total).collect();
        }
        let nearest = self
            .points
            .iter()
            .map(|g| (g - x).abs())
            .enumerate()
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map_or(0, |(i, _)| i);
        (0..self.points.len())
            .map(|i| if i == nearest { 1.0 } else { 0.0 })
            .collect()
    }
}

/// The density of category indices `samples` over `choices` categories (sums to 1).
pub(crate) fn categorical_density(samples: &[usize], choices: usize) -> Vec<f64> {
    let mut counts = vec![0.0; choices];
    for &c in samples.iter().filter(|&&c| c < choices) {
        counts[c] += 1.0;
    }
    with_prior(counts, samples.len())
}

/// Pearson χ² divergence of `top` from `all`: Σ all · (top / all − 1)².
pub(crate) fn pearson_divergence(top: &[f64], all: &[f64]) -> f64 {
    top.iter()
        .zip(all)
        .map(|(&t, &a)| {
            let (t, a) = (t + EPSILON, a + EPSILON);
            a * (t / a - 1.0).powi(2)
        })
        .sum()
}

/// Mixes `mass` (from `n` observations) with the uniform prior and normalises it.
fn with_prior(mass: Vec<f64>, n: usize) -> Vec<f64> {
    let uniform = PRIOR_WEIGHT / mass.len() as f64;
    let total = n as f64 + PRIOR_WEIGHT;
    mass.into_iter().map(|m| (m + uniform) / total).collect()
}

/// Scott's rule, 1.059 · min(σ, IQR / 1.34) · n^(−1/5) (σ alone when the IQR is 0); 0 for
/// fewer than two samples.
fn scott_bandwidth(samples: &[f64]) -> f64 {
    let n = samples.len();
    if n < 2 {
        return 0.0;
    }
    let mean = samples.iter().sum::<f64>() / n as f64;
    let sd = (samples.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt();
    let iqr = quantile(samples, 0.75) - quantile(samples, 0.25);
    let spread = if iqr > 0.0 { sd.min(iqr / 1.34) } else { sd };
    1.059 * spread * (n as f64).powf(-0.2)
}

/// The `q` quantile of `samples`, interpolating linearly between order statistics.
fn quantile(samples: &[f64], q: f64) -> f64 {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let pos = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn densities_sum_to_one() {
        let grid = NumericGrid::even(0.0, 1.0).expect("a range");
        let d = grid.density(&[0.1, 0.2, 0.25, 0.9]);
        assert!((d.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        let c = categorical_density(&[0, 0, 2], 3);
        assert!((c.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        assert!(c[0] > c[2] && c[2] > c[1]);
    }

    #[test]
    fn divergence_is_zero_for_equal_densities_and_grows_with_difference() {
        let grid = NumericGrid::even(0.0, 1.0).expect("a range");
        let all = grid.density(&[0.1, 0.3, 0.5, 0.7, 0.9]);
        assert!(pearson_divergence(&all, &all) < 1e-12);
        let near = grid.density(&[0.45, 0.55]);
        let far = grid.density(&[0.02, 0.04]);
        assert!(pearson_divergence(&far, &all) > pearson_divergence(&near, &all));
    }

    #[test]
    fn an_empty_range_has_no_grid() {
        assert!(NumericGrid::even(1.0, 1.0).is_none());
        assert!(NumericGrid::at(vec![3.0]).is_none());
    }
}
