//! Synchronous successive halving (Jamieson & Talwalkar 2016, Karnin et al. 2013) in brackets
//! of a fixed number of trials, and the synchronous Hyperband built from it.

use std::collections::HashMap;

use super::{
    bracket_of, find_trial, rank_at_rung, value_at, Decision, FidelityLadder, MoRank, RungContext,
    Scheduler, BRACKET_ATTR,
};
use crate::study::{Trial, TrialState};

/// Synchronous successive halving. Trials join brackets in start order; all of a bracket's
/// trials train its first rung, and once every one of them has a result there (or has ended
/// without one), the best `m_{r+1}` continue and the rest stop; and so on up the ladder. A
/// bracket of `n` trials starting at rung `s` keeps `m_r = max(1, ⌊n / eta^(r − s)⌋)` trials
/// at rung `r` ([`SuccessiveHalving::kept_at`]). Until its rung is decided a trial is told to
/// [`Decision::Pause`]; [`Scheduler::review`] releases it.
///
/// A bracket's members are its non-waiting trials (by their `bracket` attribute); the first
/// `n` of them by number form the bracket. Should a race put more trials into a bracket, the
/// extra ones wait for the first rung to be decided and then stop.
///
/// [`SuccessiveHalving::new`] makes brackets of one size starting at rung 0 (`sha`);
/// [`Hyperband::synchronous`](super::Hyperband::synchronous) cycles through Hyperband's
/// brackets.
#[derive(Debug, Clone)]
pub struct SuccessiveHalving {
    ladder: FidelityLadder,
    layout: Layout,
    rank: MoRank,
}

/// How brackets follow one another.
#[derive(Debug, Clone)]
enum Layout {
    /// Every bracket has this many trials and starts at rung 0.
    Fixed(usize),
    /// Bracket `k` is Hyperband bracket `b = k mod B`: `sizes[b]` trials starting at rung `b`.
    Cycle(Vec<usize>),
}

impl Layout {
    /// Trials in bracket `k` and the rung it starts at.
    fn bracket(&self, k: usize) -> (usize, usize) {
        match self {
            Layout::Fixed(size) => (*size, 0),
            Layout::Cycle(sizes) => {
                let b = k % sizes.len();
                (sizes[b], b)
            }
        }
    }

    /// The bracket of the trial that starts after `started` others.
    fn bracket_of_start(&self, started: usize) -> usize {
        match self {
            Layout::Fixed(size) => started / size,
            Layout::Cycle(sizes) => {
                let per_cycle: usize = sizes.iter().sum();
                let (cycles, mut rest) = (started / per_cycle, started % per_cycle);
                let mut b = 0;
                while rest >= sizes[b] {
                    rest -= sizes[b];
                    b += 1;
                }
                cycles * sizes.len() + b
            }
        }
    }
}

/// The trials a rung promotes, once it is decided (memo key: bracket and rung).
type Promotions = HashMap<(usize, usize), Option<Vec<u64>>>;

impl SuccessiveHalving {
    /// Successive halving over `ladder` with `bracket_size` trials per bracket (at least 1),
    /// ranking several objectives by `rank`.
    pub fn new(ladder: FidelityLadder, bracket_size: usize, rank: MoRank) -> Self {
        SuccessiveHalving {
            ladder,
            layout: Layout::Fixed(bracket_size.max(1)),
            rank,
        }
    }

    /// Brackets cycling through `sizes` (at least 1 each): bracket `k` has `sizes[k mod B]`
    /// trials and starts at rung `k mod B`.
    pub(crate) fn cycling(ladder: FidelityLadder, sizes: Vec<usize>, rank: MoRank) -> Self {
        let sizes = sizes.into_iter().map(|s| s.max(1)).collect::<Vec<_>>();
        let layout = if sizes.is_empty() {
            Layout::Fixed(1)
        } else {
            Layout::Cycle(sizes)
        };
        SuccessiveHalving {
            ladder,
            layout,
            rank,
        }
    }

    /// Trials in `bracket` at its first rung.
    pub fn bracket_size(&self, bracket: usize) -> usize {
        self.layout.bracket(bracket).0
    }

    /// `m_r = max(1, ⌊n / eta^(r − s)⌋)`: how many trials of `bracket` (`n` trials, first rung
    /// `s`) train rung `rung`; `n` at and below `s`.
    pub fn kept_at(&self, bracket: usize, rung: usize) -> usize {
        let (size, start) = self.layout.bracket(bracket);
        let halvings = rung.saturating_sub(start) as i32;
        let m = size as f64 / self.ladder.eta().powi(halvings);
        ((m + 1e-9).floor() as usize).max(1)
    }

