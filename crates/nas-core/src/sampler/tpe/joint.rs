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

use super::block::{sum_log_kernels, Block, Kernels, CANDIDATES};
use super::math::{add_log_categoricals, add_log_gaussians, exp_sum, log_kernel_constant, max_of};
use super::parzen::{pick_at, sample_truncated, BandwidthRule};
use crate::sampler::encoding::Encoding;
use crate::sampler::Encoder;

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
        /// `ln n_choices`.
        ln_choices: f64,
    },
}

/// What the joint fits keep from one proposal to the next, by history row: the same numbers
/// as starting afresh, for less work.
///
/// - The terms of each numeric kernel's log density that depend on its bandwidth
///   ([`KernelTerms`]: the constant, two CDFs and two logarithms, is most of a fit's
///   arithmetic), by parameter and row. A kernel's centre never changes and its bandwidth
///   seldom does (when a neighbour arrives, or its trial changes sets), so each proposal
///   computes only those whose bandwidth changed.
/// - The densities' arrays, handed back by [`JointParzen::recycle`] and filled again by the
///   next fit: at a thousand trials they are half a megabyte, and freeing them lets the
///   allocator return the top of its heap to the system, which the next proposal then
///   faults back in page by page (a fifth of a proposal's time, measured).
#[derive(Debug, Clone, Default)]
pub struct Workspace {
    /// Per parameter and row; NaN bandwidth where none is known.
    constants: Vec<Vec<KernelTerms>>,
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
                column.resize(n_rows, KernelTerms::UNKNOWN);
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

/// The terms of a numeric kernel's log density `coef − half_inv_h2 · (x − μ)²` that its
/// bandwidth decides, kept by [`Workspace`].
#[derive(Debug, Clone, Copy)]
struct KernelTerms {
    bandwidth: f64,
    /// `1 / (2h²)`.
    half_inv_h2: f64,
    /// [`log_kernel_constant`].
    coef: f64,
}

impl KernelTerms {
    /// Nothing known yet: no bandwidth equals NaN.
    const UNKNOWN: KernelTerms = KernelTerms {
        bandwidth: f64::NAN,
        half_inv_h2: 0.0,
        coef: 0.0,
    };

    fn new(mu: f64, h: f64) -> Self {
        KernelTerms {
            bandwidth: h,
            half_inv_h2: 0.5 / (h * h),
            coef: log_kernel_constant(mu, h),
        }
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
    /// `ln(prior_weight / total_weight)`.
    log_prior_share: f64,
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
        let columns: Vec<Vec<f64>> = (0..encoder.len())
            .map(|d| rows.iter().map(|r| r[d]).collect())
            .collect();
        let history = History {
            rows: &(0..rows.len()).collect::<Vec<_>>(),
            columns: &columns,
            orders: &orders,
        };
        let mut workspace = Workspace::default();
        workspace.reserve(encoder.len(), rows.len());
        let mut fitted = Self::fit_from(
            weights,
            encoder,
            prior_weight,
            rule,
            &history,
            &mut workspace,
        );
        fitted.keep_centres(rows, &mut workspace);
        fitted
    }

    /// [`JointParzen::fit`] for rows of a history, one weight each (`history` says which rows,
    /// and in what order their values are), with what earlier fits left in `workspace`; to
    /// be sampled, it needs [`JointParzen::keep_centres`] too.
    pub fn fit_from(
        weights: &[f64],
        encoder: &Encoder,
        prior_weight: f64,
        rule: &BandwidthRule,
        history: &History<'_>,
        workspace: &mut Workspace,
    ) -> Self {
        assert_eq!(weights.len(), history.rows.len(), "one weight per row");
        let dims = encoder.len();
        let total_weight = weights.iter().sum::<f64>() + prior_weight;
        let columns = (0..dims)
            .map(|d| match encoder.encoding(d) {
                Encoding::Categorical { n } => {
                    categorical_column(d, *n, prior_weight, history, workspace)
                }
                Encoding::Numeric { .. } => numeric_column(d, rule, history, workspace),
            })
            .collect();
        JointParzen {
            columns,
            centres: Vec::new(),
            weights: workspace.collected(weights.iter().copied()),
            log_weights: workspace.collected(weights.iter().map(|w| (w / total_weight).ln())),
            prior_weight,
            total_weight,
            log_prior_share: (prior_weight / total_weight).ln(),
            categorical_own: 1.0 / (1.0 + prior_weight),
        }
    }

