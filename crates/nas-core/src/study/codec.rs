//! What every study storage shares: how parameters and values are written as JSON text, and
//! the checks on a trial's end. See the SQLite module docs for the encoding rules.

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use super::storage::{StorageError, TrialEnd, WorkerId};
use super::trial::{Trial, TrialState};
use crate::space::{Config, ParamValue};

/// Checks that `end` is an end state with well-formed, finite numbers.
pub(super) fn check_end(
    number: u64,
    expected: usize,
    end: &TrialEnd<'_>,
) -> Result<(), StorageError> {
    if !end.state.is_finished() {
        return Err(StorageError::NotAnEndState {
            number,
            state: end.state,
        });
    }
    let got = end.values.map(<[f64]>::len);
    if got.is_some_and(|got| got != expected)
        || (end.state == TrialState::Complete && got.is_none())
    {
        return Err(StorageError::ValueCount {
            number,
            expected,
            got: got.unwrap_or(0),
        });
    }
    check_finite(end.values.unwrap_or_default(), |i| {
        format!("trial {number} objective value {i}")
    })?;
    check_finite(end.constraints.unwrap_or_default(), |i| {
        format!("trial {number} constraint {i}")
    })
}

pub(super) fn check_finite(
    values: &[f64],
    what: impl Fn(usize) -> String,
) -> Result<(), StorageError> {
    match values.iter().position(|v| !v.is_finite()) {
        Some(i) => Err(StorageError::NonFinite {
            what: what(i),
            value: values[i],
        }),
        None => Ok(()),
    }
}

/// Parameters as a JSON object; float parameters must be finite.
pub(super) fn encode_params(params: &Config) -> Result<String, StorageError> {
    for (name, value) in params {
        if let ParamValue::Float(x) = value {
            if !x.is_finite() {
                return Err(StorageError::NonFinite {
                    what: format!("parameter `{name}`"),
                    value: *x,
                });
            }
        }
    }
    to_json(params, "parameters")
}

/// A JSON array of numbers, non-finite ones as `"NaN"`, `"Infinity"` or `"-Infinity"`.
pub(super) fn encode_values(values: &[f64]) -> String {
    let items = values.iter().map(|&x| {
        serde_json::Number::from_f64(x).map_or_else(
            || Value::String(non_finite_name(x).to_string()),
            Value::Number,
        )
    });
    Value::Array(items.collect()).to_string()
}

pub(super) fn non_finite_name(x: f64) -> &'static str {
    if x.is_nan() {
        "NaN"
    } else if x > 0.0 {
        "Infinity"
    } else {
        "-Infinity"
    }
}

/// Reads what [`encode_values`] wrote.
pub(super) fn decode_values(
    json: &str,
    what: impl Fn() -> String,
) -> Result<Vec<f64>, StorageError> {
    if let Ok(finite) = serde_json::from_str(json) {
        return Ok(finite); // the common case: plain numbers only
    }
    let items: Vec<Value> = parse_json(json, &what)?;
    items
        .iter()
        .map(|item| {
            decode_number(item).ok_or_else(|| {
                StorageError::Corrupt(format!("{}: `{item}` is not a number", what()))
            })
        })
        .collect()
}

pub(super) fn decode_number(item: &Value) -> Option<f64> {
    match item {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => match s.as_str() {
            "NaN" => Some(f64::NAN),
            "Infinity" => Some(f64::INFINITY),
            "-Infinity" => Some(f64::NEG_INFINITY),
            _ => None,
        },
        _ => None,
    }
}

pub(super) fn to_json<T: Serialize + ?Sized>(
    value: &T,
    what: &str,
) -> Result<String, StorageError> {
    serde_json::to_string(value)
        .map_err(|e| StorageError::Corrupt(format!("cannot encode {what}: {e}")))
}

pub(super) fn parse_json<T: DeserializeOwned>(
    json: &str,
    what: impl FnOnce() -> String,
) -> Result<T, StorageError> {
    serde_json::from_str(json).map_err(|e| StorageError::Corrupt(format!("{}: {e}", what())))
}

/// SQL integers are signed: a `u64` (seed, process start time) is stored as the `i64` with the
/// same bits.
pub(super) fn u64_to_sql(seed: u64) -> i64 {
    seed as i64
}

/// Inverse of [`u64_to_sql`].
pub(super) fn u64_from_sql(stored: i64) -> u64 {
    stored as u64
}

pub(super) fn parse_state(name: &str, number: u64) -> Result<TrialState, StorageError> {
    TrialState::parse(name)
        .ok_or_else(|| StorageError::Corrupt(format!("trial {number} has unknown state `{name}`")))
}

/// Why an interrupted trial failed: its worker `why` (`is gone`, `sent no heartbeat …`), and
/// the number of the WAITING copy that runs it again. Every storage writes this text.
pub(super) fn interrupted_reason(worker: &WorkerId, why: &str, copy: u64) -> String {
    format!(
        "worker process {} on host {} {why} (interrupted); re-enqueued as trial {copy}",
        worker.pid, worker.host
    )
}

/// Checks that `trials` are numbered `0, 1, 2, …`, as an imported study's must be.
pub(super) fn check_dense(trials: &[Trial]) -> Result<(), StorageError> {
    match trials
        .iter()
        .enumerate()
        .find(|(i, t)| t.number != *i as u64)
    {
        Some((i, t)) => Err(StorageError::Corrupt(format!(
            "trial {} is at position {i}: imported trials must be numbered 0, 1, 2, …",
            t.number
        ))),
        None => Ok(()),
    }
}
