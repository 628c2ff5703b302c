//! The joint Parzen estimator of multivariate TPE, built for conditional spaces.
//!
//! Every observation is one mixture component over *all* parameters. Where a parameter was
//! inactive in that observation, the component's kernel for it is the prior (uniform): the
//! observation says nothing about it, so it is marginalised out rather than dropped. Hence:
//!
//! - a candidate is scored jointly on exactly the parameters active in it;
//! - observations from other branches still inform the parameters they share with the
//!   candidate (a `weight_decay` shared by SGD and AdamW learns from both), while the kernel of
//!   the branching parameter itself (`optimizer`) keeps the branches apart;
//! - sampling picks one component and walks the tree parents-first, drawing each parameter
//!   that becomes active from that same component, so correlations across levels survive.
//!
//! This avoids Optuna's `group=True` decomposition (one independent model per set of
//! co-occurring parameters, Optuna issue #5299), which loses both the sharing and the joint
//! structure across groups.

use rand::Rng;

use super::math::{add_log_categoricals, add_log_gaussians, exp_sum, neg_log_masses, LN_SQRT_2PI};
use super::parzen::{pick_at, sample_truncated, spread_with_prior, BandwidthRule};
use crate::sampler::encoding::Encoding;
use crate::sampler::Encoder;
use crate::space::{ParamValue, SearchSpace};

/// Per-parameter kernels of every component, laid out column by column so that scoring a
/// candidate is a vectorisable loop over components.
#[derive(Debug, Clone)]
enum Column {
    Numeric {
        /// Centre per component (0 where the parameter is missing).
        mu: Vec<f64>,
        /// `1 / (2h²)` per component, 0 where missing (flat kernel).
        half_inv_h2: Vec<f64>,
        /// `−ln h − ln√(2π) − ln Z`, 0 (= ln of the uniform density) where missing.
        coef: Vec<f64>,
        bandwidth: f64,
    },
    Categorical {
        /// Observed choice per component, −1 where missing.
        choice: Vec<f64>,
        /// `ln p(own choice)` and `ln p(other choice)` of the smoothed kernel; both `−ln k`
        /// where missing.
        own: Vec<f64>,
        other: Vec<f64>,
        n_choices: usize,
    },
}

/// A mixture over whole configurations with a uniform prior component.
#[derive(Debug, Clone)]
pub struct JointParzen {
    columns: Vec<Column>,
    /// Encoded centres, row-major, NaN where missing (for sampling).
    centres: Vec<f64>,
    weights: Vec<f64>,
    log_weights: Vec<f64>,
    prior_weight: f64,
    total_weight: f64,
    categorical_own: f64,
}

impl JointParzen {
    /// Fits the mixture to encoded rows (`dims` values each, NaN where inactive).
    pub fn fit(
        rows: &[&[f64]],
        weights: &[f64],
        encoder: &Encoder,
        prior_weight: f64,
        rule: &BandwidthRule,
    ) -> Self {
        let dims = encoder.len();
        let total_weight = weights.iter().sum::<f64>() + prior_weight;
        let columns = (0..dims)
            .map(|d| fit_column(rows, weights, d, encoder, prior_weight, rule))
            .collect();
        JointParzen {
            columns,
            centres: rows.iter().flat_map(|r| r.iter().copied()).collect(),
            weights: weights.to_vec(),
            log_weights: weights.iter().map(|w| (w / total_weight).ln()).collect(),
            prior_weight,
            total_weight,
            categorical_own: 1.0 / (1.0 + prior_weight),
        }
    }

    /// `ln` density of a candidate given as encoded values, NaN where inactive.
    /// `scratch` is reused between calls to avoid allocation.
    pub fn log_pdf(&self, x: &[f64], scratch: &mut Vec<f64>) -> f64 {
        scratch.clear();
        scratch.extend_from_slice(&self.log_weights);
        let mut log_prior = (self.prior_weight / self.total_weight).ln();
        for (column, &xd) in self.columns.iter().zip(x) {
            if xd.is_nan() {
                continue;
            }
            log_prior += add_column(column, xd, scratch);
        }
        let max = scratch.iter().copied().fold(log_prior, f64::max);
        max + (exp_sum(scratch, max) + (log_prior - max).exp()).ln()
    }

