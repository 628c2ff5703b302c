//! Box-constrained maximisation by projected L-BFGS with a backtracking line search.
//!
//! The search direction comes from the L-BFGS two-loop recursion (Nocedal & Wright, *Numerical
//! Optimization*, 2nd ed., 2006, Alg. 7.4) applied to `−f`; coordinates sitting on a bound whose
//! gradient points out of the box are frozen, and the step is projected back into the box. Steps
//! are accepted by the Armijo condition along the projected path (N&W Alg. 3.1 with the
//! projected-gradient sufficient-increase test of Bertsekas 1982). When the quasi-Newton
//! direction is not an ascent direction the memory is dropped and the (scaled) gradient is used,
//! so the method degrades to projected gradient ascent rather than failing.

use std::collections::VecDeque;

/// Number of correction pairs L-BFGS remembers.
const MEMORY: usize = 8;
/// Armijo constant: the accepted step must realise this fraction of the predicted increase.
const ARMIJO: f64 = 1e-4;
/// Halvings of the step before the line search gives up.
const MAX_HALVINGS: usize = 30;
/// Largest change of any coordinate in one step (the parameters are logarithms).
const MAX_STEP: f64 = 2.0;
/// Relative change of `f` below which the iteration stops.
const F_TOL: f64 = 1e-6;
/// Largest coordinate change below which the iteration stops.
const X_TOL: f64 = 1e-4;

/// A smooth function to maximise; `None` marks points where it cannot be evaluated (e.g. a
/// failed Cholesky factorisation), which the line search steps back from.
pub(crate) trait Objective {
    /// `f(x)`.
    fn value(&self, x: &[f64]) -> Option<f64>;
    /// `f(x)` and its gradient `∇f(x)`.
    fn value_grad(&self, x: &[f64]) -> Option<(f64, Vec<f64>)>;
}

/// The box `lo ≤ x ≤ hi`.
#[derive(Debug, Clone)]
pub(crate) struct Bounds {
    /// Lower bounds.
    pub(crate) lo: Vec<f64>,
    /// Upper bounds.
    pub(crate) hi: Vec<f64>,
}

impl Bounds {
    /// The nearest point of the box.
    pub(crate) fn project(&self, x: &[f64]) -> Vec<f64> {
        x.iter()
            .zip(self.lo.iter().zip(&self.hi))
            .map(|(&v, (&l, &h))| v.clamp(l, h))
            .collect()
    }

    /// Whether coordinate `i` is held by a bound: on it, with the gradient pointing outwards.
    fn frozen(&self, x: &[f64], g: &[f64], i: usize) -> bool {
        (x[i] <= self.lo[i] && g[i] < 0.0) || (x[i] >= self.hi[i] && g[i] > 0.0)
    }
}

/// L-BFGS memory of `(s, y, 1/yᵀs)` for the minimisation of `−f`.
#[derive(Default)]
struct Memory(VecDeque<(Vec<f64>, Vec<f64>, f64)>);

impl Memory {
    /// Stores a correction pair if it satisfies the curvature condition `yᵀs > 0`.
    fn push(&mut self, s: Vec<f64>, y: Vec<f64>) {
        let ys = dot(&y, &s);
        if ys > 1e-10 * (norm2(&y) * norm2(&s)).sqrt() {
            if self.0.len() == MEMORY {
                self.0.pop_front();
            }
            self.0.push_back((s, y, 1.0 / ys));
        }
    }

