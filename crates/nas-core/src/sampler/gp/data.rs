//! The GP's view of a study: the encoded input space it supports and the training data it
//! takes from the trials.

use rand::Rng;

use crate::sampler::encoding::Encoding;
use crate::sampler::{Encoder, SamplerError};
use crate::space::{Config, SearchSpace};
use crate::study::{Direction, Trial, TrialState};

/// The sampler's name, for errors.
pub(crate) const NAME: &str = "gp";

/// One input dimension of the GP.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Dim {
    /// A continuous number in `[0, 1]`.
    Continuous,
    /// A number in `[0, 1]` restricted to the encodings of a finite grid (ints, stepped floats).
    Discrete,
    /// A choice index in `0..n`.
    Categorical(usize),
}

/// The input space `[0, 1]^d` (categoricals as choice indices) of an unconditional space.
#[derive(Debug, Clone)]
pub(crate) struct InputSpace {
    encoder: Encoder,
    dims: Vec<Dim>,
    names: Vec<String>,
}

impl InputSpace {
    /// The inputs of `space`; [`SamplerError::Unsupported`] naming the first conditional
    /// parameter if there is one.
    pub(crate) fn new(space: &SearchSpace) -> Result<Self, SamplerError> {
        if let Some(p) = space.params().iter().find(|p| !p.conditions.is_empty()) {
            return Err(SamplerError::Unsupported {
                sampler: NAME,
                reason: format!(
                    "parameter `{}` is conditional; GP-BO needs every parameter active in every \
                     trial (use the TPE sampler for conditional spaces)",
                    p.name
                ),
            });
        }
        let encoder = Encoder::new(space);
        let dims = space
            .params()
            .iter()
            .enumerate()
            .map(|(i, p)| match encoder.encoding(i) {
                Encoding::Categorical { n } => Dim::Categorical(*n),
                Encoding::Numeric { .. } if p.distribution.cardinality().is_some() => Dim::Discrete,
                Encoding::Numeric { .. } => Dim::Continuous,
            })
            .collect();
        let names = space.params().iter().map(|p| p.name.clone()).collect();
        Ok(InputSpace {
            encoder,
            dims,
            names,
        })
    }

    /// The dimensions, in parameter order.
    pub(crate) fn dims(&self) -> &[Dim] {
        &self.dims
    }

    /// Which dimensions are categorical.
    pub(crate) fn categorical_mask(&self) -> Vec<bool> {
        self.dims
            .iter()
            .map(|d| matches!(d, Dim::Categorical(_)))
            .collect()
    }

    /// The encoder of the space.
    pub(crate) fn encoder(&self) -> &Encoder {
        &self.encoder
    }

    /// The encoded point of a configuration; `None` if a parameter is missing or illegal.
    pub(crate) fn encode(&self, params: &Config) -> Option<Vec<f64>> {
        self.names
            .iter()
            .enumerate()
            .map(|(i, name)| self.encoder.encode(i, params.get(name)?))
            .collect()
    }

    /// The configuration of an encoded point (rounded to grids and choices).
    pub(crate) fn decode(&self, u: &[f64]) -> Config {
        self.names
            .iter()
            .enumerate()
            .map(|(i, name)| (name.clone(), self.encoder.decode(i, u[i])))
            .collect()
    }

    /// Moves `u` onto the nearest encodable point: clamped to `[0, 1]`, grids snapped,
    /// choice indices rounded.
    pub(crate) fn snap(&self, u: &mut [f64]) {
        for (i, (v, d)) in u.iter_mut().zip(&self.dims).enumerate() {
            *v = match d {
                Dim::Continuous => v.clamp(0.0, 1.0),
                Dim::Discrete => self.encoder.snap(i, v.clamp(0.0, 1.0)),
                Dim::Categorical(n) => v.round().clamp(0.0, (*n - 1) as f64),
            };
        }
    }

    /// A uniformly random encodable point.
    pub(crate) fn random_point<R: Rng>(&self, rng: &mut R) -> Vec<f64> {
        let mut u: Vec<f64> = self
            .dims
            .iter()
            .map(|d| match d {
                Dim::Categorical(n) => rng.random_range(0..*n) as f64,
                _ => rng.random::<f64>(),
            })
            .collect();
        self.snap(&mut u);
        u
    }
}

/// The only direction of a single-objective study, or [`SamplerError::Unsupported`].
pub(crate) fn single_direction(directions: &[Direction]) -> Result<Direction, SamplerError> {
    match directions {
        [d] => Ok(*d),
        _ => Err(SamplerError::Unsupported {
            sampler: NAME,
            reason: format!(
                "GP-BO optimises exactly one objective, this study has {} (use the TPE sampler \
                 for multi-objective studies)",
                directions.len()
            ),
        }),
    }
}

/// The encoded trials the GP learns from.
#[derive(Debug, Clone, Default)]
pub(crate) struct TrainingData {
    /// Inputs of complete trials.
    pub(crate) x: Vec<Vec<f64>>,
    /// Their losses (`Direction::to_loss` of the objective).
    pub(crate) loss: Vec<f64>,
    /// Inputs of running and waiting trials (constant-liar points).
    pub(crate) pending: Vec<Vec<f64>>,
}