    /// Draws a configuration: one component (or the prior), then every parameter that becomes
    /// active, parents first, from that component's kernel (or the prior where the component
    /// lacks it). Returns encoded values, NaN where inactive.
    pub fn sample<R: Rng>(&self, rng: &mut R, space: &SearchSpace, encoder: &Encoder) -> Vec<f64> {
        let dims = encoder.len();
        let target = rng.random::<f64>() * self.total_weight;
        let component = (target >= self.prior_weight && !self.weights.is_empty())
            .then(|| pick_at(&self.weights, target - self.prior_weight));
        let mut values: Vec<Option<ParamValue>> = vec![None; dims];
        let mut x = vec![f64::NAN; dims];
        for d in 0..dims {
            if !space.is_active_with(d, &values) {
                continue;
            }
            let centre = component.map_or(f64::NAN, |c| self.centres[c * dims + d]);
            let u = self.sample_dim(rng, d, centre);
            let u = encoder.snap(d, u);
            values[d] = Some(encoder.decode(d, u));
            x[d] = u;
        }
        x
    }

    fn sample_dim<R: Rng>(&self, rng: &mut R, d: usize, centre: f64) -> f64 {
        match &self.columns[d] {
            Column::Numeric { bandwidth, .. } if !centre.is_nan() => {
                sample_truncated(rng, centre, *bandwidth)
            }
            Column::Numeric { .. } => rng.random::<f64>(),
            Column::Categorical { n_choices, .. } => {
                if !centre.is_nan() && rng.random::<f64>() < self.categorical_own {
                    centre
                } else {
                    rng.random_range(0..*n_choices) as f64
                }
            }
        }
    }
}

/// Adds one parameter's log kernel at `xd` to every component's accumulator; returns the
/// prior's log density for it.
fn add_column(column: &Column, xd: f64, acc: &mut [f64]) -> f64 {
    match column {
        Column::Numeric {
            mu,
            half_inv_h2,
            coef,
            ..
        } => {
            add_log_gaussians(xd, mu, half_inv_h2, coef, acc);
            0.0
        }
        Column::Categorical {
            choice,
            own,
            other,
            n_choices,
        } => {
            add_log_categoricals(xd, choice, own, other, acc);
            -(*n_choices as f64).ln()
        }
    }
}

fn fit_column(
    rows: &[&[f64]],
    weights: &[f64],
    d: usize,
    encoder: &Encoder,
    prior_weight: f64,
    rule: &BandwidthRule,
) -> Column {
    let present: Vec<(f64, f64)> = rows
        .iter()
        .zip(weights)
        .filter(|(r, _)| !r[d].is_nan())
        .map(|(r, &w)| (r[d], w))
        .collect();
    match encoder.encoding(d) {
        Encoding::Categorical { n } => categorical_column(rows, d, *n, prior_weight),
        Encoding::Numeric { grid } => {
            let (xs, ws): (Vec<f64>, Vec<f64>) = present.into_iter().unzip();
            let rule = BandwidthRule {
                grid: *grid,
                ..*rule
            };
            let sigma = spread_with_prior(&xs, &ws, prior_weight);
            let h = rule.scott(sigma, xs.len(), encoder.len());
            numeric_column(rows, d, h)
        }
    }
}

