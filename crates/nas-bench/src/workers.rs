//! Asks per second when several workers share one study: each worker is a thread with its
//! own storage connection (as separate processes would have), asking and telling in a loop
//! on the 12-parameter conditional space.

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use nas_core::sampler::SamplerKind;
use nas_core::study::{open_storage, Direction, Study, TrialEnd};

use crate::functions;

/// What `workers` workers did in one run.
#[derive(Debug, Clone)]
pub struct WorkersRow {
    /// Workers at once.
    pub workers: usize,
    /// Asks (each followed by its tell) done by all of them.
    pub asks: usize,
    /// Wall time from the first worker's start of asking to the last one's end.
    pub elapsed: Duration,
    /// Trial numbers handed out more than once (must be 0).
    pub duplicates: usize,
}

impl WorkersRow {
    /// Asks per second, all workers together.
    pub fn rate(&self) -> f64 {
        self.asks as f64 / self.elapsed.as_secs_f64().max(f64::MIN_POSITIVE)
    }
}

/// Runs `workers` threads on study `study` in the storage at `url` (which should be new or
/// empty), each doing `asks_each` ask-and-tell round trips with `sampler`.
pub fn measure(
    url: &str,
    study: &str,
    workers: usize,
    asks_each: usize,
    sampler: SamplerKind,
) -> Result<WorkersRow, Box<dyn std::error::Error + Send + Sync>> {
    let start = Arc::new(Barrier::new(workers));
    let handles: Vec<_> = (0..workers)
        .map(|w| {
            let (url, study, start) = (url.to_string(), study.to_string(), start.clone());
            std::thread::spawn(move || worker(&url, &study, w as u64, asks_each, sampler, &start))
        })
        .collect();
    let mut numbers = Vec::new();
    let (mut first, mut last) = (None::<Instant>, None::<Instant>);
    for handle in handles {
        let run = handle.join().map_err(|_| "a worker panicked")??;
        numbers.extend(run.numbers);
        first = Some(first.map_or(run.began, |t| t.min(run.began)));
        last = Some(last.map_or(run.ended, |t| t.max(run.ended)));
    }
    let elapsed = match (first, last) {
        (Some(a), Some(b)) => b - a,
        _ => Duration::ZERO,
    };
    let asks = numbers.len();
    numbers.sort_unstable();
    numbers.dedup();
    Ok(WorkersRow {
        workers,
        asks,
        elapsed,
        duplicates: asks - numbers.len(),
    })
}

/// What one worker did: its trial numbers, and when it started and ended asking.
struct WorkerRun {
    numbers: Vec<u64>,
    began: Instant,
    ended: Instant,
}

/// One worker: opens its own connection and study, waits for the others, then asks and
/// tells `n` times.
fn worker(
    url: &str,
    name: &str,
    seed: u64,
    n: usize,
    sampler: SamplerKind,
    start: &Barrier,
) -> Result<WorkerRun, Box<dyn std::error::Error + Send + Sync>> {
    let f = functions::speed_space();
    let storage = open_storage(url)?;
    let mut study = Study::open(
        storage,
        name,
        &[Direction::Minimize],
        f.space()?,
        sampler.build(seed),
    )?;
    start.wait();
    let began = Instant::now();
    let mut numbers = Vec::with_capacity(n);
    for _ in 0..n {
        let trial = study.ask()?;
        let value = (f.eval)(&trial.params);
        study.tell(trial.number, TrialEnd::complete(&[value]))?;
        numbers.push(trial.number);
    }
    Ok(WorkerRun {
        numbers,
        began,
        ended: Instant::now(),
    })
}
