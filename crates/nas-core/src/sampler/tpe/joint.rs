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
//! Each numeric kernel has its own bandwidth, the larger gap to its neighbours
//! ([`BandwidthRule::neighbours_in_order`]: Bergstra's rule, which Optuna keeps for its
//! univariate TPE), not one width per parameter: in 6 to 16 dimensions a Scott's-rule
//! `n^(-1/(d+4))` hardly shrinks, and one width cannot fit both a cluster of good points and
//! a lone one. Measured with `nas bench sampler-quality --first-seed 1000`
//! (results/benchmarks.md), it beat both our Scott's rule on the points' spread and Optuna's
//! multivariate width `0.2 · n^(-1/(d+4))`, the latter on all eleven problems.
//!
//! This avoids Optuna's `group=True` decomposition (one independent model per set of
//! co-occurring parameters, Optuna issue #5299), which loses both the sharing and the joint
//! structure across groups.

use rand::Rng;

use super::math::{add_log_categoricals, add_log_gaussians, exp_sum, log_kernel_constant};
use super::parzen::{pick_at, sample_truncated, BandwidthRule};
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
        /// Bandwidth per component ([`BandwidthRule::neighbours_in_order`]), 1 where missing.
        bandwidth: Vec<f64>,
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

/// What the joint fits keep from one proposal to the next, by history row: the same numbers
/// as starting afresh, for less work.
///
/// - The constant term of each numeric kernel's log density ([`log_kernel_constant`]: two
///   CDFs and two logarithms, most of a fit's arithmetic), by parameter and row. A kernel's
///   centre never changes and its bandwidth seldom does (when a neighbour arrives, or its
///   trial changes sets), so each proposal computes only those whose bandwidth changed.
/// - The densities' arrays, handed back by [`JointParzen::recycle`] and filled again by the
///   next fit: at a thousand trials they are half a megabyte, and freeing them lets the
///   allocator return the top of its heap to the system, which the next proposal then
///   faults back in page by page (a fifth of a proposal's time, measured).
#[derive(Debug, Clone, Default)]
pub struct Workspace {
    /// `(bandwidth, constant)` per parameter and row; NaN bandwidth where none is known.
    constants: Vec<Vec<(f64, f64)>>,
    /// Arrays to fill again.
    buffers: Vec<Vec<f64>>,
    /// Sums of the candidates [`JointParzen::log_pdf_many`] scores together.
    pub scratch: Vec<f64>,
}

impl Workspace {
    /// Room for `dims` parameters and rows below `n_rows`.
    pub fn reserve(&mut self, dims: usize, n_rows: usize) {
        self.constants.resize_with(dims, Vec::new);
        for column in &mut self.constants {
            if column.len() < n_rows {
                column.resize(n_rows, (f64::NAN, 0.0));
            }
        }
    }

    /// An array of `n` copies of `value`, reusing a recycled one where there is one.
    fn filled(&mut self, n: usize, value: f64) -> Vec<f64> {
        let mut buffer = self.buffers.pop().unwrap_or_default();
        buffer.clear();
        buffer.resize(n, value);
        buffer
    }

    /// An array of `values`, reusing a recycled one where there is one.
    fn collected(&mut self, values: impl Iterator<Item = f64>) -> Vec<f64> {
        let mut buffer = self.buffers.pop().unwrap_or_default();
        buffer.clear();
        buffer.extend(values);
        buffer
    }
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
    #[cfg(test)]
    pub fn fit(
        rows: &[&[f64]],
        weights: &[f64],
        encoder: &Encoder,
        prior_weight: f64,
        rule: &BandwidthRule,
    ) -> Self {
        let orders: Vec<Vec<usize>> = (0..encoder.len())
            .map(|d| match encoder.encoding(d) {
                Encoding::Numeric { .. } => value_order(rows, d),
                Encoding::Categorical { .. } => Vec::new(),
            })
            .collect();
        let history = History {
            rows: &(0..rows.len()).collect::<Vec<_>>(),
            orders: &orders,
        };
        let mut workspace = Workspace::default();
        workspace.reserve(encoder.len(), rows.len());
        Self::fit_from(
            rows,
            weights,
            encoder,
            prior_weight,
            rule,
            &history,
            &mut workspace,
        )
    }