fn numeric_column(rows: &[&[f64]], d: usize, h: f64) -> Column {
    let raw: Vec<f64> = rows.iter().map(|r| r[d]).collect();
    let mut coef = vec![0.0; raw.len()];
    neg_log_masses(&raw, h, &mut coef);
    let base = -h.ln() - LN_SQRT_2PI;
    let present = |x: f64| !x.is_nan();
    let half_inv_h2 = raw
        .iter()
        .map(|&x| if present(x) { 0.5 / (h * h) } else { 0.0 })
        .collect();
    raw.iter()
        .zip(coef.iter_mut())
        .filter(|(x, _)| present(**x))
        .for_each(|(_, c)| *c += base);
    let mu = raw
        .iter()
        .map(|&x| if present(x) { x } else { 0.0 })
        .collect();
    Column::Numeric {
        mu,
        half_inv_h2,
        coef,
        bandwidth: h,
    }
}

fn categorical_column(rows: &[&[f64]], d: usize, n_choices: usize, prior_weight: f64) -> Column {
    let k = n_choices as f64;
    let own_p = ((1.0 + prior_weight / k) / (1.0 + prior_weight)).ln();
    let other_p = ((prior_weight / k) / (1.0 + prior_weight)).ln();
    let uniform = -k.ln();
    let n = rows.len();
    let (mut choice, mut own, mut other) = (vec![-1.0; n], vec![uniform; n], vec![uniform; n]);
    for (i, r) in rows.iter().enumerate() {
        if !r[d].is_nan() {
            choice[i] = r[d];
            own[i] = own_p;
            other[i] = other_p;
        }
    }
    Column::Categorical {
        choice,
        own,
        other,
        n_choices,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::space::{Condition, Distribution, Param};
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn space() -> SearchSpace {
        SearchSpace::new(vec![
            Param {
                name: "opt".into(),
                distribution: Distribution::Categorical {
                    choices: vec!["sgd".into(), "adam".into()],
                },
                conditions: vec![],
            },
            Param {
                name: "momentum".into(),
                distribution: Distribution::Float {
                    low: 0.0,
                    high: 1.0,
                    log: false,
                    step: None,
                },
                conditions: vec![Condition::In {
                    parent: "opt".into(),
                    values: vec!["sgd".into()],
                }],
            },
        ])
        .unwrap()
    }

    fn rule() -> BandwidthRule {
        BandwidthRule {
            min_bandwidth: 0.01,
            grid: None,
        }
    }

    #[test]
    fn density_over_the_tree_sums_to_one() {
        let s = space();
        let e = Encoder::new(&s);
        let rows: Vec<Vec<f64>> = vec![vec![0.0, 0.3], vec![1.0, f64::NAN], vec![0.0, 0.8]];
        let refs: Vec<&[f64]> = rows.iter().map(|r| r.as_slice()).collect();
        let p = JointParzen::fit(&refs, &[1.0; 3], &e, 1.0, &rule());
        let mut scratch = Vec::new();
        let n = 4000;
        let sgd_mass: f64 = (0..n)
            .map(|i| {
                let u = (i as f64 + 0.5) / n as f64;
                p.log_pdf(&[0.0, u], &mut scratch).exp()
            })
            .sum::<f64>()
            / n as f64;
        let adam_mass = p.log_pdf(&[1.0, f64::NAN], &mut scratch).exp();
        assert!(
            (sgd_mass + adam_mass - 1.0).abs() < 1e-4,
            "{sgd_mass} + {adam_mass}"
        );
    }

    #[test]
    fn samples_keep_the_branch_structure() {
        let s = space();
        let e = Encoder::new(&s);
        let rows: Vec<Vec<f64>> = (0..50).map(|_| vec![0.0, 0.25]).collect();
        let refs: Vec<&[f64]> = rows.iter().map(|r| r.as_slice()).collect();
        let p = JointParzen::fit(&refs, &[1.0; 50], &e, 1.0, &rule());
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut near = 0;
        for _ in 0..500 {
            let x = p.sample(&mut rng, &s, &e);
            assert_eq!(
                x[0] == 0.0,
                !x[1].is_nan(),
                "momentum active exactly for sgd"
            );
            near += usize::from((x[1] - 0.25).abs() < 0.1);
        }
        assert!(near > 300, "{near}");
    }
}
