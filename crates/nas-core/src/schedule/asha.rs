//! Asynchronous successive halving (Li et al. 2020), the stopping variant of Optuna's
//! `SuccessiveHalvingPruner` and Ray Tune's ASHA; with several objectives, MO-ASHA
//! (Schmucker et al. 2021) through [`rank_at_rung`].

use super::{
    bracket_of, eta_floor, find_trial, rank_at_rung, results_at, Decision, FidelityLadder, MoRank,
    RungContext, Scheduler,
};

/// Asynchronous successive halving: a trial that reports rung r continues when it ranks among
/// the best `n / eta` of the `n` trials of its bracket that have reached r so far (the best one
/// when `n < eta`), and stops otherwise. It never waits.
#[derive(Debug, Clone)]
pub struct Asha {
    ladder: FidelityLadder,
    rank: MoRank,
}

impl Asha {
    /// ASHA over `ladder` (its `eta` is the reduction factor), ranking several objectives by
    /// `rank`.
    pub fn new(ladder: FidelityLadder, rank: MoRank) -> Self {
        Asha { ladder, rank }
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
        asha_decision(ctx, number, rung, self.ladder.eta(), self.rank)
    }
}

/// The ASHA decision for trial `number` at `rung`, competing with the trials of its own
/// bracket: with `n` results at the rung, the best `max(1, n / floor(eta))` continue. A trial
/// that is not listed or has no value at the rung continues (there is nothing to judge).
pub(crate) fn asha_decision(
    ctx: &RungContext<'_>,
    number: u64,
    rung: usize,
    eta: f64,
    rule: MoRank,
) -> Decision {
    let Some(trial) = find_trial(ctx.trials, number) else {
        return Decision::Continue;
    };
    let competitors = results_at(ctx.trials, bracket_of(trial), rung);
    if !competitors.iter().any(|(n, _)| *n == number) {
        return Decision::Continue;
    }
    let promoted = (competitors.len() / eta_floor(eta)).max(1);
    let ranking = rank_at_rung(&competitors, ctx.directions, rule);
    if ranking.iter().take(promoted).any(|&n| n == number) {
        Decision::Continue
    } else {
        Decision::Stop
    }
}