    /// [`JointParzen::fit`] for rows of a history (`history` says where the rows are in it,
    /// and in what order their values are), with what earlier fits left in `workspace`.
    pub fn fit_from(
        rows: &[&[f64]],
        weights: &[f64],
        encoder: &Encoder,
        prior_weight: f64,
        rule: &BandwidthRule,
        history: &History<'_>,
        workspace: &mut Workspace,
    ) -> Self {
        let dims = encoder.len();
        let total_weight = weights.iter().sum::<f64>() + prior_weight;
        let columns = (0..dims)
            .map(|d| match encoder.encoding(d) {
                Encoding::Categorical { n } => {
                    categorical_column(rows, d, *n, prior_weight, workspace)
                }
                Encoding::Numeric { .. } => numeric_column(rows, d, rule, history, workspace),
            })
            .collect();
        JointParzen {
            columns,
            centres: workspace.collected(rows.iter().flat_map(|r| r.iter().copied())),
            weights: workspace.collected(weights.iter().copied()),
            log_weights: workspace.collected(weights.iter().map(|w| (w / total_weight).ln())),
            prior_weight,
            total_weight,
            categorical_own: 1.0 / (1.0 + prior_weight),
        }
    }

    /// Hands the mixture's arrays to `workspace` for the next fit.
    pub fn recycle(self, workspace: &mut Workspace) {
        for column in self.columns {
            match column {
                Column::Numeric {
                    mu,
                    half_inv_h2,
                    coef,
                    bandwidth,
                } => workspace.buffers.extend([mu, half_inv_h2, coef, bandwidth]),
                Column::Categorical {
                    choice, own, other, ..
                } => workspace.buffers.extend([choice, own, other]),
            }
        }
        let arrays = [self.centres, self.weights, self.log_weights];
        workspace.buffers.extend(arrays);
    }

    /// `ln` density of a candidate given as encoded values, NaN where inactive.
    /// `scratch` is reused between calls to avoid allocation.
    pub fn log_pdf(&self, x: &[f64], scratch: &mut Vec<f64>) -> f64 {
        scratch.clear();
        scratch.extend_from_slice(&self.log_weights);
        for (column, &xd) in self.columns.iter().zip(x) {
            if !xd.is_nan() {
                add_column(column, xd, scratch);
            }
        }
        self.log_sum(x, scratch)
    }

    /// `ln` of the density at `x` from each component's `ln` weighted kernel there (`acc`):
    /// their log-sum-exp with the prior component's.
    fn log_sum(&self, x: &[f64], acc: &[f64]) -> f64 {
        let log_prior = self.log_prior_part(x);
        let max = acc.iter().copied().fold(log_prior, f64::max);
        max + (exp_sum(acc, max) + (log_prior - max).exp()).ln()
    }

    /// [`JointParzen::log_pdf`] of several candidates (the same numbers). The components
    /// are visited 128 at a time, and each group's kernels are applied to every candidate
    /// while they are in the first-level cache, instead of streaming all of `g`'s hundreds of
    /// kernels once per candidate (8 candidates at a time: 0.42–0.45 ms per 1,000-trial
    /// proposal against 0.46–0.49 ms one at a time, results/benchmarks.md). `scratch` is
    /// reused between calls to avoid allocation.
    pub fn log_pdf_many(&self, xs: &[&[f64]], scratch: &mut Vec<f64>) -> Vec<f64> {
        /// Components per group: 128 kernels' three terms and the sums of 8 candidates
        /// take 11 KiB.
        const GROUP: usize = 128;
        let n = self.log_weights.len();
        scratch.clear();
        for _ in xs {
            scratch.extend_from_slice(&self.log_weights);
        }
        for start in (0..n).step_by(GROUP) {
            let end = (start + GROUP).min(n);
            for (d, column) in self.columns.iter().enumerate() {
                for (j, x) in xs.iter().enumerate() {
                    if !x[d].is_nan() {
                        let acc = &mut scratch[j * n + start..j * n + end];
                        add_column_range(column, x[d], start..end, acc);
                    }
                }
            }
        }
        xs.iter()
            .enumerate()
            .map(|(j, x)| self.log_sum(x, &scratch[j * n..(j + 1) * n]))
            .collect()
    }

