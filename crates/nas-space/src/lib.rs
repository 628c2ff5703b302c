//! Conditional search spaces of nas, burn-free and storage-free: parameters, their
//! distributions, and the conditions that make them active; a sampled [`Config`].
//!
//! A [`SearchSpace`] is an ordered list of [`Param`]s in which every parent comes before its
//! children, so one pass in order decides which parameters are active for a configuration.
//! Spaces are read from TOML by [`SearchSpace::from_toml_file`] (see `search_spaces/README.md`).

#![warn(missing_docs)]

mod parse;
mod value;

pub use parse::{
    count_architectures, count_configurations_of, is_architecture_param, SourceLocation, SpaceError,
};
pub use value::ParamValue;

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

/// One sampled configuration: the active parameters and their values, by name.
pub type Config = BTreeMap<String, ParamValue>;

/// The range a parameter is drawn from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Distribution {
    /// A real number in `[low, high]`, optionally on a log scale or on a grid of `step`.
    Float {
        /// Smallest value.
        low: f64,
        /// Largest value.
        high: f64,
        /// Sample uniformly in log space (`low > 0`).
        log: bool,
        /// Grid spacing from `low`; must divide `high - low`.
        step: Option<f64>,
    },
    /// An integer in `[low, high]`, optionally on a log scale, on a grid of `step`.
    Int {
        /// Smallest value.
        low: i64,
        /// Largest value.
        high: i64,
        /// Sample uniformly in log space (`low > 0`, `step == 1`).
        log: bool,
        /// Grid spacing from `low` (1 when not given); must divide `high - low`.
        step: i64,
    },
    /// One of a list of values (strings, numbers or booleans).
    Categorical {
        /// The values, in declaration order.
        choices: Vec<ParamValue>,
    },
}

impl Distribution {
    /// Whether `value` can be drawn from this distribution.
    pub fn contains(&self, value: &ParamValue) -> bool {
        match (self, value) {
            (
                Distribution::Float {
                    low, high, step, ..
                },
                v,
            ) => match v.as_f64() {
                Some(x) if !matches!(v, ParamValue::Bool(_)) => {
                    x >= *low - 1e-12 * low.abs().max(1.0)
                        && x <= *high + 1e-12 * high.abs().max(1.0)
                        && step.is_none_or(|s| on_grid(x - low, s))
                }
                _ => false,
            },
            (
                Distribution::Int {
                    low, high, step, ..
                },
                ParamValue::Int(x),
            ) => x >= low && x <= high && (x - low) % step == 0,
            (Distribution::Categorical { choices }, v) => choices.iter().any(|c| c == v),
            _ => false,
        }
    }

    /// Number of distinct values, or `None` for a continuous range. Saturates at `u128::MAX`
    /// rather than overflowing.
    pub fn cardinality(&self) -> Option<u128> {
        match self {
            Distribution::Float {
                low,
                high,
                step: Some(s),
                ..
            } => Some((((high - low) / s).round() as u128).saturating_add(1)),
            Distribution::Float { .. } => None,
            Distribution::Int {
                low, high, step, ..
            } => {
                // In i128 the width of any i64 range fits; an unvalidated empty range or
                // non-positive step counts as a single value rather than panicking.
                let width = i128::from(*high) - i128::from(*low);
                let steps = width.checked_div(i128::from(*step)).unwrap_or(0).max(0);
                Some((steps as u128).saturating_add(1))
            }
            Distribution::Categorical { choices } => Some(choices.len() as u128),
        }
    }
}

/// Relative tolerance for floating-point rounding when matching values to grids and conditions.
pub(crate) const REL_TOLERANCE: f64 = 1e-9;

/// `x` is a whole multiple of `step`, allowing for floating-point rounding.
pub(crate) fn on_grid(x: f64, step: f64) -> bool {
    let k = (x / step).round();
    (x - k * step).abs() <= REL_TOLERANCE * step.abs().max(x.abs())
}

/// A numeric comparison used by conditions on repeated structure (`num_stages > 2`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Comparison {
    /// `parent > value`
    Gt,
    /// `parent >= value`
    Ge,
    /// `parent < value`
    Lt,
    /// `parent <= value`
    Le,
}

/// What a parent's value must satisfy for a child to be active.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Condition {
    /// The parent's value is one of `values`.
    In {
        /// Name of the parent parameter.
        parent: String,
        /// Accepted values.
        values: Vec<ParamValue>,
    },
    /// The parent's numeric value compares to `value` with `op`.
    Compare {
        /// Name of the parent parameter.
        parent: String,
        /// The comparison.
        op: Comparison,
        /// The right-hand side.
        value: f64,
    },
}

impl Condition {
    /// Name of the parameter this condition reads.
    pub fn parent(&self) -> &str {
        match self {
            Condition::In { parent, .. } | Condition::Compare { parent, .. } => parent,
        }
    }

    /// Whether the parent's value `v` satisfies the condition.
    ///
    /// Numbers are compared with [`ParamValue::approx_eq`], so a float on a grid computed as
    /// `low + k * step` (`0.30000000000000004`) matches the value written (`0.3`), for accepted
    /// values and for the equality part of `>=`, `<=`, `>` and `<` alike.
    pub fn holds(&self, v: &ParamValue) -> bool {
        match self {
            Condition::In { values, .. } => values.iter().any(|c| c.approx_eq(v)),
            Condition::Compare { op, value, .. } => match v.as_f64() {
                Some(x) => {
                    let equal = v.approx_eq(&ParamValue::Float(*value));
                    match op {
                        Comparison::Gt => x > *value && !equal,
                        Comparison::Ge => x >= *value || equal,
                        Comparison::Lt => x < *value && !equal,
                        Comparison::Le => x <= *value || equal,
                    }
                }
                None => false,
            },
        }
    }
}

