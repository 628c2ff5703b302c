//! Maps parameter values to the numeric domain samplers model, and back.
//!
//! Numeric parameters map to `[0, 1]`: log-scaled ones through `ln`, and ints and stepped floats
//! over `[low - step/2, high + step/2]` so each grid value owns an equal slice and rounding back
//! is fair. Categoricals map to their choice index. Conditions are read on encoded values too,
//! so a sampler walks the tree without decoding a choice.

use crate::space::{Condition, Distribution, ParamValue, SearchSpace};

/// How one parameter is encoded.
#[derive(Debug, Clone, PartialEq)]
pub enum Encoding {
    /// A number in `[0, 1]`; `grid` is the encoded spacing of a stepped or int parameter.
    Numeric {
        /// Encoded spacing of grid values (`None` for continuous).
        grid: Option<f64>,
    },
    /// A choice index in `0..n`.
    Categorical {
        /// Number of choices.
        n: usize,
    },
}

/// Encodes and decodes every parameter of a space.
#[derive(Debug, Clone)]
pub struct Encoder {
    dists: Vec<Distribution>,
    /// Per parameter: (transformed low, transformed high) of the continuous domain.
    bounds: Vec<(f64, f64)>,
    encodings: Vec<Encoding>,
    /// Per parameter, the conditions that make it active, read on encoded values.
    conditions: Vec<Vec<EncodedCondition>>,
}

/// One condition of a parameter, on its parent's encoded value.
#[derive(Debug, Clone)]
enum EncodedCondition {
    /// A categorical parent: whether the condition holds, by choice index.
    Choices { parent: usize, holds: Vec<bool> },
    /// A numeric parent: its decoded value is tested (decoding a number copies nothing).
    Number { parent: usize, condition: Condition },
}

impl Encoder {
    /// The encoder of a space.
    pub fn new(space: &SearchSpace) -> Self {
        let dists: Vec<Distribution> = space
            .params()
            .iter()
            .map(|p| p.distribution.clone())
            .collect();
        let bounds = dists.iter().map(transformed_bounds).collect::<Vec<_>>();
        let encodings = dists
            .iter()
            .zip(&bounds)
            .map(|(d, &(lo, hi))| match d {
                Distribution::Categorical { choices } => Encoding::Categorical { n: choices.len() },
                Distribution::Float {
                    step: Some(s),
                    log: false,
                    ..
                } => Encoding::Numeric {
                    grid: Some(s / (hi - lo)),
                },
                Distribution::Int {
                    step, log: false, ..
                } => Encoding::Numeric {
                    grid: Some(*step as f64 / (hi - lo)),
                },
                _ => Encoding::Numeric { grid: None },
            })
            .collect();
        let conditions = space
            .params()
            .iter()
            .map(|p| {
                p.conditions
                    .iter()
                    .map(|c| encoded_condition(space, &dists, c))
                    .collect()
            })
            .collect();
        Encoder {
            dists,
            bounds,
            encodings,
            conditions,
        }
    }

    /// Whether parameter `i` is active given the encoded values of earlier parameters (NaN
    /// where inactive or not drawn): the same answer as
    /// [`SearchSpace::is_active_with`] on their decoded values.
    pub fn is_active(&self, i: usize, x: &[f64]) -> bool {
        self.conditions[i].iter().all(|c| match c {
            EncodedCondition::Choices { parent, holds } => {
                let u = x[*parent];
                !u.is_nan() && holds[choice_index(u, holds.len())]
            }
            EncodedCondition::Number { parent, condition } => {
                let u = x[*parent];
                !u.is_nan() && condition.holds(&self.decode(*parent, u))
            }
        })
    }

    /// How parameter `i` is encoded.
    pub fn encoding(&self, i: usize) -> &Encoding {
        &self.encodings[i]
    }

    /// Whether parameter `i` takes only grid values (ints, stepped floats).
    pub fn is_discrete(&self, i: usize) -> bool {
        matches!(
            self.dists[i],
            Distribution::Int { .. } | Distribution::Float { step: Some(_), .. }
        )
    }

    /// Whether parameter `i` is categorical.
    pub fn is_categorical(&self, i: usize) -> bool {
        matches!(self.encodings[i], Encoding::Categorical { .. })
    }

    /// Number of parameters.
    pub fn len(&self) -> usize {
        self.dists.len()
    }

    /// Whether there are no parameters.
    pub fn is_empty(&self) -> bool {
        self.dists.is_empty()
    }