    /// `ln` of the prior component's share of the density at `x`: a lower bound of
    /// [`JointParzen::log_pdf`] that costs nothing per component.
    pub fn log_prior_part(&self, x: &[f64]) -> f64 {
        let share = (self.prior_weight / self.total_weight).ln();
        self.columns
            .iter()
            .zip(x)
            .filter(|(_, xd)| !xd.is_nan())
            .fold(share, |log_prior, (column, _)| match column {
                // The uniform density on [0, 1] is 1.
                Column::Numeric { .. } => log_prior,
                Column::Categorical { n_choices, .. } => log_prior - (*n_choices as f64).ln(),
            })
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
            let u = match component {
                Some(c) => self.sample_dim(rng, d, c),
                None => self.sample_prior(rng, d),
            };
            let u = encoder.snap(d, u);
            // Only the values that conditions read are needed to walk the tree.
            if space.is_parent(d) {
                values[d] = Some(encoder.decode(d, u));
            }
            x[d] = u;
        }
        x
    }

    /// Draws parameter `d` from component `c`'s kernel, or from the prior where the
    /// component lacks it.
    fn sample_dim<R: Rng>(&self, rng: &mut R, d: usize, c: usize) -> f64 {
        let centre = self.centres[c * self.columns.len() + d];
        if centre.is_nan() {
            return self.sample_prior(rng, d);
        }
        match &self.columns[d] {
            Column::Numeric { bandwidth, .. } => sample_truncated(rng, centre, bandwidth[c]),
            Column::Categorical { .. } if rng.random::<f64>() < self.categorical_own => centre,
            Column::Categorical { .. } => self.sample_prior(rng, d),
        }
    }

    /// Draws parameter `d` from the uniform prior.
    fn sample_prior<R: Rng>(&self, rng: &mut R, d: usize) -> f64 {
        match &self.columns[d] {
            Column::Numeric { .. } => rng.random::<f64>(),
            Column::Categorical { n_choices, .. } => rng.random_range(0..*n_choices) as f64,
        }
    }
}

/// Adds one parameter's log kernel at `xd` to every component's accumulator.
fn add_column(column: &Column, xd: f64, acc: &mut [f64]) {
    add_column_range(column, xd, 0..acc.len(), acc);
}

/// Adds one parameter's log kernel at `xd` to the accumulators of the components in `range`
/// (`acc` holds just those).
fn add_column_range(column: &Column, xd: f64, range: std::ops::Range<usize>, acc: &mut [f64]) {
    match column {
        Column::Numeric {
            mu,
            half_inv_h2,
            coef,
            ..
        } => add_log_gaussians(
            xd,
            &mu[range.clone()],
            &half_inv_h2[range.clone()],
            &coef[range],
            acc,
        ),
        Column::Categorical {
            choice, own, other, ..
        } => add_log_categoricals(
            xd,
            &choice[range.clone()],
            &own[range.clone()],
            &other[range],
            acc,
        ),
    }
}

/// Where the rows a mixture is fitted to sit in the history.
#[derive(Debug, Clone, Copy)]
pub struct History<'a> {
    /// The history row of each of them (the key of [`Workspace`]).
    pub rows: &'a [usize],
    /// Per numeric parameter `d`, the indices of the rows where it is present, in increasing
    /// order of their value, ties by index (as [`value_order`] finds it; unread for
    /// categoricals): what the per-kernel bandwidths need.
    pub orders: &'a [Vec<usize>],
}

