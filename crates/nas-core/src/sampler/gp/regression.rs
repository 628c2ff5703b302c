//! Gaussian-process regression: the posterior at fixed hyper-parameters, and the log marginal
//! likelihood with its gradient for fitting them.
//!
//! Notation of Rasmussen & Williams (2006): `K = K(X, X)`, `K_y = K + σ_n² I`, `L = chol(K_y)`,
//! `α = K_y⁻¹ y`.

use nalgebra::{Cholesky, DMatrix, DVector, Dyn};

use super::kernel::{dim_sq_dist, matern52, matern52_grad_factor, Hyper, Matern52};

/// `ln √(2π)`.
const LN_SQRT_2PI: f64 = 0.918_938_533_204_672_8;

/// Jitter added to the diagonal, relative to its mean, when `K_y` will not factorise.
const JITTERS: [f64; 5] = [0.0, 1e-10, 1e-8, 1e-6, 1e-4];

/// Factorises `K + (σ_n² + ε)I`, trying `ε = 0` first and then progressively larger jitter
/// (relative to the mean diagonal). `None` if every attempt fails or `K` is not finite.
pub(crate) fn cholesky_with_jitter(k: &DMatrix<f64>, noise: f64) -> Option<Cholesky<f64, Dyn>> {
    if !k.iter().all(|v| v.is_finite()) || !noise.is_finite() {
        return None;
    }
    let scale = k.diagonal().mean().abs().max(f64::MIN_POSITIVE);
    JITTERS.iter().find_map(|&jitter| {
        let mut m = k.clone();
        add_to_diagonal(&mut m, noise + jitter * scale);
        Cholesky::new(m)
    })
}

/// `K_y⁻¹ = L⁻ᵀ L⁻¹` from the Cholesky factor `L`, lower triangle only.
///
/// Column `j` of `L⁻¹` solves `L x = e_j` and vanishes above row `j`, so only the trailing block
/// is solved (`n³/6` multiply-adds), and `(L⁻ᵀL⁻¹)_ij = Σ_{k ≥ i} (L⁻¹)_ki (L⁻¹)_kj` for `i ≥ j`
/// takes another `n³/6`: a third of the work of solving against the identity.
fn inverse_from_cholesky(chol: &Cholesky<f64, Dyn>) -> DMatrix<f64> {
    let l = chol.l_dirty();
    let n = l.nrows();
    let mut linv = DMatrix::zeros(n, n);
    for j in 0..n {
        linv[(j, j)] = 1.0;
        let mut col = linv.view_mut((j, j), (n - j, 1));
        l.view((j, j), (n - j, n - j))
            .solve_lower_triangular_unchecked_mut(&mut col);
    }
    let mut inv = DMatrix::zeros(n, n);
    for i in 0..n {
        let tail_i = linv.view((i, i), (n - i, 1));
        for j in 0..=i {
            inv[(i, j)] = tail_i.dot(&linv.view((i, j), (n - i, 1)));
        }
    }
    inv
}

/// `M += v I`.
fn add_to_diagonal(m: &mut DMatrix<f64>, v: f64) {
    for i in 0..m.nrows().min(m.ncols()) {
        m[(i, i)] += v;
    }
}

/// A GP posterior conditioned on training data (R&W Algorithm 2.1).
#[derive(Debug, Clone)]
pub(crate) struct GpModel {
    x: Vec<Vec<f64>>,
    kernel: Matern52,
    chol: Cholesky<f64, Dyn>,
    alpha: DVector<f64>,
}

