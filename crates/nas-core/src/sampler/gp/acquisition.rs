//! Acquisition functions on the standardised loss (smaller is better).
//!
//! Both score a posterior `N(μ, σ²)` of the latent loss at a candidate; the sampler proposes the
//! candidate with the largest score.

/// `ln √(2π)`.
const LN_SQRT_2PI: f64 = 0.918_938_533_204_672_8;
/// Below this `z` the log-EI uses the Mills-ratio form instead of `φ(z) + zΦ(z)`.
const LOG_EI_SWITCH: f64 = -1.0;
/// Beyond this `|z|` the Mills ratio is replaced by its asymptotic series.
const ASYMPTOTIC_Z: f64 = 30.0;
/// Smallest posterior standard deviation used in scores.
const MIN_STD: f64 = 1e-9;

/// The acquisition function the GP sampler maximises.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Acquisition {
    /// Expected improvement `E[max(τ − f(x), 0)]` over the incumbent `τ`, the best posterior
    /// mean at an observed point (Jones et al. 1998). Maximised as `ln EI`, computed without
    /// underflow far from the incumbent.
    Ei,
    /// Confidence bound (GP-UCB, Srinivas et al. 2010, on the loss): proposes the minimiser of
    /// the lower confidence bound `μ(x) − √β σ(x)`. Larger `β` explores more; `β = 0` exploits
    /// the mean only.
    Ucb {
        /// Exploration weight `β ≥ 0` (the bound is `√β` posterior standard deviations wide).
        beta: f64,
    },
}

impl Default for Acquisition {
    /// Expected improvement.
    fn default() -> Self {
        Acquisition::Ei
    }
}

impl Acquisition {
    /// The score (larger is better) of a candidate with posterior mean `mean` and variance
    /// `var` of the standardised loss, given the incumbent loss `best`.
    pub(crate) fn score(self, mean: f64, var: f64, best: f64) -> f64 {
        let std = var.max(0.0).sqrt().max(MIN_STD);
        match self {
            Acquisition::Ei => log_expected_improvement(mean, std, best),
            Acquisition::Ucb { beta } => beta.max(0.0).sqrt() * std - mean,
        }
    }
}

/// Standard normal density `φ(z)`.
pub(crate) fn norm_pdf(z: f64) -> f64 {
    (-0.5 * z * z - LN_SQRT_2PI).exp()
}

/// Standard normal distribution function `Φ(z) = ½ erfc(−z/√2)`, accurate in both tails.
pub(crate) fn norm_cdf(z: f64) -> f64 {
    0.5 * libm::erfc(-z / std::f64::consts::SQRT_2)
}

/// Expected improvement below `best` of `N(mean, std²)`:
/// `EI = σ (z Φ(z) + φ(z))`, `z = (best − μ)/σ` (Jones et al. 1998, eq. 15). The sampler uses
/// [`log_expected_improvement`]; this plain form is the reference it is tested against.
#[cfg(test)]
pub(crate) fn expected_improvement(mean: f64, std: f64, best: f64) -> f64 {
    let z = (best - mean) / std;
    std * (z * norm_cdf(z) + norm_pdf(z))
}

/// `ln EI`, finite wherever `std > 0` (the LogEI of Ament et al. 2023).
pub(crate) fn log_expected_improvement(mean: f64, std: f64, best: f64) -> f64 {
    std.ln() + log_h((best - mean) / std)
}

/// `ln h(z)` with `h(z) = φ(z) + zΦ(z)`.
///
/// For `z ≥ −1` directly. Below, with `t = −z`, `h = φ(t)(1 − t R(t))` where
/// `R(t) = Φ(−t)/φ(t)` is Mills' ratio, so `ln h = −t²/2 − ln √(2π) + ln(1 − t R(t))`; the
/// cancellation in `1 − tR ≈ 1/t²` costs only `t²` ulps. For `t ≥ 30`, where `Φ(−t)` nears
/// underflow, `1 − tR(t) = t⁻²(1 − 3t⁻² + 15t⁻⁴ − 105t⁻⁶ + …)` (Abramowitz & Stegun 26.2.12).
fn log_h(z: f64) -> f64 {
    if z >= LOG_EI_SWITCH {
        return (norm_pdf(z) + z * norm_cdf(z)).ln();
    }
    let t = -z;
    let tail = if t < ASYMPTOTIC_Z {
        1.0 - t * norm_cdf(-t) / norm_pdf(t)
    } else {
        let u = 1.0 / (t * t);
        u * (1.0 - u * (3.0 - u * (15.0 - 105.0 * u)))
    };
    -0.5 * t * t - LN_SQRT_2PI + tail.ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ei_matches_hand_computed_values() {
        // z = 0: EI = σ φ(0).
        assert!((expected_improvement(0.0, 1.0, 0.0) - 0.398_942_280_401_432_7).abs() < 1e-15);
        // μ = 0.5, σ = 2, τ = 0: z = −0.25, EI = 2(φ(−0.25) − 0.25 Φ(−0.25)).
        assert!((expected_improvement(0.5, 2.0, 0.0) - 0.572_689_396_447_160_4).abs() < 1e-14);
        // μ = 0.5, σ = 0.8, τ = 0: z = −0.625 (log-EI's direct branch).
        let ei = 0.129_536_010_315_949_8;
        assert!((expected_improvement(0.5, 0.8, 0.0) - ei).abs() < 1e-14);
        assert!((log_expected_improvement(0.5, 0.8, 0.0) - ei.ln()).abs() < 1e-12);
    }

    #[test]
    fn log_ei_agrees_with_ei_across_branches() {
        for k in 0..200 {
            let z = -25.0 + k as f64 * 0.15;
            let direct = expected_improvement(-z, 1.0, 0.0).ln();
            let logei = log_expected_improvement(-z, 1.0, 0.0);
            assert!(
                (direct - logei).abs() < 1e-8 * direct.abs().max(1.0),
                "z={z}"
            );
        }
    }

    #[test]
    fn log_ei_is_finite_and_monotone_in_the_far_tail() {
        let mut last = f64::INFINITY;
        for k in 0..100 {
            let z = -20.0 - k as f64 * 0.5;
            let v = log_h(z);
            assert!(v.is_finite() && v < last, "z={z}");
            last = v;
        }
        // Both tail forms agree where they meet.
        let t = ASYMPTOTIC_Z;
        let mills = 1.0 - t * norm_cdf(-t) / norm_pdf(t);
        let u = 1.0 / (t * t);
        let series = u * (1.0 - u * (3.0 - u * (15.0 - 105.0 * u)));
        assert!((mills / series - 1.0).abs() < 1e-8);
    }

    #[test]
    fn ucb_rewards_low_mean_and_high_variance() {
        let ucb = Acquisition::Ucb { beta: 4.0 };
        assert!((ucb.score(0.5, 0.25, 0.0) - 0.5).abs() < 1e-15); // 2·0.5 − 0.5
        assert!(ucb.score(-1.0, 0.1, 0.0) > ucb.score(0.0, 0.1, 0.0));
        assert!(ucb.score(0.0, 1.0, 0.0) > ucb.score(0.0, 0.1, 0.0));
        let ei = Acquisition::Ei;
        assert!(ei.score(-1.0, 0.1, 0.0) > ei.score(0.0, 0.1, 0.0));
        assert!(ei.score(0.0, 0.0, 0.0).is_finite());
    }
}