impl TrainingData {
    /// Complete trials with a finite objective become observations, running and waiting trials
    /// pending points; failed and pruned trials, and trials whose parameters do not encode in
    /// this space, are ignored. Constraints are ignored.
    pub(crate) fn collect(trials: &[Trial], inputs: &InputSpace, direction: Direction) -> Self {
        let mut data = TrainingData::default();
        for t in trials {
            let Some(u) = inputs.encode(&t.params) else {
                continue;
            };
            match t.state {
                TrialState::Complete => {
                    let value = t.values.as_ref().and_then(|v| v.first().copied());
                    if let Some(v) = value.filter(|v| v.is_finite()) {
                        data.x.push(u);
                        data.loss.push(direction.to_loss(v));
                    }
                }
                TrialState::Running | TrialState::Waiting => data.pending.push(u),
                TrialState::Pruned | TrialState::Fail => {}
            }
        }
        data
    }
}

/// `(v − mean) / std`; a zero spread is treated as 1 so constant data stay finite.
pub(crate) fn standardise(v: &[f64]) -> Vec<f64> {
    let n = v.len().max(1) as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
    let std = if var > 0.0 { var.sqrt() } else { 1.0 };
    v.iter().map(|x| (x - mean) / std).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::space::{Condition, Distribution, Param, ParamValue};

    fn param(name: &str, distribution: Distribution) -> Param {
        Param {
            name: name.into(),
            distribution,
            conditions: vec![],
        }
    }

    fn float(low: f64, high: f64, log: bool) -> Distribution {
        Distribution::Float {
            low,
            high,
            log,
            step: None,
        }
    }

    fn choices(names: &[&str]) -> Distribution {
        Distribution::Categorical {
            choices: names.iter().map(|&c| c.into()).collect(),
        }
    }

    fn mixed_space() -> SearchSpace {
        let depth = Distribution::Int {
            low: 1,
            high: 4,
            log: false,
            step: 1,
        };
        SearchSpace::new(vec![
            param("lr", float(1e-4, 1.0, true)),
            param("depth", depth),
            param("act", choices(&["relu", "gelu"])),
        ])
        .unwrap()
    }

    #[test]
    fn conditional_space_is_unsupported_naming_the_parameter() {
        let mut momentum = param("momentum", float(0.0, 0.99, false));
        momentum.conditions = vec![Condition::In {
            parent: "opt".into(),
            values: vec!["sgd".into()],
        }];
        let space =
            SearchSpace::new(vec![param("opt", choices(&["sgd", "adam"])), momentum]).unwrap();
        let err = InputSpace::new(&space).unwrap_err().to_string();
        assert!(
            err.contains("`momentum`") && err.contains("conditional"),
            "{err}"
        );
    }

    #[test]
    fn dims_and_round_trip() {
        let inputs = InputSpace::new(&mixed_space()).unwrap();
        assert_eq!(
            inputs.dims(),
            &[Dim::Continuous, Dim::Discrete, Dim::Categorical(2)]
        );
        assert_eq!(inputs.categorical_mask(), vec![false, false, true]);
        let mut u = vec![1.3, 0.55, 0.7];
        inputs.snap(&mut u);
        let config = inputs.decode(&u);
        assert_eq!(config["lr"], ParamValue::Float(1.0));
        assert_eq!(config["depth"], ParamValue::Int(3));
        assert_eq!(config["act"], ParamValue::from("gelu"));
        assert_eq!(inputs.encode(&config).unwrap(), u);
    }

    #[test]
    fn collect_keeps_complete_and_pending_and_drops_the_rest() {
        let inputs = InputSpace::new(&mixed_space()).unwrap();
        let config = inputs.decode(&[0.5, 0.5, 0.0]);
        let trial = |n: u64, state: TrialState, v: Option<f64>| {
            let mut t = Trial::running(n, config.clone());
            t.state = state;
            t.values = v.map(|v| vec![v]);
            t
        };
        let mut missing = trial(5, TrialState::Complete, Some(1.0));
        missing.params.remove("act");
        let trials = vec![
            trial(0, TrialState::Complete, Some(2.0)),
            trial(1, TrialState::Fail, None),
            trial(2, TrialState::Pruned, Some(0.1)),
            trial(3, TrialState::Running, None),
            trial(4, TrialState::Complete, Some(f64::NAN)),
            missing,
        ];
        let data = TrainingData::collect(&trials, &inputs, Direction::Maximize);
        assert_eq!(data.loss, vec![-2.0]);
        assert_eq!(data.x.len(), 1);
        assert_eq!(data.pending.len(), 1);
    }

    #[test]
    fn standardise_gives_zero_mean_unit_variance() {
        let z = standardise(&[1.0, 2.0, 3.0, 6.0]);
        let mean: f64 = z.iter().sum::<f64>() / 4.0;
        let var: f64 = z.iter().map(|v| v * v).sum::<f64>() / 4.0;
        assert!(mean.abs() < 1e-15 && (var - 1.0).abs() < 1e-12);
        assert_eq!(standardise(&[3.0, 3.0]), vec![0.0, 0.0]);
    }

    #[test]
    fn one_objective_only() {
        assert!(single_direction(&[Direction::Minimize]).is_ok());
        let err = single_direction(&[Direction::Minimize, Direction::Maximize]).unwrap_err();
        assert!(err.to_string().contains("exactly one objective"), "{err}");
    }
}
