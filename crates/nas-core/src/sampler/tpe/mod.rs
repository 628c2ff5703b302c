//! Tree-structured Parzen Estimator (Bergstra et al. 2011), with the component choices of
//! Watanabe 2023 (arXiv 2304.11127).
//!
//! Each proposal splits the history at the quantile `γ` into good and bad trials
//! ([`split`]), fits a Parzen density to each ([`parzen`] per parameter, or [`joint`] over the
//! whole configuration), draws `n_ei_candidates` points from the good density `l` and keeps
//! the one maximising `l(x) / g(x)`, which maximises expected improvement.
//!
//! - Several objectives split by non-dominated rank, then hypervolume contribution (MOTPE).
//! - Constraints add one density ratio each, satisfied against violated (c-TPE).
//! - Running trials count as bad (constant liar), so parallel workers spread out; a running
//!   trial with a report (waiting at a rung for ASHA to promote it, or training past it)
//!   counts as pruned at that rung instead, so what the rungs learnt reaches the sampler
//!   before the search ends.
//! - Pruned trials count as bad unless too few trials completed (then the furthest, best ones
//!   are good), and they count towards the random start-up, as in Optuna.
//! - Trials of an earlier study ([`WarmStart`]) join the history with a smaller weight.

mod block;
mod joint;
mod math;
mod observations;
mod parzen;
mod split;

use block::CANDIDATES;
use joint::{History, JointParzen, Workspace};
pub use observations::WarmStart;

use observations::{ObservationCache, Observations};
use parzen::{BandwidthRule, CategoricalParzen, NumericParzen};
use split::Split;

use rand_chacha::ChaCha8Rng;

use super::random::sample_uniform;
use super::{to_config, trial_rng, SampleContext, Sampler, SamplerError};
use crate::sampler::encoding::Encoding;
use crate::space::{Config, ParamValue, SearchSpace};

/// Settings of [`TpeSampler`]; the defaults follow Optuna and Watanabe 2023.
#[derive(Debug, Clone, PartialEq)]
pub struct TpeConfig {
    /// Model the configuration jointly ([`JointParzen`]) instead of one parameter at a time.
    pub multivariate: bool,
    /// Finished trials (complete or pruned, warm-start ones included) drawn at random before
    /// the densities are used.
    pub n_startup_trials: usize,
    /// Candidates drawn from `l` per proposal.
    pub n_ei_candidates: usize,
    /// Fraction of trials in the good set: `γ(n) = min(⌈gamma·n⌉, gamma_cap)`.
    pub gamma: f64,
    /// Largest good set.
    pub gamma_cap: usize,
    /// Weight of the uniform prior component, relative to one observation.
    pub prior_weight: f64,
    /// Smallest kernel bandwidth as a fraction of the range; keeps the densities from
    /// collapsing onto the best points.
    pub min_bandwidth: f64,
    /// Treat running trials as bad, so concurrent proposals do not pile up.
    pub constant_liar: bool,
}

impl Default for TpeConfig {
    fn default() -> Self {
        TpeConfig {
            multivariate: false,
            n_startup_trials: 10,
            n_ei_candidates: 24,
            gamma: 0.10,
            gamma_cap: 25,
            prior_weight: 1.0,
            min_bandwidth: 0.01,
            constant_liar: true,
        }
    }
}

impl TpeConfig {
    /// The multivariate TPE's settings: the [`Default`] ones with the joint model and 96
    /// candidates per proposal instead of Optuna's 24. Candidates are cheap here, and a
    /// jointly scored candidate in 6–16 dimensions rarely lands near the best of `l / g` with
    /// 24 draws: 96 was better on five of the six higher-dimensional problems of the
    /// development runs (results/benchmarks.md), and exact pruning of `g` (`best_ratio`) keeps
    /// the extra candidates affordable. The univariate TPE keeps 24, which it does better with: it
    /// picks each parameter's best of 24 on its own.
    pub fn multivariate() -> Self {
        TpeConfig {
            multivariate: true,
            n_ei_candidates: 96,
            ..TpeConfig::default()
        }
    }
}