impl GpModel {
    /// Conditions the GP with hyper-parameters `hyper` on inputs `x` and targets `y`.
    /// Errs with a description if `K_y` cannot be factorised even with jitter.
    pub(crate) fn fit(
        x: Vec<Vec<f64>>,
        y: &[f64],
        hyper: &Hyper,
        categorical: &[bool],
    ) -> Result<Self, String> {
        let kernel = Matern52::new(hyper, categorical);
        let chol = cholesky_with_jitter(&kernel.gram(&x), hyper.noise()).ok_or_else(|| {
            format!(
                "Cholesky factorisation of the {n}×{n} kernel matrix failed even with jitter",
                n = x.len()
            )
        })?;
        let alpha = chol.solve(&DVector::from_column_slice(y));
        Ok(GpModel {
            x,
            kernel,
            chol,
            alpha,
        })
    }

    /// Posterior mean `k_*ᵀ α` at `p` (R&W eq. 2.25).
    pub(crate) fn mean(&self, p: &[f64]) -> f64 {
        self.kernel.cross(&self.x, p).dot(&self.alpha)
    }

    /// Posterior mean and variance of the latent function at `p` (R&W eqs. 2.25–2.26):
    /// `μ = k_*ᵀ α`, `σ² = k(p, p) − vᵀv` with `v = L⁻¹ k_*`. The variance excludes the
    /// observation noise and is clamped at 0 against rounding.
    pub(crate) fn predict(&self, p: &[f64]) -> (f64, f64) {
        let ks = self.kernel.cross(&self.x, p);
        let mean = ks.dot(&self.alpha);
        let v = self.chol.l_dirty().solve_lower_triangular_unchecked(&ks);
        (mean, (self.kernel.signal() - v.norm_squared()).max(0.0))
    }
}

/// The log marginal likelihood `ln p(y | X, θ)` as a function of the log hyper-parameters
/// `θ` (see [`Hyper`]), with the per-dimension squared distances precomputed.
#[derive(Debug, Clone)]
pub(crate) struct MarginalLikelihood {
    y: DVector<f64>,
    dims: usize,
    /// `δ_d(x_i, x_j)²` for every pair `j < i` (row-major over pairs), `dims` values per pair.
    pair_dists: Vec<f64>,
}

/// The kernel quantities of one evaluation, kept for the gradient.
struct Factorised {
    chol: Cholesky<f64, Dyn>,
    alpha: DVector<f64>,
    /// Scaled distance `r` of every pair `j < i`.
    pair_r: Vec<f64>,
    log_lik: f64,
}

impl MarginalLikelihood {
    /// The likelihood of targets `y` at inputs `x`.
    pub(crate) fn new(x: &[Vec<f64>], y: &[f64], categorical: &[bool]) -> Self {
        let pairs = x.len() * x.len().saturating_sub(1) / 2;
        let mut pair_dists = Vec::with_capacity(pairs * categorical.len());
        for i in 0..x.len() {
            for j in 0..i {
                for (d, &c) in categorical.iter().enumerate() {
                    pair_dists.push(dim_sq_dist(x[i][d], x[j][d], c));
                }
            }
        }
        MarginalLikelihood {
            y: DVector::from_column_slice(y),
            dims: categorical.len(),
            pair_dists,
        }
    }

    /// `ln p(y | X, θ)`, or `None` if `K_y` does not factorise.
    pub(crate) fn value(&self, theta: &[f64]) -> Option<f64> {
        self.factorise(theta).map(|f| f.log_lik)
    }

