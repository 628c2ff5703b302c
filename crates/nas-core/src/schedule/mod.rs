//! Multi-fidelity schedulers: which trials train on to the next rung of a [`FidelityLadder`].
//!
//! A trial trains rung by rung. After rung `r` the driver records its objective values in
//! `trial.intermediate[r]` (one per study direction, raw orientation) and asks the study's
//! [`Scheduler`] for a [`Decision`]. Every decision is computed from the trial list alone, so
//! a resumed search or another worker reproduces it.
//!
//! - [`FullFidelity`] (`none`): no early stopping.
//! - [`SuccessiveHalving`] (`sha`): synchronous successive halving in fixed-size brackets.
//! - [`Asha`] (`asha`): asynchronous successive halving (MO-ASHA with several objectives).
//!   It and Hyperband promote by compute rather than by count by default ([`Promotion`]).
//! - [`Hyperband`] (`hyperband`, and `bohb` paired with the BOHB sampler): asynchronous
//!   brackets that start at different rungs; [`Hyperband::synchronous`] runs them as
//!   successive halving instead.
//!
//! The bracket a trial belongs to is `trial.attrs["bracket"]` (an unsigned integer written by
//! the driver from [`Scheduler::bracket_for`]); trials without it belong to bracket 0.

mod asha;
mod cost;
mod full;
mod halving;
mod hyperband;
mod ladder;
mod rank;

pub use asha::Asha;
pub use cost::{cost_at, Promotion, RUNG_ATTR_PREFIX, RUNG_COST_FIELD};
pub use full::FullFidelity;
pub use halving::SuccessiveHalving;
pub use hyperband::Hyperband;
pub use ladder::{FidelityLadder, LadderShape, Rung};
pub use rank::rank_at_rung;

use thiserror::Error;

use crate::study::{Direction, Trial, TrialState};

/// The attribute holding a trial's bracket.
pub const BRACKET_ATTR: &str = "bracket";

/// Errors of fidelity ladders and schedulers.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ScheduleError {
    /// A ladder without rungs.
    #[error("a fidelity ladder needs at least one rung")]
    NoRungs,
    /// A ladder with more rungs than [`FidelityLadder::MAX_RUNGS`].
    #[error("a fidelity ladder of {rungs} rungs: at most {max} are allowed")]
    TooManyRungs {
        /// The number of rungs asked for.
        rungs: usize,
        /// The most allowed.
        max: usize,
    },
    /// A share outside (0, 1].
    #[error("rung {rung}: {field} {value} is not in (0, 1]")]
    ShareOutOfRange {
        /// Index of the rung.
        rung: usize,
        /// `budget_share` or `data_fraction`.
        field: &'static str,
        /// The offending value.
        value: f64,
    },
    /// A budget share not larger than the previous rung's.
    #[error(
        "rung {rung}: budget_share {value} is not larger than rung {previous_rung}'s {previous}"
    )]
    BudgetNotIncreasing {
        /// Index of the rung.
        rung: usize,
        /// Its budget share.
        value: f64,
        /// Index of the rung before it.
        previous_rung: usize,
        /// That rung's budget share.
        previous: f64,
    },
    /// The top rung does not end the full budget.
    #[error("rung {rung}: budget_share {value} of the top rung is not 1")]
    TopBudgetNotOne {
        /// Index of the top rung.
        rung: usize,
        /// Its budget share.
        value: f64,
    },
    /// A data fraction or resolution smaller than the previous rung's.
    #[error("rung {rung}: {field} {value} is smaller than rung {previous_rung}'s {previous}")]
    FidelityDecreasing {
        /// Index of the rung.
        rung: usize,
        /// `data_fraction` or `resolution`.
        field: &'static str,
        /// Its value, as written.
        value: String,
        /// Index of the rung before it.
        previous_rung: usize,
        /// That rung's value, as written.
        previous: String,
    },
    /// A resolution of 0 pixels.
    #[error("rung {rung}: resolution 0 is not a positive side length")]
    ZeroResolution {
        /// Index of the rung.
        rung: usize,
    },
    /// A reduction factor below 2 (or not finite).
    #[error("eta {eta} is not a finite number of at least 2")]
    Eta {
        /// The offending factor.
        eta: f64,
    },
    /// A geometric ladder whose smallest resolution is not in 1..=full.
    #[error(
        "resolution range {min}..{full} px: the smallest must be between 1 and the full resolution"
    )]
    ResolutionRange {
        /// Resolution of rung 0.
        min: u32,
        /// The dataset's resolution.
        full: u32,
    },
}

/// What a scheduler tells the driver about a trial that just finished a rung (or that is
/// paused).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Decision {
    /// Train on to the next rung.
    Continue,
    /// Stop now: the trial ends PRUNED.
    Stop,
    /// Keep the trial's state and wait: the rung is not decided yet (successive halving), or
    /// the trial is not promoted yet (ASHA, Hyperband); [`Scheduler::review`] decides again
    /// as results arrive, and trials still waiting when the search ends are pruned.
    Pause,
}

/// What a scheduler sees when it decides.
#[derive(Debug, Clone, Copy)]
pub struct RungContext<'a> {
    /// Every trial of the study so far (any state).
    pub trials: &'a [Trial],
    /// One direction per objective, in the order of the intermediate values.
    pub directions: &'a [Direction],
}

/// Decides which trials train on to the next rung.
pub trait Scheduler: Send + Sync {
    /// `none`, `sha`, `asha`, `hyperband` or `bohb`.
    fn name(&self) -> &'static str;

    /// The rungs trials train through.
    fn ladder(&self) -> &FidelityLadder;

