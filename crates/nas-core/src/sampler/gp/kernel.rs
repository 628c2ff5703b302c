//! The Matérn-5/2 kernel with automatic relevance determination (ARD).
//!
//! ```text
//! k(x, x') = σ_f² (1 + √5 r + 5r²/3) exp(−√5 r),      r² = Σ_d δ_d(x_d, x'_d)² / ℓ_d²
//! ```
//!
//! (Rasmussen & Williams, *Gaussian Processes for Machine Learning*, 2006, eq. 4.17, with one
//! length scale ℓ_d per input as in eq. 5.2.) On numeric inputs `δ_d = x_d − x'_d`; on
//! categorical inputs (choice indices) `δ_d² = [x_d ≠ x'_d]`, the Hamming distance: the same
//! kernel as one-hot encoding the choice with a length scale of `√2 ℓ_d` on its indicators.

use nalgebra::{DMatrix, DVector};

/// √5, the constant of the Matérn-5/2 kernel.
const SQRT5: f64 = 2.236_067_977_499_79;

/// Kernel hyper-parameters, stored as logarithms so any real vector is a valid setting:
/// `θ = (ln ℓ_1, …, ln ℓ_d, ln σ_f², ln σ_n²)`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Hyper {
    /// `ln ℓ_d`, one per input dimension.
    pub(crate) log_lengths: Vec<f64>,
    /// `ln σ_f²`, the signal variance.
    pub(crate) log_signal: f64,
    /// `ln σ_n²`, the observation-noise variance.
    pub(crate) log_noise: f64,
}

impl Hyper {
    /// Unpacks `θ = (ln ℓ_1, …, ln ℓ_d, ln σ_f², ln σ_n²)`.
    pub(crate) fn from_theta(theta: &[f64]) -> Self {
        let d = theta.len() - 2;
        Hyper {
            log_lengths: theta[..d].to_vec(),
            log_signal: theta[d],
            log_noise: theta[d + 1],
        }
    }

    /// Packs into `θ`, the inverse of [`Hyper::from_theta`].
    #[cfg(test)]
    pub(crate) fn theta(&self) -> Vec<f64> {
        let mut t = self.log_lengths.clone();
        t.push(self.log_signal);
        t.push(self.log_noise);
        t
    }

    /// The noise variance `σ_n²`.
    pub(crate) fn noise(&self) -> f64 {
        self.log_noise.exp()
    }
}

/// Squared distance between two encoded coordinates of one input dimension.
pub(crate) fn dim_sq_dist(a: f64, b: f64, categorical: bool) -> f64 {
    if categorical {
        if a.round() == b.round() {
            0.0
        } else {
            1.0
        }
    } else {
        (a - b) * (a - b)
    }
}

/// The Matérn-5/2 correlation at scaled distance `r` (R&W eq. 4.17):
/// `(1 + √5 r + 5r²/3) e^{−√5 r}`.
pub(crate) fn matern52(r: f64) -> f64 {
    let s = SQRT5 * r;
    (1.0 + s + s * s / 3.0) * (-s).exp()
}

/// `−(1/r) d/dr matern52(r) = (5/3)(1 + √5 r) e^{−√5 r}`, finite at `r = 0`.
///
/// As `∂r/∂ln ℓ_d = −δ_d²/(ℓ_d² r)`, the kernel's derivative is
/// `∂k/∂ln ℓ_d = σ_f² · matern52_grad_factor(r) · δ_d²/ℓ_d²`.
pub(crate) fn matern52_grad_factor(r: f64) -> f64 {
    let s = SQRT5 * r;
    5.0 / 3.0 * (1.0 + s) * (-s).exp()
}

/// The ARD Matérn-5/2 kernel at fixed hyper-parameters (noise excluded).
#[derive(Debug, Clone)]
pub(crate) struct Matern52 {
    /// `1/ℓ_d²` per dimension.
    inv_len2: Vec<f64>,
    /// `σ_f²`.
    signal: f64,
    /// Which dimensions hold categorical indices.
    categorical: Vec<bool>,
}

impl Matern52 {
    /// The kernel of `hyper` over inputs whose categorical dimensions are flagged in `categorical`.
    pub(crate) fn new(hyper: &Hyper, categorical: &[bool]) -> Self {
        Matern52 {
            inv_len2: hyper.log_lengths.iter().map(|l| (-2.0 * l).exp()).collect(),
            signal: hyper.log_signal.exp(),
            categorical: categorical.to_vec(),
        }
    }

