//! Sampler quality: median best value over seeds after a fixed number of trials.

use nas_core::sampler::{SamplerError, SamplerKind};

use crate::driver;
use crate::functions::TestFunction;

/// Result of one sampler on one function.
#[derive(Debug, Clone)]
pub struct QualityCell {
    /// The function.
    pub function: String,
    /// The sampler.
    pub sampler: String,
    /// Median over seeds of the best value found, or why the sampler could not run.
    pub median_best: Result<f64, String>,
    /// Best value of each seed.
    pub bests: Vec<f64>,
}

/// Runs `sampler` on `f` for `n_trials`, once per seed in `seeds`.
pub fn evaluate(
    kind: SamplerKind,
    f: &TestFunction,
    n_trials: usize,
    seeds: &[u64],
) -> Result<QualityCell, Box<dyn std::error::Error>> {
    let space = f.space()?;
    let mut bests = Vec::with_capacity(seeds.len());
    let mut name = String::new();
    for &seed in seeds {
        let mut sampler = kind.build(seed);
        name = sampler.name().to_string();
        match driver::run(sampler.as_mut(), &space, f, n_trials) {
            Ok(run) => bests.push(run.best_after(n_trials)),
            Err(e @ SamplerError::Unsupported { .. }) => {
                return Ok(QualityCell {
                    function: f.name.to_string(),
                    sampler: name,
                    median_best: Err(e.to_string()),
                    bests,
                })
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(QualityCell {
        function: f.name.to_string(),
        sampler: name,
        median_best: Ok(median(&bests)),
        bests,
    })
}

/// The median of a non-empty slice (mean of the middle two for even lengths).
pub fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}
