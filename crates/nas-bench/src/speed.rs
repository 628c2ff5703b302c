//! Sampler speed: time per proposal at 100, 250, 500 and 1000 trials.

use std::time::Duration;

use nas_core::sampler::SamplerKind;

use crate::driver;
use crate::functions;

/// Time per proposal of one sampler around one history size.
#[derive(Debug, Clone)]
pub struct SpeedRow {
    /// The sampler.
    pub sampler: String,
    /// Number of finished trials in the history.
    pub n_trials: usize,
    /// Mean time per proposal over the window before `n_trials`.
    pub mean: Duration,
    /// Median time per proposal over that window.
    pub median: Duration,
}

/// Runs each sampler for `max(checkpoints)` trials on the 12-parameter conditional space and
/// reports the proposal time over the `window` proposals before each checkpoint.
pub fn measure(
    samplers: &[SamplerKind],
    checkpoints: &[usize],
    window: usize,
    seed: u64,
) -> Result<Vec<SpeedRow>, Box<dyn std::error::Error>> {
    let f = functions::speed_space();
    let space = f.space()?;
    let n = checkpoints.iter().copied().max().unwrap_or(0);
    let mut rows = Vec::new();
    for &kind in samplers {
        let mut sampler = kind.build(seed);
        let run = driver::run(sampler.as_mut(), &space, &f, n)?;
        for &c in checkpoints {
            let from = c.saturating_sub(window);
            let mut times = run.sample_times[from..c].to_vec();
            times.sort();
            rows.push(SpeedRow {
                sampler: sampler.name().to_string(),
                n_trials: c,
                mean: times.iter().sum::<Duration>() / times.len().max(1) as u32,
                median: times[times.len() / 2],
            });
        }
    }
    Ok(rows)
}