    /// The numbers of the trials that rung `rung` of `bracket` promotes, or `None` while the
    /// rung is not decided.
    fn promoted(
        &self,
        ctx: &RungContext<'_>,
        bracket: usize,
        rung: usize,
        memo: &mut Promotions,
    ) -> Option<Vec<u64>> {
        if let Some(known) = memo.get(&(bracket, rung)) {
            return known.clone();
        }
        let result = self.decide_rung(ctx, bracket, rung, memo);
        memo.insert((bracket, rung), result.clone());
        result
    }

    fn decide_rung(
        &self,
        ctx: &RungContext<'_>,
        bracket: usize,
        rung: usize,
        memo: &mut Promotions,
    ) -> Option<Vec<u64>> {
        let expected = self.expected_at(ctx, bracket, rung, memo)?;
        if !expected.iter().all(|t| is_done_at(t, rung)) {
            return None;
        }
        let results: Vec<(u64, Vec<f64>)> = expected
            .iter()
            .filter_map(|t| Some((t.number, value_at(t, rung)?.clone())))
            .collect();
        let ranking = rank_at_rung(&results, ctx.directions, self.rank);
        let kept = self.kept_at(bracket, rung + 1);
        Some(ranking.into_iter().take(kept).collect())
    }

    /// The trials expected at `rung`: the bracket's first `n` members at its first rung
    /// (`None` until that many joined), the previous rung's promotions after it.
    fn expected_at<'a>(
        &self,
        ctx: &RungContext<'a>,
        bracket: usize,
        rung: usize,
        memo: &mut Promotions,
    ) -> Option<Vec<&'a Trial>> {
        let (size, start) = self.layout.bracket(bracket);
        if rung <= start {
            let members = members(ctx.trials, bracket);
            return (members.len() >= size).then(|| members.into_iter().take(size).collect());
        }
        let promoted = self.promoted(ctx, bracket, rung - 1, memo)?;
        Some(
            promoted
                .iter()
                .filter_map(|&n| find_trial(ctx.trials, n))
                .collect(),
        )
    }

    fn decide_memo(
        &self,
        ctx: &RungContext<'_>,
        number: u64,
        rung: usize,
        memo: &mut Promotions,
    ) -> Decision {
        let Some(trial) = find_trial(ctx.trials, number) else {
            return Decision::Continue; // nothing to judge
        };
        match self.promoted(ctx, bracket_of(trial), rung, memo) {
            None => Decision::Pause,
            Some(promoted) if promoted.contains(&number) => Decision::Continue,
            Some(_) => Decision::Stop,
        }
    }
}

impl Scheduler for SuccessiveHalving {
    fn name(&self) -> &'static str {
        match self.layout {
            Layout::Fixed(_) => "sha",
            Layout::Cycle(_) => "hyperband",
        }
    }

    fn ladder(&self) -> &FidelityLadder {
        &self.ladder
    }

    /// Counts the trials numbered below `number` that carry a bracket attribute and fills the
    /// brackets in that order: with brackets of 9, the first 9 trials to start join bracket 0,
    /// the next 9 bracket 1, and so on. Later trials do not change the answer.
    fn bracket_for(&self, ctx: &RungContext<'_>, number: u64) -> usize {
        let started = ctx
            .trials
            .iter()
            .filter(|t| t.number < number && t.attrs.contains_key(BRACKET_ATTR))
            .count();
        self.layout.bracket_of_start(started)
    }

    fn first_rung(&self, bracket: usize) -> usize {
        self.layout.bracket(bracket).1.min(self.ladder.top())
    }

    fn decide(&self, ctx: &RungContext<'_>, number: u64, rung: usize) -> Decision {
        self.decide_memo(ctx, number, rung, &mut Promotions::new())
    }

    fn review(&self, ctx: &RungContext<'_>, paused: &[(u64, usize)]) -> Vec<(u64, Decision)> {
        let mut memo = Promotions::new();
        paused
            .iter()
            .map(|&(number, rung)| (number, self.decide_memo(ctx, number, rung, &mut memo)))
            .filter(|(_, decision)| *decision != Decision::Pause)
            .collect()
    }
}

/// The non-waiting trials of `bracket`, by number.
fn members(trials: &[Trial], bracket: usize) -> Vec<&Trial> {
    let mut members: Vec<&Trial> = trials
        .iter()
        .filter(|t| t.state != TrialState::Waiting && bracket_of(t) == bracket)
        .collect();
    members.sort_by_key(|t| t.number);
    members
}

/// Whether a trial has its result at `rung`, or has ended without one (and never will).
fn is_done_at(trial: &Trial, rung: usize) -> bool {
    value_at(trial, rung).is_some() || trial.state.is_finished()
}