/// The TPE sampler.
#[derive(Debug)]
pub struct TpeSampler {
    config: TpeConfig,
    seed: u64,
    cache: ObservationCache,
}

impl TpeSampler {
    /// A TPE sampler with these settings and seed.
    pub fn new(config: TpeConfig, seed: u64) -> Self {
        TpeSampler {
            config,
            seed,
            cache: ObservationCache::default(),
        }
    }

    /// The same sampler, shown the finished trials of an earlier study first (their weight
    /// scaled by `warm.weight`), so it starts from what that study learned.
    pub fn with_warm_start(mut self, warm: WarmStart) -> Self {
        self.cache = ObservationCache::with_warm_start(warm);
        self
    }
}

impl Sampler for TpeSampler {
    fn name(&self) -> &'static str {
        if self.config.multivariate {
            "tpe-multivariate"
        } else {
            "tpe"
        }
    }

    fn sample(&mut self, ctx: &SampleContext<'_>) -> Result<Config, SamplerError> {
        let mut rng = trial_rng(self.seed, ctx.number);
        let config = self.config.clone();
        let (obs, workspace) =
            self.cache
                .observe(ctx.space, ctx.directions, ctx.trials, config.constant_liar);
        if obs.n_finished() < config.n_startup_trials.max(1) {
            return Ok(sample_uniform(ctx.space, obs.encoder, &mut rng));
        }
        let n_good = split::n_below(obs.items.len(), config.gamma, config.gamma_cap);
        let splits = Splits {
            objective: split::split_by_objectives(&obs.items, n_good),
            constraints: constraint_splits(&obs, n_good),
        };
        let proposal = Proposal {
            config: &config,
            space: ctx.space,
            obs: &obs,
            splits: &splits,
        };
        Ok(if config.multivariate {
            proposal.multivariate(&mut rng, workspace)
        } else {
            proposal.univariate(&mut rng)
        })
    }
}

/// The objective split and one split per reported constraint (indices into the
/// observations' items).
struct Splits {
    objective: Split,
    constraints: Vec<Split>,
}

impl Splits {
    /// Every split that contributes a density ratio.
    fn all(&self) -> impl Iterator<Item = &Split> {
        std::iter::once(&self.objective).chain(&self.constraints)
    }
}

fn constraint_splits(obs: &Observations<'_>, n_good: usize) -> Vec<Split> {
    let n_constraints = obs
        .items
        .iter()
        .filter_map(|o| o.constraints.as_ref().map(Vec::len))
        .max()
        .unwrap_or(0);
    (0..n_constraints)
        .filter_map(|j| split::split_by_constraint(&obs.items, j, n_good))
        .collect()
}

/// Everything one proposal needs.
struct Proposal<'a> {
    config: &'a TpeConfig,
    space: &'a SearchSpace,
    obs: &'a Observations<'a>,
    splits: &'a Splits,
}

