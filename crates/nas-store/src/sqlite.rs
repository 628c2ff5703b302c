//! SQLite study storage: one database file that any number of worker processes share.
//!
//! # Durability
//! Every state change is one transaction. The database runs in WAL mode with
//! `synchronous=NORMAL`: a commit has been written to the write-ahead log when it returns, so a
//! process killed at any point (`kill -9` included) loses nothing it committed. Only an
//! operating-system crash or power cut can lose the last few commits (the file stays
//! consistent); `FULL` would close that gap with an `fsync` per commit, which every reported
//! epoch of every worker would pay for.
//!
//! # Concurrency
//! A `busy_timeout` of 10 s makes a writer wait for another process's lock instead of failing.
//! Every change that reads before it writes (allocating the next trial number, claiming a
//! WAITING trial, finishing a RUNNING one) runs in a `BEGIN IMMEDIATE` transaction, which takes
//! the write lock up front, so two workers never act on the same state.
//!
//! # Encoding
//! Parameters, values and attributes are JSON text. Floats are written in their shortest
//! round-trip form (`3.0` stays a float, `3` an integer) and read back bit for bit (serde_json
//! with `float_roundtrip`). JSON has no NaN or infinity: objective values, constraint values and
//! float parameters must be finite ([`StorageError::NonFinite`]); intermediate values may be
//! non-finite (a diverged loss) and are stored as the strings `"NaN"`, `"Infinity"` and
//! `"-Infinity"`. Trial numbers and steps are SQL BIGINTs; `u64` seeds are stored as the
//! signed 64-bit integer with the same bits.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use rusqlite::{
    params, Connection, OptionalExtension, Params, Row, ToSql, Transaction, TransactionBehavior,
};
use serde_json::Value;

use super::codec::{
    check_dense, check_end, decode_worker, encode_params, encode_values, interrupted_reason,
    merge_catch_up, parse_json, parse_state, to_json, u64_from_sql, u64_to_sql, Selection,
};
use super::rows::{load_queries, study_from_row, Columns, LoadedTrials, STUDY_COLUMNS};
use super::schema::MIGRATIONS;
use super::storage::{Creation, Storage, StorageError, StudyInfo, TrialEnd};
use super::trial::{unix_now, Direction, Trial, TrialState};
use super::worker::WorkerId;
use nas_space::Config;

/// How long a writer waits for another connection's lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

impl From<rusqlite::Error> for StorageError {
    fn from(e: rusqlite::Error) -> Self {
        StorageError::Database(e.to_string())
    }
}

/// Study storage in an SQLite database, safe to share between threads (one storage each) and
/// processes. See the [module docs](self) for durability and encoding.
#[derive(Debug)]
pub struct SqliteStorage {
    conn: Connection,
}

impl SqliteStorage {
    /// Opens the database file at `path`, creating the file and its schema if needed and
    /// migrating an older schema. The parent directory must exist.
    pub fn open(path: &Path) -> Result<Self, StorageError> {
        Self::init(Connection::open(path)?)
    }

    /// A private in-memory database, gone when dropped (tests, dry runs).
    pub fn in_memory() -> Result<Self, StorageError> {
        Self::init(Connection::open_in_memory()?)
    }

    fn init(conn: Connection) -> Result<Self, StorageError> {
        configure(&conn)?;
        let mut storage = SqliteStorage { conn };
        storage.migrate()?;
        Ok(storage)
    }