    /// `H v`, with `H` the L-BFGS inverse-Hessian approximation of `φ = −f`, by the two-loop
    /// recursion (N&W Alg. 7.4).
    fn apply(&self, v: &[f64]) -> Vec<f64> {
        let mut q = v.to_vec();
        let mut alphas = Vec::with_capacity(self.0.len());
        for (s, y, rho) in self.0.iter().rev() {
            let a = rho * dot(s, &q);
            axpy(-a, y, &mut q);
            alphas.push(a);
        }
        // H₀ = γI with γ = sᵀy / yᵀy of the newest pair (N&W eq. 7.20); without pairs
        // γ = 1 / max(1, ‖v‖_∞), so a first gradient step moves no coordinate by more than 1.
        let gamma = match self.0.back() {
            Some((s, y, _)) => dot(s, y) / norm2(y),
            None => 1.0 / v.iter().fold(1.0f64, |m, x| m.max(x.abs())),
        };
        q.iter_mut().for_each(|v| *v *= gamma);
        for ((s, y, rho), a) in self.0.iter().zip(alphas.into_iter().rev()) {
            let b = rho * dot(y, &q);
            axpy(a - b, s, &mut q);
        }
        q
    }
}

/// Maximises `f` over `bounds` from `x0` in at most `max_iters` iterations.
/// Returns the final point and value, or `None` if `f` cannot be evaluated at the start.
pub(crate) fn maximise(
    f: &impl Objective,
    x0: &[f64],
    bounds: &Bounds,
    max_iters: usize,
) -> Option<(Vec<f64>, f64)> {
    let mut x = bounds.project(x0);
    let (mut fx, mut g) = f.value_grad(&x)?;
    let mut memory = Memory::default();
    for _ in 0..max_iters {
        let Some(d) = ascent_direction(&memory, &x, &g, bounds) else {
            break; // projected gradient is zero: a stationary point of the box problem
        };
        let Some((x_new, f_new, g_new)) = line_search(f, &x, fx, &g, &d, bounds) else {
            if memory.0.is_empty() {
                break;
            }
            memory.0.clear(); // retry along the gradient
            continue;
        };
        let s = sub(&x_new, &x);
        let converged =
            (f_new - fx).abs() <= F_TOL * (1.0 + fx.abs()) || s.iter().all(|v| v.abs() < X_TOL);
        memory.push(s, sub(&g, &g_new)); // y = ∇φ(x_new) − ∇φ(x) with φ = −f
        (x, fx, g) = (x_new, f_new, g_new);
        if converged {
            break;
        }
    }
    Some((x, fx))
}

/// An ascent direction with frozen coordinates zeroed, capped to [`MAX_STEP`]; `None` when the
/// projected gradient vanishes.
fn ascent_direction(memory: &Memory, x: &[f64], g: &[f64], bounds: &Bounds) -> Option<Vec<f64>> {
    let free: Vec<bool> = (0..x.len()).map(|i| !bounds.frozen(x, g, i)).collect();
    let masked = |v: Vec<f64>| -> Vec<f64> {
        v.into_iter()
            .zip(&free)
            .map(|(v, &f)| if f { v } else { 0.0 })
            .collect()
    };
    let g_free = masked(g.to_vec());
    if g_free.iter().all(|v| v.abs() < 1e-10) {
        return None;
    }
    // The descent direction −H∇φ of φ = −f is H∇f, H being linear.
    let mut d = masked(memory.apply(&g_free));
    if dot(&d, &g_free) <= 0.0 || d.iter().any(|v| !v.is_finite()) {
        d = Memory::default().apply(&g_free); // scaled gradient ascent
    }
    let largest = d.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    if largest > MAX_STEP {
        d.iter_mut().for_each(|v| *v *= MAX_STEP / largest);
    }
    Some(d)
}

