//! Trials and their states, as stored and as seen by samplers.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::worker::WorkerId;
use nas_space::Config;

/// Whether an objective is to be made small or large.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Smaller is better.
    Minimize,
    /// Larger is better.
    Maximize,
}

impl Direction {
    /// The value turned so that smaller is better.
    pub fn to_loss(self, v: f64) -> f64 {
        match self {
            Direction::Minimize => v,
            Direction::Maximize => -v,
        }
    }

    /// Parses `minimize` / `maximize` (also `min` / `max`).
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "minimize" | "min" => Some(Direction::Minimize),
            "maximize" | "max" => Some(Direction::Maximize),
            _ => None,
        }
    }

    /// `minimize` or `maximize`.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Minimize => "minimize",
            Direction::Maximize => "maximize",
        }
    }
}

/// Life cycle of a trial.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum TrialState {
    /// Enqueued with fixed parameters, not yet claimed by a worker.
    Waiting,
    /// Claimed and being evaluated.
    Running,
    /// Finished with objective values.
    Complete,
    /// Stopped early by a scheduler; its intermediate values stand.
    Pruned,
    /// Failed (diverged, crashed, interrupted); `fail_reason` says why.
    Fail,
}

impl TrialState {
    /// The states a trial budget counts (`--trials N`): running, complete and pruned. Failed
    /// trials do not count (a failure is re-run or replaced), nor do queued ones.
    pub const BUDGETED: [TrialState; 3] = [
        TrialState::Running,
        TrialState::Complete,
        TrialState::Pruned,
    ];

    /// Whether a trial in this state counts toward a trial budget ([`TrialState::BUDGETED`]).
    pub fn counts_toward_budget(self) -> bool {
        TrialState::BUDGETED.contains(&self)
    }

    /// The stored name: `WAITING`, `RUNNING`, `COMPLETE`, `PRUNED` or `FAIL`.
    pub fn as_str(self) -> &'static str {
        match self {
            TrialState::Waiting => "WAITING",
            TrialState::Running => "RUNNING",
            TrialState::Complete => "COMPLETE",
            TrialState::Pruned => "PRUNED",
            TrialState::Fail => "FAIL",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "WAITING" => Some(TrialState::Waiting),
            "RUNNING" => Some(TrialState::Running),
            "COMPLETE" => Some(TrialState::Complete),
            "PRUNED" => Some(TrialState::Pruned),
            "FAIL" => Some(TrialState::Fail),
            _ => None,
        }
    }

    /// Whether the trial has ended (complete, pruned or failed).
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            TrialState::Complete | TrialState::Pruned | TrialState::Fail
        )
    }
}

/// One trial of a study.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trial {
    /// Number within its study, from 0, unique across workers.
    pub number: u64,
    /// Current state.
    pub state: TrialState,
    /// The active parameters.
    pub params: Config,
    /// Objective values, one per study direction (complete trials).
    pub values: Option<Vec<f64>>,
    /// Constraint values; the trial is feasible when every one is ≤ 0.
    pub constraints: Option<Vec<f64>>,
    /// Intermediate objective values by step (epoch, rung).
    pub intermediate: BTreeMap<u64, Vec<f64>>,
    /// Why the trial failed.
    pub fail_reason: Option<String>,
    /// Seed the evaluation used, when it had one.
    pub seed: Option<u64>,
    /// Unix time (seconds) the trial started running.
    pub started_at: Option<f64>,
    /// Unix time (seconds) the trial finished.
    pub finished_at: Option<f64>,
    /// Unix time (seconds) of its worker's last sign of life (start, heartbeat or report).
    #[serde(default)]
    pub heartbeat_at: Option<f64>,
    /// The process that ran (or runs) the trial; none while it waits.
    #[serde(default)]
    pub worker: Option<WorkerId>,
    /// Free-form attributes (architecture summaries, measured latency…).
    pub attrs: BTreeMap<String, serde_json::Value>,
}

impl Trial {
    /// A new running trial with these parameters and nothing else recorded.
    pub fn running(number: u64, params: Config) -> Self {
        Trial {
            number,
            state: TrialState::Running,
            params,
            values: None,
            constraints: None,
            intermediate: BTreeMap::new(),
            fail_reason: None,
            seed: None,
            started_at: None,
            finished_at: None,
            heartbeat_at: None,
            worker: None,
            attrs: BTreeMap::new(),
        }
    }

    /// Whether every constraint is satisfied (no constraints means feasible).
    pub fn is_feasible(&self) -> bool {
        self.constraints
            .as_ref()
            .is_none_or(|c| c.iter().all(|&x| x <= 0.0))
    }

    /// Wall-clock seconds from start to finish, when both are known.
    pub fn duration_s(&self) -> Option<f64> {
        Some(self.finished_at? - self.started_at?)
    }
}

/// Seconds since the Unix epoch, as a float.
pub fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}
