//! [`SqlStorage`]: the one implementation of [`Storage`] over SQL, whatever the database.
//! Every method is a transaction of statements written once ([`super::sql`]); the SQLite and
//! PostgreSQL drivers only run them.
//!
//! # Concurrency
//! Every state change is one write transaction. On SQLite it holds the database's write lock
//! from its start (`BEGIN IMMEDIATE`), so no two writers ever interleave. On PostgreSQL
//! (READ COMMITTED, each statement sees what was committed before it started) row locks make
//! the read-then-write steps safe across connections and hosts:
//!
//! - **Migrations** take an advisory lock first, so processes connecting to a new database at
//!   once apply the schema one after another (the later ones find it done).
//! - **New trials** (`create_running`, `try_create_running`, `enqueue`, and the WAITING copies
//!   of the recovery methods) lock the study's row before reading `MAX(number) + 1`: numbers
//!   stay unique and dense; `UNIQUE (study_id, number)` backs it up.
//! - **Claiming** locks the oldest WAITING trial skipping locked ones: two workers never get
//!   the same trial, and neither waits for the other.
//! - **Trial budgets** (`cap` of `try_create_running` and `claim_waiting`): the count of
//!   running and finished trials is taken under the study lock, which every transaction that
//!   can add a budgeted trial holds, so N workers sharing `--trials` never overshoot it.
//! - **Finishing and reporting** lock the trial's row and check it is still RUNNING, so a
//!   trial ends exactly once; **heartbeats** lock their trials in number order.
//! - **Recovery** (`recover_orphans`, `recover_stale`) locks the study row, then its candidate
//!   trials skipping locked ones; a candidate another worker reclaimed meanwhile is seen as
//!   FAIL and skipped, so each trial is reclaimed exactly once. Locks are always taken study
//!   first, then trials.
//! - **Reads of trials** (`trials`, `trials_catch_up`, `trial`) run their three queries in one
//!   read-only snapshot.

use std::collections::BTreeMap;

use serde_json::Value;

use super::codec::{
    check_dense, check_directions, check_end, decode_worker, encode_params, encode_values,
    interrupted_reason, parse_json, parse_state, to_json, u64_from_sql, u64_to_sql, Selection,
};
use super::rows::{load_queries, study_from_row, Columns, LoadedTrials, STUDY_COLUMNS};
use super::schema::MIGRATIONS;
use super::sql::{query_all, query_one, query_opt, Arg, Connection, Lock, SqlTx};
use super::storage::{Creation, Storage, StorageError, StudyInfo, TrialEnd};
use super::trial::{unix_now, Direction, Trial, TrialState};
use super::worker::WorkerId;
use nas_space::Config;

/// Study storage in an SQL database reached through the connection `C`: an SQLite file
/// ([`SqliteStorage`](super::SqliteStorage)) or a PostgreSQL server
/// ([`PostgresStorage`](super::PostgresStorage)). One storage per thread; any number of them,
/// in any number of processes and hosts, share a study.
#[derive(Debug)]
pub struct SqlStorage<C> {
    conn: C,
}

impl<C: Connection> SqlStorage<C> {
    /// A storage on `conn`, its schema created or migrated.
    pub(super) fn new(mut conn: C) -> Result<Self, StorageError> {
        conn.write(migrate)?;
        Ok(SqlStorage { conn })
    }
}

/// Applies the migrations the database lacks, all in one transaction.
fn migrate(tx: &mut dyn SqlTx) -> Result<(), StorageError> {
    let dialect = tx.dialect();
    if let Some((sql, key)) = dialect.migration_lock() {
        tx.execute(sql, &[key])?;
    }
    tx.execute_batch("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)")?;
    let current = query_one(tx, "SELECT MAX(version) FROM schema_version", &[], |row| {
        row.opt_int(0)
    })?
    .unwrap_or(0);
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
        tx.execute_batch(&dialect.schema(sql))?;
    }
    if !pending.is_empty() {
        tx.execute("DELETE FROM schema_version", &[])?;
        tx.execute(
            "INSERT INTO schema_version (version) VALUES ($1)",
            &[Arg::Int(MIGRATIONS.len() as i64)],
        )?;
    }
    Ok(())
}

