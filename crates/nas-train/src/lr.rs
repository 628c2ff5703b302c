//! The learning-rate schedule: linear warm-up, then cosine decay to zero.

use std::f64::consts::PI;

/// Learning rate per optimizer step: linear warm-up from `peak / 100` to `peak` over the
/// first `warmup_steps`, then half a cosine from `peak` down towards 0 at `total_steps`
/// (Loshchilov & Hutter's SGDR without restarts; PyTorch's `CosineAnnealingLR`, `eta_min` 0).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LrSchedule {
    peak: f64,
    warmup_steps: u64,
    total_steps: u64,
}

impl LrSchedule {
    /// A schedule of `total_steps` steps (at least 1) peaking at `peak`; the warm-up is
    /// capped at the total.
    pub fn new(peak: f64, warmup_steps: u64, total_steps: u64) -> LrSchedule {
        let total_steps = total_steps.max(1);
        LrSchedule {
            peak,
            warmup_steps: warmup_steps.min(total_steps),
            total_steps,
        }
    }

    /// The rate of step `step` (from 0). Steps past the end keep the last rate.
    pub fn at(&self, step: u64) -> f64 {
        let step = step.min(self.total_steps - 1);
        if step < self.warmup_steps {
            let start = self.peak / 100.0;
            let t = (step + 1) as f64 / self.warmup_steps as f64;
            return start + (self.peak - start) * t;
        }
        let decay_steps = (self.total_steps - self.warmup_steps) as f64;
        let progress = (step - self.warmup_steps) as f64 / decay_steps;
        0.5 * self.peak * (1.0 + (PI * progress).cos())
    }

    /// The number of steps.
    pub fn total_steps(&self) -> u64 {
        self.total_steps
    }
}
