//! The value of one parameter in a configuration.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A parameter value: a float, an integer, a boolean or a string. Serialises as the bare JSON
/// or TOML value (`0.01`, `3`, `true`, `"sgd"`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ParamValue {
    /// A boolean choice.
    Bool(bool),
    /// An integer (int parameters, integer choices).
    Int(i64),
    /// A real number (float parameters, float choices).
    Float(f64),
    /// A string choice.
    Str(String),
}

impl ParamValue {
    /// The value as a number, for ints and floats.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            ParamValue::Int(i) => Some(*i as f64),
            ParamValue::Float(x) => Some(*x),
            _ => None,
        }
    }

    /// The value as an integer, for ints and floats that are whole.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            ParamValue::Int(i) => Some(*i),
            ParamValue::Float(x) if x.fract() == 0.0 => Some(*x as i64),
            _ => None,
        }
    }

    /// Equality allowing for floating-point rounding, as conditions use it: numbers are equal
    /// when they differ by at most 1e-9 of the larger magnitude, so `0.1 + 0.2` matches `0.3`.
    /// Integers stay exact: an int compared with an int or a whole float (`3`, `3.0`) must be
    /// equal. Other kinds compare as with `==`, which stays exact for numbers too.
    pub fn approx_eq(&self, other: &Self) -> bool {
        let is_int = |v: &Self| matches!(v, ParamValue::Int(_));
        let exact = (is_int(self) || is_int(other)) && self.as_i64().zip(other.as_i64()).is_some();
        match (self.as_f64(), other.as_f64()) {
            (Some(x), Some(y)) if !exact => {
                x == y || (x - y).abs() <= super::REL_TOLERANCE * x.abs().max(y.abs())
            }
            _ => self == other,
        }
    }

    /// The value as a string, for string choices.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            ParamValue::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The value as a boolean, for boolean choices.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            ParamValue::Bool(b) => Some(*b),
            _ => None,
        }
    }
}

/// Numbers compare by value (`3 == 3.0`; two ints exactly); other kinds only with their own
/// kind.
impl PartialEq for ParamValue {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (ParamValue::Bool(a), ParamValue::Bool(b)) => a == b,
            (ParamValue::Str(a), ParamValue::Str(b)) => a == b,
            (ParamValue::Int(a), ParamValue::Int(b)) => a == b,
            (a, b) => match (a.as_f64(), b.as_f64()) {
                (Some(x), Some(y)) => x == y,
                _ => false,
            },
        }
    }
}

impl fmt::Display for ParamValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamValue::Bool(b) => write!(f, "{b}"),
            ParamValue::Int(i) => write!(f, "{i}"),
            ParamValue::Float(x) => write!(f, "{x}"),
            ParamValue::Str(s) => write!(f, "\"{s}\""),
        }
    }
}

impl From<f64> for ParamValue {
    fn from(x: f64) -> Self {
        ParamValue::Float(x)
    }
}

impl From<i64> for ParamValue {
    fn from(i: i64) -> Self {
        ParamValue::Int(i)
    }
}

impl From<bool> for ParamValue {
    fn from(b: bool) -> Self {
        ParamValue::Bool(b)
    }
}

impl From<&str> for ParamValue {
    fn from(s: &str) -> Self {
        ParamValue::Str(s.to_string())
    }
}
