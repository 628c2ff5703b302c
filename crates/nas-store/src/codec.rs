//! What every study storage shares: how parameters and values are written as JSON text, and
//! the checks on a trial's end. See the SQLite module docs for the encoding rules.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use super::storage::{StorageError, StudyInfo, TrialEnd};
use super::trial::{Direction, Trial, TrialState};
use super::worker::WorkerId;
use nas_space::{Config, ParamValue};

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

/// The study opened, if it was created with `directions` ([`StorageError::DirectionMismatch`]
/// otherwise).
pub(super) fn check_directions(
    info: StudyInfo,
    directions: &[Direction],
) -> Result<StudyInfo, StorageError> {
    if info.directions != directions {
        return Err(StorageError::DirectionMismatch {
            study: info.name,
            stored: info.directions,
            requested: directions.to_vec(),
        });
    }
    Ok(info)
}

/// Parameters as a JSON object; float parameters must be finite ([`check_params`]).
pub(super) fn encode_params(params: &Config) -> Result<String, StorageError> {
    check_params(params)?;
    to_json(params, "parameters")
}

/// Checks that every float parameter is finite: JSON cannot hold the others, so no storage
/// takes them.
pub(super) fn check_params(params: &Config) -> Result<(), StorageError> {
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
    Ok(())
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

/// The `trials t` columns both storages read a trial from, in [`StoredTrial`]'s order, after
/// the row id.
pub(super) const TRIAL_COLUMNS: &str = "t.id, t.number, t.state, t.params_json, t.values_json, \
     t.constraints_json, t.fail_reason, t.seed, t.started_at, t.finished_at, t.heartbeat_at, \
     t.worker_host, t.worker_pid, t.worker_started";

/// Which trials of a study to load.
pub(super) enum Selection<'a> {
    /// All, or those in these (non-empty) states.
    States(Option<&'a [TrialState]>),
    /// The one with this number.
    One(u64),
    /// Those numbered this or higher (one range scan of the `(study_id, number)` index).
    From(u64),
    /// Those numbered `from` or higher and those numbered in `also` (non-empty): what
    /// [`Storage::trials_catch_up`](super::storage::Storage::trials_catch_up) reads, in one
    /// load. Their row ids come from a range scan and one lookup per listed number of the
    /// `(study_id, number)` index, joined by `UNION ALL`: one `number >= from OR number IN
    /// (…)` would be answered by scanning every trial of the study, a cost that grew with the
    /// history on every ask.
    CatchUp {
        /// The first number of the range.
        from: u64,
        /// Numbers read besides.
        also: &'a [u64],
    },
}

/// A trial row's [`TRIAL_COLUMNS`] (less the row id) as the database holds them, before
/// decoding: each storage reads these, and both decode them here.
pub(super) struct StoredTrial {
    pub number: u64,
    pub state: String,
    pub params_json: String,
    pub values_json: Option<String>,
    pub constraints_json: Option<String>,
    pub fail_reason: Option<String>,
    pub seed: Option<i64>,
    pub started_at: Option<f64>,
    pub finished_at: Option<f64>,
    pub heartbeat_at: Option<f64>,
    pub worker_host: Option<String>,
    pub worker_pid: Option<i64>,
    pub worker_started: Option<i64>,
}

impl StoredTrial {
    /// The trial (without intermediate values and attributes, which live in other tables).
    pub fn decode(self) -> Result<Trial, StorageError> {
        let number = self.number;
        let values = |json: Option<String>, what: &str| {
            json.map(|json| decode_values(&json, || format!("{what} of trial {number}")))
                .transpose()
        };
        Ok(Trial {
            number,
            state: parse_state(&self.state, number)?,
            params: parse_json(&self.params_json, || {
                format!("parameters of trial {number}")
            })?,
            values: values(self.values_json, "values")?,
            constraints: values(self.constraints_json, "constraints")?,
            intermediate: BTreeMap::new(),
            fail_reason: self.fail_reason,
            seed: self.seed.map(u64_from_sql),
            started_at: self.started_at,
            finished_at: self.finished_at,
            heartbeat_at: self.heartbeat_at,
            worker: decode_worker(
                number,
                self.worker_host,
                self.worker_pid,
                self.worker_started,
            )?,
            attrs: BTreeMap::new(),
        })
    }
}

/// The worker recorded with trial `number` (host, process id, process start), `None` without
/// a host; [`StorageError::Corrupt`] for a process id that is not one.
pub(super) fn decode_worker(
    number: u64,
    host: Option<String>,
    pid: Option<i64>,
    started: Option<i64>,
) -> Result<Option<WorkerId>, StorageError> {
    let Some(host) = host else { return Ok(None) };
    let pid = pid.unwrap_or(0);
    let pid = u32::try_from(pid).map_err(|_| {
        StorageError::Corrupt(format!("trial {number} has worker process id {pid}"))
    })?;
    Ok(Some(WorkerId {
        host,
        pid,
        started: started.map(u64_from_sql),
    }))
}