impl<C: Connection + Send> Storage for SqlStorage<C> {
    fn open_study(
        &mut self,
        name: &str,
        directions: &[Direction],
    ) -> Result<StudyInfo, StorageError> {
        let info = self.conn.write(|tx| match study_by_name(tx, name)? {
            Some(info) => Ok(info),
            None => insert_study(tx, name, directions),
        })?;
        check_directions(info, directions)
    }

    fn find_study(&mut self, name: &str) -> Result<Option<StudyInfo>, StorageError> {
        self.conn.read(|tx| study_by_name(tx, name))
    }

    fn list_studies(&mut self) -> Result<Vec<StudyInfo>, StorageError> {
        let sql = format!("SELECT {STUDY_COLUMNS} FROM studies ORDER BY id");
        self.conn
            .read(|tx| query_all(tx, &sql, &[], study_from_row))
    }

    fn set_study_attr(&mut self, study: i64, key: &str, value: &Value) -> Result<(), StorageError> {
        self.conn.write(|tx| {
            study_by_id(tx, study)?;
            tx.execute(
                "INSERT INTO study_attrs (study_id, key, value_json) VALUES ($1, $2, $3)
                 ON CONFLICT (study_id, key) DO UPDATE SET value_json = excluded.value_json",
                &[
                    Arg::Int(study),
                    Arg::Text(key),
                    Arg::Text(&value.to_string()),
                ],
            )?;
            Ok(())
        })
    }

    fn study_attr_or_insert(
        &mut self,
        study: i64,
        key: &str,
        value: &Value,
    ) -> Result<Value, StorageError> {
        let json = self.conn.write(|tx| {
            study_by_id(tx, study)?;
            tx.execute(
                "INSERT INTO study_attrs (study_id, key, value_json) VALUES ($1, $2, $3)
                 ON CONFLICT (study_id, key) DO NOTHING",
                &[
                    Arg::Int(study),
                    Arg::Text(key),
                    Arg::Text(&value.to_string()),
                ],
            )?;
            study_attr_json(tx, study, key)?
                .ok_or_else(|| StorageError::Corrupt(format!("study attribute `{key}` vanished")))
        })?;
        parse_json(&json, || format!("study attribute `{key}`"))
    }

    fn study_attr(&mut self, study: i64, key: &str) -> Result<Option<Value>, StorageError> {
        let json = self.conn.read(|tx| {
            study_by_id(tx, study)?;
            study_attr_json(tx, study, key)
        })?;
        json.map(|json| parse_json(&json, || format!("study attribute `{key}`")))
            .transpose()
    }