    /// Applies the migrations the database lacks, all in one transaction.
    fn migrate(&mut self) -> Result<(), StorageError> {
        let tx = self.write_tx()?;
        tx.execute_batch("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)")?;
        let current: Option<i64> =
            query_one(&tx, "SELECT MAX(version) FROM schema_version", [], |r| {
                r.get(0)
            })?;
        let current = current.unwrap_or(0);
        let pending = usize::try_from(current)
            .ok()
            .and_then(|v| MIGRATIONS.get(v..))
            .ok_or_else(|| {
                StorageError::Corrupt(format!(
                    "schema version {current} is not one this build knows (0 to {})",
                    MIGRATIONS.len()
                ))
            })?;
        for sql in pending {
            tx.execute_batch(sql)?;
        }
        if !pending.is_empty() {
            exec(&tx, "DELETE FROM schema_version", [])?;
            exec(
                &tx,
                "INSERT INTO schema_version (version) VALUES (?1)",
                [MIGRATIONS.len()],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// A transaction that holds the write lock from its start (`BEGIN IMMEDIATE`).
    fn write_tx(&mut self) -> Result<Transaction<'_>, StorageError> {
        Ok(self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?)
    }
}

/// Connection settings: lock waiting, WAL, durability and foreign keys.
fn configure(conn: &Connection) -> Result<(), StorageError> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    enable_wal(conn)?;
    // NORMAL: durable against process crashes in WAL mode (see the module docs).
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // Room for every statement of the hot paths (asks, tells, reports, loads) at once.
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}

/// Switches the database to WAL. SQLite does not call the busy handler for this pragma, so
/// when several processes open a new file at once the switch is retried here until
/// [`BUSY_TIMEOUT`].
fn enable_wal(conn: &Connection) -> Result<(), StorageError> {
    let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
    loop {
        // The pragma answers with the mode in force: `memory` for in-memory databases.
        let switched: rusqlite::Result<String> =
            conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0));
        match switched {
            Ok(_) => return Ok(()),
            Err(e) if is_busy(&e) && std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// Whether SQLite answered "database is locked" or "busy".
fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

impl Storage for SqliteStorage {
    fn open_study(
        &mut self,
        name: &str,
        directions: &[Direction],
    ) -> Result<StudyInfo, StorageError> {
        let tx = self.write_tx()?;
        let info = match study_by_name(&tx, name)? {
            Some(info) if info.directions != directions => {
                return Err(StorageError::DirectionMismatch {
                    study: name.to_string(),
                    stored: info.directions,
                    requested: directions.to_vec(),
                })
            }
            Some(info) => info,
            None => insert_study(&tx, name, directions)?,
        };
        tx.commit()?;
        Ok(info)
    }

    fn find_study(&mut self, name: &str) -> Result<Option<StudyInfo>, StorageError> {
        study_by_name(&self.conn, name)
    }

    fn list_studies(&mut self) -> Result<Vec<StudyInfo>, StorageError> {
        let mut studies = Vec::new();
        let sql = format!("SELECT {STUDY_COLUMNS} FROM studies ORDER BY id");
        for_each_row(&self.conn, &sql, &[], |row| {
            studies.push(study_from_row(row)?);
            Ok(())
        })?;
        Ok(studies)
    }

    fn set_study_attr(&mut self, study: i64, key: &str, value: &Value) -> Result<(), StorageError> {
        let tx = self.write_tx()?;
        study_by_id(&tx, study)?;
        exec(
            &tx,
            "INSERT INTO study_attrs (study_id, key, value_json) VALUES (?1, ?2, ?3)
             ON CONFLICT (study_id, key) DO UPDATE SET value_json = excluded.value_json",
            params![study, key, value.to_string()],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn study_attr_or_insert(
        &mut self,
        study: i64,
        key: &str,
        value: &Value,
    ) -> Result<Value, StorageError> {
        let tx = self.write_tx()?;
        study_by_id(&tx, study)?;
        exec(
            &tx,
            "INSERT INTO study_attrs (study_id, key, value_json) VALUES (?1, ?2, ?3)
             ON CONFLICT (study_id, key) DO NOTHING",
            params![study, key, value.to_string()],
        )?;
        let json: String = query_one(
            &tx,
            "SELECT value_json FROM study_attrs WHERE study_id = ?1 AND key = ?2",
            params![study, key],
            |row| row.get(0),
        )?;
        tx.commit()?;
        parse_json(&json, || format!("study attribute `{key}`"))
    }

    fn study_attr(&mut self, study: i64, key: &str) -> Result<Option<Value>, StorageError> {
        let json: Option<String> = query_one(
            &self.conn,
            "SELECT value_json FROM study_attrs WHERE study_id = ?1 AND key = ?2",
            params![study, key],
            |row| row.get(0),
        )
        .optional()?;
        match json {
            Some(json) => parse_json(&json, || format!("study attribute `{key}`")).map(Some),
            None => study_by_id(&self.conn, study).map(|_| None),
        }
    }

    fn study_attrs(&mut self, study: i64) -> Result<BTreeMap<String, Value>, StorageError> {
        let tx = self.conn.transaction()?;
        study_by_id(&tx, study)?;
        let mut attrs = BTreeMap::new();
        for_each_row(
            &tx,
            "SELECT key, value_json FROM study_attrs WHERE study_id = ?1",
            &[&study],
            |row| {
                let key: String = row.get(0)?;
                let value = parse_json(&row.get::<_, String>(1)?, || {
                    format!("study attribute `{key}`")
                })?;
                attrs.insert(key, value);
                Ok(())
            },
        )?;
        tx.commit()?;
        Ok(attrs)
    }

    fn import_study(
        &mut self,
        info: &StudyInfo,
        attrs: &BTreeMap<String, Value>,
        trials: &[Trial],
    ) -> Result<StudyInfo, StorageError> {
        check_dense(trials)?;
        let tx = self.write_tx()?;
        if study_by_name(&tx, &info.name)?.is_some() {
            return Err(StorageError::StudyExists(info.name.clone()));
        }
        exec(
            &tx,
            "INSERT INTO studies (name, directions, created_at) VALUES (?1, ?2, ?3)",
            params![
                info.name,
                to_json(&info.directions, "directions")?,
                info.created_at
            ],
        )?;
        let study = tx.last_insert_rowid();
        for (key, value) in attrs {
            exec(
                &tx,
                "INSERT INTO study_attrs (study_id, key, value_json) VALUES (?1, ?2, ?3)",
                params![study, key, value.to_string()],
            )?;
        }
        for trial in trials {
            import_trial(&tx, study, trial)?;
        }
        let imported = study_by_id(&tx, study)?;
        tx.commit()?;
        Ok(imported)
    }

    fn create_running(
        &mut self,
        study: i64,
        params: &Config,
        seed: Option<u64>,
        worker: &WorkerId,
    ) -> Result<Trial, StorageError> {
        let params_json = encode_params(params)?;
        let now = unix_now();
        let tx = self.write_tx()?;
        study_by_id(&tx, study)?;
        let (id, number) = insert_waiting(&tx, study, &params_json, seed)?;
        mark_running(&tx, id, worker, now)?;
        tx.commit()?;
        Ok(Trial {
            seed,
            started_at: Some(now),
            heartbeat_at: Some(now),
            worker: Some(worker.clone()),
            ..Trial::running(number, params.clone())
        })
    }

    fn try_create_running(
        &mut self,
        study: i64,
        number: u64,
        params: &Config,
        seed: Option<u64>,
        worker: &WorkerId,
        cap: Option<u64>,
    ) -> Result<Creation, StorageError> {
        let params_json = encode_params(params)?;
        let now = unix_now();
        let tx = self.write_tx()?;
        study_by_id(&tx, study)?;
        if next_number(&tx, study)? != number {
            return Ok(Creation::NumberTaken);
        }
        if at_cap(&tx, study, cap)? {
            return Ok(Creation::AtCap);
        }
        let (id, _) = insert_waiting(&tx, study, &params_json, seed)?;
        mark_running(&tx, id, worker, now)?;
        tx.commit()?;
        Ok(Creation::Created(Box::new(Trial {
            seed,
            started_at: Some(now),
            heartbeat_at: Some(now),
            worker: Some(worker.clone()),
            ..Trial::running(number, params.clone())
        })))
    }

    fn enqueue(&mut self, study: i64, params: &Config) -> Result<u64, StorageError> {
        let params_json = encode_params(params)?;
        let tx = self.write_tx()?;
        study_by_id(&tx, study)?;
        let (_, number) = insert_waiting(&tx, study, &params_json, None)?;
        tx.commit()?;
        Ok(number)
    }

    fn claim_waiting(
        &mut self,
        study: i64,
        worker: &WorkerId,
        cap: Option<u64>,
    ) -> Result<Option<Trial>, StorageError> {
        // Most asks find nothing queued: they learn it from one indexed read, without taking
        // the write lock. One queued since is claimed by the next ask.
        study_by_id(&self.conn, study)?;
        let queued: bool = query_one(
            &self.conn,
            "SELECT EXISTS (SELECT 1 FROM trials WHERE study_id = ?1 AND state = 'WAITING')",
            [study],
            |row| row.get(0),
        )?;
        if !queued {
            return Ok(None);
        }
        let tx = self.write_tx()?;
        if at_cap(&tx, study, cap)? {
            return Ok(None);
        }
        let oldest: Option<(i64, u64)> = query_one(
            &tx,
            "SELECT id, number FROM trials WHERE study_id = ?1 AND state = 'WAITING'
             ORDER BY number LIMIT 1",
            [study],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()?;
        let Some((id, number)) = oldest else {
            return Ok(None);
        };
        mark_running(&tx, id, worker, unix_now())?;
        let trial = load_trials(&tx, study, &Selection::One(number))?.pop();
        tx.commit()?;
        Ok(trial)
    }

    fn report_intermediate(
        &mut self,
        study: i64,
        number: u64,
        step: u64,
        values: &[f64],
    ) -> Result<(), StorageError> {
        let tx = self.write_tx()?;
        let info = study_by_id(&tx, study)?;
        let id = running_trial(&tx, &info, number)?;
        exec(
            &tx,
            "INSERT INTO trial_intermediate (trial_id, step, values_json) VALUES (?1, ?2, ?3)
             ON CONFLICT (trial_id, step) DO UPDATE SET values_json = excluded.values_json",
            params![id, step, encode_values(values)],
        )?;
        // A report is a sign of life.
        exec(
            &tx,
            "UPDATE trials SET heartbeat_at = ?2 WHERE id = ?1",
            params![id, unix_now()],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn set_trial_attr(
        &mut self,
        study: i64,
        number: u64,
        key: &str,
        value: &Value,
    ) -> Result<(), StorageError> {
        let tx = self.write_tx()?;
        let info = study_by_id(&tx, study)?;
        let (id, _) = trial_ref(&tx, &info, number)?;
        exec(
            &tx,
            "INSERT INTO trial_attrs (trial_id, key, value_json) VALUES (?1, ?2, ?3)
             ON CONFLICT (trial_id, key) DO UPDATE SET value_json = excluded.value_json",
            params![id, key, value.to_string()],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn finish(&mut self, study: i64, number: u64, end: TrialEnd<'_>) -> Result<(), StorageError> {
        let tx = self.write_tx()?;
        let info = study_by_id(&tx, study)?;
        let id = running_trial(&tx, &info, number)?;
        check_end(number, info.directions.len(), &end)?;
        exec(
            &tx,
            "UPDATE trials SET state = ?2, values_json = ?3, constraints_json = ?4,
                               fail_reason = ?5, finished_at = ?6
             WHERE id = ?1",
            params![
                id,
                end.state.as_str(),
                end.values.map(encode_values),
                end.constraints.map(encode_values),
                end.reason,
                unix_now(),
            ],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn trials(
        &mut self,
        study: i64,
        states: Option<&[TrialState]>,
    ) -> Result<Vec<Trial>, StorageError> {
        // A read transaction: the trials, their intermediate values and their attributes all
        // come from one snapshot.
        let tx = self.conn.transaction()?;
        study_by_id(&tx, study)?;
        if states.is_some_and(|s| s.is_empty()) {
            return Ok(Vec::new());
        }
        let trials = load_trials(&tx, study, &Selection::States(states))?;
        tx.commit()?;
        Ok(trials)
    }

    fn trials_catch_up(
        &mut self,
        study: i64,
        from: u64,
        also: &[u64],
    ) -> Result<Vec<Trial>, StorageError> {
        let tx = self.conn.transaction()?;
        study_by_id(&tx, study)?;
        let newer = load_trials(&tx, study, &Selection::From(from))?;
        let listed = match also {
            [] => Vec::new(),
            numbers => load_trials(&tx, study, &Selection::Numbers(numbers))?,
        };
        tx.commit()?;
        Ok(merge_catch_up(newer, listed))
    }

    fn trial(&mut self, study: i64, number: u64) -> Result<Trial, StorageError> {
        let tx = self.conn.transaction()?;
        let info = study_by_id(&tx, study)?;
        let trial = load_trials(&tx, study, &Selection::One(number))?.pop();
        tx.commit()?;
        trial.ok_or(StorageError::UnknownTrial {
            study: info.name,
            number,
        })
    }

    fn recover_orphans(&mut self, study: i64) -> Result<Vec<u64>, StorageError> {
        let tx = self.write_tx()?;
        study_by_id(&tx, study)?;
        let now = unix_now();
        let mut failed = Vec::new();
        for orphan in running_trials(&tx, study)? {
            if orphan.worker.is_dead_local() {
                fail_and_requeue(&tx, study, &orphan, now, "is gone")?;
                failed.push(orphan.number);
            }
        }
        tx.commit()?;
        Ok(failed)
    }

    fn heartbeat(&mut self, study: i64, numbers: &[u64]) -> Result<(), StorageError> {
        let tx = self.write_tx()?;
        study_by_id(&tx, study)?;
        let now = unix_now();
        for &number in numbers {
            exec(
                &tx,
                "UPDATE trials SET heartbeat_at = ?3
                 WHERE study_id = ?1 AND number = ?2 AND state = 'RUNNING'",
                params![study, number, now],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    fn recover_stale(&mut self, study: i64, grace_s: f64) -> Result<Vec<u64>, StorageError> {
        let tx = self.write_tx()?;
        study_by_id(&tx, study)?;
        let now = unix_now();
        let stale: Vec<u64> = {
            let mut numbers = Vec::new();
            for_each_row(
                &tx,
                "SELECT number FROM trials WHERE study_id = ?1 AND state = 'RUNNING'
                 AND heartbeat_at IS NOT NULL AND heartbeat_at < ?2",
                &[&study, &(now - grace_s)],
                |row| {
                    numbers.push(row.get(0)?);
                    Ok(())
                },
            )?;
            numbers
        };
        let running = running_trials(&tx, study)?;
        for orphan in running.iter().filter(|t| stale.contains(&t.number)) {
            let why = format!("sent no heartbeat for more than {grace_s} s");
            fail_and_requeue(&tx, study, orphan, now, &why)?;
        }
        tx.commit()?;
        Ok(stale)
    }
}

// ------------------------------------------------------------------------------- studies

fn study_by_name(conn: &Connection, name: &str) -> Result<Option<StudyInfo>, StorageError> {
    let sql = format!("SELECT {STUDY_COLUMNS} FROM studies WHERE name = ?1");
    query_one(conn, &sql, [name], |row| Ok(study_from_row(row)))
        .optional()?
        .transpose()
}

/// The study with this id, or [`StorageError::UnknownStudyId`].
fn study_by_id(conn: &Connection, id: i64) -> Result<StudyInfo, StorageError> {
    let sql = format!("SELECT {STUDY_COLUMNS} FROM studies WHERE id = ?1");
    query_one(conn, &sql, [id], |row| Ok(study_from_row(row)))
        .optional()?
        .transpose()?
        .ok_or(StorageError::UnknownStudyId(id))
}

fn insert_study(
    conn: &Connection,
    name: &str,
    directions: &[Direction],
) -> Result<StudyInfo, StorageError> {
    let created_at = unix_now();
    exec(
        conn,
        "INSERT INTO studies (name, directions, created_at) VALUES (?1, ?2, ?3)",
        params![name, to_json(directions, "directions")?, created_at],
    )?;
    Ok(StudyInfo {
        id: conn.last_insert_rowid(),
        name: name.to_string(),
        directions: directions.to_vec(),
        created_at,
    })
}

// ------------------------------------------------------------------------ trial changes

/// Inserts a WAITING trial with the study's next free number; returns its row id and number.
/// Must run inside a write transaction, which makes `MAX + 1` safe.
/// The number the study's next trial gets.
fn next_number(conn: &Connection, study: i64) -> Result<u64, StorageError> {
    Ok(query_one(
        conn,
        "SELECT COALESCE(MAX(number) + 1, 0) FROM trials WHERE study_id = ?1",
        [study],
        |row| row.get(0),
    )?)
}

/// Inserts `trial` as it is into `study` (see [`Storage::import_study`]).
fn import_trial(conn: &Connection, study: i64, trial: &Trial) -> Result<(), StorageError> {
    let worker = trial.worker.as_ref();
    exec(
        conn,
        "INSERT INTO trials (study_id, number, state, params_json, values_json,
                             constraints_json, fail_reason, seed, started_at, finished_at,
                             heartbeat_at, worker_host, worker_pid, worker_started)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
        params![
            study,
            trial.number,
            trial.state.as_str(),
            encode_params(&trial.params)?,
            trial.values.as_deref().map(encode_values),
            trial.constraints.as_deref().map(encode_values),
            trial.fail_reason,
            trial.seed.map(u64_to_sql),
            trial.started_at,
            trial.finished_at,
            trial.heartbeat_at,
            worker.map(|w| &w.host),
            worker.map(|w| w.pid),
            worker.and_then(|w| w.started).map(u64_to_sql),
        ],
    )?;
    let id = conn.last_insert_rowid();
    for (step, values) in &trial.intermediate {
        exec(
            conn,
            "INSERT INTO trial_intermediate (trial_id, step, values_json) VALUES (?1, ?2, ?3)",
            params![id, step, encode_values(values)],
        )?;
    }
    for (key, value) in &trial.attrs {
        exec(
            conn,
            "INSERT INTO trial_attrs (trial_id, key, value_json) VALUES (?1, ?2, ?3)",
            params![id, key, value.to_string()],
        )?;
    }
    Ok(())
}

/// Whether the study holds `cap` or more trials that count toward a budget (never without a
/// cap).
fn at_cap(conn: &Connection, study: i64, cap: Option<u64>) -> Result<bool, StorageError> {
    let Some(cap) = cap else {
        return Ok(false);
    };
    let counted: u64 = query_one(
        conn,
        "SELECT COUNT(*) FROM trials
         WHERE study_id = ?1 AND state IN ('RUNNING', 'COMPLETE', 'PRUNED')",
        [study],
        |row| row.get(0),
    )?;
    Ok(counted >= cap)
}

fn insert_waiting(
    conn: &Connection,
    study: i64,
    params_json: &str,
    seed: Option<u64>,
) -> Result<(i64, u64), StorageError> {
    let number = next_number(conn, study)?;
    exec(
        conn,
        "INSERT INTO trials (study_id, number, state, params_json, seed)
         VALUES (?1, ?2, 'WAITING', ?3, ?4)",
        params![study, number, params_json, seed.map(u64_to_sql)],
    )?;
    Ok((conn.last_insert_rowid(), number))
}

/// Makes trial `id` RUNNING on `worker`, started now.
fn mark_running(
    conn: &Connection,
    id: i64,
    worker: &WorkerId,
    now: f64,
) -> Result<(), StorageError> {
    exec(
        conn,
        "UPDATE trials SET state = 'RUNNING', started_at = ?2, heartbeat_at = ?2,
                           worker_host = ?3, worker_pid = ?4, worker_started = ?5
         WHERE id = ?1",
        params![
            id,
            now,
            worker.host,
            worker.pid,
            worker.started.map(u64_to_sql)
        ],
    )?;
    Ok(())
}

/// The row id and state of trial `number`, or [`StorageError::UnknownTrial`].
fn trial_ref(
    conn: &Connection,
    study: &StudyInfo,
    number: u64,
) -> Result<(i64, TrialState), StorageError> {
    let row: Option<(i64, String)> = query_one(
        conn,
        "SELECT id, state FROM trials WHERE study_id = ?1 AND number = ?2",
        params![study.id, number],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )
    .optional()?;
    let (id, state) = row.ok_or_else(|| StorageError::UnknownTrial {
        study: study.name.clone(),
        number,
    })?;
    Ok((id, parse_state(&state, number)?))
}

/// The row id of trial `number` if it is RUNNING, else [`StorageError::NotRunning`].
fn running_trial(conn: &Connection, study: &StudyInfo, number: u64) -> Result<i64, StorageError> {
    match trial_ref(conn, study, number)? {
        (id, TrialState::Running) => Ok(id),
        (_, state) => Err(StorageError::NotRunning { number, state }),
    }
}

/// A RUNNING trial and the worker that claimed it.
struct Claimed {
    id: i64,
    number: u64,
    params_json: String,
    seed: Option<u64>,
    worker: WorkerId,
}

/// The study's RUNNING trials that record their worker.
fn running_trials(conn: &Connection, study: i64) -> Result<Vec<Claimed>, StorageError> {
    let mut running = Vec::new();
    let sql = "SELECT id, number, params_json, seed, worker_host, worker_pid, worker_started
               FROM trials
               WHERE study_id = ?1 AND state = 'RUNNING'
                     AND worker_host IS NOT NULL AND worker_pid IS NOT NULL
               ORDER BY number";
    for_each_row(conn, sql, &[&study], |row| {
        let number = row.get(1)?;
        let worker = decode_worker(number, row.get(4)?, row.get(5)?, row.get(6)?)?;
        running.push(Claimed {
            id: row.get(0)?,
            number,
            params_json: row.get(2)?,
            seed: row.get::<_, Option<i64>>(3)?.map(u64_from_sql),
            // Selected with `worker_host IS NOT NULL`.
            worker: worker.ok_or_else(|| {
                StorageError::Corrupt(format!("running trial {number} has no worker"))
            })?,
        });
        Ok(())
    })?;
    Ok(running)
}

/// Fails an interrupted trial and enqueues a WAITING copy with the same parameters and seed;
/// `why` says what happened to its worker (`is gone`).
fn fail_and_requeue(
    conn: &Connection,
    study: i64,
    orphan: &Claimed,
    now: f64,
    why: &str,
) -> Result<(), StorageError> {
    let (_, copy) = insert_waiting(conn, study, &orphan.params_json, orphan.seed)?;
    let reason = interrupted_reason(&orphan.worker, why, copy);
    exec(
        conn,
        "UPDATE trials SET state = 'FAIL', fail_reason = ?2, finished_at = ?3 WHERE id = ?1",
        params![orphan.id, reason, now],
    )?;
    Ok(())
}

// -------------------------------------------------------------------------- trial loads

impl Selection<'_> {
    /// A condition on `trials t`; `?1` is the study id and `?2` the trial number.
    fn condition(&self) -> String {
        match self {
            Selection::States(None) => "t.study_id = ?1".to_string(),
            Selection::States(Some(states)) => {
                // Inlined: the names are our own constants, never user text.
                let names: Vec<String> =
                    states.iter().map(|s| format!("'{}'", s.as_str())).collect();
                format!("t.study_id = ?1 AND t.state IN ({})", names.join(", "))
            }
            Selection::One(_) => "t.study_id = ?1 AND t.number = ?2".to_string(),
            Selection::From(_) => "t.study_id = ?1 AND t.number >= ?2".to_string(),
            Selection::Numbers(numbers) => {
                // Inlined: trial numbers are integers, never user text.
                let numbers: Vec<String> = numbers.iter().map(u64::to_string).collect();
                format!("t.study_id = ?1 AND t.number IN ({})", numbers.join(", "))
            }
        }
    }
}

/// Loads the selected trials in number order with their intermediate values and attributes:
/// three queries, whatever the number of trials.
fn load_trials(
    conn: &Connection,
    study: i64,
    selection: &Selection<'_>,
) -> Result<Vec<Trial>, StorageError> {
    let args: Vec<&dyn ToSql> = match selection {
        Selection::One(number) | Selection::From(number) => vec![&study, number],
        Selection::States(_) | Selection::Numbers(_) => vec![&study],
    };
    let [trials, intermediate, attrs] = load_queries(&selection.condition());
    let mut loaded = LoadedTrials::default();
    for_each_row(conn, &trials, &args, |row| loaded.add_trial(row))?;
    for_each_row(conn, &intermediate, &args, |row| {
        loaded.add_intermediate(row)
    })?;
    for_each_row(conn, &attrs, &args, |row| loaded.add_attr(row))?;
    Ok(loaded.into_trials())
}

impl Columns for Row<'_> {
    fn int(&self, index: usize) -> Result<i64, StorageError> {
        Ok(self.get(index)?)
    }
    fn opt_int(&self, index: usize) -> Result<Option<i64>, StorageError> {
        Ok(self.get(index)?)
    }
    fn real(&self, index: usize) -> Result<f64, StorageError> {
        Ok(self.get(index)?)
    }
    fn opt_real(&self, index: usize) -> Result<Option<f64>, StorageError> {
        Ok(self.get(index)?)
    }
    fn text(&self, index: usize) -> Result<String, StorageError> {
        Ok(self.get(index)?)
    }
    fn opt_text(&self, index: usize) -> Result<Option<String>, StorageError> {
        Ok(self.get(index)?)
    }
}

/// Runs a statement that changes rows, through the connection's statement cache: an ask or a
/// tell runs a handful of statements, and parsing each anew cost more than running it.
fn exec(conn: &Connection, sql: &str, args: impl Params) -> rusqlite::Result<usize> {
    conn.prepare_cached(sql)?.execute(args)
}

/// The first row of a query, through the connection's statement cache (see [`exec`]).
fn query_one<T>(
    conn: &Connection,
    sql: &str,
    args: impl Params,
    f: impl FnOnce(&Row<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    conn.prepare_cached(sql)?.query_row(args, f)
}

/// Runs `sql` and hands every row to `f`.
fn for_each_row(
    conn: &Connection,
    sql: &str,
    args: &[&dyn ToSql],
    mut f: impl FnMut(&Row<'_>) -> Result<(), StorageError>,
) -> Result<(), StorageError> {
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query(args)?;
    while let Some(row) = rows.next()? {
        f(row)?;
    }
    Ok(())
}
