//! The storage trait every study backend implements (SQLite, PostgreSQL and memory).

use std::collections::BTreeMap;

use serde_json::Value;
use thiserror::Error;

use super::trial::{Direction, Trial, TrialState};
use super::worker::WorkerId;
use nas_space::Config;

/// Errors of a study storage.
#[derive(Debug, Error)]
pub enum StorageError {
    /// The database reported an error.
    #[error("database error: {0}")]
    Database(String),
    /// A storage URL of no known kind.
    #[error(
        "unsupported storage `{0}`: use postgres://USER@HOST/DB, sqlite://PATH or a file path"
    )]
    UnsupportedUrl(String),
    /// No study of that name or id.
    #[error("no study named `{0}`")]
    UnknownStudy(String),
    /// A study of that name already exists (copying into it is refused).
    #[error("a study named `{0}` already exists")]
    StudyExists(String),
    /// No study with that database id.
    #[error("no study with id {0}")]
    UnknownStudyId(i64),
    /// No trial of that number in the study.
    #[error("study `{study}` has no trial {number}")]
    UnknownTrial {
        /// The study's name.
        study: String,
        /// The trial number asked for.
        number: u64,
    },
    /// A state change that the trial's current state does not allow (e.g. telling twice).
    #[error("trial {number} is {state:?}, not running")]
    NotRunning {
        /// The trial number.
        number: u64,
        /// Its current state.
        state: TrialState,
    },
    /// A study reopened with other objective directions than it was created with.
    #[error("study `{study}` was created with directions {stored:?}, not {requested:?}")]
    DirectionMismatch {
        /// The study's name.
        study: String,
        /// Directions in the database.
        stored: Vec<Direction>,
        /// Directions asked for now.
        requested: Vec<Direction>,
    },
    /// Stored data that cannot be decoded.
    #[error("corrupt study data: {0}")]
    Corrupt(String),
    /// Objective values whose count differs from the study's number of directions (or a
    /// COMPLETE end without values).
    #[error("trial {number} got {got} objective values, but the study has {expected} directions")]
    ValueCount {
        /// The trial number.
        number: u64,
        /// The study's number of directions.
        expected: usize,
        /// The number of values given.
        got: usize,
    },
    /// A NaN or infinite number where only finite ones can be stored: objective values,
    /// constraint values and float parameters (intermediate values may be non-finite).
    #[error("{what} is {value}, but only finite numbers can be stored")]
    NonFinite {
        /// Which number, e.g. `trial 3 objective value 0` or `parameter \`lr\``.
        what: String,
        /// The offending value.
        value: f64,
    },
    /// A trial asked to end in WAITING or RUNNING, which are not end states.
    #[error("trial {number} cannot end as {state:?}: use COMPLETE, PRUNED or FAIL")]
    NotAnEndState {
        /// The trial number.
        number: u64,
        /// The state asked for.
        state: TrialState,
    },
}

/// A study as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StudyInfo {
    /// Database id.
    pub id: i64,
    /// Unique name.
    pub name: String,
    /// One direction per objective.
    pub directions: Vec<Direction>,
    /// Unix time of creation.
    pub created_at: f64,
}

/// Where a study's trials live. Every state change is one transaction: a process killed at any
/// point leaves the committed trials intact.
pub trait Storage: Send {
    /// Opens the study called `name`, creating it with `directions` if it does not exist.
    /// Reopening with other directions is an error.
    fn open_study(
        &mut self,
        name: &str,
        directions: &[Direction],
    ) -> Result<StudyInfo, StorageError>;

    /// The study called `name`, if it exists.
    fn find_study(&mut self, name: &str) -> Result<Option<StudyInfo>, StorageError>;

    /// Every study, oldest first.
    fn list_studies(&mut self) -> Result<Vec<StudyInfo>, StorageError>;

    /// Sets a study attribute (JSON), replacing an earlier value.
    fn set_study_attr(&mut self, study: i64, key: &str, value: &Value) -> Result<(), StorageError>;

    /// The study attribute `key`, set to `value` first if it was not set: one atomic step, so
    /// of several processes setting it at once exactly one value wins and all see it.
    fn study_attr_or_insert(
        &mut self,
        study: i64,
        key: &str,
        value: &Value,
    ) -> Result<Value, StorageError>;

    /// A study attribute, if set.
    fn study_attr(&mut self, study: i64, key: &str) -> Result<Option<Value>, StorageError>;

    /// Every study attribute, by key.
    fn study_attrs(&mut self, study: i64) -> Result<BTreeMap<String, Value>, StorageError>;

    /// Creates the study `info.name` (its directions and creation time from `info`) holding
    /// `attrs` and `trials` exactly as given: numbers, states, values, seeds, times, workers,
    /// intermediate values and attributes. One transaction, so an interrupted copy leaves no
    /// study behind. [`StorageError::StudyExists`] if the name is taken; the trials must be
    /// numbered `0, 1, 2, …` ([`StorageError::Corrupt`] otherwise).
    fn import_study(
        &mut self,
        info: &StudyInfo,
        attrs: &BTreeMap<String, Value>,
        trials: &[Trial],
    ) -> Result<StudyInfo, StorageError>;

    /// Creates a RUNNING trial with the next free number, owned by `worker`.
    fn create_running(
        &mut self,
        study: i64,
        params: &Config,
        seed: Option<u64>,
        worker: &WorkerId,
    ) -> Result<Trial, StorageError>;

