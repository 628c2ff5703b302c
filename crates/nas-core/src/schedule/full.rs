//! No early stopping: every trial trains through the whole ladder.

use super::{Decision, FidelityLadder, RungContext, Scheduler};

/// The scheduler of a search without early stopping (`none`): one bracket, every trial
/// continues.
#[derive(Debug, Clone)]
pub struct FullFidelity {
    ladder: FidelityLadder,
}

impl FullFidelity {
    /// Trains every trial through `ladder` (usually [`FidelityLadder::full`]).
    pub fn new(ladder: FidelityLadder) -> Self {
        FullFidelity { ladder }
    }
}

impl Default for FullFidelity {
    fn default() -> Self {
        FullFidelity::new(FidelityLadder::full())
    }
}

impl Scheduler for FullFidelity {
    fn name(&self) -> &'static str {
        "none"
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

    fn decide(&self, _ctx: &RungContext<'_>, _number: u64, _rung: usize) -> Decision {
        Decision::Continue
    }
}