impl Proposal<'_> {
    fn rule(&self) -> BandwidthRule {
        BandwidthRule {
            min_bandwidth: self.config.min_bandwidth,
            grid: None,
        }
    }

    fn n_candidates(&self) -> usize {
        self.config.n_ei_candidates.max(1)
    }

    /// Values of parameter `d` over a set of observations, skipping inactive ones, with
    /// their weights: `base` (uniform or recency, over the kept values in trial order)
    /// times each observation's own weight.
    fn values_of(&self, set: &[usize], d: usize, base: fn(usize) -> Vec<f64>) -> Weighted {
        let column = self.obs.column(d);
        let mut xs = Vec::with_capacity(set.len());
        let mut ws = Vec::with_capacity(set.len());
        for &i in set {
            let item = &self.obs.items[i];
            let x = column[item.row];
            if !x.is_nan() {
                xs.push(x);
                ws.push(item.weight);
            }
        }
        for (w, b) in ws.iter_mut().zip(base(xs.len())) {
            *w *= b;
        }
        Weighted { xs, ws }
    }

    /// For each numeric parameter, the positions in `set` where it is present, by increasing
    /// value, ties by position (what [`JointParzen::fit_from`] needs). A set that holds a
    /// good part of the history reads it off the history's sorted columns, in one pass per
    /// parameter instead of a sort; a small one (the good set) is sorted.
    fn value_orders(&self, set: &[usize], rows: &[&[f64]]) -> Vec<Vec<usize>> {
        const NOT_IN_SET: usize = usize::MAX;
        let numeric = |d: usize| matches!(self.obs.encoder.encoding(d), Encoding::Numeric { .. });
        let n_rows = self.obs.n_rows();
        if set.len() * 8 < n_rows {
            return (0..self.space.len())
                .map(|d| match numeric(d) {
                    true => joint::value_order(rows, d),
                    false => Vec::new(),
                })
                .collect();
        }
        let mut position_of_row = vec![NOT_IN_SET; n_rows];
        for (k, &i) in set.iter().enumerate() {
            position_of_row[self.obs.items[i].row] = k;
        }
        // The history breaks ties by row: the same as by position where rows grow with it.
        let rows_in_order = set
            .windows(2)
            .all(|w| self.obs.items[w[0]].row < self.obs.items[w[1]].row);
        (0..self.space.len())
            .map(|d| {
                if !numeric(d) {
                    return Vec::new();
                }
                // Sized once: a filtered `collect` grows by reallocating, copying as it goes.
                let mut order = Vec::with_capacity(set.len());
                order.extend(
                    self.obs
                        .value_order(d)
                        .iter()
                        .map(|&row| position_of_row[row as usize])
                        .filter(|&k| k != NOT_IN_SET),
                );
                if !rows_in_order {
                    for run in order.chunk_by_mut(|&a, &b| rows[a][d] == rows[b][d]) {
                        run.sort_unstable();
                    }
                }
                order
            })
            .collect()
    }

    /// Univariate TPE: each active parameter, parents first, from its own `l / g`.
    fn univariate(&self, rng: &mut ChaCha8Rng) -> Config {
        let encoder = self.obs.encoder;
        let mut values: Vec<Option<ParamValue>> = vec![None; self.space.len()];
        for d in 0..self.space.len() {
            if !self.space.is_active_with(d, &values) {
                continue;
            }
            let u = match encoder.encoding(d) {
                Encoding::Numeric { grid } => self.numeric(rng, d, *grid),
                Encoding::Categorical { n } => self.categorical(rng, d, *n),
            };
            values[d] = Some(encoder.decode(d, u));
        }
        to_config(self.space, values)
    }

    fn numeric(&self, rng: &mut ChaCha8Rng, d: usize, grid: Option<f64>) -> f64 {
        let rule = BandwidthRule {
            grid,
            ..self.rule()
        };
        let prior = self.config.prior_weight;
        let ratios: Vec<(NumericParzen, NumericParzen)> = self
            .splits
            .all()
            .map(|s| {
                let below = self.values_of(&s.below, d, uniform_weights);
                let above = self.values_of(&s.above, d, recency_weights);
                let l = NumericParzen::fit(below.xs, below.ws, prior, &rule);
                let g = NumericParzen::fit(above.xs, above.ws, prior, &rule);
                (l, g)
            })
            .collect();
        let encoder = self.obs.encoder;
        // Grid parameters are scored where they will land; continuous ones decode to the
        // sampled point itself.
        let snap = |u: f64| {
            if grid.is_some() {
                encoder.snap(d, u)
            } else {
                u
            }
        };
        let candidates = (0..self.n_candidates()).map(|_| snap(ratios[0].0.sample(rng)));
        argmax(candidates, |x| {
            ratios
                .iter()
                .map(|(l, g)| l.pdf(*x) / g.pdf(*x))
                .product::<f64>()
                .ln()
        })
    }

    fn categorical(&self, rng: &mut ChaCha8Rng, d: usize, n: usize) -> f64 {
        let fit = |set: &[usize], weights: fn(usize) -> Vec<f64>| {
            let values = self.values_of(set, d, weights);
            let cs: Vec<usize> = values.xs.iter().map(|&x| x as usize).collect();
            CategoricalParzen::fit(&cs, &values.ws, self.config.prior_weight, n)
        };
        let ratios: Vec<(CategoricalParzen, CategoricalParzen)> = self
            .splits
            .all()
            .map(|s| {
                (
                    fit(&s.below, uniform_weights),
                    fit(&s.above, recency_weights),
                )
            })
            .collect();
        let candidates = (0..self.n_candidates()).map(|_| ratios[0].0.sample(rng) as f64);
        argmax(candidates, |c| {
            let c = *c as usize;
            ratios
                .iter()
                .map(|(l, g)| l.pmf(c) / g.pmf(c))
                .product::<f64>()
                .ln()
        })
    }

    /// Multivariate TPE: whole configurations drawn from the joint `l`, scored by the joint
    /// ratios.
    fn multivariate(&self, rng: &mut ChaCha8Rng, workspace: &mut Workspace) -> Config {
        let encoder = self.obs.encoder;
        workspace.reserve(encoder.len(), self.obs.n_rows());
        let rule = self.rule();
        // `sampled`: whether candidates are drawn from the density (`l`), not only scored.
        let mut fit = |set: &[usize], weights: fn(usize) -> Vec<f64>, sampled: bool| {
            let items = set.iter().map(|&i| self.obs.items[i]);
            let rows: Vec<&[f64]> = items.clone().map(|o| self.obs.row(o.row)).collect();
            let w: Vec<f64> = weights(rows.len())
                .iter()
                .zip(items.clone())
                .map(|(b, o)| b * o.weight)
                .collect();
            let history = History {
                rows: &items.map(|o| o.row).collect::<Vec<_>>(),
                columns: self.obs.columns(),
                orders: &self.value_orders(set, &rows),
            };
            let prior = self.config.prior_weight;
            let mut fitted = JointParzen::fit_from(&w, encoder, prior, &rule, &history, workspace);
            if sampled {
                fitted.keep_centres(&rows, workspace);
            }
            fitted
        };
        let ratios: Vec<(JointParzen, JointParzen)> = self
            .splits
            .all()
            .map(|s| {
                (
                    fit(&s.below, uniform_weights, true),
                    fit(&s.above, recency_weights, false),
                )
            })
            .collect();
        let candidates: Vec<Vec<f64>> = (0..self.n_candidates())
            .map(|_| ratios[0].0.sample(rng, encoder))
            .collect();
        let best = match ratios.as_slice() {
            [(l, g)] => best_ratio(&candidates, l, g, &mut workspace.scratch),
            _ => {
                let mut scratch = Vec::new();
                let scores = candidates.iter().map(|x| {
                    ratios
                        .iter()
                        .map(|(l, g)| l.log_pdf(x, &mut scratch) - g.log_pdf(x, &mut scratch))
                        .sum()
                });
                argmax_index(scores)
            }
        };
        for (l, g) in ratios {
            l.recycle(workspace);
            g.recycle(workspace);
        }
        let values = candidates[best]
            .iter()
            .enumerate()
            .map(|(d, &u)| (!u.is_nan()).then(|| encoder.decode(d, u)))
            .collect();
        to_config(self.space, values)
    }
}

