//! Hyperband (Li et al. 2018) with asynchronous brackets, like Ray Tune's `AsyncHyperBand` and
//! Optuna's `HyperbandPruner`.

use super::asha::{promotion, review_promotions, PromotionRule};
use super::{
    Decision, FidelityLadder, MoRank, Promotion, RungContext, Scheduler, SuccessiveHalving,
};

/// Hyperband: brackets `b = 0..=s_max` (`s_max` = the top rung index) start at rung `b`, so
/// bracket 0 halves most aggressively and bracket `s_max` trains everything at full fidelity.
/// Within a bracket trials compete by [`Asha`](super::Asha)'s rule (promoted, or waiting for
/// enough results; by cost by default, see [`Promotion`]), only with their own bracket.
///
/// Bracket `b` (with `s = s_max − b`) has the weight `n_b = ⌈(s_max + 1) · eta^s / (s + 1)⌉`,
/// the number of trials Hyperband starts in it. New trials are spread over the brackets in
/// proportion to these weights, deterministically from their number (see
/// [`Hyperband::bracket_of_number`]).
#[derive(Debug, Clone)]
pub struct Hyperband {
    ladder: FidelityLadder,
    rule: PromotionRule,
    name: &'static str,
    weights: Vec<u64>,
    step: u64,
}

impl Hyperband {
    /// Hyperband over `ladder`, ranking several objectives by `rank`, promoting by cost.
    pub fn new(ladder: FidelityLadder, rank: MoRank) -> Self {
        let weights = bracket_weights(ladder.len(), ladder.eta());
        let step = interleave_step(weights.iter().sum());
        Hyperband {
            rule: PromotionRule::new(ladder.eta(), rank, Promotion::default()),
            ladder,
            name: "hyperband",
            weights,
            step,
        }
    }

    /// The same brackets under the name `bohb`, for searches that pair them with the BOHB
    /// sampler.
    pub fn bohb(ladder: FidelityLadder, rank: MoRank) -> Self {
        Hyperband {
            name: "bohb",
            ..Hyperband::new(ladder, rank)
        }
    }

    /// The same, promoting by `promote`.
    pub fn promoting(self, promote: Promotion) -> Self {
        Hyperband {
            rule: self.rule.promoting(promote),
            ..self
        }
    }

    /// Synchronous Hyperband (Li et al. 2018, Algorithm 1, named `hyperband`): brackets run
    /// [`SuccessiveHalving`] one after another, cycling through Hyperband's brackets, so
    /// bracket `k` is Hyperband bracket `b = k mod (s_max + 1)` with `n_b` trials starting at
    /// rung `b`. Its trials pause until their rung is decided.
    pub fn synchronous(ladder: FidelityLadder, rank: MoRank) -> SuccessiveHalving {
        let sizes = bracket_weights(ladder.len(), ladder.eta())
            .into_iter()
            .map(|n| n as usize)
            .collect();
        SuccessiveHalving::cycling(ladder, sizes, rank)
    }

    /// The weight `n_b` of every bracket, bracket 0 first.
    pub fn bracket_weights(&self) -> &[u64] {
        &self.weights
    }

    /// The bracket of trial `number`. With `W` the sum of the weights, the position
    /// `(number · step) mod W` is looked up in the cumulative weights, where `step` is the
    /// integer nearest `0.618 · W` that is coprime with `W`. Every `W` consecutive numbers
    /// therefore visit every position once, so bracket `b` gets exactly `n_b` of them, and the
    /// golden-ratio stride interleaves the brackets instead of filling them one after another.
    pub fn bracket_of_number(&self, number: u64) -> usize {
        let total: u64 = self.weights.iter().sum();
        let position = ((number % total) as u128 * self.step as u128 % total as u128) as u64;
        let mut end = 0;
        for (b, &w) in self.weights.iter().enumerate() {
            end += w;
            if position < end {
                return b;
            }
        }
        self.weights.len() - 1
    }
}

impl Scheduler for Hyperband {
    fn name(&self) -> &'static str {
        self.name
    }

    fn ladder(&self) -> &FidelityLadder {
        &self.ladder
    }

    fn bracket_for(&self, _ctx: &RungContext<'_>, number: u64) -> usize {
        self.bracket_of_number(number)
    }

    fn first_rung(&self, bracket: usize) -> usize {
        bracket.min(self.ladder.top())
    }

    fn decide(&self, ctx: &RungContext<'_>, number: u64, rung: usize) -> Decision {
        promotion(ctx, number, rung, self.rule)
    }

    fn review(&self, ctx: &RungContext<'_>, paused: &[(u64, usize)]) -> Vec<(u64, Decision)> {
        review_promotions(ctx, paused, self.rule)
    }
}

/// `n_b = ⌈(s_max + 1) · eta^s / (s + 1)⌉` with `s = s_max − b`, for `b = 0..n_rungs`.
fn bracket_weights(n_rungs: usize, eta: f64) -> Vec<u64> {
    let n_brackets = n_rungs.max(1);
    (0..n_brackets)
        .map(|b| {
            let s = (n_brackets - 1 - b) as i32;
            let n = n_brackets as f64 * eta.powi(s) / f64::from(s + 1);
            // Guard the ceiling against rounding just above an integer (e.g. 9.000000000000002).
            ((n - 1e-9).ceil() as u64).max(1)
        })
        .collect()
}

/// The integer nearest `0.618 · total` that is coprime with `total` (1 for totals below 3).
fn interleave_step(total: u64) -> u64 {
    if total < 3 {
        return 1;
    }
    let golden = ((total as f64) * 0.618_033_988_75).round() as u64;
    (0..total)
        .flat_map(|d| [golden.saturating_sub(d), golden + d])
        .find(|&s| s >= 1 && s < total && gcd(s, total) == 1)
        .unwrap_or(1)
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}
