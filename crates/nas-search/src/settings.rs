//! The budget and parallelism of a search run.

use std::time::{Duration, Instant};

/// How long and how wide a search runs.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchSettings {
    /// Stop starting trials once the study has this many complete or pruned trials (counting
    /// earlier runs of the same study).
    pub trials: Option<u64>,
    /// This run's wall-clock budget: no rung starts that this run's measured pace says
    /// cannot end within it, and rungs still training when it ends are stopped.
    pub budget: Option<Duration>,
    /// When the budget started counting (the command's start, so that loading data counts
    /// too); `None`: when the search starts.
    pub clock_start: Option<Instant>,
    /// Stop starting trials and promoting them once this run has trained this much compute
    /// (GMACs, [`crate::SegmentScore::cost`]): equal budgets for
    /// comparing schedulers.
    pub max_cost: Option<f64>,
    /// Trials trained at once, each on its own worker thread.
    pub concurrency: usize,
    /// Seed of the trials' training (the sampler has its own).
    pub seed: u64,
    /// The search stops when 80 % of the last `failure_window` ended trials failed (0 never
    /// stops).
    pub failure_window: usize,
    /// How often this run marks its trials alive in the study, and looks for trials of other
    /// workers that stopped beating.
    pub heartbeat: Duration,
    /// A running trial whose worker sent no heartbeat for this long is failed and queued
    /// again (its worker is taken for dead: killed, or its machine lost).
    pub heartbeat_grace: Duration,
    /// The most of the budget a trial's first rung may take — of the worker-seconds of
    /// [`Self::budget`] (the budget times [`Self::concurrency`]) at this run's pace, and of
    /// [`Self::max_cost`] as the trial estimates its compute: a first rung estimated over is
    /// not started and the trial is pruned without a result ([`MAX_FIRST_RUNG_SHARE`] by
    /// default; `None`: only the deadline limits it).
    pub max_first_rung_share: Option<f64>,
    /// The most of the budget a promotion (the next rung of a trial the scheduler keeps) may
    /// take, of the wall-clock and of the compute budget as for
    /// [`Self::max_first_rung_share`]: a promotion estimated over is not started and the
    /// trial is pruned at its last rung ([`MAX_PROMOTION_SHARE`] by default; `None`: only the
    /// deadline limits it).
    pub max_promotion_share: Option<f64>,
}

/// The most of a wall-clock budget a new trial's first rung may take at the run's pace
/// ([`SearchSettings::max_first_rung_share`]), so that a network too heavy for the budget is
/// stopped before it spends a large part of it unseen (before this rule, one 554 M-MAC
/// network's first rung took 701 s of a 20-minute Fashion-MNIST search on 2 cores). The pace
/// is measured, so a run's first trial is never refused.
pub const MAX_FIRST_RUNG_SHARE: f64 = 1.0 / 6.0;

/// The most of a wall-clock budget one promotion may take at the run's pace
/// ([`SearchSettings::max_promotion_share`]): a network that ranked in the top 1/η once
/// must not take most of the budget. Looser than [`MAX_FIRST_RUNG_SHARE`], since a promoted
/// trial has shown what it learns: at a sixth, a 5-minute search on 6,400 MNIST digits refused
/// the promotions of three of its best rung-0 networks (0.88–0.95) and ended at 0.929; at a
/// half, two of them completed, at 0.953 and 0.959.
pub const MAX_PROMOTION_SHARE: f64 = 0.5;

impl Default for SearchSettings {
    fn default() -> Self {
        SearchSettings {
            trials: Some(20),
            budget: None,
            clock_start: None,
            max_cost: None,
            concurrency: 1,
            seed: 0,
            failure_window: 10,
            heartbeat: Duration::from_secs(5),
            heartbeat_grace: Duration::from_secs(60),
            max_first_rung_share: Some(MAX_FIRST_RUNG_SHARE),
            max_promotion_share: Some(MAX_PROMOTION_SHARE),
        }
    }
}
