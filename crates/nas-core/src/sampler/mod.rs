//! Samplers propose the next configuration from the history of a study.
//!
//! Every sampler is seeded: the proposal for trial number `k` is a function of the seed, `k` and
//! the trials it is shown, so a study replayed with the same seed proposes the same points.

pub mod bohb;
pub mod encoding;
pub mod gp;
pub(crate) mod random;
pub mod tpe;

pub use bohb::{BohbChoice, BohbConfig, BohbSampler};
pub use encoding::Encoder;
pub use gp::{Acquisition, GpSampler, GpSamplerConfig};
pub use random::RandomSampler;
pub use tpe::{TpeConfig, TpeSampler, WarmStart};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use thiserror::Error;

use crate::space::{Config, ParamValue, SearchSpace};
use crate::study::{Direction, Trial};

/// Errors a sampler can report.
#[derive(Debug, Error)]
pub enum SamplerError {
    /// The sampler cannot work on this space (e.g. GP-BO on a space with categoricals).
    #[error("the {sampler} sampler cannot handle this space: {reason}")]
    Unsupported {
        /// The sampler's name.
        sampler: &'static str,
        /// What it lacks.
        reason: String,
    },
    /// A numerical failure the sampler could not recover from.
    #[error("numerical failure in the {sampler} sampler: {reason}")]
    Numerical {
        /// The sampler's name.
        sampler: &'static str,
        /// What failed.
        reason: String,
    },
}

/// What a sampler sees when it proposes a configuration.
#[derive(Debug, Clone, Copy)]
pub struct SampleContext<'a> {
    /// The space to sample from.
    pub space: &'a SearchSpace,
    /// One direction per objective.
    pub directions: &'a [Direction],
    /// Every trial of the study so far (any state), in number order.
    pub trials: &'a [Trial],
    /// The number the new trial will get; seeds its random stream.
    pub number: u64,
}

/// Proposes configurations.
pub trait Sampler: Send {
    /// A short name (`random`, `tpe`, `gp`).
    fn name(&self) -> &'static str;

    /// Proposes the active parameters of the next trial.
    fn sample(&mut self, ctx: &SampleContext<'_>) -> Result<Config, SamplerError>;

    /// Whether this sampler can serve a study over `space` with `directions`; checked when a
    /// study opens, so an unsuitable sampler fails before the first trial.
    fn supports(&self, space: &SearchSpace, directions: &[Direction]) -> Result<(), SamplerError> {
        let _ = (space, directions);
        Ok(())
    }
}

/// The random stream of trial `number` under `seed`: independent streams per trial, so
/// proposals do not depend on how many random numbers earlier proposals used.
pub(crate) fn trial_rng(seed: u64, number: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(number);
    rng
}

/// The configuration holding the chosen values (`None` = inactive) of a space's parameters.
pub(crate) fn to_config(space: &SearchSpace, values: Vec<Option<ParamValue>>) -> Config {
    space
        .params()
        .iter()
        .zip(values)
        .filter_map(|(p, v)| Some((p.name.clone(), v?)))
        .collect()
}

/// Which sampler to build, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SamplerKind {
    /// Uniform random search.
    Random,
    /// Univariate TPE.
    Tpe,
    /// Multivariate, conditional-aware TPE.
    TpeMultivariate,
    /// Gaussian-process Bayesian optimisation.
    Gp,
    /// BOHB: multivariate TPE on the highest rung with enough results, plus a random share.
    Bohb,
}

impl SamplerKind {
    /// Parses `random`, `tpe`, `tpe-multivariate`, `gp` or `bohb`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "random" => Some(SamplerKind::Random),
            "tpe" => Some(SamplerKind::Tpe),
            "tpe-multivariate" | "mtpe" => Some(SamplerKind::TpeMultivariate),
            "gp" | "gp-bo" => Some(SamplerKind::Gp),
            "bohb" => Some(SamplerKind::Bohb),
            _ => None,
        }
    }

    /// The names [`SamplerKind::parse`] accepts.
    pub const NAMES: [&'static str; 5] = ["random", "tpe", "tpe-multivariate", "gp", "bohb"];

    /// Builds the sampler with default settings and `seed`, warm-started from `warm` when
    /// given; only the TPE samplers (`tpe`, `tpe-multivariate`, `bohb`) can be warm-started.
    pub fn build_warm(
        self,
        seed: u64,
        warm: Option<WarmStart>,
    ) -> Result<Box<dyn Sampler>, SamplerError> {
        let Some(warm) = warm else {
            return Ok(self.build(seed));
        };
        let multivariate = TpeConfig::multivariate();
        Ok(match self {
            SamplerKind::Tpe => {
                Box::new(TpeSampler::new(TpeConfig::default(), seed).with_warm_start(warm))
            }
            SamplerKind::TpeMultivariate => {
                Box::new(TpeSampler::new(multivariate, seed).with_warm_start(warm))
            }
            SamplerKind::Bohb => {
                Box::new(BohbSampler::new(BohbConfig::default(), seed).with_warm_start(warm))
            }
            SamplerKind::Random | SamplerKind::Gp => {
                return Err(SamplerError::Unsupported {
                    sampler: self.build(seed).name(),
                    reason: "a warm start needs a TPE sampler (tpe, tpe-multivariate, bohb)".into(),
                })
            }
        })
    }

    /// Builds the sampler with default settings and `seed`.
    pub fn build(self, seed: u64) -> Box<dyn Sampler> {
        match self {
            SamplerKind::Random => Box::new(RandomSampler::new(seed)),
            SamplerKind::Tpe => Box::new(TpeSampler::new(TpeConfig::default(), seed)),
            SamplerKind::TpeMultivariate => {
                Box::new(TpeSampler::new(TpeConfig::multivariate(), seed))
            }
            SamplerKind::Gp => Box::new(GpSampler::new(GpSamplerConfig::default(), seed)),
            SamplerKind::Bohb => Box::new(BohbSampler::new(BohbConfig::default(), seed)),
        }
    }
}
