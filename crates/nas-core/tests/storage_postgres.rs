//! PostgreSQL study storage: the SQLite storage's behaviour, concurrent workers on one study,
//! and parity with SQLite.
//!
//! The server comes from `NAS_TEST_POSTGRES` (e.g.
//! `postgres://nas:nas@127.0.0.1:5432/nas_test`). Without it every test prints a skip line and
//! passes, unless `NAS_REQUIRE_POSTGRES=1`, which makes them fail. Tests share the database
//! and run in parallel: each works on studies of its own unique names.

mod common;

use common::{
    assert_same_config, check_trial_cap, check_worker_and_heartbeat_are_read_back, config,
    dead_worker, me, start_until_cap,
};

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Barrier;
use std::time::Duration;

use nas_core::space::{Config, ParamValue};
use nas_core::study::{
    Creation, Direction, PostgresStorage, SqliteStorage, Storage, StorageError, Trial, TrialEnd,
    TrialState, WorkerId,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::json;

const MIN: Direction = Direction::Minimize;
const MAX: Direction = Direction::Maximize;

/// Environment variable with the test server's URL.
const URL_VAR: &str = "NAS_TEST_POSTGRES";
/// Environment variable that turns a missing server into a failure (CI).
const REQUIRE_VAR: &str = "NAS_REQUIRE_POSTGRES";

/// The test server, and names unique to one test.
struct Db {
    url: String,
    tag: String,
}

impl Db {
    /// The server for `test`, or `None` (after printing a skip line) if there is none.
    fn get(test: &str) -> Option<Db> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let url = match std::env::var(URL_VAR) {
            Ok(url) if !url.trim().is_empty() => url,
            _ if std::env::var(REQUIRE_VAR).as_deref() == Ok("1") => {
                panic!("{REQUIRE_VAR}=1 but {URL_VAR} is not set: cannot run {test}")
            }
            _ => {
                eprintln!("skipping {test}: set {URL_VAR} to a PostgreSQL URL to run it");
                return None;
            }
        };
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let tag = format!("{test}-{}-{nanos}-{n}", std::process::id());
        Some(Db { url, tag })
    }

    fn storage(&self) -> PostgresStorage {
        PostgresStorage::connect(&self.url).expect("connect to the test server")
    }

    /// A study name of this test's own.
    fn name(&self, study: &str) -> String {
        format!("{}/{study}", self.tag)
    }

    /// A plain client, to look at the tables directly.
    fn raw(&self) -> postgres::Client {
        postgres::Client::connect(&self.url, postgres::NoTls).expect("raw connect")
    }
}

/// `let db = server!("test name");` or return (skip).
macro_rules! server {
    ($test:expr) => {
        match Db::get($test) {
            Some(db) => db,
            None => return,
        }
    };
}

fn numbers(trials: &[Trial]) -> Vec<u64> {
    trials.iter().map(|t| t.number).collect()
}

// ------------------------------------------------------------------------------ studies

#[test]
fn studies_are_created_and_reopened_by_name() {
    let db = server!("studies_are_created_and_reopened_by_name");
    let (mnist, other) = (db.name("mnist"), db.name("other"));
    let created = db.storage().open_study(&mnist, &[MIN, MAX]).unwrap();
    assert_eq!(created.directions, vec![MIN, MAX]);
    assert_eq!(created.name, mnist);

    let mut storage = db.storage();
    assert_eq!(storage.find_study(&mnist).unwrap(), Some(created.clone()));
    assert_eq!(storage.open_study(&mnist, &[MIN, MAX]).unwrap(), created);
    assert_eq!(storage.find_study(&other).unwrap(), None);
    let second = storage.open_study(&other, &[MAX]).unwrap();
    let ours: Vec<_> = storage
        .list_studies()
        .unwrap()
        .into_iter()
        .filter(|s| s.name.starts_with(&db.tag))
        .collect();
    assert_eq!(ours, vec![created, second]);
}

