//! PostgreSQL study storage: one database that worker processes on many hosts share.
//!
//! The tables, columns and JSON text are those of the SQLite storage (see its module docs for
//! the encoding), so a study holds byte-for-byte the same data in either backend. The schema is
//! versioned by the same `schema_version` table and list of migrations.
//!
//! # Concurrency
//! Every state change is one transaction at PostgreSQL's default READ COMMITTED level, where
//! each statement sees what was committed before it started; row locks make the
//! read-then-write steps safe across connections:
//!
//! - **Migrations** take `pg_advisory_xact_lock` first, so processes connecting to a new
//!   database at once apply the schema one after another (the later ones find it done).
//! - **New trials** (`create_running`, `try_create_running`, `enqueue`, and the WAITING copies
//!   of the recovery methods) lock the study's row (`SELECT … FOR UPDATE`) before reading
//!   `MAX(number) + 1`: numbers stay unique and dense; `UNIQUE (study_id, number)` backs it up.
//! - **Claiming** locks the oldest WAITING trial with `FOR UPDATE SKIP LOCKED`: two workers
//!   never get the same trial, and neither waits for the other.
//! - **Trial budgets** (`cap` of `try_create_running` and `claim_waiting`): the count of
//!   running and finished trials is taken under the study lock, which every transaction that
//!   can add a budgeted trial holds, so N workers sharing `--trials` never overshoot it.
//! - **Finishing, reporting and heartbeats** lock the trial's row (`FOR UPDATE`) and check it
//!   is still RUNNING, so a trial ends exactly once.
//! - **Recovery** (`recover_orphans`, `recover_stale`) locks the study row, then its candidate
//!   trials `FOR UPDATE SKIP LOCKED`; a candidate another worker reclaimed meanwhile is seen
//!   as FAIL and skipped, so each trial is reclaimed exactly once. Locks are always taken
//!   study first, then trials.
//! - **Reads of trials** (`trials`, `trials_catch_up`, `trial`) run their three queries in one
//!   REPEATABLE READ, read-only transaction: one snapshot.
//!
//! Only unencrypted connections (`NoTls`) are supported.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use postgres::types::{FromSql, ToSql};
use postgres::{Client, IsolationLevel, NoTls, Row, Statement, Transaction};
use serde_json::Value;

use super::codec::{
    check_dense, check_end, decode_worker, encode_params, encode_values, interrupted_reason,
    merge_catch_up, parse_json, parse_state, to_json, u64_from_sql, u64_to_sql, Selection,
};
use super::rows::{load_queries, study_from_row, Columns, LoadedTrials, STUDY_COLUMNS};
use super::schema::{for_postgres, MIGRATIONS};
use super::storage::{Creation, Storage, StorageError, StudyInfo, TrialEnd};
use super::trial::{unix_now, Direction, Trial, TrialState};
use super::worker::WorkerId;
use nas_space::Config;

/// Key of the advisory lock that serialises migrations (the ASCII of `nas_schm`).
const MIGRATION_LOCK: i64 = 0x6e61_735f_7363_686d;

impl From<postgres::Error> for StorageError {
    fn from(e: postgres::Error) -> Self {
        StorageError::Database(error_chain(&e))
    }
}

/// An error and its causes (the server's message included), joined by `: `.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut message = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

