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
}

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
        }
    }
}
