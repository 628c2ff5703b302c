//! Study round trips: time of one `ask` plus `tell` through [`Study`] and its SQLite storage,
//! as the history grows.

use std::path::Path;
use std::time::{Duration, Instant};

use nas_core::sampler::SamplerKind;
use nas_core::study::{Direction, MemoryStorage, SqliteStorage, Storage, Study, TrialEnd};

use crate::functions;

/// Mean time of one ask and tell over the window before a history size.
#[derive(Debug, Clone)]
pub struct RoundTripRow {
    /// Trials in the study.
    pub n_trials: usize,
    /// Mean ask + tell time over the window.
    pub mean: Duration,
}

/// Runs a study on the 12-parameter conditional space to `max(checkpoints)` trials with
/// `sampler`, stored in SQLite at `storage` (in memory when `None`), and reports the mean
/// ask + tell time over the `window` trials before each checkpoint.
pub fn measure(
    sampler: SamplerKind,
    storage: Option<&Path>,
    checkpoints: &[usize],
    window: usize,
) -> Result<Vec<RoundTripRow>, Box<dyn std::error::Error>> {
    let f = functions::speed_space();
    let store: Box<dyn Storage> = match storage {
        Some(path) => Box::new(SqliteStorage::open(path)?),
        None => Box::new(MemoryStorage::new()),
    };
    let mut study = Study::open(
        store,
        "bench",
        &[Direction::Minimize],
        f.space()?,
        sampler.build(0),
    )?;
    let n = checkpoints.iter().copied().max().unwrap_or(0);
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let start = Instant::now();
        let trial = study.ask()?;
        let value = (f.eval)(&trial.params);
        study.tell(trial.number, TrialEnd::complete(&[value]))?;
        times.push(start.elapsed());
    }
    Ok(checkpoints
        .iter()
        .map(|&c| {
            let window = &times[c.saturating_sub(window)..c];
            RoundTripRow {
                n_trials: c,
                mean: window.iter().sum::<Duration>() / window.len().max(1) as u32,
            }
        })
        .collect())
}