    fn study_attrs(&mut self, study: i64) -> Result<BTreeMap<String, Value>, StorageError> {
        let rows = self.conn.read(|tx| {
            study_by_id(tx, study)?;
            query_all(
                tx,
                "SELECT key, value_json FROM study_attrs WHERE study_id = $1",
                &[Arg::Int(study)],
                |row| Ok((row.text(0)?, row.text(1)?)),
            )
        })?;
        rows.into_iter()
            .map(|(key, json)| {
                let value = parse_json(&json, || format!("study attribute `{key}`"))?;
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
        let directions = to_json(&info.directions, "directions")?;
        self.conn.write(|tx| {
            let inserted = query_opt(
                tx,
                "INSERT INTO studies (name, directions, created_at) VALUES ($1, $2, $3)
                 ON CONFLICT (name) DO NOTHING RETURNING id",
                &[
                    Arg::Text(&info.name),
                    Arg::Text(&directions),
                    Arg::Real(info.created_at),
                ],
                |row| row.int(0),
            )?;
            let Some(study) = inserted else {
                return Err(StorageError::StudyExists(info.name.clone()));
            };
            for (key, value) in attrs {
                tx.execute(
                    "INSERT INTO study_attrs (study_id, key, value_json) VALUES ($1, $2, $3)",
                    &[
                        Arg::Int(study),
                        Arg::Text(key),
                        Arg::Text(&value.to_string()),
                    ],
                )?;
            }
            for trial in trials {
                import_trial(tx, study, trial)?;
            }
            study_by_id(tx, study)
        })
    }

    fn create_running(
        &mut self,
        study: i64,
        params: &Config,
        seed: Option<u64>,
        worker: &WorkerId,
    ) -> Result<Trial, StorageError> {
        let params_json = encode_params(params)?;
        self.conn.write(|tx| {
            lock_study(tx, study)?;
            let number = next_number(tx, study)?;
            insert_running(tx, study, number, params, &params_json, seed, worker)
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
        self.conn.write(|tx| {
            lock_study(tx, study)?;
            if next_number(tx, study)? != number {
                return Ok(Creation::NumberTaken);
            }
            if at_cap(tx, study, cap)? {
                return Ok(Creation::AtCap);
            }
            let trial = insert_running(tx, study, number, params, &params_json, seed, worker)?;
            Ok(Creation::Created(Box::new(trial)))
        })
    }

    fn enqueue(
        &mut self,
        study: i64,
        params: &Config,
        seed: Option<u64>,
    ) -> Result<u64, StorageError> {
        let params_json = encode_params(params)?;
        self.conn.write(|tx| {
            lock_study(tx, study)?;
            insert_waiting(tx, study, &params_json, seed)
        })
    }

    fn claim_waiting(
        &mut self,
        study: i64,
        worker: &WorkerId,
        cap: Option<u64>,
    ) -> Result<Option<Trial>, StorageError> {
        // Most asks find nothing queued: they learn it from one indexed read, without a
        // transaction or a lock. One queued since is claimed by the next ask.
        let probe = self.conn.autocommit(|tx| {
            query_opt(
                tx,
                "SELECT (SELECT t.number FROM trials t
                         WHERE t.study_id = s.id AND t.state = 'WAITING' LIMIT 1)
                 FROM studies s WHERE s.id = $1",
                &[Arg::Int(study)],
                |row| row.opt_int(0),
            )
        })?;
        match probe {
            None => return Err(StorageError::UnknownStudyId(study)),
            Some(None) => return Ok(None),
            Some(Some(_)) => {}
        }
        self.conn.write(|tx| {
            if cap.is_some() {
                // The count and the claim must be one step against other workers' creations
                // and claims, which (with a cap) all hold the study lock.
                lock_study(tx, study)?;
            }
            if at_cap(tx, study, cap)? {
                return Ok(None);
            }
            let sql = format!(
                "SELECT id, number FROM trials WHERE study_id = $1 AND state = 'WAITING'
                 ORDER BY number LIMIT 1 {}",
                tx.dialect().lock(Lock::SkipLocked)
            );
            let oldest = query_opt(tx, &sql, &[Arg::Int(study)], |row| {
                Ok((row.int(0)?, u64_from_sql(row.int(1)?)))
            })?;
            let Some((id, number)) = oldest else {
                return Ok(None);
            };
            mark_running(tx, id, worker, unix_now())?;
            Ok(load_trials(tx, study, &Selection::One(number))?.pop())
        })
    }

    fn report_intermediate(
        &mut self,
        study: i64,
        number: u64,
        step: u64,
        values: &[f64],
    ) -> Result<(), StorageError> {
        let values = encode_values(values);
        self.conn.write(|tx| {
            let info = study_by_id(tx, study)?;
            let id = running_trial(tx, &info, number)?;
            tx.execute(
                "INSERT INTO trial_intermediate (trial_id, step, values_json) VALUES ($1, $2, $3)
                 ON CONFLICT (trial_id, step) DO UPDATE SET values_json = excluded.values_json",
                &[Arg::Int(id), Arg::Int(u64_to_sql(step)), Arg::Text(&values)],
            )?;
            // A report is a sign of life.
            tx.execute(
                "UPDATE trials SET heartbeat_at = $2 WHERE id = $1",
                &[Arg::Int(id), Arg::Real(unix_now())],
            )?;
            Ok(())
        })
    }

    fn set_trial_attr(
        &mut self,
        study: i64,
        number: u64,
        key: &str,
        value: &Value,
    ) -> Result<(), StorageError> {
        self.conn.write(|tx| {
            let info = study_by_id(tx, study)?;
            let (id, _) = trial_ref(tx, &info, number, None)?;
            tx.execute(
                "INSERT INTO trial_attrs (trial_id, key, value_json) VALUES ($1, $2, $3)
                 ON CONFLICT (trial_id, key) DO UPDATE SET value_json = excluded.value_json",
                &[Arg::Int(id), Arg::Text(key), Arg::Text(&value.to_string())],
            )?;
            Ok(())
        })
    }

    fn finish(&mut self, study: i64, number: u64, end: TrialEnd<'_>) -> Result<(), StorageError> {
        let values = end.values.map(encode_values);
        let constraints = end.constraints.map(encode_values);
        self.conn.write(|tx| {
            let info = study_by_id(tx, study)?;
            check_end(number, info.directions.len(), &end)?;
            let row = EndRow {
                state: end.state.as_str(),
                values: values.as_deref(),
                constraints: constraints.as_deref(),
                reason: end.reason,
            };
            if end_if_running(tx, study, number, &row)? == 0 {
                // Not RUNNING when the update looked, or no such trial: say which. A WAITING
                // trial that another worker claimed since is RUNNING now: end it, as a tell a
                // moment later would.
                running_trial(tx, &info, number)?;
                end_if_running(tx, study, number, &row)?;
            }
            Ok(())
        })
    }

    fn trials(
        &mut self,
        study: i64,
        states: Option<&[TrialState]>,
    ) -> Result<Vec<Trial>, StorageError> {
        self.conn.read(|tx| {
            study_by_id(tx, study)?;
            if states.is_some_and(|s| s.is_empty()) {
                return Ok(Vec::new());
            }
            load_trials(tx, study, &Selection::States(states))
        })
    }

    fn trials_catch_up(
        &mut self,
        study: i64,
        from: u64,
        also: &[u64],
    ) -> Result<Vec<Trial>, StorageError> {
        self.conn.read(|tx| {
            let selection = match also {
                [] => Selection::From(from),
                also => Selection::CatchUp { from, also },
            };
            let trials = load_trials(tx, study, &selection)?;
            if trials.is_empty() {
                // Nothing to read, or no such study: only then is it worth asking which.
                study_by_id(tx, study)?;
            }
            Ok(trials)
        })
    }

    fn trial(&mut self, study: i64, number: u64) -> Result<Trial, StorageError> {
        self.conn.read(|tx| {
            let info = study_by_id(tx, study)?;
            load_trials(tx, study, &Selection::One(number))?
                .pop()
                .ok_or(StorageError::UnknownTrial {
                    study: info.name,
                    number,
                })
        })
    }

    fn recover_orphans(&mut self, study: i64) -> Result<Vec<u64>, StorageError> {
        self.conn.write(|tx| {
            lock_study(tx, study)?;
            let now = unix_now();
            let mut failed = Vec::new();
            for orphan in lock_running(tx, study, None)? {
                if orphan.worker.is_dead_local() {
                    fail_and_requeue(tx, study, &orphan, now, "is gone")?;
                    failed.push(orphan.number);
                }
            }
            Ok(failed)
        })
    }

    fn heartbeat(&mut self, study: i64, numbers: &[u64]) -> Result<(), StorageError> {
        let numbers: Vec<i64> = numbers.iter().map(|&n| u64_to_sql(n)).collect();
        self.conn.write(|tx| {
            study_by_id(tx, study)?;
            let dialect = tx.dialect();
            // Locked in number order, so two beats of overlapping sets cannot deadlock.
            let sql = format!(
                "SELECT id FROM trials
                 WHERE study_id = $1 AND state = 'RUNNING' AND {}
                 ORDER BY number {}",
                dialect.one_of("number", "$2"),
                dialect.lock(Lock::Wait)
            );
            let ids = query_all(tx, &sql, &[Arg::Int(study), Arg::Ints(&numbers)], |row| {
                row.int(0)
            })?;
            let sql = format!(
                "UPDATE trials SET heartbeat_at = $2 WHERE {}",
                dialect.one_of("id", "$1")
            );
            tx.execute(&sql, &[Arg::Ints(&ids), Arg::Real(unix_now())])?;
            Ok(())
        })
    }

    fn recover_stale(&mut self, study: i64, grace_s: f64) -> Result<Vec<u64>, StorageError> {
        self.conn.write(|tx| {
            lock_study(tx, study)?;
            let now = unix_now();
            let why = format!("sent no heartbeat for more than {grace_s} s");
            let mut failed = Vec::new();
            for orphan in lock_running(tx, study, Some(now - grace_s))? {
                fail_and_requeue(tx, study, &orphan, now, &why)?;
                failed.push(orphan.number);
            }
            Ok(failed)
        })
    }
}

// ------------------------------------------------------------------------------- studies

fn study_by_name(tx: &mut dyn SqlTx, name: &str) -> Result<Option<StudyInfo>, StorageError> {
    let sql = format!("SELECT {STUDY_COLUMNS} FROM studies WHERE name = $1");
    query_opt(tx, &sql, &[Arg::Text(name)], study_from_row)
}

/// The study with this id, or [`StorageError::UnknownStudyId`].
fn study_by_id(tx: &mut dyn SqlTx, id: i64) -> Result<StudyInfo, StorageError> {
    let sql = format!("SELECT {STUDY_COLUMNS} FROM studies WHERE id = $1");
    query_opt(tx, &sql, &[Arg::Int(id)], study_from_row)?.ok_or(StorageError::UnknownStudyId(id))
}

/// The JSON text of study attribute `key`, if set.
fn study_attr_json(
    tx: &mut dyn SqlTx,
    study: i64,
    key: &str,
) -> Result<Option<String>, StorageError> {
    query_opt(
        tx,
        "SELECT value_json FROM study_attrs WHERE study_id = $1 AND key = $2",
        &[Arg::Int(study), Arg::Text(key)],
        |row| row.text(0),
    )
}

/// Locks the study's row until the transaction ends: the lock every transaction that adds
/// trials takes first. [`StorageError::UnknownStudyId`] if there is no such study.
fn lock_study(tx: &mut dyn SqlTx, id: i64) -> Result<StudyInfo, StorageError> {
    let lock = tx.dialect().lock(Lock::Wait);
    let sql = format!("SELECT {STUDY_COLUMNS} FROM studies WHERE id = $1 {lock}");
    query_opt(tx, &sql, &[Arg::Int(id)], study_from_row)?.ok_or(StorageError::UnknownStudyId(id))
}

/// Creates the study unless a concurrent transaction just did; returns the one stored.
fn insert_study(
    tx: &mut dyn SqlTx,
    name: &str,
    directions: &[Direction],
) -> Result<StudyInfo, StorageError> {
    tx.execute(
        "INSERT INTO studies (name, directions, created_at) VALUES ($1, $2, $3)
         ON CONFLICT (name) DO NOTHING",
        &[
            Arg::Text(name),
            Arg::Text(&to_json(directions, "directions")?),
            Arg::Real(unix_now()),
        ],
    )?;
    study_by_name(tx, name)?.ok_or_else(|| StorageError::UnknownStudy(name.to_string()))
}

// ------------------------------------------------------------------------ trial changes

/// The number the study's next trial gets (under the study lock, the one it will get).
fn next_number(tx: &mut dyn SqlTx, study: i64) -> Result<u64, StorageError> {
    query_one(
        tx,
        "SELECT COALESCE(MAX(number) + 1, 0) FROM trials WHERE study_id = $1",
        &[Arg::Int(study)],
        |row| row.int(0).map(u64_from_sql),
    )
}

/// Inserts `trial` as it is into `study` (see [`Storage::import_study`]).
fn import_trial(tx: &mut dyn SqlTx, study: i64, trial: &Trial) -> Result<(), StorageError> {
    let worker = trial.worker.as_ref();
    let values = trial.values.as_deref().map(encode_values);
    let constraints = trial.constraints.as_deref().map(encode_values);
    let id = query_one(
        tx,
        "INSERT INTO trials (study_id, number, state, params_json, values_json,
                             constraints_json, fail_reason, seed, started_at, finished_at,
                             heartbeat_at, worker_host, worker_pid, worker_started)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id",
        &[
            Arg::Int(study),
            Arg::Int(u64_to_sql(trial.number)),
            Arg::Text(trial.state.as_str()),
            Arg::Text(&encode_params(&trial.params)?),
            Arg::OptText(values.as_deref()),
            Arg::OptText(constraints.as_deref()),
            Arg::OptText(trial.fail_reason.as_deref()),
            Arg::OptInt(trial.seed.map(u64_to_sql)),
            Arg::OptReal(trial.started_at),
            Arg::OptReal(trial.finished_at),
            Arg::OptReal(trial.heartbeat_at),
            Arg::OptText(worker.map(|w| w.host.as_str())),
            Arg::OptInt(worker.map(|w| i64::from(w.pid))),
            Arg::OptInt(worker.and_then(|w| w.started).map(u64_to_sql)),
        ],
        |row| row.int(0),
    )?;
    for (step, values) in &trial.intermediate {
        tx.execute(
            "INSERT INTO trial_intermediate (trial_id, step, values_json) VALUES ($1, $2, $3)",
            &[
                Arg::Int(id),
                Arg::Int(u64_to_sql(*step)),
                Arg::Text(&encode_values(values)),
            ],
        )?;
    }
    for (key, value) in &trial.attrs {
        tx.execute(
            "INSERT INTO trial_attrs (trial_id, key, value_json) VALUES ($1, $2, $3)",
            &[Arg::Int(id), Arg::Text(key), Arg::Text(&value.to_string())],
        )?;
    }
    Ok(())
}

/// Whether the study holds `cap` or more trials that count toward a budget (never without a
/// cap). The caller holds the study lock, so the count stands until it commits.
fn at_cap(tx: &mut dyn SqlTx, study: i64, cap: Option<u64>) -> Result<bool, StorageError> {
    let Some(cap) = cap else {
        return Ok(false);
    };
    let counted = query_one(
        tx,
        "SELECT COUNT(*) FROM trials
         WHERE study_id = $1 AND state IN ('RUNNING', 'COMPLETE', 'PRUNED')",
        &[Arg::Int(study)],
        |row| row.int(0).map(u64_from_sql),
    )?;
    Ok(counted >= cap)
}

/// Inserts a WAITING trial with the study's next free number; returns the number. The caller
/// must hold the study lock ([`lock_study`]).
fn insert_waiting(
    tx: &mut dyn SqlTx,
    study: i64,
    params_json: &str,
    seed: Option<u64>,
) -> Result<u64, StorageError> {
    let number = next_number(tx, study)?;
    tx.execute(
        "INSERT INTO trials (study_id, number, state, params_json, seed)
         VALUES ($1, $2, 'WAITING', $3, $4)",
        &[
            Arg::Int(study),
            Arg::Int(u64_to_sql(number)),
            Arg::Text(params_json),
            Arg::OptInt(seed.map(u64_to_sql)),
        ],
    )?;
    Ok(number)
}

/// Inserts trial `number` RUNNING for `worker`, in one statement (the caller holds the study
/// lock and read `number` from [`next_number`] under it); returns it.
fn insert_running(
    tx: &mut dyn SqlTx,
    study: i64,
    number: u64,
    params: &Config,
    params_json: &str,
    seed: Option<u64>,
    worker: &WorkerId,
) -> Result<Trial, StorageError> {
    let now = unix_now();
    tx.execute(
        "INSERT INTO trials (study_id, number, state, params_json, seed, started_at,
                             heartbeat_at, worker_host, worker_pid, worker_started)
         VALUES ($1, $2, 'RUNNING', $3, $4, $5, $5, $6, $7, $8)",
        &[
            Arg::Int(study),
            Arg::Int(u64_to_sql(number)),
            Arg::Text(params_json),
            Arg::OptInt(seed.map(u64_to_sql)),
            Arg::Real(now),
            Arg::Text(&worker.host),
            Arg::Int(i64::from(worker.pid)),
            Arg::OptInt(worker.started.map(u64_to_sql)),
        ],
    )?;
    Ok(Trial {
        seed,
        started_at: Some(now),
        heartbeat_at: Some(now),
        worker: Some(worker.clone()),
        ..Trial::running(number, params.clone())
    })
}

/// Makes trial `id` RUNNING on `worker`, started (and last alive) now.
fn mark_running(
    tx: &mut dyn SqlTx,
    id: i64,
    worker: &WorkerId,
    now: f64,
) -> Result<(), StorageError> {
    tx.execute(
        "UPDATE trials SET state = 'RUNNING', started_at = $2, heartbeat_at = $2,
                           worker_host = $3, worker_pid = $4, worker_started = $5
         WHERE id = $1",
        &[
            Arg::Int(id),
            Arg::Real(now),
            Arg::Text(&worker.host),
            Arg::Int(i64::from(worker.pid)),
            Arg::OptInt(worker.started.map(u64_to_sql)),
        ],
    )?;
    Ok(())
}

/// What [`Storage::finish`] writes into a trial's row.
struct EndRow<'a> {
    state: &'a str,
    values: Option<&'a str>,
    constraints: Option<&'a str>,
    reason: Option<&'a str>,
}