    /// `ln p(y | X, θ)` and its gradient in `θ`, or `None` if `K_y` does not factorise.
    ///
    /// R&W eq. 5.9: `∂/∂θ_j ln p = ½ tr((ααᵀ − K_y⁻¹) ∂K_y/∂θ_j)`, with
    /// `∂K/∂ln σ_f² = K`, `∂K_y/∂ln σ_n² = σ_n² I` and `∂K_ij/∂ln ℓ_d` from
    /// [`matern52_grad_factor`].
    pub(crate) fn value_grad(&self, theta: &[f64]) -> Option<(f64, Vec<f64>)> {
        let f = self.factorise(theta)?;
        let hyper = Hyper::from_theta(theta);
        let (signal, noise) = (hyper.log_signal.exp(), hyper.noise());
        let kinv = inverse_from_cholesky(&f.chol); // lower triangle
        let w = |i: usize, j: usize| f.alpha[i] * f.alpha[j] - kinv[(i, j)];
        let mut grad = vec![0.0; self.dims + 2];
        for i in 0..self.y.len() {
            grad[self.dims] += w(i, i) * signal;
            grad[self.dims + 1] += w(i, i) * noise;
        }
        let mut p = 0;
        for i in 0..self.y.len() {
            for j in 0..i {
                // Off-diagonal terms count twice (W and ∂K are symmetric).
                let (wij, r) = (2.0 * w(i, j), f.pair_r[p]);
                grad[self.dims] += wij * signal * matern52(r);
                let m = wij * signal * matern52_grad_factor(r);
                let dists = &self.pair_dists[p * self.dims..(p + 1) * self.dims];
                grad.iter_mut().zip(dists).for_each(|(g, d)| *g += m * d);
                p += 1;
            }
        }
        for (g, l) in grad.iter_mut().zip(&hyper.log_lengths) {
            *g *= (-2.0 * l).exp(); // δ_d² / ℓ_d²
        }
        grad.iter_mut().for_each(|g| *g *= 0.5);
        Some((f.log_lik, grad))
    }