    /// The bracket a new trial numbered `number` joins, given the trials so far. 0 for
    /// one-bracket schedulers.
    fn bracket_for(&self, ctx: &RungContext<'_>, number: u64) -> usize;

    /// The rung index a trial of `bracket` starts at (its first rung).
    fn first_rung(&self, bracket: usize) -> usize;

    /// Decision for trial `number` (bracket from its attrs) that has just reported its value
    /// at `rung` (already in `ctx.trials`). Never called for the top rung.
    fn decide(&self, ctx: &RungContext<'_>, number: u64, rung: usize) -> Decision;

    /// Re-decides paused trials `(number, rung)` after new results arrived; returns the ones
    /// whose decision is now Continue or Stop (those that must keep waiting are left out).
    /// The default, for schedulers that never pause, returns nothing.
    fn review(&self, ctx: &RungContext<'_>, paused: &[(u64, usize)]) -> Vec<(u64, Decision)> {
        let _ = (ctx, paused);
        Vec::new()
    }
}

/// How trials with several objectives are ordered within a non-dominated front.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MoRank {
    /// NSGA-II crowding distance, larger first.
    #[default]
    Crowding,
    /// Exclusive hypervolume contribution, larger first.
    Hypervolume,
}

impl MoRank {
    /// Parses `crowding` or `hypervolume`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "crowding" => Some(MoRank::Crowding),
            "hypervolume" | "hv" => Some(MoRank::Hypervolume),
            _ => None,
        }
    }

    /// The names [`MoRank::parse`] accepts.
    pub const NAMES: [&'static str; 2] = ["crowding", "hypervolume"];
}

/// Settings shared by the schedulers [`build`] makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScheduleOptions {
    /// How several objectives are ranked at a rung.
    pub rank: MoRank,
    /// Trials per successive-halving bracket at its first rung.
    pub bracket_size: usize,
    /// How ASHA and Hyperband count the share they promote.
    pub promotion: Promotion,
}

impl Default for ScheduleOptions {
    fn default() -> Self {
        ScheduleOptions {
            rank: MoRank::Crowding,
            bracket_size: 9,
            promotion: Promotion::ByCost,
        }
    }
}

/// Which scheduler to build, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchedulerKind {
    /// No early stopping ([`FullFidelity`]).
    None,
    /// Synchronous successive halving ([`SuccessiveHalving`]).
    SuccessiveHalving,
    /// Asynchronous successive halving ([`Asha`]).
    Asha,
    /// Asynchronous Hyperband ([`Hyperband`]).
    Hyperband,
    /// Hyperband brackets for the BOHB sampler ([`Hyperband::bohb`]).
    Bohb,
}

impl SchedulerKind {
    /// Parses `none`, `sha`, `asha`, `hyperband` or `bohb`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "none" => Some(SchedulerKind::None),
            "sha" => Some(SchedulerKind::SuccessiveHalving),
            "asha" => Some(SchedulerKind::Asha),
            "hyperband" => Some(SchedulerKind::Hyperband),
            "bohb" => Some(SchedulerKind::Bohb),
            _ => None,
        }
    }

    /// The names [`SchedulerKind::parse`] accepts.
    pub const NAMES: [&'static str; 5] = ["none", "sha", "asha", "hyperband", "bohb"];
}

/// Builds the scheduler `kind` over `ladder`. `none` keeps the ladder it is given (the driver
/// passes [`FidelityLadder::full`]) and never stops a trial.
pub fn build(
    kind: SchedulerKind,
    ladder: FidelityLadder,
    options: &ScheduleOptions,
) -> Box<dyn Scheduler> {
    match kind {
        SchedulerKind::None => Box::new(FullFidelity::new(ladder)),
        SchedulerKind::SuccessiveHalving => Box::new(SuccessiveHalving::new(
            ladder,
            options.bracket_size,
            options.rank,
        )),
        SchedulerKind::Asha => {
            Box::new(Asha::new(ladder, options.rank).promoting(options.promotion))
        }
        SchedulerKind::Hyperband => {
            Box::new(Hyperband::new(ladder, options.rank).promoting(options.promotion))
        }
        SchedulerKind::Bohb => {
            Box::new(Hyperband::bohb(ladder, options.rank).promoting(options.promotion))
        }
    }
}

/// The bracket recorded on a trial: its `bracket` attribute, or 0 when it has none (or one
/// that is not an unsigned integer).
pub fn bracket_of(trial: &Trial) -> usize {
    trial
        .attrs
        .get(BRACKET_ATTR)
        .and_then(serde_json::Value::as_u64)
        .map_or(0, |b| b as usize)
}

/// The values a trial reported at `rung` (never for waiting trials).
pub(crate) fn value_at(trial: &Trial, rung: usize) -> Option<&Vec<f64>> {
    if trial.state == TrialState::Waiting {
        return None;
    }
    trial.intermediate.get(&(rung as u64))
}

/// `(number, values)` of the trials of `bracket` with a value at `rung`.
pub(crate) fn results_at(trials: &[Trial], bracket: usize, rung: usize) -> Vec<(u64, Vec<f64>)> {
    trials
        .iter()
        .filter(|t| bracket_of(t) == bracket)
        .filter_map(|t| Some((t.number, value_at(t, rung)?.clone())))
        .collect()
}

/// The trial numbered `number`, if listed.
pub(crate) fn find_trial(trials: &[Trial], number: u64) -> Option<&Trial> {
    // Trials are usually listed in number order with dense numbers: try the direct index.
    match trials.get(number as usize) {
        Some(t) if t.number == number => Some(t),
        _ => trials.iter().find(|t| t.number == number),
    }
}

/// The integer reduction factor used to count promotions: `floor(eta)`, at least 1.
pub(crate) fn eta_floor(eta: f64) -> usize {
    (eta.floor() as usize).max(1)
}