    /// Keeps the rows' values whole, which [`JointParzen::sample`] draws from: a density that
    /// is only scored (`g`) does without this copy of the history.
    pub fn keep_centres(&mut self, rows: &[&[f64]], workspace: &mut Workspace) {
        self.centres = workspace.collected(rows.iter().flat_map(|r| r.iter().copied()));
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
        self.log_sum_known(x, acc, 0, f64::NEG_INFINITY)
    }

    /// [`JointParzen::log_sum`] where the largest of `acc[..known]` is known already.
    fn log_sum_known(&self, x: &[f64], acc: &[f64], known: usize, largest: f64) -> f64 {
        let log_prior = self.log_prior_part(x);
        // The largest term, as a fold over all of them finds it.
        let max = max_of(&acc[known..], largest.max(log_prior));
        max + (exp_sum(acc, max) + (log_prior - max).exp()).ln()
    }

    /// [`JointParzen::log_pdf`] of several candidates (the same numbers, to the last bit),
    /// [`CANDIDATES`] at a time ([`block`](super::block)). `scratch` is reused between calls
    /// to avoid allocation.
    pub fn log_pdf_many(&self, xs: &[&[f64]], scratch: &mut Vec<f64>) -> Vec<f64> {
        self.log_pdf_blocks(xs, scratch, true)
    }

    /// [`JointParzen::log_pdf_many`], on AVX-512 where the CPU has it and `vector` is true.
    fn log_pdf_blocks(&self, xs: &[&[f64]], scratch: &mut Vec<f64>, vector: bool) -> Vec<f64> {
        let mut scores = Vec::with_capacity(xs.len());
        let mut block = Block::default();
        let kernels: Vec<Kernels<'_>> = self.columns.iter().map(Column::kernels).collect();
        for candidates in xs.chunks(CANDIDATES) {
            block.fill(candidates, self.columns.len());
            let scoring = Scoring {
                block: &block,
                kernels: &kernels,
                vector,
            };
            self.log_pdf_block(candidates, &scoring, scratch, &mut scores);
        }
        scores
    }

    /// Appends to `scores` the `ln` densities of the up to [`CANDIDATES`] candidates `xs`.
    fn log_pdf_block(
        &self,
        xs: &[&[f64]],
        scoring: &Scoring<'_>,
        scratch: &mut Vec<f64>,
        scores: &mut Vec<f64>,
    ) {
        let n = self.log_weights.len();
        let (from, largest) = self.sum_block(xs, scoring, scratch);
        for (j, x) in xs.iter().enumerate() {
            let acc = &scratch[j * n..(j + 1) * n];
            scores.push(self.log_sum_known(x, acc, from, largest[j]));
        }
    }