/// One parameter of a search space.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Param {
    /// Unique name (`lr`, `stage2.block`).
    pub name: String,
    /// The range it is drawn from.
    pub distribution: Distribution,
    /// All must hold (and every parent must itself be active) for the parameter to be active.
    pub conditions: Vec<Condition>,
}

/// A validated conditional search space. Parameters are stored parents-first.
///
/// Serialises as its list of parameters; deserialising validates that list with
/// [`SearchSpace::new`], so a deserialised space is as checked as one read from TOML.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Vec<Param>", into = "Vec<Param>")]
pub struct SearchSpace {
    params: Vec<Param>,
    /// Position of each parameter by name.
    index: HashMap<String, usize>,
    /// Indices of each parameter's parents, aligned with `params`.
    parents: Vec<Vec<usize>>,
}

/// Validates the parameters, as [`SearchSpace::new`] does (used when deserialising).
impl TryFrom<Vec<Param>> for SearchSpace {
    type Error = SpaceError;

    fn try_from(params: Vec<Param>) -> Result<Self, SpaceError> {
        SearchSpace::new(params)
    }
}

/// The parameters, parents first (the serialised form of a space).
impl From<SearchSpace> for Vec<Param> {
    fn from(space: SearchSpace) -> Self {
        space.params
    }
}

impl SearchSpace {
    /// Builds a space from parameters, checking parents exist, are declared acyclically and that
    /// every condition can be met; parameters are reordered parents-first.
    pub fn new(params: Vec<Param>) -> Result<Self, SpaceError> {
        parse::validate_and_order(params)
    }

    /// Builds a space from already validated, parents-first parameters.
    pub(crate) fn from_ordered(params: Vec<Param>) -> Self {
        let index: HashMap<String, usize> = params
            .iter()
            .enumerate()
            .map(|(i, p)| (p.name.clone(), i))
            .collect();
        let parents = params
            .iter()
            .map(|p| {
                let mut ps: Vec<usize> = p.conditions.iter().map(|c| index[c.parent()]).collect();
                ps.sort_unstable();
                ps.dedup();
                ps
            })
            .collect::<Vec<Vec<usize>>>();
        SearchSpace {
            params,
            index,
            parents,
        }
    }

    /// Reads and validates a TOML search space; errors name the file, line and key.
    pub fn from_toml_file(path: &std::path::Path) -> Result<Self, SpaceError> {
        let text = std::fs::read_to_string(path).map_err(|e| SpaceError::Io {
            file: path.display().to_string(),
            message: e.to_string(),
        })?;
        Self::from_toml_str(&text, &path.display().to_string())
    }

    /// Parses and validates TOML text; `file` names the source in error messages.
    pub fn from_toml_str(text: &str, file: &str) -> Result<Self, SpaceError> {
        parse::parse_space(text, file)
    }

    /// The parameters, parents before children.
    pub fn params(&self) -> &[Param] {
        &self.params
    }

    /// Number of parameters.
    pub fn len(&self) -> usize {
        self.params.len()
    }

    /// Whether the space has no parameters.
    pub fn is_empty(&self) -> bool {
        self.params.is_empty()
    }

    /// Position of the parameter called `name`.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }

    /// Indices of the parameters that parameter `i`'s conditions read.
    pub fn parents_of(&self, i: usize) -> &[usize] {
        &self.parents[i]
    }

    /// Whether parameter `i` is active given the values chosen so far for earlier parameters
    /// (`values[j]` for `j < i`; `None` means inactive or not chosen).
    pub fn is_active_with(&self, i: usize, values: &[Option<ParamValue>]) -> bool {
        self.params[i]
            .conditions
            .iter()
            .all(|c| match values[self.index[c.parent()]].as_ref() {
                Some(v) => c.holds(v),
                None => false,
            })
    }

    /// Whether parameter `i` is active in a configuration.
    pub fn is_active(&self, i: usize, config: &Config) -> bool {
        self.params[i]
            .conditions
            .iter()
            .all(|c| config.get(c.parent()).is_some_and(|v| c.holds(v)))
    }

    /// Checks that `config` holds exactly the active parameters, each with a legal value.
    pub fn check_config(&self, config: &Config) -> Result<(), SpaceError> {
        for name in config.keys() {
            if self.index_of(name).is_none() {
                return Err(SpaceError::Config(format!("unknown parameter `{name}`")));
            }
        }
        for (i, p) in self.params.iter().enumerate() {
            match (self.is_active(i, config), config.get(&p.name)) {
                (true, Some(v)) if p.distribution.contains(v) => {}
                (true, Some(v)) => {
                    return Err(SpaceError::Config(format!(
                        "value {v} of `{}` is outside its range",
                        p.name
                    )))
                }
                (true, None) => {
                    return Err(SpaceError::Config(format!(
                        "active parameter `{}` has no value",
                        p.name
                    )))
                }
                (false, Some(_)) => {
                    return Err(SpaceError::Config(format!(
                        "parameter `{}` is set but inactive",
                        p.name
                    )))
                }
                (false, None) => {}
            }
        }
        Ok(())
    }

    /// Number of distinct configurations, counting only active parameters; `None` when a
    /// continuous parameter makes it infinite. Saturates at `u128::MAX`.
    pub fn count_configurations(&self) -> Option<u128> {
        parse::count_configurations(self)
    }
}