/// `url` with the password of its user part (`user:secret@`) or a `password=` setting
/// replaced by `***`, for error messages.
pub fn redact_url(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(authority_end);
        if let Some((user_info, host)) = authority.rsplit_once('@') {
            if let Some((user, _)) = user_info.split_once(':') {
                return format!("{scheme}://{user}:***@{host}{tail}");
            }
        }
        return url.to_string();
    }
    url.split_whitespace()
        .map(|part| match part.split_once('=') {
            Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
            _ => part.to_string(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A transaction whose statements are prepared once per connection and reused: a statement
/// then costs one round trip to the server instead of two (prepare, then run).
struct Tx<'a> {
    tx: Transaction<'a>,
    statements: &'a mut HashMap<String, Statement>,
}

/// Statement parameters.
type Params<'p> = [&'p (dyn ToSql + Sync)];

impl Tx<'_> {
    /// The prepared form of `sql`, preparing it on first use. Prepared statements outlive the
    /// transaction (they belong to the session, and a rollback keeps them).
    fn prepared(&mut self, sql: &str) -> Result<Statement, StorageError> {
        if let Some(statement) = self.statements.get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.tx.prepare(sql)?;
        self.statements.insert(sql.to_owned(), statement.clone());
        Ok(statement)
    }

    /// Runs `sql`, returning its rows.
    fn query(&mut self, sql: &str, params: &Params<'_>) -> Result<Vec<Row>, StorageError> {
        let statement = self.prepared(sql)?;
        Ok(self.tx.query(&statement, params)?)
    }

    /// Runs `sql`, which returns exactly one row.
    fn query_one(&mut self, sql: &str, params: &Params<'_>) -> Result<Row, StorageError> {
        let statement = self.prepared(sql)?;
        Ok(self.tx.query_one(&statement, params)?)
    }

    /// Runs `sql`, which returns at most one row.
    fn query_opt(&mut self, sql: &str, params: &Params<'_>) -> Result<Option<Row>, StorageError> {
        let statement = self.prepared(sql)?;
        Ok(self.tx.query_opt(&statement, params)?)
    }

    /// Runs `sql`; returns the number of rows it changed.
    fn execute(&mut self, sql: &str, params: &Params<'_>) -> Result<u64, StorageError> {
        let statement = self.prepared(sql)?;
        Ok(self.tx.execute(&statement, params)?)
    }

    /// Commits the transaction.
    fn commit(self) -> Result<(), StorageError> {
        Ok(self.tx.commit()?)
    }
}

/// Study storage in a PostgreSQL database, one connection per storage; safe to share a study
/// between threads (one storage each), processes and hosts. See the [module docs](self) for
/// the locking.
pub struct PostgresStorage {
    client: Client,
    /// This connection's prepared statements, by SQL text (see [`Tx`]).
    statements: HashMap<String, Statement>,
    /// The connection URL without its password.
    url: String,
}

impl fmt::Debug for PostgresStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresStorage")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl PostgresStorage {
    /// Connects (without TLS) to the database at `url`, e.g.
    /// `postgres://nas:secret@db-host:5432/nas`, creating the schema if needed and migrating an
    /// older one. Errors name the URL without its password.
    pub fn connect(url: &str) -> Result<Self, StorageError> {
        let redacted = redact_url(url);
        let client = Client::connect(url, NoTls).map_err(|e| {
            StorageError::Database(format!("cannot connect to {redacted}: {}", error_chain(&e)))
        })?;
        let mut storage = PostgresStorage {
            client,
            statements: HashMap::new(),
            url: redacted,
        };
        storage.migrate()?;
        Ok(storage)
    }

    /// Applies the migrations the database lacks, all in one transaction that holds the
    /// migration lock.
    fn migrate(&mut self) -> Result<(), StorageError> {
        let mut tx = self.client.transaction()?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
        tx.batch_execute("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)")?;
        let current: Option<i64> = get(
            &tx.query_one("SELECT MAX(version) FROM schema_version", &[])?,
            0,
        )?;
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
            tx.batch_execute(&for_postgres(sql))?;
        }
        if !pending.is_empty() {
            let version = MIGRATIONS.len() as i64;
            tx.execute("DELETE FROM schema_version", &[])?;
            tx.execute(
                "INSERT INTO schema_version (version) VALUES ($1)",
                &[&version],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// A transaction at PostgreSQL's default level (READ COMMITTED).
    fn begin(&mut self) -> Result<Tx<'_>, StorageError> {
        Ok(Tx {
            tx: self.client.transaction()?,
            statements: &mut self.statements,
        })
    }

    /// A REPEATABLE READ, read-only transaction: its queries see one snapshot.
    fn snapshot(&mut self) -> Result<Tx<'_>, StorageError> {
        let tx = self
            .client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()?;
        Ok(Tx {
            tx,
            statements: &mut self.statements,
        })
    }

    /// Inserts a RUNNING trial for `worker` (the caller holds the study lock); returns it.
    fn insert_running(
        tx: &mut Tx<'_>,
        study: i64,
        params: &Config,
        params_json: &str,
        seed: Option<u64>,
        worker: &WorkerId,
    ) -> Result<Trial, StorageError> {
        let now = unix_now();
        let (id, number) = insert_waiting(tx, study, params_json, seed)?;
        mark_running(tx, id, worker, now)?;
        Ok(Trial {
            seed,
            started_at: Some(now),
            heartbeat_at: Some(now),
            worker: Some(worker.clone()),
            ..Trial::running(number, params.clone())
        })
    }
}

