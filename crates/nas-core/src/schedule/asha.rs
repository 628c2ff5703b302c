//! Asynchronous successive halving (Li et al. 2020), the stopping variant of Optuna's
//! `SuccessiveHalvingPruner` and Ray Tune's ASHA; with several objectives, MO-ASHA
//! (Schmucker et al. 2021) through [`rank_at_rung`]; promoting by count or by cost
//! ([`Promotion`]).

use std::collections::HashMap;

use super::cost::within_allowance;
use super::{
    bracket_of, eta_floor, find_trial, rank_at_rung, results_at, Decision, FidelityLadder, MoRank,
    Promotion, RungContext, Scheduler,
};

/// Asynchronous successive halving as Li et al. 2020 run it: a trial that reports rung r is
/// promoted when it ranks among the best `floor(n / eta)` of the `n` trials of its bracket that
/// have reached r so far; otherwise it waits at r (paused, its weights kept) and is promoted
/// later if enough results arrive to put it in that top share. Trials still waiting when the
/// search ends are pruned at their rung. Nobody is promoted from a rung with fewer than `eta`
/// results, so the first trials of a study are not carried to the top rung for want of
/// competition. Under [`Promotion::ByCost`] (the default) that top share is also bounded by
/// compute: see [`Promotion`].
#[derive(Debug, Clone)]
pub struct Asha {
    ladder: FidelityLadder,
    rule: PromotionRule,
}

impl Asha {
    /// ASHA over `ladder` (its `eta` is the reduction factor), ranking several objectives by
    /// `rank`, promoting by cost.
    pub fn new(ladder: FidelityLadder, rank: MoRank) -> Self {
        let rule = PromotionRule::new(ladder.eta(), rank, Promotion::default());
        Asha { ladder, rule }
    }

    /// The same, promoting by `promote`.
    pub fn promoting(self, promote: Promotion) -> Self {
        Asha {
            rule: self.rule.promoting(promote),
            ..self
        }
    }
}

impl Scheduler for Asha {
    fn name(&self) -> &'static str {
        "asha"
    }

    fn ladder(&self) -> &FidelityLadder {
        &self.ladder
    }

    fn bracket_for(&self, _ctx: &RungContext<'_>, _number: u64) -> usize {
        0
    }

    fn first_rung(&self, _bracket: usize) -> usize {
        0
    }

    fn decide(&self, ctx: &RungContext<'_>, number: u64, rung: usize) -> Decision {
        promotion(ctx, number, rung, self.rule)
    }

    fn review(&self, ctx: &RungContext<'_>, paused: &[(u64, usize)]) -> Vec<(u64, Decision)> {
        review_promotions(ctx, paused, self.rule)
    }
}

/// How ASHA and Hyperband pick the trials a rung promotes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PromotionRule {
    eta: f64,
    rank: MoRank,
    promote: Promotion,
}

impl PromotionRule {
    pub(crate) fn new(eta: f64, rank: MoRank, promote: Promotion) -> Self {
        PromotionRule { eta, rank, promote }
    }

    /// The same, promoting by `promote`.
    pub(crate) fn promoting(self, promote: Promotion) -> Self {
        PromotionRule { promote, ..self }
    }
}

/// ASHA's decision for trial `number` at `rung`, competing with the trials of its own
/// bracket: with `n` results at the rung, the best `floor(n / floor(eta))` are promoted
/// (Continue; by cost, those of them within the rung's compute allowance) and the others wait
/// (Pause). A trial that is not listed or has no value at the rung continues (there is
/// nothing to judge).
pub(crate) fn promotion(
    ctx: &RungContext<'_>,
    number: u64,
    rung: usize,
    rule: PromotionRule,
) -> Decision {
    let Some(trial) = find_trial(ctx.trials, number) else {
        return Decision::Continue;
    };
    let (reported, promoted) = top_share(ctx, bracket_of(trial), rung, rule);
    if !reported.contains(&number) || promoted.contains(&number) {
        Decision::Continue
    } else {
        Decision::Pause
    }
}

/// The waiting trials `(number, rung)` that [`promotion`] now promotes; each (bracket, rung)
/// is ranked once, however many trials wait there.
pub(crate) fn review_promotions(
    ctx: &RungContext<'_>,
    paused: &[(u64, usize)],
    rule: PromotionRule,
) -> Vec<(u64, Decision)> {
    let mut ranked: HashMap<(usize, usize), (Vec<u64>, Vec<u64>)> = HashMap::new();
    paused
        .iter()
        .filter(|&&(number, rung)| {
            let Some(trial) = find_trial(ctx.trials, number) else {
                return true;
            };
            let (reported, promoted) = ranked
                .entry((bracket_of(trial), rung))
                .or_insert_with(|| top_share(ctx, bracket_of(trial), rung, rule));
            !reported.contains(&number) || promoted.contains(&number)
        })
        .map(|&(number, _)| (number, Decision::Continue))
        .collect()
}

/// The trials of `bracket` with a result at `rung`, and the ones promoted: the best
/// `floor(n / floor(eta))` of those `n`, by cost those of them within the allowance.
fn top_share(
    ctx: &RungContext<'_>,
    bracket: usize,
    rung: usize,
    rule: PromotionRule,
) -> (Vec<u64>, Vec<u64>) {
    let competitors = results_at(ctx.trials, bracket, rung);
    let promoted = competitors.len() / eta_floor(rule.eta);
    let mut ranking = rank_at_rung(&competitors, ctx.directions, rule.rank);
    ranking.truncate(promoted);
    let numbers: Vec<u64> = competitors.into_iter().map(|(n, _)| n).collect();
    if rule.promote == Promotion::ByCost {
        ranking = within_allowance(ctx.trials, &numbers, ranking, rung);
    }
    (numbers, ranking)
}
