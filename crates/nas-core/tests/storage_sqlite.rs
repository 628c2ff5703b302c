//! SQLite study storage: studies, trial life cycle, exact round trips, crash recovery and
//! concurrent writers.

mod common;

use common::{
    assert_same_config, check_trial_cap, check_worker_and_heartbeat_are_read_back, config,
    dead_worker, me, start_until_cap,
};

use std::path::{Path, PathBuf};
use std::time::Instant;

use nas_core::space::{Config, ParamValue};
use nas_core::study::{
    Creation, Direction, SqliteStorage, Storage, StorageError, Trial, TrialEnd, TrialState,
    WorkerId,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::json;
use tempfile::TempDir;

const MIN: Direction = Direction::Minimize;
const MAX: Direction = Direction::Maximize;

fn db_path(dir: &TempDir) -> PathBuf {
    dir.path().join("study.db")
}

fn open(path: &Path) -> SqliteStorage {
    SqliteStorage::open(path).expect("open storage")
}

/// Worker host and pid columns of a trial, read straight from the file.
fn stored_worker(path: &Path, number: u64) -> (Option<String>, Option<u32>) {
    let conn = rusqlite::Connection::open(path).expect("raw open");
    conn.query_row(
        "SELECT worker_host, worker_pid FROM trials WHERE number = ?1",
        [number],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )
    .expect("raw query")
}

// ------------------------------------------------------------------------------ studies

#[test]
fn studies_are_created_and_reopened_by_name() {
    let dir = TempDir::new().unwrap();
    let created = open(&db_path(&dir))
        .open_study("mnist", &[MIN, MAX])
        .unwrap();
    assert_eq!(created.directions, vec![MIN, MAX]);

    let mut storage = open(&db_path(&dir));
    assert_eq!(storage.find_study("mnist").unwrap(), Some(created.clone()));
    assert_eq!(storage.open_study("mnist", &[MIN, MAX]).unwrap(), created);
    assert_eq!(storage.find_study("other").unwrap(), None);
    let second = storage.open_study("other", &[MAX]).unwrap();
    assert_eq!(storage.list_studies().unwrap(), vec![created, second]);
}

#[test]
fn reopening_with_other_directions_fails() {
    let mut storage = SqliteStorage::in_memory().unwrap();
    storage.open_study("s", &[MIN, MAX]).unwrap();
    match storage.open_study("s", &[MIN]) {
        Err(StorageError::DirectionMismatch {
            study,
            stored,
            requested,
        }) => {
            assert_eq!(study, "s");
            assert_eq!(stored, vec![MIN, MAX]);
            assert_eq!(requested, vec![MIN]);
        }
        other => panic!("expected a direction mismatch, got {other:?}"),
    }
}

#[test]
fn unknown_studies_and_trials_are_errors() {
    let mut storage = SqliteStorage::in_memory().unwrap();
    let study = storage.open_study("s", &[MIN]).unwrap().id;
    assert!(matches!(
        storage.trials(study + 1, None),
        Err(StorageError::UnknownStudyId(id)) if id == study + 1
    ));
    assert!(matches!(
        storage.create_running(study + 1, &Config::new(), None, &me()),
        Err(StorageError::UnknownStudyId(id)) if id == study + 1
    ));
    assert!(matches!(
        storage.trial(study, 7),
        Err(StorageError::UnknownTrial { number: 7, .. })
    ));
    assert!(matches!(
        storage.finish(study, 7, TrialEnd::pruned()),
        Err(StorageError::UnknownTrial { number: 7, .. })
    ));
}

#[test]
fn study_attrs_round_trip() {
    let mut storage = SqliteStorage::in_memory().unwrap();
    let study = storage.open_study("s", &[MIN]).unwrap().id;
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
fn schema_is_versioned_and_in_wal_mode() {
    let dir = TempDir::new().unwrap();
    drop(open(&db_path(&dir)));
    drop(open(&db_path(&dir))); // reopening applies nothing twice
    let conn = rusqlite::Connection::open(db_path(&dir)).unwrap();
    let version: i64 = conn
        .query_row("SELECT version FROM schema_version", [], |r| r.get(0))
        .unwrap();
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!((version, mode.as_str()), (2, "wal"));
}

// -------------------------------------------------------------------------- life cycle

#[test]
fn trial_numbers_are_sequential() {
    let mut storage = SqliteStorage::in_memory().unwrap();
    let study = storage.open_study("s", &[MIN]).unwrap().id;
    let other = storage.open_study("t", &[MIN]).unwrap().id;
    let p = Config::new();
    assert_eq!(
        storage
            .create_running(study, &p, Some(1), &me())
            .unwrap()
            .number,
        0
    );
    assert_eq!(storage.enqueue(study, &p).unwrap(), 1);
    assert_eq!(
        storage
            .create_running(study, &p, None, &me())
            .unwrap()
            .number,
        2
    );
    assert_eq!(
        storage
            .create_running(other, &p, None, &me())
            .unwrap()
            .number,
        0
    );
}

#[test]
fn created_trials_are_returned_as_stored() {
    let mut storage = SqliteStorage::in_memory().unwrap();
    let study = storage.open_study("s", &[MIN]).unwrap().id;
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
    let mut storage = SqliteStorage::in_memory().unwrap();
    let study = storage.open_study("s", &[MIN]).unwrap().id;
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
fn failed_and_pruned_trials_keep_their_details() {
    let mut storage = SqliteStorage::in_memory().unwrap();
    let study = storage.open_study("s", &[MIN]).unwrap().id;
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
    let mut storage = SqliteStorage::in_memory().unwrap();
    let study = storage.open_study("s", &[MIN, MAX]).unwrap().id;
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
    let mut storage = SqliteStorage::in_memory().unwrap();
    let study = storage.open_study("s", &[MIN]).unwrap().id;
    let nan_param = config(&[("lr", f64::NAN.into())]);
    match storage.create_running(study, &nan_param, None, &me()) {
        Err(StorageError::NonFinite { what, value }) => {
            assert!(what.contains("`lr`") && value.is_nan(), "{what}");
        }
        other => panic!("expected NonFinite, got {other:?}"),
    }
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
    let mut storage = SqliteStorage::in_memory().unwrap();
    let study = storage.open_study("s", &[MIN]).unwrap().id;
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
    let mut storage = SqliteStorage::in_memory().unwrap();
    let study = storage.open_study("s", &[MIN]).unwrap().id;
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
fn trials_filter_by_state() {
    let mut storage = SqliteStorage::in_memory().unwrap();
    let study = storage.open_study("s", &[MIN]).unwrap().id;
    for _ in 0..4 {
        storage
            .create_running(study, &Config::new(), None, &me())
            .unwrap();
    }
    storage
        .finish(study, 1, TrialEnd::complete(&[1.0]))
        .unwrap();
    storage.finish(study, 2, TrialEnd::pruned()).unwrap();
    let numbers = |trials: Vec<Trial>| trials.iter().map(|t| t.number).collect::<Vec<_>>();
    let done = [TrialState::Complete, TrialState::Pruned];
    assert_eq!(
        numbers(storage.trials(study, Some(&done)).unwrap()),
        vec![1, 2]
    );
    let running = [TrialState::Running];
    assert_eq!(
        numbers(storage.trials(study, Some(&running)).unwrap()),
        vec![0, 3]
    );
    assert!(storage.trials(study, Some(&[])).unwrap().is_empty());
}

// ------------------------------------------------------------------------ waiting queue

#[test]
fn waiting_trials_are_claimed_in_fifo_order() {
    let dir = TempDir::new().unwrap();
    let path = db_path(&dir);
    let mut storage = open(&path);
    let study = storage.open_study("s", &[MIN]).unwrap().id;
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
    assert_eq!(
        stored_worker(&path, 0),
        (Some("gpu-node-7".into()), Some(4242))
    );

    let next = storage.claim_waiting(study, &me(), None).unwrap().unwrap();
    assert_eq!(next.number, 1);
    assert!(storage.claim_waiting(study, &me(), None).unwrap().is_none());
}

// ------------------------------------------------------------------- crashes and recovery

#[test]
fn orphans_of_dead_workers_are_failed_and_requeued() {
    let dir = TempDir::new().unwrap();
    let path = db_path(&dir);
    let (study, params) = {
        let mut storage = open(&path);
        let study = storage.open_study("s", &[MIN]).unwrap().id;
        let params = config(&[("lr", 3.0.into()), ("layers", 4i64.into())]);
        storage
            .create_running(study, &params, Some(99), &dead_worker())
            .unwrap();
        storage.create_running(study, &params, None, &me()).unwrap();
        (study, params)
        // Dropped without finishing: the "crash".
    };
    let mut storage = open(&path);
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
fn committed_work_survives_dropping_the_storage() {
    let dir = TempDir::new().unwrap();
    let path = db_path(&dir);
    {
        let mut storage = open(&path);
        let study = storage.open_study("s", &[MIN]).unwrap().id;
        storage
            .create_running(study, &Config::new(), None, &me())
            .unwrap();
        storage.report_intermediate(study, 0, 1, &[0.25]).unwrap();
        storage
            .finish(study, 0, TrialEnd::complete(&[0.2]))
            .unwrap();
    }
    let mut storage = open(&path);
    let study = storage.find_study("s").unwrap().unwrap().id;
    let trial = storage.trial(study, 0).unwrap();
    assert_eq!(trial.values, Some(vec![0.2]));
    assert_eq!(trial.intermediate[&1], vec![0.25]);
}

/// Environment variable that turns [`abort_child`] into a worker that crashes.
const CHILD_DB: &str = "NAS_TEST_ABORT_CHILD_DB";

/// Run by [`committed_work_survives_an_abort`] in a child process: commits a finished and a
/// running trial, then aborts without any destructor running. Does nothing otherwise.
#[test]
fn abort_child() {
    let Some(path) = std::env::var_os(CHILD_DB) else {
        return;
    };
    let mut storage = open(Path::new(&path));
    let study = storage.open_study("s", &[MIN]).unwrap().id;
    storage
        .create_running(study, &Config::new(), None, &me())
        .unwrap();
    storage
        .finish(study, 0, TrialEnd::complete(&[0.7]))
        .unwrap();
    storage
        .create_running(study, &Config::new(), None, &me())
        .unwrap();
    std::process::abort();
}

#[test]
fn committed_work_survives_an_abort() {
    let dir = TempDir::new().unwrap();
    let path = db_path(&dir);
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "abort_child", "--nocapture", "--test-threads=1"])
        .env(CHILD_DB, &path)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("run the child");
    assert!(!status.success(), "the child was meant to abort");

    let mut storage = open(&path);
    let study = storage.find_study("s").unwrap().unwrap().id;
    assert_eq!(storage.trial(study, 0).unwrap().values, Some(vec![0.7]));
    assert_eq!(storage.recover_orphans(study).unwrap(), vec![1]);
}

// ------------------------------------------------------------------------- concurrency

#[test]
fn concurrent_writers_get_unique_numbers() {
    let dir = TempDir::new().unwrap();
    let path = db_path(&dir);
    let study = open(&path).open_study("s", &[MIN]).unwrap().id;
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let path = path.clone();
            std::thread::spawn(move || {
                let mut storage = open(&path);
                (0..50)
                    .map(|_| {
                        let params = Config::new();
                        storage
                            .create_running(study, &params, None, &me())
                            .unwrap()
                            .number
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut numbers: Vec<u64> = threads
        .into_iter()
        .flat_map(|t| t.join().expect("writer thread"))
        .collect();
    numbers.sort_unstable();
    assert_eq!(numbers, (0..200).collect::<Vec<_>>());
    assert_eq!(open(&path).trials(study, None).unwrap().len(), 200);
}

/// Not a test: times `trials()` on 5,000 trials with 20 intermediate values and 3 attributes
/// each. Run with `cargo test -p nas-core --test storage_sqlite -- --ignored --nocapture`.
#[test]
#[ignore]
fn time_loading_5000_trials() {
    let dir = TempDir::new().unwrap();
    let mut storage = open(&db_path(&dir));
    let study = storage.open_study("s", &[MIN, MAX]).unwrap().id;
    let params = config(&[
        ("lr", 0.01.into()),
        ("depth", 3i64.into()),
        ("opt", "adam".into()),
    ]);
    let started = Instant::now();
    for n in 0..5000 {
        storage
            .create_running(study, &params, Some(n), &me())
            .unwrap();
        for step in 0..20 {
            storage
                .report_intermediate(study, n, step, &[1.0 / (step + 1) as f64])
                .unwrap();
        }
        for key in ["a", "b", "c"] {
            storage
                .set_trial_attr(study, n, key, &json!({"k": n}))
                .unwrap();
        }
        storage
            .finish(study, n, TrialEnd::complete(&[0.5, 0.25]))
            .unwrap();
    }
    let filled = started.elapsed();
    let started = Instant::now();
    let trials = storage.trials(study, None).unwrap();
    let loaded = started.elapsed();
    assert_eq!(trials.len(), 5000);
    println!("filling 5,000 trials (125,000 commits): {filled:?}; trials(): {loaded:?}");
}

#[test]
fn a_reused_process_id_does_not_keep_a_dead_workers_trial_alive() {
    let mut storage = SqliteStorage::in_memory().unwrap();
    let study = storage.open_study("s", &[MIN]).unwrap().id;
    // Our own pid, but with another start time: the process that ran the trial is gone and
    // this one merely reuses its id.
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
fn creating_a_running_trial_under_a_taken_number_is_refused() {
    let mut storage = SqliteStorage::in_memory().unwrap();
    let study = storage.open_study("s", &[MIN]).unwrap().id;
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
    let mut storage = SqliteStorage::in_memory().unwrap();
    let study = storage.open_study("s", &[MIN]).unwrap().id;
    check_trial_cap(&mut storage, study);
}

#[test]
fn processes_sharing_a_trial_cap_start_exactly_cap_trials() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("study.db");
    let study = SqliteStorage::open(&path)
        .unwrap()
        .open_study("s", &[MIN])
        .unwrap()
        .id;
    let cap = 20;
    let started: Vec<usize> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..4)
            .map(|_| {
                let path = &path;
                scope.spawn(move || {
                    start_until_cap(&mut SqliteStorage::open(path).unwrap(), study, cap)
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    let trials = SqliteStorage::open(&path)
        .unwrap()
        .trials(study, None)
        .unwrap();
    let counted = trials
        .iter()
        .filter(|t| t.state.counts_toward_budget())
        .count();
    assert_eq!(counted as u64, cap, "{started:?}");
    assert_eq!(started.iter().sum::<usize>() as u64, cap);
}

#[test]
fn the_first_value_of_an_insert_once_attribute_wins() {
    let mut storage = SqliteStorage::in_memory().unwrap();
    let study = storage.open_study("s", &[MIN]).unwrap().id;
    let a = json!({"space": "a"});
    let b = json!({"space": "b"});
    assert_eq!(storage.study_attr_or_insert(study, "space", &a).unwrap(), a);
    assert_eq!(storage.study_attr_or_insert(study, "space", &b).unwrap(), a);
    assert_eq!(storage.study_attr(study, "space").unwrap(), Some(a));
}

#[test]
fn several_connections_can_create_one_new_file_at_once() {
    for _ in 0..5 {
        let dir = TempDir::new().unwrap();
        let path = db_path(&dir);
        let barrier = std::sync::Barrier::new(4);
        std::thread::scope(|scope| {
            for _ in 0..4 {
                scope.spawn(|| {
                    barrier.wait();
                    let mut storage = SqliteStorage::open(&path).expect("open a new file");
                    storage.open_study("s", &[MIN]).expect("open the study");
                });
            }
        });
    }
}

#[test]
fn trials_without_heartbeats_are_reclaimed_once_and_beating_ones_are_kept() {
    let dir = TempDir::new().unwrap();
    let path = db_path(&dir);
    let mut a = open(&path);
    let mut b = open(&path);
    let study = a.open_study("beats", &[MIN]).unwrap().id;
    let params = config(&[("x", ParamValue::Float(0.25))]);
    let silent = a.create_running(study, &params, Some(7), &me()).unwrap();
    let beating = a.create_running(study, &params, None, &me()).unwrap();
    assert!(
        a.recover_stale(study, 3600.0).unwrap().is_empty(),
        "fresh trials are alive"
    );
    std::thread::sleep(std::time::Duration::from_millis(300));
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

#[test]
fn a_trials_worker_and_last_heartbeat_are_read_back() {
    let mut storage = SqliteStorage::in_memory().unwrap();
    let study = storage.open_study("s", &[MIN]).unwrap().id;
    check_worker_and_heartbeat_are_read_back(&mut storage, study);
}