/// Backtracking along the projected path `P(x + t d)`, `t = 1, ½, ¼, …`, until the Armijo
/// condition `f(x_t) ≥ f(x) + c · ∇f(x)ᵀ(x_t − x)` holds; returns the point, its value and
/// gradient. The full step, usually accepted, is evaluated with its gradient at once.
fn line_search(
    f: &impl Objective,
    x: &[f64],
    fx: f64,
    g: &[f64],
    d: &[f64],
    bounds: &Bounds,
) -> Option<(Vec<f64>, f64, Vec<f64>)> {
    let mut t = 1.0;
    for halvings in 0..MAX_HALVINGS {
        let mut trial = x.to_vec();
        axpy(t, d, &mut trial);
        let trial = bounds.project(&trial);
        let predicted = dot(g, &sub(&trial, x));
        if predicted <= 0.0 {
            return None;
        }
        let (ft, gt) = if halvings == 0 {
            f.value_grad(&trial)
                .map_or((None, None), |(v, g)| (Some(v), Some(g)))
        } else {
            (f.value(&trial), None)
        };
        if let Some(ft) = ft.filter(|&ft| ft >= fx + ARMIJO * predicted) {
            let gt = match gt {
                Some(g) => g,
                None => f.value_grad(&trial)?.1,
            };
            return Some((trial, ft, gt));
        }
        t *= 0.5;
    }
    None
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn norm2(a: &[f64]) -> f64 {
    dot(a, a)
}

fn sub(a: &[f64], b: &[f64]) -> Vec<f64> {
    a.iter().zip(b).map(|(x, y)| x - y).collect()
}

/// `y += a x`.
fn axpy(a: f64, x: &[f64], y: &mut [f64]) {
    y.iter_mut().zip(x).for_each(|(yi, xi)| *yi += a * xi);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `−Rosenbrock`, maximised at (1, 1).
    struct NegRosenbrock;

    impl Objective for NegRosenbrock {
        fn value(&self, x: &[f64]) -> Option<f64> {
            Some(-(1.0 - x[0]).powi(2) - 100.0 * (x[1] - x[0] * x[0]).powi(2))
        }
        fn value_grad(&self, x: &[f64]) -> Option<(f64, Vec<f64>)> {
            let a = x[1] - x[0] * x[0];
            let g = vec![2.0 * (1.0 - x[0]) + 400.0 * x[0] * a, -200.0 * a];
            Some((self.value(x)?, g))
        }
    }

    /// `−|x − c|²`, undefined for `x_0 > 0.9`.
    struct Bowl(Vec<f64>);

    impl Objective for Bowl {
        fn value(&self, x: &[f64]) -> Option<f64> {
            (x[0] <= 0.9).then(|| -norm2(&sub(x, &self.0)))
        }
        fn value_grad(&self, x: &[f64]) -> Option<(f64, Vec<f64>)> {
            let g = sub(x, &self.0).iter().map(|v| -2.0 * v).collect();
            Some((self.value(x)?, g))
        }
    }

    #[test]
    fn finds_the_rosenbrock_optimum() {
        let b = Bounds {
            lo: vec![-2.0, -2.0],
            hi: vec![2.0, 2.0],
        };
        let (x, f) = maximise(&NegRosenbrock, &[-1.2, 1.0], &b, 200).unwrap();
        assert!(f > -1e-8, "{f} at {x:?}");
        assert!((x[0] - 1.0).abs() < 1e-3 && (x[1] - 1.0).abs() < 1e-3);
    }

    #[test]
    fn stops_on_active_bounds() {
        let b = Bounds {
            lo: vec![0.0, 0.0, 0.0],
            hi: vec![1.0, 1.0, 1.0],
        };
        let (x, _) = maximise(&Bowl(vec![0.5, 3.0, -1.0]), &[0.2, 0.2, 0.2], &b, 50).unwrap();
        assert!(
            (x[0] - 0.5).abs() < 1e-6 && x[1] == 1.0 && x[2] == 0.0,
            "{x:?}"
        );
    }

    #[test]
    fn backs_off_where_the_function_is_undefined() {
        let b = Bounds {
            lo: vec![0.0],
            hi: vec![10.0],
        };
        let (x, _) = maximise(&Bowl(vec![5.0]), &[0.0], &b, 50).unwrap();
        assert!(x[0] <= 0.9 && x[0] > 0.8, "{x:?}");
        assert!(maximise(&Bowl(vec![5.0]), &[2.0], &b, 50).is_none());
    }
}