/// Ends trial `number` as `row` says if it is RUNNING; returns how many rows changed (0 or
/// 1). The update is the check, and locks the row it changes: one statement where a read
/// and a write were two.
fn end_if_running(
    tx: &mut dyn SqlTx,
    study: i64,
    number: u64,
    row: &EndRow<'_>,
) -> Result<u64, StorageError> {
    tx.execute(
        "UPDATE trials SET state = $3, values_json = $4, constraints_json = $5,
                           fail_reason = $6, finished_at = $7
         WHERE study_id = $1 AND number = $2 AND state = 'RUNNING'",
        &[
            Arg::Int(study),
            Arg::Int(u64_to_sql(number)),
            Arg::Text(row.state),
            Arg::OptText(row.values),
            Arg::OptText(row.constraints),
            Arg::OptText(row.reason),
            Arg::Real(unix_now()),
        ],
    )
}

/// The row id and state of trial `number`, locked with `lock` if given, or
/// [`StorageError::UnknownTrial`].
fn trial_ref(
    tx: &mut dyn SqlTx,
    study: &StudyInfo,
    number: u64,
    lock: Option<Lock>,
) -> Result<(i64, TrialState), StorageError> {
    let lock = lock.map_or("", |lock| tx.dialect().lock(lock));
    let sql = format!("SELECT id, state FROM trials WHERE study_id = $1 AND number = $2 {lock}");
    let args = [Arg::Int(study.id), Arg::Int(u64_to_sql(number))];
    let (id, state) = query_opt(tx, &sql, &args, |row| Ok((row.int(0)?, row.text(1)?)))?
        .ok_or_else(|| StorageError::UnknownTrial {
            study: study.name.clone(),
            number,
        })?;
    Ok((id, parse_state(&state, number)?))
}