    /// Encodes the value of parameter `i`: `[0, 1]` for numbers, the index for categoricals.
    /// `None` if the value is not of the parameter's kind.
    pub fn encode(&self, i: usize, v: &ParamValue) -> Option<f64> {
        match &self.dists[i] {
            Distribution::Categorical { choices } => {
                choices.iter().position(|c| c == v).map(|k| k as f64)
            }
            Distribution::Float { log, .. } | Distribution::Int { log, .. } => {
                let x = v.as_f64()?;
                let t = if *log {
                    x.max(f64::MIN_POSITIVE).ln()
                } else {
                    x
                };
                let (lo, hi) = self.bounds[i];
                Some(((t - lo) / (hi - lo)).clamp(0.0, 1.0))
            }
        }
    }

    /// Decodes an encoded value of parameter `i` to a legal value (rounded to its grid,
    /// clamped to its range).
    pub fn decode(&self, i: usize, u: f64) -> ParamValue {
        let (lo, hi) = self.bounds[i];
        match &self.dists[i] {
            Distribution::Categorical { choices } => {
                choices[choice_index(u, choices.len())].clone()
            }
            Distribution::Float {
                low,
                high,
                log,
                step,
            } => {
                let t = lo + u.clamp(0.0, 1.0) * (hi - lo);
                let x = if *log { t.exp() } else { t };
                let x = match step {
                    Some(s) => low + ((x - low) / s).round() * s,
                    None => x,
                };
                ParamValue::Float(x.clamp(*low, *high))
            }
            Distribution::Int {
                low,
                high,
                log,
                step,
            } => {
                let t = lo + u.clamp(0.0, 1.0) * (hi - lo);
                let x = if *log { t.exp() } else { t };
                let k = ((x - *low as f64) / *step as f64).round() as i64;
                ParamValue::Int((low + k * step).clamp(*low, *high))
            }
        }
    }

    /// Snaps an encoded value to the encoding of the value it decodes to.
    pub fn snap(&self, i: usize, u: f64) -> f64 {
        if let Distribution::Categorical { choices } = &self.dists[i] {
            // What `encode(decode(u))` gives (a space's choices are distinct), without copying
            // the choice.
            return choice_index(u, choices.len()) as f64;
        }
        let v = self.decode(i, u);
        self.encode(i, &v).unwrap_or(u)
    }
}

/// The choice (of `n`) an encoded categorical value `u` stands for: the nearest index,
/// clamped to the choices (NaN gives the first).
fn choice_index(u: f64, n: usize) -> usize {
    (u.round().max(0.0) as usize).min(n - 1)
}

/// Condition `c` read on its parent's encoded value.
fn encoded_condition(
    space: &SearchSpace,
    dists: &[Distribution],
    c: &Condition,
) -> EncodedCondition {
    // A space's conditions name parameters it has (`SearchSpace::new` checks).
    let parent = space
        .index_of(c.parent())
        .expect("a condition's parent is in its space");
    match &dists[parent] {
        Distribution::Categorical { choices } => EncodedCondition::Choices {
            parent,
            holds: choices.iter().map(|v| c.holds(v)).collect(),
        },
        _ => EncodedCondition::Number {
            parent,
            condition: c.clone(),
        },
    }
}