/// Values of one parameter and their weights.
struct Weighted {
    xs: Vec<f64>,
    ws: Vec<f64>,
}

/// Unit weights.
fn uniform_weights(n: usize) -> Vec<f64> {
    vec![1.0; n]
}

/// Optuna's weights for the bad set, oldest first: beyond the 25 most recent observations
/// (weight 1) the weights fall linearly to `1/n` for the oldest, so `g` follows where the
/// search is now rather than where it started. The sets are in trial order (see [`split`]).
fn recency_weights(n: usize) -> Vec<f64> {
    const RECENT: usize = 25;
    if n < RECENT {
        return vec![1.0; n];
    }
    let ramp = n - RECENT;
    let start = 1.0 / n as f64;
    (0..ramp)
        .map(|k| {
            let t = if ramp > 1 {
                k as f64 / (ramp - 1) as f64
            } else {
                1.0
            };
            start + t * (1.0 - start)
        })
        .chain(std::iter::repeat_n(1.0, RECENT))
        .collect()
}

/// The index of the candidate with the highest `ln l − ln g` (the first of ties; NaN counts
/// as −∞), as [`argmax_index`] would find it, without evaluating `g` where it cannot matter.
///
/// `g` holds a kernel per bad trial (hundreds), `l` a few dozen, so `g` is the cost. But
/// `g ≥` its prior component, so `ln l(x) − ln prior_g(x)` bounds a candidate's score from
/// above: visiting candidates by decreasing `l`, any whose bound is below the best score so
/// far is skipped (on the 12-parameter space of `nas bench sampler-speed` at 1,000 trials,
/// about 52 of 96). The rest are scored [`CANDIDATES`] at a time
/// ([`JointParzen::log_pdf_many`]). The choice is the same as scoring every one.
fn best_ratio(
    candidates: &[Vec<f64>],
    l: &JointParzen,
    g: &JointParzen,
    block_scratch: &mut Vec<f64>,
) -> usize {
    let all: Vec<&[f64]> = candidates.iter().map(Vec::as_slice).collect();
    let log_l = l.log_pdf_many(&all, block_scratch);
    let mut order: Vec<usize> = (0..candidates.len()).collect();
    order.sort_by(|&a, &b| log_l[b].total_cmp(&log_l[a]));
    let mut order = order.into_iter();
    // (index, score) of the best so far.
    let mut best: Option<(usize, f64)> = None;
    loop {
        // The next candidates that the best so far does not rule out, scored as one block
        // (a candidate that a best found within the block would have ruled out costs a little
        // time, never the choice).
        let block: Vec<usize> = order
            .by_ref()
            .filter(|&i| match best {
                // Ruled out when its bound is below the best score so far (a NaN bound is
                // not). A margin for rounding in `log_pdf`'s sum, never below its prior part.
                Some((_, best_score)) => {
                    let bound = log_l[i] - g.log_prior_part(&candidates[i]) + 1e-9;
                    bound.partial_cmp(&best_score) != Some(std::cmp::Ordering::Less)
                }
                None => true,
            })
            .take(CANDIDATES)
            .collect();
        if block.is_empty() {
            break;
        }
        let xs: Vec<&[f64]> = block.iter().map(|&i| candidates[i].as_slice()).collect();
        let log_g = g.log_pdf_many(&xs, block_scratch);
        for (&i, log_g) in block.iter().zip(log_g) {
            let score = log_l[i] - log_g;
            let score = if score.is_nan() {
                f64::NEG_INFINITY
            } else {
                score
            };
            let better = best.is_none_or(|(j, b)| score > b || (score == b && i < j));
            if better {
                best = Some((i, score));
            }
        }
    }
    best.map_or(0, |(i, _)| i)
}

