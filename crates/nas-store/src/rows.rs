//! What both storages read back, decoded once: a study row, and the selected trials with
//! their intermediate values and attributes, from the rows either driver hands over as
//! [`Columns`].

use std::collections::HashMap;

use super::codec::{decode_values, parse_json, u64_from_sql, StoredTrial};
use super::storage::{StorageError, StudyInfo};
use super::trial::Trial;

/// The columns of one result row of either driver, read by index; a column of another type
/// is a [`StorageError`].
pub trait Columns {
    /// A non-null integer.
    fn int(&self, index: usize) -> Result<i64, StorageError>;
    /// An integer or null.
    fn opt_int(&self, index: usize) -> Result<Option<i64>, StorageError>;
    /// A non-null real.
    fn real(&self, index: usize) -> Result<f64, StorageError>;
    /// A real or null.
    fn opt_real(&self, index: usize) -> Result<Option<f64>, StorageError>;
    /// A non-null text.
    fn text(&self, index: usize) -> Result<String, StorageError>;
    /// A text or null.
    fn opt_text(&self, index: usize) -> Result<Option<String>, StorageError>;
}

/// The `studies` columns [`study_from_row`] reads, in order.
pub(super) const STUDY_COLUMNS: &str = "id, name, directions, created_at";

/// A row of [`STUDY_COLUMNS`].
pub(super) fn study_from_row(row: &dyn Columns) -> Result<StudyInfo, StorageError> {
    let name = row.text(1)?;
    let directions = parse_json(&row.text(2)?, || format!("directions of study `{name}`"))?;
    Ok(StudyInfo {
        id: row.int(0)?,
        name,
        directions,
        created_at: row.real(3)?,
    })
}

/// Trials as they are loaded: first their rows, then their intermediate values and
/// attributes, matched by row id.
#[derive(Default)]
pub(super) struct LoadedTrials {
    trials: Vec<Trial>,
    /// Position in `trials` of each row id.
    index: HashMap<i64, usize>,
}

impl LoadedTrials {
    /// Adds a row of `codec::TRIAL_COLUMNS` (row id first).
    pub fn add_trial(&mut self, row: &dyn Columns) -> Result<(), StorageError> {
        let stored = StoredTrial {
            number: u64_from_sql(row.int(1)?),
            state: row.text(2)?,
            params_json: row.text(3)?,
            values_json: row.opt_text(4)?,
            constraints_json: row.opt_text(5)?,
            fail_reason: row.opt_text(6)?,
            seed: row.opt_int(7)?,
            started_at: row.opt_real(8)?,
            finished_at: row.opt_real(9)?,
            heartbeat_at: row.opt_real(10)?,
            worker_host: row.opt_text(11)?,
            worker_pid: row.opt_int(12)?,
            worker_started: row.opt_int(13)?,
        };
        self.index.insert(row.int(0)?, self.trials.len());
        self.trials.push(stored.decode()?);
        Ok(())
    }

    /// Adds a `trial_intermediate` row (trial id, step, values) to its trial.
    pub fn add_intermediate(&mut self, row: &dyn Columns) -> Result<(), StorageError> {
        let trial = self.by_id(row.int(0)?)?;
        let step = u64_from_sql(row.int(1)?);
        let values = decode_values(&row.text(2)?, || {
            format!(
                "intermediate values of trial {} at step {step}",
                trial.number
            )
        })?;
        trial.intermediate.insert(step, values);
        Ok(())
    }

    /// Adds a `trial_attrs` row (trial id, key, value) to its trial.
    pub fn add_attr(&mut self, row: &dyn Columns) -> Result<(), StorageError> {
        let trial = self.by_id(row.int(0)?)?;
        let key = row.text(1)?;
        let value = parse_json(&row.text(2)?, || {
            format!("attribute `{key}` of trial {}", trial.number)
        })?;
        trial.attrs.insert(key, value);
        Ok(())
    }

    /// The trials, in the order their rows came.
    pub fn into_trials(self) -> Vec<Trial> {
        self.trials
    }

    /// The loaded trial with row id `id`.
    fn by_id(&mut self, id: i64) -> Result<&mut Trial, StorageError> {
        self.index
            .get(&id)
            .and_then(|&i| self.trials.get_mut(i))
            .ok_or_else(|| StorageError::Corrupt(format!("row for unknown trial id {id}")))
    }
}

/// The SQL of the three loads of [`LoadedTrials`] for the trials `t` that match `condition`
/// (the backend's own, over its own placeholders): trial rows in number order, their
/// intermediate values, their attributes.
pub(super) fn load_queries(condition: &str) -> [String; 3] {
    [
        format!(
            "SELECT {} FROM trials t WHERE {condition} ORDER BY t.number",
            super::codec::TRIAL_COLUMNS
        ),
        format!(
            "SELECT i.trial_id, i.step, i.values_json FROM trial_intermediate i
             JOIN trials t ON t.id = i.trial_id WHERE {condition}"
        ),
        format!(
            "SELECT a.trial_id, a.key, a.value_json FROM trial_attrs a
             JOIN trials t ON t.id = a.trial_id WHERE {condition}"
        ),
    ]
}