    /// Writes to `scratch[j·n..(j + 1)·n]` each component's `ln` weight plus the log kernels
    /// of the parameters candidate `j` reads. Returns how many components were summed on
    /// AVX-512 (all or none), and the largest sum of each candidate among those.
    fn sum_block(
        &self,
        xs: &[&[f64]],
        scoring: &Scoring<'_>,
        scratch: &mut Vec<f64>,
    ) -> (usize, [f64; CANDIDATES]) {
        /// Components per group where AVX-512 is missing: 128 kernels' three terms and the
        /// sums of 8 candidates take 11 KiB, so each group's kernels stay in the first-level
        /// cache while they are applied to every candidate.
        const GROUP: usize = 128;
        let n = self.log_weights.len();
        scratch.clear();
        scratch.resize(CANDIDATES * n, 0.0);
        let mut largest = [f64::NEG_INFINITY; CANDIDATES];
        let summed = scoring.vector
            && sum_log_kernels(
                scoring.kernels,
                &self.log_weights,
                scoring.block,
                n,
                scratch,
                &mut largest,
            );
        // Without AVX-512, every component, in the order `log_pdf` adds the terms.
        let from = if summed { n } else { 0 };
        for j in 0..xs.len() {
            scratch[j * n + from..(j + 1) * n].copy_from_slice(&self.log_weights[from..]);
        }
        for start in (from..n).step_by(GROUP) {
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
        (from, largest)
    }

    /// `ln` of the prior component's share of the density at `x`: a lower bound of
    /// [`JointParzen::log_pdf`] that costs nothing per component.
    pub fn log_prior_part(&self, x: &[f64]) -> f64 {
        let share = self.log_prior_share;
        self.columns
            .iter()
            .zip(x)
            .filter(|(_, xd)| !xd.is_nan())
            .fold(share, |log_prior, (column, _)| match column {
                // The uniform density on [0, 1] is 1.
                Column::Numeric { .. } => log_prior,
                Column::Categorical { ln_choices, .. } => log_prior - ln_choices,
            })
    }

    /// Draws a configuration: one component (or the prior), then every parameter that becomes
    /// active, parents first, from that component's kernel (or the prior where the component
    /// lacks it). Returns encoded values, NaN where inactive. Needs
    /// [`JointParzen::keep_centres`].
    pub fn sample<R: Rng>(&self, rng: &mut R, encoder: &Encoder) -> Vec<f64> {
        assert!(
            self.centres.len() == self.weights.len() * self.columns.len(),
            "a sampled mixture keeps its centres"
        );
        let dims = encoder.len();
        let target = rng.random::<f64>() * self.total_weight;
        let component = (target >= self.prior_weight && !self.weights.is_empty())
            .then(|| pick_at(&self.weights, target - self.prior_weight));
        let mut x = vec![f64::NAN; dims];
        for d in 0..dims {
            // The conditions read the parents' encoded values: no choice is decoded.
            if !encoder.is_active(d, &x) {
                continue;
            }
            let u = match component {
                Some(c) => self.sample_dim(rng, d, c),
                None => self.sample_prior(rng, d),
            };
            x[d] = encoder.snap(d, u);
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

/// How [`JointParzen::log_pdf_block`] scores a block of candidates.
struct Scoring<'a> {
    /// Where the candidates read each parameter.
    block: &'a Block,
    /// The columns' kernels.
    kernels: &'a [Kernels<'a>],
    /// Whether to sum on AVX-512 where the CPU has it ([`sum_log_kernels`]).
    vector: bool,
}

impl Column {
    /// The kernels as [`sum_log_kernels`] reads them.
    fn kernels(&self) -> Kernels<'_> {
        match self {
            Column::Numeric {
                mu,
                half_inv_h2,
                coef,
                ..
            } => Kernels::Numeric {
                mu,
                half_inv_h2,
                coef,
            },
            Column::Categorical {
                choice, own, other, ..
            } => Kernels::Categorical { choice, own, other },
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
    /// The history's values parameter by parameter (`columns[d][row]`, NaN where inactive):
    /// a parameter's values over the rows are read from one array, not from a row each.
    pub columns: &'a [Vec<f64>],
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

/// Parameter `d`'s values over the rows of `history`.
fn values_of(d: usize, history: &History<'_>, workspace: &mut Workspace) -> Vec<f64> {
    let column = &history.columns[d];
    workspace.collected(history.rows.iter().map(|&row| column[row]))
}

/// Kernels centred on the rows' values of parameter `d`, each with its own bandwidth from its
/// neighbours among the rows where the parameter is present. Where it is missing the kernel
/// is flat (all terms 0: ln 1 = 0 everywhere).
fn numeric_column(
    d: usize,
    rule: &BandwidthRule,
    history: &History<'_>,
    workspace: &mut Workspace,
) -> Column {
    let mut mu = values_of(d, history, workspace);
    let n = mu.len();
    let mut bandwidth = workspace.filled(n, 1.0);
    rule.neighbours_in_order(&mu, &history.orders[d], &mut bandwidth);
    let mut half_inv_h2 = workspace.filled(n, 0.0);
    let mut coef = workspace.filled(n, 0.0);
    let constants = &mut workspace.constants[d];
    // In row order, not value order: the kept constants are then read front to back.
    for (k, &row) in history.rows.iter().enumerate() {
        let (x, h) = (mu[k], bandwidth[k]);
        if x.is_nan() {
            continue;
        }
        let known = &mut constants[row];
        if known.bandwidth != h {
            *known = KernelTerms::new(x, h);
        }
        half_inv_h2[k] = known.half_inv_h2;
        coef[k] = known.coef;
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
    d: usize,
    n_choices: usize,
    prior_weight: f64,
    history: &History<'_>,
    workspace: &mut Workspace,
) -> Column {
    let k = n_choices as f64;
    let own_p = ((1.0 + prior_weight / k) / (1.0 + prior_weight)).ln();
    let other_p = ((prior_weight / k) / (1.0 + prior_weight)).ln();
    let ln_choices = k.ln();
    let uniform = -ln_choices;
    let mut choice = values_of(d, history, workspace);
    let n = choice.len();
    let mut own = workspace.filled(n, uniform);
    let mut other = workspace.filled(n, uniform);
    for ((c, own), other) in choice.iter_mut().zip(&mut own).zip(&mut other) {
        if c.is_nan() {
            *c = -1.0;
        } else {
            *own = own_p;
            *other = other_p;
        }
    }
    Column::Categorical {
        choice,
        own,
        other,
        n_choices,
        ln_choices,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::space::{Condition, Distribution, Param, SearchSpace};
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
            let x = p.sample(&mut rng, &e);
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
        // 300 components (more than one group of the scoring without AVX-512, and a last
        // register of 4), branches mixed.
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
        // Fewer components than a register holds.
        let few = JointParzen::fit(&refs[..5], &weights[..5], &e, 1.0, &rule());
        let candidates: Vec<Vec<f64>> = (0..11)
            .map(|_| full.sample(&mut rng, &e))
            .chain([vec![1.0, f64::NAN], vec![0.0, 0.0]])
            .collect();
        let xs: Vec<&[f64]> = candidates.iter().map(|x| x.as_slice()).collect();
        for p in [&empty, &few, &full] {
            let mut scratch = Vec::new();
            let together = p.log_pdf_many(&xs, &mut scratch);
            let portable = p.log_pdf_blocks(&xs, &mut scratch, false);
            let alone: Vec<f64> = xs.iter().map(|x| p.log_pdf(x, &mut scratch)).collect();
            // The same numbers, not merely close ones, on AVX-512 and without it.
            assert_eq!(together, alone);
            assert_eq!(portable, alone);
            // And so are the sums per component, which the densities' single-precision
            // exponentials could hide a difference in.
            let n = p.log_weights.len();
            let kernels: Vec<Kernels<'_>> = p.columns.iter().map(Column::kernels).collect();
            for candidates in xs.chunks(CANDIDATES) {
                let mut block = Block::default();
                block.fill(candidates, p.columns.len());
                let sums = |vector| {
                    let scoring = Scoring {
                        block: &block,
                        kernels: &kernels,
                        vector,
                    };
                    let mut sums = Vec::new();
                    let (from, largest) = p.sum_block(candidates, &scoring, &mut sums);
                    for (j, sums) in sums.chunks(n.max(1)).take(candidates.len()).enumerate() {
                        let folded = sums[..from]
                            .iter()
                            .copied()
                            .fold(f64::NEG_INFINITY, f64::max);
                        assert_eq!(largest[j], folded);
                    }
                    sums.truncate(candidates.len() * n);
                    sums
                };
                assert_eq!(sums(true), sums(false));
            }
        }
    }
}