/// The index of the highest score (the first of ties; a NaN score counts as −∞).
fn argmax_index(scores: impl Iterator<Item = f64>) -> usize {
    let mut best: Option<(usize, f64)> = None;
    for (i, s) in scores.enumerate() {
        let s = if s.is_nan() { f64::NEG_INFINITY } else { s };
        if best.is_none_or(|(_, b)| s > b) {
            best = Some((i, s));
        }
    }
    best.map_or(0, |(i, _)| i)
}

/// The candidate with the highest score (the first of ties; a NaN score counts as −∞).
fn argmax<T, I, F>(candidates: I, score: F) -> T
where
    I: Iterator<Item = T>,
    F: FnMut(&T) -> f64,
{
    let mut all: Vec<T> = candidates.collect();
    let best = argmax_index(all.iter().map(score));
    all.swap_remove(best)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sampler::encoding::Encoder;
    use crate::space::{Distribution, Param};
    use crate::study::{Direction, Trial, TrialState};
    use rand::{Rng, SeedableRng};

    /// Six floats and a three-way categorical.
    fn space() -> SearchSpace {
        let float = |name: &str| Param {
            name: name.into(),
            distribution: Distribution::Float {
                low: 0.0,
                high: 1.0,
                log: false,
                step: None,
            },
            conditions: vec![],
        };
        let mut params: Vec<Param> = ["a", "b", "c", "d", "e", "f"].map(float).into();
        params.push(Param {
            name: "kind".into(),
            distribution: Distribution::Categorical {
                choices: vec!["x".into(), "y".into(), "z".into()],
            },
            conditions: vec![],
        });
        SearchSpace::new(params).unwrap()
    }

    #[test]
    fn pruned_scoring_picks_what_full_scoring_picks() {
        let s = space();
        let e = Encoder::new(&s);
        let rule = BandwidthRule {
            min_bandwidth: 0.01,
            grid: None,
        };
        for seed in 0..20 {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let mut row = |centre: f64, spread: f64| -> Vec<f64> {
                let mut r: Vec<f64> = (0..6)
                    .map(|_| (centre + spread * (rng.random::<f64>() - 0.5)).clamp(0.0, 1.0))
                    .collect();
                r.push(rng.random_range(0..3) as f64);
                r
            };
            let good: Vec<Vec<f64>> = (0..12).map(|_| row(0.3, 0.3)).collect();
            let bad: Vec<Vec<f64>> = (0..300).map(|_| row(0.5, 1.0)).collect();
            let good_rows: Vec<&[f64]> = good.iter().map(Vec::as_slice).collect();
            let bad_rows: Vec<&[f64]> = bad.iter().map(Vec::as_slice).collect();
            let l = JointParzen::fit(&good_rows, &[1.0; 12], &e, 1.0, &rule);
            let g = JointParzen::fit(&bad_rows, &recency_weights(300), &e, 1.0, &rule);
            let candidates: Vec<Vec<f64>> = (0..96).map(|_| l.sample(&mut rng, &e)).collect();
            let mut scratch = Vec::new();
            let full = argmax_index(
                candidates
                    .iter()
                    .map(|x| l.log_pdf(x, &mut scratch) - g.log_pdf(x, &mut scratch)),
            );
            let best = best_ratio(&candidates, &l, &g, &mut Vec::new());
            assert_eq!(best, full, "seed {seed}");
        }
    }

    /// The history's sorted columns give each set the order a sort gives it, ties by position
    /// in the set, also where the history holds rows out of trial order: trial 3 waits until
    /// the last trial is told, so it is encoded after trials that share its values (on the
    /// grid `a` and `b` are rounded to, and trial 10, a queued copy of it, on all of them).
    #[test]
    fn sets_read_off_the_sorted_history_are_ordered_as_a_sort_orders_them() {
        let s = space();
        let directions = [Direction::Minimize];
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let config = |rng: &mut ChaCha8Rng| -> Config {
            let mut c: Config = ["a", "b", "c", "d", "e", "f"]
                .iter()
                .map(|&name| (name.to_string(), ParamValue::Float(rng.random::<f64>())))
                .collect();
            for name in ["a", "b"] {
                let x = c[name].as_f64().unwrap();
                c.insert(name.into(), ParamValue::Float((x * 4.0).round() / 4.0));
            }
            c.insert("kind".into(), ParamValue::from("y"));
            c
        };
        let mut trials: Vec<Trial> = (0..40)
            .map(|n| Trial::running(n, config(&mut rng)))
            .collect();
        trials[10].params = trials[3].params.clone();
        for (n, t) in trials.iter_mut().enumerate() {
            t.state = match n {
                3 => TrialState::Waiting,
                _ => TrialState::Complete,
            };
            t.values = Some(vec![rng.random::<f64>()]);
        }
        let mut cache = ObservationCache::default();
        cache.observe(&s, &directions, &trials, true);
        trials[3].state = TrialState::Complete;
        let (obs, _) = cache.observe(&s, &directions, &trials, true);
        let splits = Splits {
            objective: split::split_by_objectives(&obs.items, 8),
            constraints: Vec::new(),
        };
        let config = TpeConfig::multivariate();
        let proposal = Proposal {
            config: &config,
            space: &s,
            obs: &obs,
            splits: &splits,
        };
        for set in [&splits.objective.below, &splits.objective.above] {
            let rows: Vec<&[f64]> = set.iter().map(|&i| obs.row(obs.items[i].row)).collect();
            let orders = proposal.value_orders(set, &rows);
            for (d, order) in orders.iter().enumerate().take(6) {
                assert_eq!(*order, joint::value_order(&rows, d), "parameter {d}");
            }
        }
    }
}