/// Locks trial `number` and returns its row id if it is RUNNING, else
/// [`StorageError::NotRunning`].
fn running_trial(tx: &mut dyn SqlTx, study: &StudyInfo, number: u64) -> Result<i64, StorageError> {
    match trial_ref(tx, study, number, Some(Lock::Wait))? {
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
    fn from_row(row: &dyn Columns) -> Result<Self, StorageError> {
        let number = u64_from_sql(row.int(1)?);
        let worker = decode_worker(number, row.opt_text(4)?, row.opt_int(5)?, row.opt_int(6)?)?;
        Ok(Claimed {
            id: row.int(0)?,
            number,
            params_json: row.text(2)?,
            seed: row.opt_int(3)?.map(u64_from_sql),
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
    tx: &mut dyn SqlTx,
    study: i64,
    beat_before: Option<f64>,
) -> Result<Vec<Claimed>, StorageError> {
    let mut args = vec![Arg::Int(study)];
    let stale = match beat_before {
        Some(before) => {
            args.push(Arg::Real(before));
            "AND heartbeat_at IS NOT NULL AND heartbeat_at < $2"
        }
        None => "",
    };
    let sql = format!(
        "SELECT id, number, params_json, seed, worker_host, worker_pid, worker_started
         FROM trials
         WHERE study_id = $1 AND state = 'RUNNING'
               AND worker_host IS NOT NULL AND worker_pid IS NOT NULL {stale}
         ORDER BY number {}",
        tx.dialect().lock(Lock::SkipLocked)
    );
    query_all(tx, &sql, &args, |row| Claimed::from_row(row))
}

/// Fails an interrupted trial and enqueues a WAITING copy with the same parameters and seed;
/// `why` says what happened to its worker (`is gone`). The caller holds the study lock.
fn fail_and_requeue(
    tx: &mut dyn SqlTx,
    study: i64,
    orphan: &Claimed,
    now: f64,
    why: &str,
) -> Result<(), StorageError> {
    let copy = insert_waiting(tx, study, &orphan.params_json, orphan.seed)?;
    let reason = interrupted_reason(&orphan.worker, why, copy);
    tx.execute(
        "UPDATE trials SET state = 'FAIL', fail_reason = $2, finished_at = $3 WHERE id = $1",
        &[Arg::Int(orphan.id), Arg::Text(&reason), Arg::Real(now)],
    )?;
    Ok(())
}

// -------------------------------------------------------------------------- trial loads

/// Loads the selected trials in number order with their intermediate values and attributes:
/// three queries, whatever the number of trials.
fn load_trials(
    tx: &mut dyn SqlTx,
    study: i64,
    selection: &Selection<'_>,
) -> Result<Vec<Trial>, StorageError> {
    let numbers: Vec<i64>;
    let (condition, args) = match selection {
        Selection::States(None) => ("t.study_id = $1".to_string(), vec![Arg::Int(study)]),
        Selection::States(Some(states)) => {
            // Inlined: the names are our own constants, never user text (and few: the
            // statement cache holds every combination asked for).
            let names: Vec<String> = states.iter().map(|s| format!("'{}'", s.as_str())).collect();
            let condition = format!("t.study_id = $1 AND t.state IN ({})", names.join(", "));
            (condition, vec![Arg::Int(study)])
        }
        Selection::One(number) => (
            "t.study_id = $1 AND t.number = $2".to_string(),
            vec![Arg::Int(study), Arg::Int(u64_to_sql(*number))],
        ),
        Selection::From(number) => (
            "t.study_id = $1 AND t.number >= $2".to_string(),
            vec![Arg::Int(study), Arg::Int(u64_to_sql(*number))],
        ),
        Selection::CatchUp { from, also } => {
            numbers = also.iter().map(|&n| u64_to_sql(n)).collect();
            let condition = format!(
                "t.study_id = $1 AND t.id IN (
                     SELECT id FROM trials WHERE study_id = $1 AND number >= $2
                     UNION ALL
                     SELECT id FROM trials WHERE study_id = $1 AND {})",
                tx.dialect().one_of("number", "$3")
            );
            let args = vec![
                Arg::Int(study),
                Arg::Int(u64_to_sql(*from)),
                Arg::Ints(&numbers),
            ];
            (condition, args)
        }
    };
    let [trials, intermediate, attrs] = load_queries(&condition);
    let mut loaded = LoadedTrials::default();
    tx.query(&trials, &args, &mut |row| loaded.add_trial(row))?;
    tx.query(&intermediate, &args, &mut |row| {
        loaded.add_intermediate(row)
    })?;
    tx.query(&attrs, &args, &mut |row| loaded.add_attr(row))?;
    Ok(loaded.into_trials())
}