/// The rows where parameter `d` is present, by increasing value, ties by row.
pub fn value_order(rows: &[&[f64]], d: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..rows.len()).filter(|&i| !rows[i][d].is_nan()).collect();
    order.sort_unstable_by(|&a, &b| rows[a][d].total_cmp(&rows[b][d]).then(a.cmp(&b)));
    order
}

/// Kernels centred on `rows[·][d]`, each with its own bandwidth from its neighbours among the
/// rows where the parameter is present. Where it is missing the kernel is flat (all terms 0:
/// ln 1 = 0 everywhere).
fn numeric_column(
    rows: &[&[f64]],
    d: usize,
    rule: &BandwidthRule,
    history: &History<'_>,
    workspace: &mut Workspace,
) -> Column {
    let n = rows.len();
    let order = &history.orders[d];
    let mut mu = workspace.collected(rows.iter().map(|r| r[d]));
    let mut bandwidth = workspace.filled(n, 1.0);
    rule.neighbours_in_order(&mu, order, &mut bandwidth);
    let mut half_inv_h2 = workspace.filled(n, 0.0);
    let mut coef = workspace.filled(n, 0.0);
    let constants = &mut workspace.constants[d];
    for &k in order {
        let (x, h) = (mu[k], bandwidth[k]);
        let known = &mut constants[history.rows[k]];
        if known.0 != h {
            *known = (h, log_kernel_constant(x, h));
        }
        half_inv_h2[k] = 0.5 / (h * h);
        coef[k] = known.1;
    }
    // Where the parameter is missing the kernel is flat: every term 0 (ln 1 = 0).
    mu.iter_mut().filter(|x| x.is_nan()).for_each(|x| *x = 0.0);
    Column::Numeric {
        mu,
        half_inv_h2,
        coef,
        bandwidth,
    }
}

fn categorical_column(
    rows: &[&[f64]],
    d: usize,
    n_choices: usize,
    prior_weight: f64,
    workspace: &mut Workspace,
) -> Column {
    let k = n_choices as f64;
    let own_p = ((1.0 + prior_weight / k) / (1.0 + prior_weight)).ln();
    let other_p = ((prior_weight / k) / (1.0 + prior_weight)).ln();
    let uniform = -k.ln();
    let n = rows.len();
    let mut choice = workspace.filled(n, -1.0);
    let mut own = workspace.filled(n, uniform);
    let mut other = workspace.filled(n, uniform);
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

    #[test]
    fn scoring_candidates_together_gives_each_its_own_density() {
        let s = space();
        let e = Encoder::new(&s);
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        // 300 components (more than one group of the block scoring), branches mixed.
        let rows: Vec<Vec<f64>> = (0..300)
            .map(|i| match i % 3 {
                0 => vec![1.0, f64::NAN],
                _ => vec![0.0, rng.random::<f64>()],
            })
            .collect();
        let refs: Vec<&[f64]> = rows.iter().map(|r| r.as_slice()).collect();
        let weights: Vec<f64> = (0..300).map(|i| 0.5 + (i % 7) as f64 / 7.0).collect();
        let empty = JointParzen::fit(&[], &[], &e, 1.0, &rule());
        let full = JointParzen::fit(&refs, &weights, &e, 1.0, &rule());
        let candidates: Vec<Vec<f64>> = (0..11)
            .map(|_| full.sample(&mut rng, &s, &e))
            .chain([vec![1.0, f64::NAN], vec![0.0, 0.0]])
            .collect();
        let xs: Vec<&[f64]> = candidates.iter().map(|x| x.as_slice()).collect();
        for p in [&empty, &full] {
            let mut scratch = Vec::new();
            let together = p.log_pdf_many(&xs, &mut scratch);
            let alone: Vec<f64> = xs.iter().map(|x| p.log_pdf(x, &mut scratch)).collect();
            // The same numbers, not merely close ones.
            assert_eq!(together, alone);
        }
    }
}
