//! Runs a sampler against a test function on an in-memory history.

use std::time::{Duration, Instant};

use nas_core::sampler::{SampleContext, Sampler, SamplerError};
use nas_core::space::SearchSpace;
use nas_core::study::{Direction, Trial, TrialState};

use crate::functions::TestFunction;

/// The outcome of one sequential run.
#[derive(Debug, Clone)]
pub struct Run {
    /// Objective value of every trial, in order.
    pub values: Vec<f64>,
    /// Time each `sample` call took, in order.
    pub sample_times: Vec<Duration>,
}

impl Run {
    /// The best (smallest) value among the first `n` trials.
    pub fn best_after(&self, n: usize) -> f64 {
        self.values[..n.min(self.values.len())]
            .iter()
            .copied()
            .fold(f64::INFINITY, f64::min)
    }
}

/// Asks `sampler` for `n_trials` configurations one after another, evaluating each with `f`.
pub fn run(
    sampler: &mut dyn Sampler,
    space: &SearchSpace,
    f: &TestFunction,
    n_trials: usize,
) -> Result<Run, SamplerError> {
    let directions = [Direction::Minimize];
    let mut trials: Vec<Trial> = Vec::with_capacity(n_trials);
    let mut sample_times = Vec::with_capacity(n_trials);
    let mut values = Vec::with_capacity(n_trials);
    for number in 0..n_trials as u64 {
        let ctx = SampleContext {
            space,
            directions: &directions,
            trials: &trials,
            number,
        };
        let start = Instant::now();
        let params = sampler.sample(&ctx)?;
        sample_times.push(start.elapsed());
        let value = (f.eval)(&params);
        let mut trial = Trial::running(number, params);
        trial.state = TrialState::Complete;
        trial.values = Some(vec![value]);
        trials.push(trial);
        values.push(value);
    }
    Ok(Run {
        values,
        sample_times,
    })
}