#[test]
fn concurrent_opens_of_a_new_study_create_it_once() {
    let db = server!("concurrent_opens_of_a_new_study_create_it_once");
    let name = db.name("s");
    let barrier = Barrier::new(8);
    let ids: HashSet<i64> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                scope.spawn(|| {
                    let mut storage = db.storage();
                    barrier.wait();
                    storage
                        .open_study(&name, &[MIN])
                        .expect("open the study")
                        .id
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(ids.len(), 1, "one study for all: {ids:?}");
}

#[test]
fn reopening_with_other_directions_fails() {
    let db = server!("reopening_with_other_directions_fails");
    let mut storage = db.storage();
    let name = db.name("s");
    storage.open_study(&name, &[MIN, MAX]).unwrap();
    match storage.open_study(&name, &[MIN]) {
        Err(StorageError::DirectionMismatch {
            study,
            stored,
            requested,
        }) => {
            assert_eq!(study, name);
            assert_eq!(stored, vec![MIN, MAX]);
            assert_eq!(requested, vec![MIN]);
        }
        other => panic!("expected a direction mismatch, got {other:?}"),
    }
}

#[test]
fn unknown_studies_and_trials_are_errors() {
    let db = server!("unknown_studies_and_trials_are_errors");
    let mut storage = db.storage();
    let study = storage.open_study(&db.name("s"), &[MIN]).unwrap().id;
    let missing = -1; // identity ids start at 1
    assert!(matches!(
        storage.trials(missing, None),
        Err(StorageError::UnknownStudyId(-1))
    ));
    assert!(matches!(
        storage.create_running(missing, &Config::new(), None, &me()),
        Err(StorageError::UnknownStudyId(-1))
    ));
    assert!(matches!(
        storage.enqueue(missing, &Config::new()),
        Err(StorageError::UnknownStudyId(-1))
    ));
    assert!(matches!(
        storage.study_attr(missing, "k"),
        Err(StorageError::UnknownStudyId(-1))
    ));
    assert!(matches!(
        storage.trial(study, 7),
        Err(StorageError::UnknownTrial { number: 7, .. })
    ));
    assert!(matches!(
        storage.finish(study, 7, TrialEnd::pruned()),
        Err(StorageError::UnknownTrial { number: 7, .. })
    ));
    assert!(matches!(
        storage.set_trial_attr(study, 7, "k", &json!(1)),
        Err(StorageError::UnknownTrial { number: 7, .. })
    ));
}

#[test]
fn connection_errors_name_the_url_without_its_password() {
    // Port 1 refuses connections: no server is needed.
    let url = "postgres://nas:topsecret@127.0.0.1:1/nas_test";
    let message = PostgresStorage::connect(url).unwrap_err().to_string();
    assert!(
        message.contains("postgres://nas:***@127.0.0.1:1/nas_test")
            && !message.contains("topsecret"),
        "{message}"
    );
}

#[test]
fn study_attrs_round_trip() {
    let db = server!("study_attrs_round_trip");
    let mut storage = db.storage();
    let study = storage.open_study(&db.name("s"), &[MIN]).unwrap().id;
    assert_eq!(storage.study_attr(study, "space").unwrap(), None);
    storage
        .set_study_attr(study, "space", &json!({"a": 1}))
        .unwrap();
    storage
        .set_study_attr(study, "space", &json!({"a": [1.5, "x"]}))
        .unwrap();
    assert_eq!(
        storage.study_attr(study, "space").unwrap(),
        Some(json!({"a": [1.5, "x"]}))
    );
}

#[test]
fn the_first_value_of_an_insert_once_attribute_wins() {
    let db = server!("the_first_value_of_an_insert_once_attribute_wins");
    let mut storage = db.storage();
    let study = storage.open_study(&db.name("s"), &[MIN]).unwrap().id;
    let a = json!({"space": "a"});
    let b = json!({"space": "b"});
    assert_eq!(storage.study_attr_or_insert(study, "space", &a).unwrap(), a);
    assert_eq!(storage.study_attr_or_insert(study, "space", &b).unwrap(), a);
    assert_eq!(storage.study_attr(study, "space").unwrap(), Some(a));

    // Racing inserters all see the one value that won.
    let barrier = Barrier::new(8);
    let seen: HashSet<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let (db, barrier) = (&db, &barrier);
                scope.spawn(move || {
                    let mut storage = db.storage();
                    barrier.wait();
                    let value = json!({ "writer": i });
                    storage
                        .study_attr_or_insert(study, "race", &value)
                        .unwrap()
                        .to_string()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(seen.len(), 1, "{seen:?}");
}

#[test]
fn schema_is_versioned() {
    let db = server!("schema_is_versioned");
    drop(db.storage());
    drop(db.storage()); // reconnecting applies nothing twice
    let mut raw = db.raw();
    let versions: Vec<i64> = raw
        .query("SELECT version FROM schema_version", &[])
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(versions, vec![2]);
    let index: i64 = raw
        .query_one(
            "SELECT COUNT(*) FROM pg_indexes WHERE indexname = 'trials_by_state'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(index, 1);
}

#[test]
fn several_connections_can_create_the_schema_of_a_new_database_at_once() {
    let db = server!("several_connections_can_create_the_schema_of_a_new_database_at_once");
    let fresh = format!("nas_fresh_{}", std::process::id());
    let mut admin = db.raw();
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {fresh} WITH (FORCE)"))
        .unwrap();
    admin
        .batch_execute(&format!("CREATE DATABASE {fresh}"))
        .unwrap();
    let (base, _) = db.url.rsplit_once('/').expect("a URL with a database");
    let url = format!("{base}/{fresh}");
    let barrier = Barrier::new(8);
    std::thread::scope(|scope| {
        for _ in 0..8 {
            scope.spawn(|| {
                barrier.wait();
                let mut storage =
                    PostgresStorage::connect(&url).expect("connect to a new database");
                storage.open_study("s", &[MIN]).expect("open the study");
            });
        }
    });
    let mut raw = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let versions: Vec<i64> = raw
        .query("SELECT version FROM schema_version", &[])
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    drop(raw);
    admin
        .batch_execute(&format!("DROP DATABASE {fresh} WITH (FORCE)"))
        .unwrap();
    assert_eq!(versions, vec![2]);
}

// -------------------------------------------------------------------------- life cycle

#[test]
fn trial_numbers_are_sequential() {
    let db = server!("trial_numbers_are_sequential");
    let mut storage = db.storage();
    let study = storage.open_study(&db.name("s"), &[MIN]).unwrap().id;
    let other = storage.open_study(&db.name("t"), &[MIN]).unwrap().id;
    let p = Config::new();
    let mut create = |study| {
        storage
            .create_running(study, &p, Some(1), &me())
            .unwrap()
            .number
    };
    assert_eq!(create(study), 0);
    assert_eq!(create(study), 1);
    assert_eq!(create(other), 0);
    assert_eq!(storage.enqueue(study, &p).unwrap(), 2);
    assert_eq!(
        storage
            .create_running(study, &p, None, &me())
            .unwrap()
            .number,
        3
    );
}

#[test]
fn created_trials_are_returned_as_stored() {
    let db = server!("created_trials_are_returned_as_stored");
    let mut storage = db.storage();
    let study = storage.open_study(&db.name("s"), &[MIN]).unwrap().id;
    let params = config(&[("lr", 0.01.into()), ("depth", 3i64.into())]);
    let created = storage
        .create_running(study, &params, Some(u64::MAX), &me())
        .unwrap();
    assert_eq!(created.state, TrialState::Running);
    assert_eq!(created.seed, Some(u64::MAX));
    assert!(created.started_at.is_some());
    assert_eq!(storage.trial(study, 0).unwrap(), created);
}

#[test]
fn finishing_twice_is_not_running() {
    let db = server!("finishing_twice_is_not_running");
    let mut storage = db.storage();
    let study = storage.open_study(&db.name("s"), &[MIN]).unwrap().id;
    storage
        .create_running(study, &Config::new(), None, &me())
        .unwrap();
    storage
        .finish(study, 0, TrialEnd::complete(&[0.5]))
        .unwrap();
    match storage.finish(study, 0, TrialEnd::fail("again")) {
        Err(StorageError::NotRunning { number, state }) => {
            assert_eq!((number, state), (0, TrialState::Complete));
        }
        other => panic!("expected NotRunning, got {other:?}"),
    }
    let trial = storage.trial(study, 0).unwrap();
    assert_eq!(trial.values, Some(vec![0.5]));
    assert!(trial.finished_at.is_some());
}

#[test]
fn concurrent_finishes_end_a_trial_once() {
    let db = server!("concurrent_finishes_end_a_trial_once");
    let mut storage = db.storage();
    let study = storage.open_study(&db.name("s"), &[MIN]).unwrap().id;
    for _ in 0..20 {
        storage
            .create_running(study, &Config::new(), None, &me())
            .unwrap();
    }
    let barrier = Barrier::new(4);
    let wins: Vec<u64> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|i| {
                let (db, barrier) = (&db, &barrier);
                scope.spawn(move || {
                    let mut storage = db.storage();
                    barrier.wait();
                    let mut won = Vec::new();
                    for n in 0..20 {
                        match storage.finish(study, n, TrialEnd::complete(&[f64::from(i)])) {
                            Ok(()) => won.push(n),
                            Err(StorageError::NotRunning { .. }) => {}
                            Err(e) => panic!("finish {n}: {e}"),
                        }
                    }
                    won
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    let mut sorted = wins.clone();
    sorted.sort_unstable();
    assert_eq!(
        sorted,
        (0..20).collect::<Vec<_>>(),
        "each finished exactly once"
    );
}

#[test]
fn failed_and_pruned_trials_keep_their_details() {
    let db = server!("failed_and_pruned_trials_keep_their_details");
    let mut storage = db.storage();
    let study = storage.open_study(&db.name("s"), &[MIN]).unwrap().id;
    for _ in 0..2 {
        storage
            .create_running(study, &Config::new(), None, &me())
            .unwrap();
    }
    storage
        .finish(study, 0, TrialEnd::fail("diverged"))
        .unwrap();
    let pruned = TrialEnd::pruned().with_constraints(&[-1.0, 2.0]);
    storage.finish(study, 1, pruned).unwrap();
    let trials = storage.trials(study, None).unwrap();
    assert_eq!(trials[0].state, TrialState::Fail);
    assert_eq!(trials[0].fail_reason.as_deref(), Some("diverged"));
    assert_eq!(trials[1].state, TrialState::Pruned);
    assert_eq!(trials[1].constraints, Some(vec![-1.0, 2.0]));
    assert!(!trials[1].is_feasible());
}

#[test]
fn complete_needs_one_value_per_direction() {
    let db = server!("complete_needs_one_value_per_direction");
    let mut storage = db.storage();
    let study = storage.open_study(&db.name("s"), &[MIN, MAX]).unwrap().id;
    storage
        .create_running(study, &Config::new(), None, &me())
        .unwrap();
    assert!(matches!(
        storage.finish(study, 0, TrialEnd::complete(&[1.0])),
        Err(StorageError::ValueCount {
            number: 0,
            expected: 2,
            got: 1
        })
    ));
    let no_values = TrialEnd {
        values: None,
        ..TrialEnd::complete(&[])
    };
    assert!(matches!(
        storage.finish(study, 0, no_values),
        Err(StorageError::ValueCount { got: 0, .. })
    ));
    let running = TrialEnd {
        state: TrialState::Running,
        ..TrialEnd::pruned()
    };
    assert!(matches!(
        storage.finish(study, 0, running),
        Err(StorageError::NotAnEndState { number: 0, .. })
    ));
    // The rejected calls changed nothing.
    assert_eq!(storage.trial(study, 0).unwrap().state, TrialState::Running);
    storage
        .finish(study, 0, TrialEnd::complete(&[1.0, 2.0]))
        .unwrap();
}

#[test]
fn non_finite_numbers_are_rejected_where_json_cannot_hold_them() {
    let db = server!("non_finite_numbers_are_rejected_where_json_cannot_hold_them");
    let mut storage = db.storage();
    let study = storage.open_study(&db.name("s"), &[MIN]).unwrap().id;
    let nan_param = config(&[("lr", f64::NAN.into())]);
    match storage.create_running(study, &nan_param, None, &me()) {
        Err(StorageError::NonFinite { what, value }) => {
            assert!(what.contains("`lr`") && value.is_nan(), "{what}");
        }
        other => panic!("expected NonFinite, got {other:?}"),
    }
    assert!(matches!(
        storage.enqueue(study, &nan_param),
        Err(StorageError::NonFinite { .. })
    ));
    storage
        .create_running(study, &Config::new(), None, &me())
        .unwrap();
    match storage.finish(study, 0, TrialEnd::complete(&[f64::INFINITY])) {
        Err(StorageError::NonFinite { what, value }) => {
            assert_eq!(
                (what.as_str(), value),
                ("trial 0 objective value 0", f64::INFINITY)
            );
        }
        other => panic!("expected NonFinite, got {other:?}"),
    }
    let bad_constraint = TrialEnd::complete(&[1.0]).with_constraints(&[f64::NAN]);
    assert!(matches!(
        storage.finish(study, 0, bad_constraint),
        Err(StorageError::NonFinite { .. })
    ));
    assert_eq!(storage.trial(study, 0).unwrap().state, TrialState::Running);
}

#[test]
fn intermediate_values_and_attrs_round_trip() {
    let db = server!("intermediate_values_and_attrs_round_trip");
    let mut storage = db.storage();
    let study = storage.open_study(&db.name("s"), &[MIN]).unwrap().id;
    storage
        .create_running(study, &Config::new(), None, &me())
        .unwrap();
    storage
        .report_intermediate(study, 0, 0, &[0.9, 0.1])
        .unwrap();
    storage.report_intermediate(study, 0, 5, &[0.5]).unwrap();
    storage.report_intermediate(study, 0, 5, &[0.4]).unwrap(); // replaces step 5
    storage
        .report_intermediate(study, 0, 6, &[f64::NAN, f64::NEG_INFINITY])
        .unwrap();
    storage
        .set_trial_attr(study, 0, "params", &json!(1234))
        .unwrap();
    storage.finish(study, 0, TrialEnd::pruned()).unwrap();
    storage
        .set_trial_attr(study, 0, "latency_ms", &json!(3.5))
        .unwrap();
    assert!(matches!(
        storage.report_intermediate(study, 0, 7, &[0.3]),
        Err(StorageError::NotRunning { .. })
    ));

    let trial = storage.trial(study, 0).unwrap();
    assert_eq!(trial.intermediate.len(), 3);
    assert_eq!(trial.intermediate[&0], vec![0.9, 0.1]);
    assert_eq!(trial.intermediate[&5], vec![0.4]);
    let diverged = &trial.intermediate[&6];
    assert!(diverged[0].is_nan() && diverged[1] == f64::NEG_INFINITY);
    assert_eq!(trial.attrs["params"], json!(1234));
    assert_eq!(trial.attrs["latency_ms"], json!(3.5));
    let listed = storage.trials(study, None).unwrap();
    assert_eq!(listed[0].attrs, trial.attrs);
    assert_eq!(
        listed[0].intermediate.keys().collect::<Vec<_>>(),
        vec![&0, &5, &6]
    );
}

#[test]
fn params_round_trip_exactly() {
    let db = server!("params_round_trip_exactly");
    let mut storage = db.storage();
    let study = storage.open_study(&db.name("s"), &[MIN]).unwrap().id;
    let mut params = config(&[
        ("int", 3i64.into()),
        ("whole_float", 3.0.into()),
        ("tenth", 0.1.into()),
        ("neg_zero", (-0.0).into()),
        ("tiny", 5e-324.into()),
        ("huge", f64::MAX.into()),
        ("big_whole", 1e20.into()),
        ("min_int", i64::MIN.into()),
        ("max_int", i64::MAX.into()),
        ("flag", true.into()),
        ("name", "adam \"w\" — ünïcode".into()),
        ("number_like", "3".into()),
    ]);
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    for i in 0..2000 {
        let x = f64::from_bits(rng.random());
        if x.is_finite() {
            params.insert(format!("random{i}"), x.into());
        }
    }
    storage.create_running(study, &params, None, &me()).unwrap();
    storage.enqueue(study, &params).unwrap();
    for trial in storage.trials(study, None).unwrap() {
        assert_same_config(&trial.params, &params);
    }
}

#[test]
fn trials_filter_by_state_and_catch_up() {
    let db = server!("trials_filter_by_state_and_catch_up");
    let mut storage = db.storage();
    let study = storage.open_study(&db.name("s"), &[MIN]).unwrap().id;
    for _ in 0..4 {
        storage
            .create_running(study, &Config::new(), None, &me())
            .unwrap();
    }
    storage
        .finish(study, 1, TrialEnd::complete(&[1.0]))
        .unwrap();
    storage.finish(study, 2, TrialEnd::pruned()).unwrap();
    let done = [TrialState::Complete, TrialState::Pruned];
    assert_eq!(
        numbers(&storage.trials(study, Some(&done)).unwrap()),
        vec![1, 2]
    );
    let running = [TrialState::Running];
    assert_eq!(
        numbers(&storage.trials(study, Some(&running)).unwrap()),
        vec![0, 3]
    );
    assert!(storage.trials(study, Some(&[])).unwrap().is_empty());

    assert_eq!(
        numbers(&storage.trials_catch_up(study, 3, &[0]).unwrap()),
        vec![0, 3]
    );
    assert_eq!(
        numbers(&storage.trials_catch_up(study, 2, &[]).unwrap()),
        vec![2, 3]
    );
    assert!(storage.trials_catch_up(study, 4, &[]).unwrap().is_empty());
    let caught = storage.trials_catch_up(study, 1, &[]).unwrap();
    assert_eq!(caught[0].values, Some(vec![1.0]));
}

// ------------------------------------------------------------------------ waiting queue

#[test]
fn waiting_trials_are_claimed_in_fifo_order() {
    let db = server!("waiting_trials_are_claimed_in_fifo_order");
    let mut storage = db.storage();
    let study = storage.open_study(&db.name("s"), &[MIN]).unwrap().id;
    let first = config(&[("lr", 0.1.into())]);
    let second = config(&[("lr", 0.2.into())]);
    assert_eq!(storage.enqueue(study, &first).unwrap(), 0);
    assert_eq!(storage.enqueue(study, &second).unwrap(), 1);
    assert_eq!(storage.trial(study, 0).unwrap().state, TrialState::Waiting);

    let worker = WorkerId {
        host: "gpu-node-7".to_string(),
        pid: 4242,
        started: Some(17),
    };
    let claimed = storage
        .claim_waiting(study, &worker, None)
        .unwrap()
        .unwrap();
    assert_eq!((claimed.number, claimed.state), (0, TrialState::Running));
    assert_same_config(&claimed.params, &first);
    assert!(claimed.started_at.is_some());
    let row = db
        .raw()
        .query_one(
            "SELECT worker_host, worker_pid, worker_started FROM trials
             WHERE study_id = $1 AND number = 0",
            &[&study],
        )
        .unwrap();
    let stored: (String, i64, i64) = (row.get(0), row.get(1), row.get(2));
    assert_eq!(stored, ("gpu-node-7".to_string(), 4242, 17));

    let next = storage.claim_waiting(study, &me(), None).unwrap().unwrap();
    assert_eq!(next.number, 1);
    assert!(storage.claim_waiting(study, &me(), None).unwrap().is_none());
}

// ------------------------------------------------------------------- crashes and recovery

#[test]
fn orphans_of_dead_workers_are_failed_and_requeued() {
    let db = server!("orphans_of_dead_workers_are_failed_and_requeued");
    let params = config(&[("lr", 3.0.into()), ("layers", 4i64.into())]);
    let study = {
        let mut storage = db.storage();
        let study = storage.open_study(&db.name("s"), &[MIN]).unwrap().id;
        storage
            .create_running(study, &params, Some(99), &dead_worker())
            .unwrap();
        storage.create_running(study, &params, None, &me()).unwrap();
        study
        // Dropped without finishing: the "crash".
    };
    let mut storage = db.storage();
    assert_eq!(storage.recover_orphans(study).unwrap(), vec![0]);

    let failed = storage.trial(study, 0).unwrap();
    assert_eq!(failed.state, TrialState::Fail);
    let reason = failed.fail_reason.unwrap_or_default();
    assert!(
        reason.contains("gone") && reason.contains("trial 2"),
        "{reason}"
    );
    assert_eq!(storage.trial(study, 1).unwrap().state, TrialState::Running);
    let copy = storage.trial(study, 2).unwrap();
    assert_eq!((copy.state, copy.seed), (TrialState::Waiting, Some(99)));
    assert_same_config(&copy.params, &params);

    assert!(storage.recover_orphans(study).unwrap().is_empty());
    let rerun = storage.claim_waiting(study, &me(), None).unwrap().unwrap();
    assert_eq!(rerun.number, 2);
}

#[test]
fn a_reused_process_id_does_not_keep_a_dead_workers_trial_alive() {
    let db = server!("a_reused_process_id_does_not_keep_a_dead_workers_trial_alive");
    let mut storage = db.storage();
    let study = storage.open_study(&db.name("s"), &[MIN]).unwrap().id;
    let impostor = WorkerId {
        started: me().started.map(|t| t + 1),
        ..me()
    };
    assert!(me().started.is_some(), "start time read from /proc");
    let lost = storage
        .create_running(study, &Config::new(), None, &impostor)
        .unwrap();
    let live = storage
        .create_running(study, &Config::new(), None, &me())
        .unwrap();
    assert_eq!(storage.recover_orphans(study).unwrap(), vec![lost.number]);
    assert_eq!(
        storage.trial(study, live.number).unwrap().state,
        TrialState::Running
    );
}

#[test]
fn committed_work_survives_dropping_the_storage() {
    let db = server!("committed_work_survives_dropping_the_storage");
    let name = db.name("s");
    {
        let mut storage = db.storage();
        let study = storage.open_study(&name, &[MIN]).unwrap().id;
        storage
            .create_running(study, &Config::new(), None, &me())
            .unwrap();
        storage.report_intermediate(study, 0, 1, &[0.25]).unwrap();
        storage
            .finish(study, 0, TrialEnd::complete(&[0.2]))
            .unwrap();
    }
    let mut storage = db.storage();
    let study = storage.find_study(&name).unwrap().unwrap().id;
    let trial = storage.trial(study, 0).unwrap();
    assert_eq!(trial.values, Some(vec![0.2]));
    assert_eq!(trial.intermediate[&1], vec![0.25]);
}

#[test]
fn creating_a_running_trial_under_a_taken_number_is_refused() {
    let db = server!("creating_a_running_trial_under_a_taken_number_is_refused");
    let mut storage = db.storage();
    let study = storage.open_study(&db.name("s"), &[MIN]).unwrap().id;
    let mut try_create = |number| {
        storage
            .try_create_running(study, number, &Config::new(), None, &me(), None)
            .unwrap()
    };
    assert!(matches!(try_create(0), Creation::Created(t) if t.number == 0));
    assert_eq!(try_create(0), Creation::NumberTaken, "number 0 is taken");
    assert_eq!(try_create(2), Creation::NumberTaken, "number 1 is next");
    assert!(matches!(try_create(1), Creation::Created(t) if t.number == 1));
}

#[test]
fn a_trial_cap_counts_running_and_finished_trials_but_not_failed_or_waiting_ones() {
    let db =
        server!("a_trial_cap_counts_running_and_finished_trials_but_not_failed_or_waiting_ones");
    let mut storage = db.storage();
    let study = storage.open_study(&db.name("s"), &[MIN]).unwrap().id;
    check_trial_cap(&mut storage, study);
}

#[test]
fn workers_sharing_a_trial_cap_start_exactly_cap_trials() {
    let db = server!("workers_sharing_a_trial_cap_start_exactly_cap_trials");
    let name = db.name("s");
    let study = db.storage().open_study(&name, &[MIN]).unwrap().id;
    db.storage().enqueue(study, &Config::new()).unwrap();
    db.storage().enqueue(study, &Config::new()).unwrap();
    let cap = 20;
    let started: Vec<usize> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..8)
            .map(|_| scope.spawn(|| start_until_cap(&mut db.storage(), study, cap)))
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    let trials = db.storage().trials(study, None).unwrap();
    let counted = trials
        .iter()
        .filter(|t| t.state.counts_toward_budget())
        .count();
    assert_eq!(counted as u64, cap, "{started:?}");
    assert_eq!(started.iter().sum::<usize>() as u64, cap);
}

#[test]
fn trials_without_heartbeats_are_reclaimed_once_and_beating_ones_are_kept() {
    let db = server!("trials_without_heartbeats_are_reclaimed_once_and_beating_ones_are_kept");
    let mut a = db.storage();
    let mut b = db.storage();
    let study = a.open_study(&db.name("beats"), &[MIN]).unwrap().id;
    let params = config(&[("x", ParamValue::Float(0.25))]);
    let silent = a.create_running(study, &params, Some(7), &me()).unwrap();
    let beating = a.create_running(study, &params, None, &me()).unwrap();
    assert!(
        a.recover_stale(study, 3600.0).unwrap().is_empty(),
        "fresh trials are alive"
    );
    std::thread::sleep(Duration::from_millis(300));
    a.heartbeat(study, &[beating.number, 99]).unwrap();

    let reclaimed = b.recover_stale(study, 0.2).unwrap();
    assert_eq!(reclaimed, vec![silent.number]);
    assert!(
        a.recover_stale(study, 0.2).unwrap().is_empty(),
        "reclaimed once only"
    );
    let trials = a.trials(study, None).unwrap();
    let old = &trials[silent.number as usize];
    assert_eq!(old.state, TrialState::Fail);
    let reason = old.fail_reason.as_deref().unwrap_or_default();
    assert!(
        reason.contains("no heartbeat") && reason.contains("trial 2"),
        "{reason}"
    );
    assert_eq!(trials[beating.number as usize].state, TrialState::Running);
    let copy = &trials[2];
    assert_eq!((copy.state, copy.seed), (TrialState::Waiting, Some(7)));
    assert_same_config(&copy.params, &params);
}

// ------------------------------------------------------------------------- concurrency

#[test]
fn concurrent_writers_get_unique_dense_numbers() {
    let db = server!("concurrent_writers_get_unique_dense_numbers");
    let study = db.storage().open_study(&db.name("s"), &[MIN]).unwrap().id;
    let barrier = Barrier::new(8);
    let mut numbers: Vec<u64> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                scope.spawn(|| {
                    let mut storage = db.storage();
                    barrier.wait();
                    (0..50)
                        .map(|_| {
                            storage
                                .create_running(study, &Config::new(), None, &me())
                                .unwrap()
                                .number
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    numbers.sort_unstable();
    assert_eq!(numbers, (0..400).collect::<Vec<_>>());
    assert_eq!(db.storage().trials(study, None).unwrap().len(), 400);
}

#[test]
fn concurrent_claims_take_each_waiting_trial_once() {
    let db = server!("concurrent_claims_take_each_waiting_trial_once");
    let mut storage = db.storage();
    let study = storage.open_study(&db.name("s"), &[MIN]).unwrap().id;
    for i in 0..200i64 {
        storage.enqueue(study, &config(&[("i", i.into())])).unwrap();
    }
    let barrier = Barrier::new(8);
    let mut claimed: Vec<(u64, Config)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                scope.spawn(|| {
                    let mut storage = db.storage();
                    barrier.wait();
                    let mut mine = Vec::new();
                    while let Some(trial) = storage.claim_waiting(study, &me(), None).unwrap() {
                        assert_eq!(trial.state, TrialState::Running);
                        mine.push((trial.number, trial.params));
                    }
                    mine
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    claimed.sort_by_key(|(n, _)| *n);
    assert_eq!(
        claimed.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
        (0..200).collect::<Vec<_>>(),
        "every trial claimed exactly once"
    );
    for (n, params) in &claimed {
        assert_same_config(params, &config(&[("i", (*n as i64).into())]));
    }
    let waiting = [TrialState::Waiting];
    assert!(storage.trials(study, Some(&waiting)).unwrap().is_empty());
}

#[test]
fn concurrent_stale_recovery_reclaims_each_trial_once() {
    let db = server!("concurrent_stale_recovery_reclaims_each_trial_once");
    let mut storage = db.storage();
    let study = storage.open_study(&db.name("s"), &[MIN]).unwrap().id;
    for seed in 0..20 {
        storage
            .create_running(study, &Config::new(), Some(seed), &me())
            .unwrap();
    }
    std::thread::sleep(Duration::from_millis(300));
    let barrier = Barrier::new(4);
    let mut reclaimed: Vec<u64> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                scope.spawn(|| {
                    let mut storage = db.storage();
                    barrier.wait();
                    storage.recover_stale(study, 0.2).unwrap()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    reclaimed.sort_unstable();
    assert_eq!(
        reclaimed,
        (0..20).collect::<Vec<_>>(),
        "each reclaimed exactly once"
    );

    let trials = storage.trials(study, None).unwrap();
    assert_eq!(trials.len(), 40, "exactly one copy each");
    let mut copied_seeds: Vec<u64> = Vec::new();
    let mut copy_numbers = HashSet::new();
    for trial in &trials[..20] {
        assert_eq!(trial.state, TrialState::Fail);
        let reason = trial.fail_reason.as_deref().unwrap_or_default();
        let copy: u64 = reason.rsplit(' ').next().unwrap().parse().unwrap();
        assert!(copy_numbers.insert(copy), "{reason}");
        let copy = &trials[copy as usize];
        assert_eq!(copy.state, TrialState::Waiting);
        assert_eq!(copy.seed, trial.seed);
        copied_seeds.push(copy.seed.unwrap());
    }
    copied_seeds.sort_unstable();
    assert_eq!(copied_seeds, (0..20).collect::<Vec<_>>());
}

// ------------------------------------------------------------------------ SQLite parity

/// One sequence of operations, run on any storage, with `dead` as the worker of an orphan;
/// returns the study id.
fn scripted_study(storage: &mut dyn Storage, name: &str, dead: &WorkerId) -> i64 {
    let study = storage.open_study(name, &[MIN, MAX]).unwrap().id;
    storage
        .set_study_attr(
            study,
            "space",
            &json!({"lr": [1e-4, 0.1], "opt": ["adam", "sgd"]}),
        )
        .unwrap();
    storage
        .study_attr_or_insert(study, "sampler", &json!("tpe"))
        .unwrap();
    let params = config(&[
        ("lr", 0.1.into()),
        ("whole", 3.0.into()),
        ("depth", 4i64.into()),
        ("opt", "adam".into()),
        ("bn", true.into()),
    ]);
    // 0: complete, with intermediate values (one diverged) and attributes.
    storage
        .create_running(study, &params, Some(u64::MAX), &me())
        .unwrap();
    storage
        .report_intermediate(study, 0, 1, &[0.5, 1.0 / 3.0])
        .unwrap();
    storage
        .report_intermediate(study, 0, 2, &[f64::NAN, f64::INFINITY])
        .unwrap();
    storage
        .set_trial_attr(
            study,
            0,
            "summary",
            &json!({"params": 1234, "flops": 5.5e9}),
        )
        .unwrap();
    storage
        .finish(
            study,
            0,
            TrialEnd::complete(&[0.25, 0.1 + 0.2]).with_constraints(&[-0.5]),
        )
        .unwrap();
    // 1: enqueued, claimed, pruned; 2: failed.
    storage.enqueue(study, &params).unwrap();
    storage.claim_waiting(study, &me(), None).unwrap();
    storage.finish(study, 1, TrialEnd::pruned()).unwrap();
    storage
        .try_create_running(study, 2, &params, Some(5), &me(), None)
        .unwrap();
    storage
        .finish(study, 2, TrialEnd::fail("diverged"))
        .unwrap();
    // 3: orphan of a dead worker, re-enqueued as 4; 5 still running.
    storage
        .create_running(study, &params, Some(3), dead)
        .unwrap();
    storage.recover_orphans(study).unwrap();
    storage
        .create_running(study, &Config::new(), None, &me())
        .unwrap();
    study
}

/// A trial without its timestamps, printed (NaN equals NaN in this form).
fn timeless(trials: Vec<Trial>) -> Vec<String> {
    trials
        .into_iter()
        .map(|t| {
            format!(
                "{:?}",
                Trial {
                    started_at: t.started_at.map(|_| 0.0),
                    finished_at: t.finished_at.map(|_| 0.0),
                    heartbeat_at: t.heartbeat_at.map(|_| 0.0),
                    ..t
                }
            )
        })
        .collect()
}

/// The stored JSON text of a study, in a fixed order, read with plain SQL.
const STORED_TEXT: [&str; 4] = [
    "SELECT directions FROM studies WHERE id = $1",
    "SELECT key || '=' || value_json FROM study_attrs WHERE study_id = $1 ORDER BY key",
    "SELECT number || ' ' || state || ' ' || params_json || ' ' || COALESCE(values_json, '-')
            || ' ' || COALESCE(constraints_json, '-') || ' ' || COALESCE(fail_reason, '-')
            || ' ' || COALESCE(CAST(seed AS TEXT), '-')
     FROM trials WHERE study_id = $1 ORDER BY number",
    "SELECT t.number || ' ' || i.step || ' ' || i.values_json FROM trial_intermediate i
     JOIN trials t ON t.id = i.trial_id WHERE t.study_id = $1 ORDER BY t.number, i.step",
];

#[test]
fn sqlite_and_postgres_store_and_report_a_study_alike() {
    let db = server!("sqlite_and_postgres_store_and_report_a_study_alike");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("study.db");
    let mut sqlite = SqliteStorage::open(&path).unwrap();
    let mut pg = db.storage();
    let dead = dead_worker();
    let sqlite_study = scripted_study(&mut sqlite, "s", &dead);
    let pg_study = scripted_study(&mut pg, &db.name("s"), &dead);

    let lite_trials = timeless(sqlite.trials(sqlite_study, None).unwrap());
    assert_eq!(lite_trials.len(), 6);
    assert_eq!(lite_trials, timeless(pg.trials(pg_study, None).unwrap()));
    assert_eq!(
        timeless(sqlite.trials_catch_up(sqlite_study, 4, &[0]).unwrap()),
        timeless(pg.trials_catch_up(pg_study, 4, &[0]).unwrap())
    );
    assert_eq!(
        sqlite.study_attr(sqlite_study, "space").unwrap(),
        pg.study_attr(pg_study, "space").unwrap()
    );

    // Byte for byte the same JSON text in both databases.
    let lite = rusqlite::Connection::open(&path).unwrap();
    let mut raw = db.raw();
    for sql in STORED_TEXT {
        let lite_sql = sql.replace("$1", "?1");
        let mut stmt = lite.prepare(&lite_sql).unwrap();
        let lite_rows: Vec<String> = stmt
            .query_map([sqlite_study], |row| row.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let pg_rows: Vec<String> = raw
            .query(sql, &[&pg_study])
            .unwrap()
            .iter()
            .map(|row| row.get(0))
            .collect();
        assert!(!lite_rows.is_empty(), "{sql}");
        assert_eq!(lite_rows, pg_rows, "{sql}");
    }
}

#[test]
fn a_trials_worker_and_last_heartbeat_are_read_back() {
    let db = server!("a_trials_worker_and_last_heartbeat_are_read_back");
    let mut storage = db.storage();
    let study = storage.open_study(&db.name("s"), &[MIN]).unwrap().id;
    check_worker_and_heartbeat_are_read_back(&mut storage, study);
}
