//! Uniform random search over a conditional space.

use rand::Rng;

use super::{trial_rng, Encoder, SampleContext, Sampler, SamplerError};
use crate::space::{Config, ParamValue};

/// Draws every active parameter uniformly (in its transformed domain: log-uniform for log
/// parameters, equal mass per grid value for ints and stepped floats).
#[derive(Debug, Clone)]
pub struct RandomSampler {
    seed: u64,
}

impl RandomSampler {
    /// A random sampler with this seed.
    pub fn new(seed: u64) -> Self {
        RandomSampler { seed }
    }
}

impl Sampler for RandomSampler {
    fn name(&self) -> &'static str {
        "random"
    }

    fn sample(&mut self, ctx: &SampleContext<'_>) -> Result<Config, SamplerError> {
        let mut rng = trial_rng(self.seed, ctx.number);
        let encoder = Encoder::new(ctx.space);
        Ok(sample_uniform(ctx.space, &encoder, &mut rng))
    }
}

/// One uniform draw of the active parameters of `space`.
pub(crate) fn sample_uniform<R: Rng>(
    space: &crate::space::SearchSpace,
    encoder: &Encoder,
    rng: &mut R,
) -> Config {
    let mut values: Vec<Option<ParamValue>> = vec![None; space.len()];
    for i in 0..space.len() {
        if !space.is_active_with(i, &values) {
            continue;
        }
        let u = match encoder.encoding(i) {
            super::encoding::Encoding::Categorical { n } => rng.random_range(0..*n) as f64,
            super::encoding::Encoding::Numeric { .. } => rng.random::<f64>(),
        };
        values[i] = Some(encoder.decode(i, u));
    }
    super::to_config(space, values)
}