/// The continuous domain a numeric parameter is modelled on, before scaling to `[0, 1]`.
fn transformed_bounds(d: &Distribution) -> (f64, f64) {
    match d {
        Distribution::Categorical { choices } => (0.0, choices.len() as f64),
        Distribution::Float {
            low,
            high,
            log: true,
            ..
        } => (low.ln(), high.ln()),
        Distribution::Float {
            low,
            high,
            step: Some(s),
            ..
        } => (low - s / 2.0, high + s / 2.0),
        Distribution::Float { low, high, .. } => (*low, *high),
        Distribution::Int {
            low,
            high,
            log: true,
            ..
        } => ((*low as f64 - 0.5).ln(), (*high as f64 + 0.5).ln()),
        Distribution::Int {
            low, high, step, ..
        } => (
            *low as f64 - *step as f64 / 2.0,
            *high as f64 + *step as f64 / 2.0,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::space::{Condition, Param};

    fn space(d: Distribution) -> SearchSpace {
        SearchSpace::new(vec![Param {
            name: "x".into(),
            distribution: d,
            conditions: vec![],
        }])
        .unwrap()
    }

    #[test]
    fn int_grid_values_own_equal_slices() {
        let s = space(Distribution::Int {
            low: 0,
            high: 3,
            log: false,
            step: 1,
        });
        let e = Encoder::new(&s);
        let mut counts = [0usize; 4];
        for k in 0..4000 {
            let u = (k as f64 + 0.5) / 4000.0;
            counts[e.decode(0, u).as_i64().unwrap() as usize] += 1;
        }
        assert_eq!(counts, [1000; 4]);
    }

    #[test]
    fn log_float_round_trips() {
        let s = space(Distribution::Float {
            low: 1e-5,
            high: 1.0,
            log: true,
            step: None,
        });
        let e = Encoder::new(&s);
        let u = e.encode(0, &ParamValue::Float(1e-3)).unwrap();
        assert!((u - 0.4).abs() < 1e-12);
        let back = e.decode(0, u).as_f64().unwrap();
        assert!((back - 1e-3).abs() < 1e-15);
    }

    #[test]
    fn stepped_float_decodes_on_grid() {
        let s = space(Distribution::Float {
            low: 0.0,
            high: 1.0,
            log: false,
            step: Some(0.25),
        });
        let e = Encoder::new(&s);
        for k in 0..=100 {
            let x = e.decode(0, k as f64 / 100.0).as_f64().unwrap();
            assert!(((x / 0.25) - (x / 0.25).round()).abs() < 1e-12, "{x}");
        }
    }

    #[test]
    fn conditions_read_on_encoded_values_agree_with_the_decoded_ones() {
        use crate::space::Comparison;
        let param = |name: &str, distribution, conditions| Param {
            name: name.into(),
            distribution,
            conditions,
        };
        let s = SearchSpace::new(vec![
            param(
                "opt",
                Distribution::Categorical {
                    choices: vec!["sgd".into(), ParamValue::Int(3), "adamw".into()],
                },
                vec![],
            ),
            param(
                "depth",
                Distribution::Int {
                    low: 1,
                    high: 6,
                    log: false,
                    step: 1,
                },
                vec![],
            ),
            param(
                "momentum",
                Distribution::Float {
                    low: 0.0,
                    high: 1.0,
                    log: false,
                    step: None,
                },
                vec![
                    Condition::In {
                        parent: "opt".into(),
                        values: vec!["sgd".into(), ParamValue::Int(3)],
                    },
                    Condition::Compare {
                        parent: "depth".into(),
                        op: Comparison::Ge,
                        value: 3.0,
                    },
                ],
            ),
            param(
                "width",
                Distribution::Float {
                    low: 0.1,
                    high: 10.0,
                    log: true,
                    step: None,
                },
                vec![Condition::In {
                    parent: "depth".into(),
                    values: vec![ParamValue::Int(2), ParamValue::Float(5.0)],
                }],
            ),
        ])
        .unwrap();
        let e = Encoder::new(&s);
        let mut seen = [0usize; 2];
        for k in 0..400 {
            // Every choice and depth, off the grid points too, and inactive parents (NaN).
            let opt = [f64::NAN, -0.4, 0.0, 0.6, 1.2, 2.0, 2.7][k % 7];
            let depth = [f64::NAN, 0.0, 0.1, 0.26, 0.45, 0.5, 0.77, 0.99][k / 7 % 8];
            let x = [opt, depth, f64::NAN, f64::NAN];
            let values: Vec<Option<ParamValue>> = x
                .iter()
                .enumerate()
                .map(|(i, &u)| (!u.is_nan()).then(|| e.decode(i, u)))
                .collect();
            for i in 0..4 {
                let active = e.is_active(i, &x);
                assert_eq!(active, s.is_active_with(i, &values), "{i} at {x:?}");
                seen[usize::from(active)] += 1;
            }
        }
        assert!(seen[0] > 0 && seen[1] > 0, "{seen:?}");
    }

    #[test]
    fn a_snapped_choice_is_the_encoding_of_the_choice_it_decodes_to() {
        let choices = ["relu", "gelu", "hardswish", "silu"];
        let s = space(Distribution::Categorical {
            choices: choices.iter().map(|&c| c.into()).collect(),
        });
        let e = Encoder::new(&s);
        let halves = (-4..=20).map(|k| k as f64 * 0.25 - 0.01);
        for u in halves.chain([f64::NAN]) {
            let expected = e.encode(0, &e.decode(0, u)).unwrap();
            assert_eq!(e.snap(0, u), expected, "u = {u}");
        }
        assert_eq!(e.snap(0, 2.0), 2.0);
    }
}