    /// Builds and factorises `K_y` at `θ`; `ln p = −½ yᵀα − Σ ln L_ii − (n/2) ln 2π`
    /// (R&W eq. 2.30 / Algorithm 2.1).
    fn factorise(&self, theta: &[f64]) -> Option<Factorised> {
        let hyper = Hyper::from_theta(theta);
        let inv_len2: Vec<f64> = hyper.log_lengths.iter().map(|l| (-2.0 * l).exp()).collect();
        let signal = hyper.log_signal.exp();
        let n = self.y.len();
        let mut k = DMatrix::from_element(n, n, signal);
        let mut pair_r = Vec::with_capacity(n * n.saturating_sub(1) / 2);
        for i in 0..n {
            for j in 0..i {
                let dists = &self.pair_dists[pair_r.len() * self.dims..][..self.dims];
                let r2: f64 = dists.iter().zip(&inv_len2).map(|(d, w)| d * w).sum();
                let r = r2.sqrt();
                k[(i, j)] = signal * matern52(r);
                k[(j, i)] = k[(i, j)];
                pair_r.push(r);
            }
        }
        add_to_diagonal(&mut k, hyper.noise());
        if !k.iter().all(|v| v.is_finite()) {
            return None;
        }
        let chol = Cholesky::new(k)?;
        let alpha = chol.solve(&self.y);
        let log_det_half: f64 = chol.l_dirty().diagonal().iter().map(|v| v.ln()).sum();
        let log_lik = -0.5 * self.y.dot(&alpha) - log_det_half - n as f64 * LN_SQRT_2PI;
        log_lik.is_finite().then_some(Factorised {
            chol,
            alpha,
            pair_r,
            log_lik,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hyper(lengths: &[f64], signal: f64, noise: f64) -> Hyper {
        Hyper {
            log_lengths: lengths.iter().map(|l| l.ln()).collect(),
            log_signal: signal.ln(),
            log_noise: noise.ln(),
        }
    }

    fn data() -> (Vec<Vec<f64>>, Vec<f64>) {
        let x: Vec<Vec<f64>> = [0.05, 0.2, 0.4, 0.55, 0.8, 0.95]
            .iter()
            .map(|&v| vec![v])
            .collect();
        let y = x.iter().map(|p| (6.0 * p[0]).sin()).collect();
        (x, y)
    }

    #[test]
    fn posterior_interpolates_noiseless_data() {
        let (x, y) = data();
        let noise = 1e-6;
        let gp = GpModel::fit(x.clone(), &y, &hyper(&[0.3], 1.0, noise), &[false]).unwrap();
        for (p, &t) in x.iter().zip(&y) {
            let (m, v) = gp.predict(p);
            assert!((m - t).abs() < 1e-4, "mean {m} vs {t}");
            assert!(v <= noise * 1.01, "variance {v} at a training point");
            assert!((gp.mean(p) - m).abs() < 1e-12);
        }
    }

    #[test]
    fn posterior_variance_grows_away_from_data() {
        let (x, y) = data();
        let gp = GpModel::fit(x, &y, &hyper(&[0.3], 1.0, 1e-6), &[false]).unwrap();
        let var = |u: f64| gp.predict(&[u]).1;
        assert!(var(0.3) > var(0.22));
        assert!(var(0.67) > var(0.6));
        assert!(var(2.0) > var(1.3) && var(1.3) > var(1.0));
        assert!((var(5.0) - 1.0).abs() < 1e-6, "prior variance far away");
    }

    #[test]
    fn duplicated_inputs_factorise_thanks_to_noise_and_jitter() {
        let x = vec![vec![0.5], vec![0.5], vec![0.5]];
        let gp = GpModel::fit(x, &[1.0, 1.0, 1.0], &hyper(&[0.3], 1.0, 1e-12), &[false]);
        assert!(gp.is_ok());
        let bad = DMatrix::from_element(2, 2, f64::NAN);
        assert!(cholesky_with_jitter(&bad, 1e-6).is_none());
    }

    #[test]
    fn inverse_matches_nalgebra() {
        let (x, _) = data();
        let k = Matern52::new(&hyper(&[0.3], 1.0, 0.0), &[false]).gram(&x);
        let chol = cholesky_with_jitter(&k, 1e-3).unwrap();
        let (mine, reference) = (inverse_from_cholesky(&chol), chol.inverse());
        for i in 0..x.len() {
            for j in 0..=i {
                assert!((mine[(i, j)] - reference[(i, j)]).abs() < 1e-9 * reference.amax());
            }
        }
    }

    #[test]
    fn log_likelihood_matches_direct_formula() {
        let (x, y) = data();
        let h = hyper(&[0.3], 1.3, 0.01);
        let lml = MarginalLikelihood::new(&x, &y, &[false])
            .value(&h.theta())
            .unwrap();
        let mut k = Matern52::new(&h, &[false]).gram(&x);
        add_to_diagonal(&mut k, 0.01);
        let yv = DVector::from_column_slice(&y);
        let quad = yv.dot(&(k.clone().try_inverse().unwrap() * &yv));
        let direct =
            -0.5 * quad - 0.5 * k.determinant().ln() - 3.0 * (2.0 * std::f64::consts::PI).ln();
        assert!((lml - direct).abs() < 1e-9, "{lml} vs {direct}");
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let x: Vec<Vec<f64>> = (0..9)
            .map(|i| {
                vec![
                    (i as f64 * 0.37) % 1.0,
                    (i as f64 * 0.61) % 1.0,
                    (i % 3) as f64,
                ]
            })
            .collect();
        let y: Vec<f64> = x
            .iter()
            .map(|p| p[0] - 2.0 * p[1] * p[1] + 0.3 * p[2])
            .collect();
        let lml = MarginalLikelihood::new(&x, &y, &[false, false, true]);
        let theta = hyper(&[0.4, 0.9, 1.5], 0.8, 0.02).theta();
        let (_, grad) = lml.value_grad(&theta).unwrap();
        let h = 1e-5;
        for j in 0..theta.len() {
            let (mut up, mut down) = (theta.clone(), theta.clone());
            up[j] += h;
            down[j] -= h;
            let fd = (lml.value(&up).unwrap() - lml.value(&down).unwrap()) / (2.0 * h);
            assert!(
                (fd - grad[j]).abs() < 1e-6 * (1.0 + fd.abs()),
                "θ_{j}: {fd} vs {}",
                grad[j]
            );
        }
    }
}