impl Storage for PostgresStorage {
    fn open_study(
        &mut self,
        name: &str,
        directions: &[Direction],
    ) -> Result<StudyInfo, StorageError> {
        let mut tx = self.begin()?;
        let info = match study_by_name(&mut tx, name)? {
            Some(info) => info,
            None => insert_study(&mut tx, name, directions)?,
        };
        tx.commit()?;
        if info.directions != directions {
            return Err(StorageError::DirectionMismatch {
                study: name.to_string(),
                stored: info.directions,
                requested: directions.to_vec(),
            });
        }
        Ok(info)
    }

    fn find_study(&mut self, name: &str) -> Result<Option<StudyInfo>, StorageError> {
        let mut tx = self.begin()?;
        let info = study_by_name(&mut tx, name)?;
        tx.commit()?;
        Ok(info)
    }

    fn list_studies(&mut self) -> Result<Vec<StudyInfo>, StorageError> {
        let sql = format!("SELECT {STUDY_COLUMNS} FROM studies ORDER BY id");
        let mut tx = self.begin()?;
        let rows = tx.query(&sql, &[])?;
        tx.commit()?;
        rows.iter().map(|row| study_from_row(row)).collect()
    }

    fn set_study_attr(&mut self, study: i64, key: &str, value: &Value) -> Result<(), StorageError> {
        let mut tx = self.begin()?;
        study_by_id(&mut tx, study)?;
        tx.execute(
            "INSERT INTO study_attrs (study_id, key, value_json) VALUES ($1, $2, $3)
             ON CONFLICT (study_id, key) DO UPDATE SET value_json = excluded.value_json",
            &[&study, &key, &value.to_string()],
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
        let mut tx = self.begin()?;
        study_by_id(&mut tx, study)?;
        tx.execute(
            "INSERT INTO study_attrs (study_id, key, value_json) VALUES ($1, $2, $3)
             ON CONFLICT (study_id, key) DO NOTHING",
            &[&study, &key, &value.to_string()],
        )?;
        let row = tx.query_one(
            "SELECT value_json FROM study_attrs WHERE study_id = $1 AND key = $2",
            &[&study, &key],
        )?;
        let json: String = get(&row, 0)?;
        tx.commit()?;
        parse_json(&json, || format!("study attribute `{key}`"))
    }

    fn study_attr(&mut self, study: i64, key: &str) -> Result<Option<Value>, StorageError> {
        let mut tx = self.begin()?;
        study_by_id(&mut tx, study)?;
        let row = tx.query_opt(
            "SELECT value_json FROM study_attrs WHERE study_id = $1 AND key = $2",
            &[&study, &key],
        )?;
        tx.commit()?;
        let Some(row) = row else { return Ok(None) };
        let json: String = get(&row, 0)?;
        parse_json(&json, || format!("study attribute `{key}`")).map(Some)
    }

    fn study_attrs(&mut self, study: i64) -> Result<BTreeMap<String, Value>, StorageError> {
        let mut tx = self.begin()?;
        study_by_id(&mut tx, study)?;
        let rows = tx.query(
            "SELECT key, value_json FROM study_attrs WHERE study_id = $1",
            &[&study],
        )?;
        tx.commit()?;
        rows.iter()
            .map(|row| {
                let key: String = get(row, 0)?;
                let value = parse_json(&get::<String>(row, 1)?, || {
                    format!("study attribute `{key}`")
                })?;
                Ok((key, value))
            })
            .collect()
    }

    fn import_study(
        &mut self,
        info: &StudyInfo,
        attrs: &BTreeMap<String, Value>,
        trials: &[Trial],
    ) -> Result<StudyInfo, StorageError> {
        check_dense(trials)?;
        let mut tx = self.begin()?;
        let inserted = tx.query_opt(
            "INSERT INTO studies (name, directions, created_at) VALUES ($1, $2, $3)
             ON CONFLICT (name) DO NOTHING RETURNING id",
            &[
                &info.name,
                &to_json(&info.directions, "directions")?,
                &info.created_at,
            ],
        )?;
        let Some(row) = inserted else {
            return Err(StorageError::StudyExists(info.name.clone()));
        };
        let study: i64 = get(&row, 0)?;
        for (key, value) in attrs {
            tx.execute(
                "INSERT INTO study_attrs (study_id, key, value_json) VALUES ($1, $2, $3)",
                &[&study, key, &value.to_string()],
            )?;
        }
        for trial in trials {
            import_trial(&mut tx, study, trial)?;
        }
        let imported = study_by_id(&mut tx, study)?;
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
        let mut tx = self.begin()?;
        lock_study(&mut tx, study)?;
        let trial = Self::insert_running(&mut tx, study, params, &params_json, seed, worker)?;
        tx.commit()?;
        Ok(trial)
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
        let mut tx = self.begin()?;
        lock_study(&mut tx, study)?;
        if next_number(&mut tx, study)? != number {
            return Ok(Creation::NumberTaken);
        }
        if at_cap(&mut tx, study, cap)? {
            return Ok(Creation::AtCap);
        }
        let trial = Self::insert_running(&mut tx, study, params, &params_json, seed, worker)?;
        tx.commit()?;
        Ok(Creation::Created(Box::new(trial)))
    }

    fn enqueue(&mut self, study: i64, params: &Config) -> Result<u64, StorageError> {
        let params_json = encode_params(params)?;
        let mut tx = self.begin()?;
        lock_study(&mut tx, study)?;
        let (_, number) = insert_waiting(&mut tx, study, &params_json, None)?;
        tx.commit()?;
        Ok(number)
    }

    fn claim_waiting(
        &mut self,
        study: i64,
        worker: &WorkerId,
        cap: Option<u64>,
    ) -> Result<Option<Trial>, StorageError> {
        let mut tx = self.begin()?;
        if cap.is_some() {
            // The count and the claim must be one step against other workers' creations
            // and claims, which (with a cap) all hold the study lock.
            lock_study(&mut tx, study)?;
        } else {
            study_by_id(&mut tx, study)?;
        }
        if at_cap(&mut tx, study, cap)? {
            return Ok(None);
        }
        let oldest = tx.query_opt(
            "SELECT id, number FROM trials WHERE study_id = $1 AND state = 'WAITING'
             ORDER BY number LIMIT 1 FOR UPDATE SKIP LOCKED",
            &[&study],
        )?;
        let Some(row) = oldest else {
            return Ok(None);
        };
        let (id, number): (i64, i64) = (get(&row, 0)?, get(&row, 1)?);
        mark_running(&mut tx, id, worker, unix_now())?;
        let selection = Selection::One(u64_from_sql(number));
        let trial = load_trials(&mut tx, study, &selection)?.pop();
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
        let mut tx = self.begin()?;
        let info = study_by_id(&mut tx, study)?;
        let id = running_trial(&mut tx, &info, number)?;
        tx.execute(
            "INSERT INTO trial_intermediate (trial_id, step, values_json) VALUES ($1, $2, $3)
             ON CONFLICT (trial_id, step) DO UPDATE SET values_json = excluded.values_json",
            &[&id, &u64_to_sql(step), &encode_values(values)],
        )?;
        // A report is a sign of life.
        tx.execute(
            "UPDATE trials SET heartbeat_at = $2 WHERE id = $1",
            &[&id, &unix_now()],
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
        let mut tx = self.begin()?;
        let info = study_by_id(&mut tx, study)?;
        let (id, _) = trial_ref(&mut tx, &info, number, "")?;
        tx.execute(
            "INSERT INTO trial_attrs (trial_id, key, value_json) VALUES ($1, $2, $3)
             ON CONFLICT (trial_id, key) DO UPDATE SET value_json = excluded.value_json",
            &[&id, &key, &value.to_string()],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn finish(&mut self, study: i64, number: u64, end: TrialEnd<'_>) -> Result<(), StorageError> {
        let mut tx = self.begin()?;
        let info = study_by_id(&mut tx, study)?;
        let id = running_trial(&mut tx, &info, number)?;
        check_end(number, info.directions.len(), &end)?;
        tx.execute(
            "UPDATE trials SET state = $2, values_json = $3, constraints_json = $4,
                               fail_reason = $5, finished_at = $6
             WHERE id = $1",
            &[
                &id,
                &end.state.as_str(),
                &end.values.map(encode_values),
                &end.constraints.map(encode_values),
                &end.reason,
                &unix_now(),
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
        let mut tx = self.snapshot()?;
        study_by_id(&mut tx, study)?;
        if states.is_some_and(|s| s.is_empty()) {
            return Ok(Vec::new());
        }
        let trials = load_trials(&mut tx, study, &Selection::States(states))?;
        tx.commit()?;
        Ok(trials)
    }

    fn trials_catch_up(
        &mut self,
        study: i64,
        from: u64,
        also: &[u64],
    ) -> Result<Vec<Trial>, StorageError> {
        let mut tx = self.snapshot()?;
        study_by_id(&mut tx, study)?;
        let newer = load_trials(&mut tx, study, &Selection::From(from))?;
        let listed = match also {
            [] => Vec::new(),
            numbers => load_trials(&mut tx, study, &Selection::Numbers(numbers))?,
        };
        tx.commit()?;
        Ok(merge_catch_up(newer, listed))
    }

    fn trial(&mut self, study: i64, number: u64) -> Result<Trial, StorageError> {
        let mut tx = self.snapshot()?;
        let info = study_by_id(&mut tx, study)?;
        let trial = load_trials(&mut tx, study, &Selection::One(number))?.pop();
        tx.commit()?;
        trial.ok_or(StorageError::UnknownTrial {
            study: info.name,
            number,
        })
    }

    fn recover_orphans(&mut self, study: i64) -> Result<Vec<u64>, StorageError> {
        let mut tx = self.begin()?;
        lock_study(&mut tx, study)?;
        let now = unix_now();
        let mut failed = Vec::new();
        for orphan in lock_running(&mut tx, study, None)? {
            if orphan.worker.is_dead_local() {
                fail_and_requeue(&mut tx, study, &orphan, now, "is gone")?;
                failed.push(orphan.number);
            }
        }
        tx.commit()?;
        Ok(failed)
    }

    fn heartbeat(&mut self, study: i64, numbers: &[u64]) -> Result<(), StorageError> {
        let numbers: Vec<i64> = numbers.iter().map(|&n| u64_to_sql(n)).collect();
        let mut tx = self.begin()?;
        study_by_id(&mut tx, study)?;
        // Locked in number order, so two beats of overlapping sets cannot deadlock.
        let ids: Vec<i64> = tx
            .query(
                "SELECT id FROM trials
                 WHERE study_id = $1 AND number = ANY($2) AND state = 'RUNNING'
                 ORDER BY number FOR UPDATE",
                &[&study, &numbers],
            )?
            .iter()
            .map(|row| get(row, 0))
            .collect::<Result<_, _>>()?;
        tx.execute(
            "UPDATE trials SET heartbeat_at = $2 WHERE id = ANY($1)",
            &[&ids, &unix_now()],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn recover_stale(&mut self, study: i64, grace_s: f64) -> Result<Vec<u64>, StorageError> {
        let mut tx = self.begin()?;
        lock_study(&mut tx, study)?;
        let now = unix_now();
        let why = format!("sent no heartbeat for more than {grace_s} s");
        let mut failed = Vec::new();
        for orphan in lock_running(&mut tx, study, Some(now - grace_s))? {
            fail_and_requeue(&mut tx, study, &orphan, now, &why)?;
            failed.push(orphan.number);
        }
        tx.commit()?;
        Ok(failed)
    }
}

// ---------------------------------------------------------------------------- row access

/// Column `index` of `row`, a [`StorageError`] if it has another type.
fn get<'a, T: FromSql<'a>>(row: &'a Row, index: usize) -> Result<T, StorageError> {
    Ok(row.try_get(index)?)
}

/// A trial number column.
fn get_number(row: &Row, index: usize) -> Result<u64, StorageError> {
    get::<i64>(row, index).map(u64_from_sql)
}

// ------------------------------------------------------------------------------- studies

fn study_by_name(tx: &mut Tx<'_>, name: &str) -> Result<Option<StudyInfo>, StorageError> {
    let sql = format!("SELECT {STUDY_COLUMNS} FROM studies WHERE name = $1");
    tx.query_opt(&sql, &[&name])?
        .as_ref()
        .map(|row| study_from_row(row))
        .transpose()
}

/// The study with this id, or [`StorageError::UnknownStudyId`].
fn study_by_id(tx: &mut Tx<'_>, id: i64) -> Result<StudyInfo, StorageError> {
    let sql = format!("SELECT {STUDY_COLUMNS} FROM studies WHERE id = $1");
    tx.query_opt(&sql, &[&id])?
        .as_ref()
        .map(|row| study_from_row(row))
        .transpose()?
        .ok_or(StorageError::UnknownStudyId(id))
}

/// Locks the study's row until the transaction ends: the lock every transaction that adds
/// trials takes first. [`StorageError::UnknownStudyId`] if there is no such study.
fn lock_study(tx: &mut Tx<'_>, id: i64) -> Result<StudyInfo, StorageError> {
    let sql = format!("SELECT {STUDY_COLUMNS} FROM studies WHERE id = $1 FOR UPDATE");
    tx.query_opt(&sql, &[&id])?
        .as_ref()
        .map(|row| study_from_row(row))
        .transpose()?
        .ok_or(StorageError::UnknownStudyId(id))
}

/// Creates the study unless a concurrent transaction just did; returns the one stored.
fn insert_study(
    tx: &mut Tx<'_>,
    name: &str,
    directions: &[Direction],
) -> Result<StudyInfo, StorageError> {
    tx.execute(
        "INSERT INTO studies (name, directions, created_at) VALUES ($1, $2, $3)
         ON CONFLICT (name) DO NOTHING",
        &[&name, &to_json(directions, "directions")?, &unix_now()],
    )?;
    study_by_name(tx, name)?.ok_or_else(|| StorageError::UnknownStudy(name.to_string()))
}

// ------------------------------------------------------------------------ trial changes

/// The number the study's next trial gets (under the study lock, the one it will get).
fn next_number(tx: &mut Tx<'_>, study: i64) -> Result<u64, StorageError> {
    let row = tx.query_one(
        "SELECT COALESCE(MAX(number) + 1, 0) FROM trials WHERE study_id = $1",
        &[&study],
    )?;
    get_number(&row, 0)
}

/// Inserts `trial` as it is into `study` (see [`Storage::import_study`]).
fn import_trial(tx: &mut Tx<'_>, study: i64, trial: &Trial) -> Result<(), StorageError> {
    let worker = trial.worker.as_ref();
    let row = tx.query_one(
        "INSERT INTO trials (study_id, number, state, params_json, values_json,
                             constraints_json, fail_reason, seed, started_at, finished_at,
                             heartbeat_at, worker_host, worker_pid, worker_started)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id",
        &[
            &study,
            &u64_to_sql(trial.number),
            &trial.state.as_str(),
            &encode_params(&trial.params)?,
            &trial.values.as_deref().map(encode_values),
            &trial.constraints.as_deref().map(encode_values),
            &trial.fail_reason,
            &trial.seed.map(u64_to_sql),
            &trial.started_at,
            &trial.finished_at,
            &trial.heartbeat_at,
            &worker.map(|w| w.host.as_str()),
            &worker.map(|w| i64::from(w.pid)),
            &worker.and_then(|w| w.started).map(u64_to_sql),
        ],
    )?;
    let id: i64 = get(&row, 0)?;
    for (step, values) in &trial.intermediate {
        tx.execute(
            "INSERT INTO trial_intermediate (trial_id, step, values_json) VALUES ($1, $2, $3)",
            &[&id, &u64_to_sql(*step), &encode_values(values)],
        )?;
    }
    for (key, value) in &trial.attrs {
        tx.execute(
            "INSERT INTO trial_attrs (trial_id, key, value_json) VALUES ($1, $2, $3)",
            &[&id, key, &value.to_string()],
        )?;
    }
    Ok(())
}

/// Whether the study holds `cap` or more trials that count toward a budget (never without a
/// cap). The caller holds the study lock, so the count stands until it commits.
fn at_cap(tx: &mut Tx<'_>, study: i64, cap: Option<u64>) -> Result<bool, StorageError> {
    let Some(cap) = cap else {
        return Ok(false);
    };
    let row = tx.query_one(
        "SELECT COUNT(*) FROM trials
         WHERE study_id = $1 AND state IN ('RUNNING', 'COMPLETE', 'PRUNED')",
        &[&study],
    )?;
    Ok(get_number(&row, 0)? >= cap)
}

/// Inserts a WAITING trial with the study's next free number; returns its row id and number.
/// The caller must hold the study lock ([`lock_study`]).
fn insert_waiting(
    tx: &mut Tx<'_>,
    study: i64,
    params_json: &str,
    seed: Option<u64>,
) -> Result<(i64, u64), StorageError> {
    let number = next_number(tx, study)?;
    let row = tx.query_one(
        "INSERT INTO trials (study_id, number, state, params_json, seed)
         VALUES ($1, $2, 'WAITING', $3, $4) RETURNING id",
        &[
            &study,
            &u64_to_sql(number),
            &params_json,
            &seed.map(u64_to_sql),
        ],
    )?;
    Ok((get(&row, 0)?, number))
}

/// Makes trial `id` RUNNING on `worker`, started (and last alive) now.
fn mark_running(tx: &mut Tx<'_>, id: i64, worker: &WorkerId, now: f64) -> Result<(), StorageError> {
    tx.execute(
        "UPDATE trials SET state = 'RUNNING', started_at = $2, heartbeat_at = $2,
                           worker_host = $3, worker_pid = $4, worker_started = $5
         WHERE id = $1",
        &[
            &id,
            &now,
            &worker.host,
            &i64::from(worker.pid),
            &worker.started.map(u64_to_sql),
        ],
    )?;
    Ok(())
}

/// The row id and state of trial `number`, or [`StorageError::UnknownTrial`]; `lock` is
/// appended to the query (`FOR UPDATE` or nothing).
fn trial_ref(
    tx: &mut Tx<'_>,
    study: &StudyInfo,
    number: u64,
    lock: &str,
) -> Result<(i64, TrialState), StorageError> {
    let sql = format!("SELECT id, state FROM trials WHERE study_id = $1 AND number = $2 {lock}");
    let row = tx
        .query_opt(&sql, &[&study.id, &u64_to_sql(number)])?
        .ok_or_else(|| StorageError::UnknownTrial {
            study: study.name.clone(),
            number,
        })?;
    Ok((
        get(&row, 0)?,
        parse_state(&get::<String>(&row, 1)?, number)?,
    ))
}

/// Locks trial `number` and returns its row id if it is RUNNING, else
/// [`StorageError::NotRunning`].
fn running_trial(tx: &mut Tx<'_>, study: &StudyInfo, number: u64) -> Result<i64, StorageError> {
    match trial_ref(tx, study, number, "FOR UPDATE")? {
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

impl Claimed {
    fn from_row(row: &Row) -> Result<Self, StorageError> {
        let number = get_number(row, 1)?;
        let worker = decode_worker(number, get(row, 4)?, get(row, 5)?, get(row, 6)?)?;
        Ok(Claimed {
            id: get(row, 0)?,
            number,
            params_json: get(row, 2)?,
            seed: get::<Option<i64>>(row, 3)?.map(u64_from_sql),
            // Selected with `worker_host IS NOT NULL`.
            worker: worker.ok_or_else(|| {
                StorageError::Corrupt(format!("running trial {number} has no worker"))
            })?,
        })
    }
}

/// Locks and returns the study's RUNNING trials that record their worker, skipping those
/// another transaction holds; with `beat_before`, only those whose last heartbeat is older.
fn lock_running(
    tx: &mut Tx<'_>,
    study: i64,
    beat_before: Option<f64>,
) -> Result<Vec<Claimed>, StorageError> {
    let stale = if beat_before.is_some() {
        "AND heartbeat_at IS NOT NULL AND heartbeat_at < $2"
    } else {
        ""
    };
    let sql = format!(
        "SELECT id, number, params_json, seed, worker_host, worker_pid, worker_started
         FROM trials
         WHERE study_id = $1 AND state = 'RUNNING'
               AND worker_host IS NOT NULL AND worker_pid IS NOT NULL {stale}
         ORDER BY number FOR UPDATE SKIP LOCKED"
    );
    let rows = match &beat_before {
        Some(before) => tx.query(&sql, &[&study, before])?,
        None => tx.query(&sql, &[&study])?,
    };
    rows.iter().map(Claimed::from_row).collect()
}

/// Fails an interrupted trial and enqueues a WAITING copy with the same parameters and seed;
/// `why` says what happened to its worker (`is gone`). The caller holds the study lock.
fn fail_and_requeue(
    tx: &mut Tx<'_>,
    study: i64,
    orphan: &Claimed,
    now: f64,
    why: &str,
) -> Result<(), StorageError> {
    let (_, copy) = insert_waiting(tx, study, &orphan.params_json, orphan.seed)?;
    let reason = interrupted_reason(&orphan.worker, why, copy);
    tx.execute(
        "UPDATE trials SET state = 'FAIL', fail_reason = $2, finished_at = $3 WHERE id = $1",
        &[&orphan.id, &reason, &now],
    )?;
    Ok(())
}

// -------------------------------------------------------------------------- trial loads

/// A [`Selection`] as SQL: a condition on `trials t` (`$1` is the study id) and the values of
/// its other parameters.
enum Filter {
    All,
    States(Vec<&'static str>),
    One(i64),
    From(i64),
    Numbers(Vec<i64>),
}

impl Filter {
    fn new(selection: &Selection<'_>) -> Self {
        match selection {
            Selection::States(None) => Filter::All,
            Selection::States(Some(states)) => {
                Filter::States(states.iter().map(|s| s.as_str()).collect())
            }
            Selection::One(number) => Filter::One(u64_to_sql(*number)),
            Selection::From(from) => Filter::From(u64_to_sql(*from)),
            Selection::Numbers(numbers) => {
                Filter::Numbers(numbers.iter().map(|&n| u64_to_sql(n)).collect())
            }
        }
    }

    fn condition(&self) -> &'static str {
        match self {
            Filter::All => "t.study_id = $1",
            Filter::States(_) => "t.study_id = $1 AND t.state = ANY($2)",
            Filter::One(_) => "t.study_id = $1 AND t.number = $2",
            Filter::From(_) => "t.study_id = $1 AND t.number >= $2",
            Filter::Numbers(_) => "t.study_id = $1 AND t.number = ANY($2)",
        }
    }

    /// The values of `$1`, `$2`, … for [`Filter::condition`].
    fn params<'a>(&'a self, study: &'a i64) -> Vec<&'a (dyn ToSql + Sync)> {
        match self {
            Filter::All => vec![study],
            Filter::States(states) => vec![study, states],
            Filter::One(number) | Filter::From(number) => vec![study, number],
            Filter::Numbers(numbers) => vec![study, numbers],
        }
    }
}

/// Loads the selected trials in number order with their intermediate values and attributes:
/// three queries, whatever the number of trials.
fn load_trials(
    tx: &mut Tx<'_>,
    study: i64,
    selection: &Selection<'_>,
) -> Result<Vec<Trial>, StorageError> {
    let filter = Filter::new(selection);
    let params = filter.params(&study);
    let [trials, intermediate, attrs] = load_queries(filter.condition());
    let mut loaded = LoadedTrials::default();
    for row in tx.query(&trials, &params)? {
        loaded.add_trial(&row)?;
    }
    for row in tx.query(&intermediate, &params)? {
        loaded.add_intermediate(&row)?;
    }
    for row in tx.query(&attrs, &params)? {
        loaded.add_attr(&row)?;
    }
    Ok(loaded.into_trials())
}

impl Columns for Row {
    fn int(&self, index: usize) -> Result<i64, StorageError> {
        get(self, index)
    }
    fn opt_int(&self, index: usize) -> Result<Option<i64>, StorageError> {
        get(self, index)
    }
    fn real(&self, index: usize) -> Result<f64, StorageError> {
        get(self, index)
    }
    fn opt_real(&self, index: usize) -> Result<Option<f64>, StorageError> {
        get(self, index)
    }
    fn text(&self, index: usize) -> Result<String, StorageError> {
        get(self, index)
    }
    fn opt_text(&self, index: usize) -> Result<Option<String>, StorageError> {
        get(self, index)
    }
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn passwords_are_left_out_of_urls() {
        assert_eq!(
            redact_url("postgres://nas:secret@db:5432/nas?sslmode=disable"),
            "postgres://nas:***@db:5432/nas?sslmode=disable"
        );
        assert_eq!(redact_url("postgres://nas@db/nas"), "postgres://nas@db/nas");
        assert_eq!(
            redact_url("host=db user=nas password=secret dbname=nas"),
            "host=db user=nas password=*** dbname=nas"
        );
    }
}