    /// Creates a RUNNING trial numbered `number` if that is still the next free number (no
    /// other worker took it since the caller looked) and, with a `cap`, if the study holds
    /// fewer than `cap` trials that count toward a budget ([`TrialState::counts_toward_budget`]).
    /// Both checks and the insert are one step, so workers sharing a trial budget never
    /// overshoot it. Lets a caller sample with the random stream of the number its trial
    /// will really get.
    fn try_create_running(
        &mut self,
        study: i64,
        number: u64,
        params: &Config,
        seed: Option<u64>,
        worker: &WorkerId,
        cap: Option<u64>,
    ) -> Result<Creation, StorageError>;

    /// Adds a WAITING trial with fixed parameters and, if given, the seed it runs with;
    /// returns its number.
    fn enqueue(
        &mut self,
        study: i64,
        params: &Config,
        seed: Option<u64>,
    ) -> Result<u64, StorageError>;

    /// Atomically claims the oldest WAITING trial for `worker` (it becomes RUNNING). With a
    /// `cap`, only while the study holds fewer than `cap` trials that count toward a budget
    /// (checked in the same step); `None` when there is nothing to claim or the cap is reached.
    fn claim_waiting(
        &mut self,
        study: i64,
        worker: &WorkerId,
        cap: Option<u64>,
    ) -> Result<Option<Trial>, StorageError>;

    /// Records an intermediate value vector at `step` of a running trial (replaces one at the
    /// same step).
    fn report_intermediate(
        &mut self,
        study: i64,
        number: u64,
        step: u64,
        values: &[f64],
    ) -> Result<(), StorageError>;

    /// Sets a trial attribute (JSON), replacing an earlier value.
    fn set_trial_attr(
        &mut self,
        study: i64,
        number: u64,
        key: &str,
        value: &Value,
    ) -> Result<(), StorageError>;

    /// Ends a running trial: `state` is COMPLETE (with `values`), PRUNED or FAIL (with
    /// `reason`). Fails with [`StorageError::NotRunning`] if the trial already ended.
    fn finish(&mut self, study: i64, number: u64, end: TrialEnd<'_>) -> Result<(), StorageError>;

    /// The study's trials in number order, optionally only those in `states`.
    fn trials(
        &mut self,
        study: i64,
        states: Option<&[TrialState]>,
    ) -> Result<Vec<Trial>, StorageError>;

    /// The trials numbered `from` or higher and those numbered in `also`, in number order:
    /// what a reader that holds trials `0..from` needs to catch up, when `also` lists the ones
    /// it holds that were not finished yet (finished trials never change).
    fn trials_catch_up(
        &mut self,
        study: i64,
        from: u64,
        also: &[u64],
    ) -> Result<Vec<Trial>, StorageError>;

    /// One trial.
    fn trial(&mut self, study: i64, number: u64) -> Result<Trial, StorageError>;

    /// Marks RUNNING trials whose worker process is gone ([`WorkerId::is_dead_local`]) as FAIL
    /// with a reason, and enqueues a WAITING copy of each so it is run again. Returns the numbers
    /// of the failed trials.
    fn recover_orphans(&mut self, study: i64) -> Result<Vec<u64>, StorageError>;

    /// Marks the RUNNING trials in `numbers` alive now (their `heartbeat_at`); trials no
    /// longer RUNNING are skipped. Reporting an intermediate value also counts as a beat.
    fn heartbeat(&mut self, study: i64, numbers: &[u64]) -> Result<(), StorageError>;

    /// Fails the RUNNING trials whose last heartbeat is older than `grace_s` seconds, on any
    /// host, and enqueues a WAITING copy of each (same parameters and seed), atomically, so
    /// that of several workers doing this at once exactly one reclaims each trial. Returns the
    /// numbers of the failed trials.
    fn recover_stale(&mut self, study: i64, grace_s: f64) -> Result<Vec<u64>, StorageError>;
}

/// What [`Storage::try_create_running`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum Creation {
    /// The trial was created, RUNNING.
    Created(Box<Trial>),
    /// Another worker took the number first: look again and retry.
    NumberTaken,
    /// The study already holds `cap` trials that count toward the budget.
    AtCap,
}

/// How a trial ended.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrialEnd<'a> {
    /// COMPLETE, PRUNED or FAIL.
    pub state: TrialState,
    /// Objective values (COMPLETE; optional for PRUNED).
    pub values: Option<&'a [f64]>,
    /// Constraint values, feasible when all ≤ 0.
    pub constraints: Option<&'a [f64]>,
    /// Why it failed (FAIL).
    pub reason: Option<&'a str>,
}

impl<'a> TrialEnd<'a> {
    /// A completed trial with objective values.
    pub fn complete(values: &'a [f64]) -> Self {
        TrialEnd {
            state: TrialState::Complete,
            values: Some(values),
            constraints: None,
            reason: None,
        }
    }

    /// A failed trial and why.
    pub fn fail(reason: &'a str) -> Self {
        TrialEnd {
            state: TrialState::Fail,
            values: None,
            constraints: None,
            reason: Some(reason),
        }
    }

    /// A pruned trial.
    pub fn pruned() -> Self {
        TrialEnd {
            state: TrialState::Pruned,
            values: None,
            constraints: None,
            reason: None,
        }
    }

    /// The same end with constraint values.
    pub fn with_constraints(mut self, constraints: &'a [f64]) -> Self {
        self.constraints = Some(constraints);
        self
    }
}