    /// The prior variance `k(x, x) = σ_f²`.
    pub(crate) fn signal(&self) -> f64 {
        self.signal
    }

    /// The scaled squared distance `r²` between two points.
    pub(crate) fn scaled_sq_dist(&self, a: &[f64], b: &[f64]) -> f64 {
        a.iter()
            .zip(b)
            .zip(&self.inv_len2)
            .zip(&self.categorical)
            .map(|(((&x, &y), &w), &c)| w * dim_sq_dist(x, y, c))
            .sum()
    }

    /// `k(a, b)`.
    pub(crate) fn eval(&self, a: &[f64], b: &[f64]) -> f64 {
        self.signal * matern52(self.scaled_sq_dist(a, b).sqrt())
    }

    /// The Gram matrix `K(X, X)` (R&W eq. 2.21 notation), without noise.
    pub(crate) fn gram(&self, x: &[Vec<f64>]) -> DMatrix<f64> {
        let n = x.len();
        let mut k = DMatrix::zeros(n, n);
        for i in 0..n {
            k[(i, i)] = self.signal;
            for j in 0..i {
                let v = self.eval(&x[i], &x[j]);
                k[(i, j)] = v;
                k[(j, i)] = v;
            }
        }
        k
    }

    /// The vector `k_* = (k(x_i, p))_i` between the training inputs and one point.
    pub(crate) fn cross(&self, x: &[Vec<f64>], p: &[f64]) -> DVector<f64> {
        DVector::from_iterator(x.len(), x.iter().map(|xi| self.eval(xi, p)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hyper(lengths: &[f64], signal: f64) -> Hyper {
        Hyper {
            log_lengths: lengths.iter().map(|l| l.ln()).collect(),
            log_signal: signal.ln(),
            log_noise: (1e-6f64).ln(),
        }
    }

    #[test]
    fn zero_distance_gives_signal_variance() {
        let k = Matern52::new(&hyper(&[0.3, 2.0], 1.7), &[false, false]);
        assert!((k.eval(&[0.2, 0.9], &[0.2, 0.9]) - 1.7).abs() < 1e-15);
        assert_eq!(matern52(0.0), 1.0);
    }

    #[test]
    fn known_distance_matches_hand_computation() {
        // r² = (0.3/0.5)² + (0.8/2)² = 0.52; σ_f²(1 + √5r + 5r²/3)e^{−√5r} with σ_f² = 1.7.
        let k = Matern52::new(&hyper(&[0.5, 2.0], 1.7), &[false, false]);
        let v = k.eval(&[0.1, 0.2], &[0.4, 1.0]);
        assert!((v - 1.179_340_727_656_887_5).abs() < 1e-12, "{v}");
    }

    #[test]
    fn categorical_dimension_uses_hamming_distance() {
        let k = Matern52::new(&hyper(&[0.5, 1.0], 1.0), &[false, true]);
        assert_eq!(k.scaled_sq_dist(&[0.1, 2.0], &[0.1, 2.0]), 0.0);
        assert!((k.scaled_sq_dist(&[0.1, 0.0], &[0.1, 2.0]) - 1.0).abs() < 1e-15);
        assert!((k.scaled_sq_dist(&[0.1, 0.0], &[0.1, 1.0]) - 1.0).abs() < 1e-15);
    }

    #[test]
    fn grad_factor_matches_finite_difference_in_log_length() {
        // k(ℓ) = matern52(δ/ℓ); ∂k/∂ln ℓ = factor(r) · r² for one dimension.
        let (delta, l, h) = (0.37f64, 0.6f64, 1e-6);
        let k = |log_l: f64| matern52(delta / log_l.exp());
        let fd = (k(l.ln() + h) - k(l.ln() - h)) / (2.0 * h);
        let r = delta / l;
        assert!((fd - matern52_grad_factor(r) * r * r).abs() < 1e-8);
    }

    #[test]
    fn gram_is_symmetric_with_signal_diagonal() {
        let k = Matern52::new(&hyper(&[0.4], 2.0), &[false]);
        let x = vec![vec![0.0], vec![0.5], vec![0.9]];
        let g = k.gram(&x);
        assert_eq!(g, g.transpose());
        assert!(g.diagonal().iter().all(|&v| v == 2.0));
        assert!((g[(0, 1)] - k.cross(&x, &[0.5])[0]).abs() < 1e-15);
    }
}
