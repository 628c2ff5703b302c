//! The study-level facts a report opens with: its objectives and how many trials are in
//! each state.

use nas_core::study::{Direction, TrialState};
use serde::Serialize;

use crate::data::TrialRow;

/// One objective of the study.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Objective {
    /// Its name (`accuracy`, `latency_ms`, …; `objective<i>` when the caller gave none).
    pub name: String,
    /// Whether it is minimised or maximised.
    pub direction: Direction,
}

impl Objective {
    /// The objectives of a study: `directions` named by `names` in order.
    pub fn list(directions: &[Direction], names: &[String]) -> Vec<Objective> {
        directions
            .iter()
            .enumerate()
            .map(|(i, &direction)| Objective {
                name: names
                    .get(i)
                    .cloned()
                    .unwrap_or_else(|| format!("objective{i}")),
                direction,
            })
            .collect()
    }

    /// `accuracy ↑` or `latency_ms ↓`.
    pub fn label(&self) -> String {
        let arrow = match self.direction {
            Direction::Maximize => "↑",
            Direction::Minimize => "↓",
        };
        format!("{} {arrow}", self.name)
    }
}

/// How many trials are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct StateCounts {
    /// All trials.
    pub total: usize,
    /// Enqueued, not yet claimed.
    pub waiting: usize,
    /// Being evaluated.
    pub running: usize,
    /// Finished with objective values.
    pub complete: usize,
    /// Stopped early by the scheduler.
    pub pruned: usize,
    /// Failed.
    pub fail: usize,
}

impl StateCounts {
    /// Counts the states of `rows`.
    pub fn of(rows: &[TrialRow]) -> Self {
        let mut counts = StateCounts {
            total: rows.len(),
            ..StateCounts::default()
        };
        for row in rows {
            match row.state {
                TrialState::Waiting => counts.waiting += 1,
                TrialState::Running => counts.running += 1,
                TrialState::Complete => counts.complete += 1,
                TrialState::Pruned => counts.pruned += 1,
                TrialState::Fail => counts.fail += 1,
            }
        }
        counts
    }

    /// `25 trials: 9 complete, 8 pruned, 3 failed, 3 running, 2 waiting` (zero counts left out).
    pub fn sentence(&self) -> String {
        let parts: Vec<String> = [
            (self.complete, "complete"),
            (self.pruned, "pruned"),
            (self.fail, "failed"),
            (self.running, "running"),
            (self.waiting, "waiting"),
        ]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect();
        let plural = if self.total == 1 { "" } else { "s" };
        match parts.is_empty() {
            true => format!("{} trial{plural}", self.total),
            false => format!("{} trial{plural}: {}", self.total, parts.join(", ")),
        }
    }
}
