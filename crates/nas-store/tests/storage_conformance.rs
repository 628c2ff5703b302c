//! What every study storage must do, run on each of them: studies, the trial life cycle,
//! exact round trips, the waiting queue, crash recovery and concurrent workers.
//!
//! Each behaviour below is a function of a [`Backend`]; [`conformance!`] runs it as a test on
//! SQLite (`sqlite::…`, a database file of the test's own), on PostgreSQL (`postgres::…`, the
//! server of `NAS_TEST_POSTGRES`: see [`common::backends`]) and in memory (`memory::…`),
//! except the behaviours of a database (its schema, a crash of another process), which run
//! on the two databases. What only one storage has is tested in `storage_sqlite.rs` and
//! `storage_postgres.rs`.

mod common;

use common::backends::{Backend, Memory, Postgres, SqlBackend, Sqlite};
use common::{assert_same_config, config, dead_worker, me, numbers, MAX, MIN};

use std::collections::HashSet;
use std::sync::Barrier;
use std::time::Duration;

use nas_space::{Config, ParamValue};
use nas_store::{Creation, Storage, StorageError, TrialEnd, TrialState, WorkerId};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::json;

/// Runs each behaviour of `every` as a test of the same name on each storage (`sqlite::name`,
/// `postgres::name`, `memory::name`), and each of `databases` on the two databases. Each
/// database also gets the `abort_child` test that [`committed_work_survives_an_abort`] runs in
/// a child process.
macro_rules! conformance {
    (every: [$($behaviour:ident),* $(,)?], databases: [$($database:ident),* $(,)?] $(,)?) => {
        /// The behaviours on SQLite, each in a new database file.
        mod sqlite {
            use super::{Sqlite, CHILD_DB};

            $(
                #[test]
                fn $behaviour() {
                    super::$behaviour(&Sqlite::new_file());
                }
            )*
            $(
                #[test]
                fn $database() {
                    super::$database(&Sqlite::new_file());
                }
            )*

            /// The crashing worker of `committed_work_survives_an_abort`; does nothing
            /// unless run as that child.
            #[test]
            fn abort_child() {
                if let Ok(locator) = std::env::var(CHILD_DB) {
                    super::abort_child(&Sqlite::at(&locator));
                }
            }
        }

        /// The behaviours on PostgreSQL, each on studies of its own in the shared database.
        mod postgres {
            use super::{Postgres, CHILD_DB};

            $(
                #[test]
                fn $behaviour() {
                    let test = concat!("postgres::", stringify!($behaviour));
                    if let Some(db) = Postgres::for_test(test) {
                        super::$behaviour(&db);
                    }
                }
            )*
            $(
                #[test]
                fn $database() {
                    let test = concat!("postgres::", stringify!($database));
                    if let Some(db) = Postgres::for_test(test) {
                        super::$database(&db);
                    }
                }
            )*

            /// The crashing worker of `committed_work_survives_an_abort`; does nothing
            /// unless run as that child.
            #[test]
            fn abort_child() {
                if let Ok(locator) = std::env::var(CHILD_DB) {
                    super::abort_child(&Postgres::at(&locator));
                }
            }
        }

        /// The behaviours in memory, each on a storage of its own.
        mod memory {
            use super::Memory;

            $(
                #[test]
                fn $behaviour() {
                    super::$behaviour(&Memory::default());
                }
            )*
        }
    };
}

conformance! {
    every: [
        // studies
        studies_are_created_and_reopened_by_name,
        concurrent_opens_of_a_new_study_create_it_once,
        reopening_with_other_directions_fails,
        unknown_studies_and_trials_are_errors,
        study_attrs_round_trip,
        the_first_value_of_an_insert_once_attribute_wins,
        // life cycle
        trial_numbers_are_sequential,
        created_trials_are_returned_as_stored,
        finishing_twice_is_not_running,
        concurrent_finishes_end_a_trial_once,
        failed_and_pruned_trials_keep_their_details,
        complete_needs_one_value_per_direction,
        non_finite_numbers_are_rejected_where_json_cannot_hold_them,
        intermediate_values_and_attrs_round_trip,
        params_round_trip_exactly,
        trials_filter_by_state_and_catch_up,
        creating_a_running_trial_under_a_taken_number_is_refused,
        a_trial_cap_counts_running_and_finished_trials_but_not_failed_or_waiting_ones,
        workers_sharing_a_trial_cap_start_exactly_cap_trials,
        // waiting queue
        waiting_trials_are_claimed_in_fifo_order,
        concurrent_claims_take_each_waiting_trial_once,
        // crashes and recovery
        orphans_of_dead_workers_are_failed_and_requeued,
        a_reused_process_id_does_not_keep_a_dead_workers_trial_alive,
        committed_work_survives_dropping_the_storage,
        trials_without_heartbeats_are_reclaimed_once_and_beating_ones_are_kept,
        concurrent_stale_recovery_reclaims_each_trial_once,
        a_trials_worker_and_last_heartbeat_are_read_back,
        // concurrency
        concurrent_writers_get_unique_dense_numbers,
    ],
    databases: [
        schema_is_versioned,
        several_connections_can_create_the_schema_of_a_new_database_at_once,
        waiting_trials_are_claimed_with_their_worker_in_its_columns,
        committed_work_survives_an_abort,
    ],
}

/// `threads` threads, each with a connection of its own, that run `work` (given the thread's
/// index) all at once; returns what each returned, in thread order.
fn at_once<T: Send>(
    b: &dyn Backend,
    threads: usize,
    work: impl Fn(usize, &mut dyn Storage) -> T + Sync,
) -> Vec<T> {
    let barrier = Barrier::new(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|i| {
                let (barrier, work) = (&barrier, &work);
                scope.spawn(move || {
                    let mut storage = b.connect();
                    barrier.wait();
                    work(i, &mut *storage)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

// ------------------------------------------------------------------------------ studies

fn studies_are_created_and_reopened_by_name(b: &dyn Backend) {
    let (mnist, other) = (b.name("mnist"), b.name("other"));
    let created = b.connect().open_study(&mnist, &[MIN, MAX]).unwrap();
    assert_eq!(created.directions, vec![MIN, MAX]);
    assert_eq!(created.name, mnist);

    let mut storage = b.connect();
    assert_eq!(storage.find_study(&mnist).unwrap(), Some(created.clone()));
    assert_eq!(storage.open_study(&mnist, &[MIN, MAX]).unwrap(), created);
    assert_eq!(storage.find_study(&other).unwrap(), None);
    let second = storage.open_study(&other, &[MAX]).unwrap();
    let ours = b.own_studies(storage.list_studies().unwrap());
    assert_eq!(ours, vec![created, second]);
}

fn concurrent_opens_of_a_new_study_create_it_once(b: &dyn Backend) {
    let name = b.name("s");
    let ids: HashSet<i64> = at_once(b, 8, |_, storage| {
        storage
            .open_study(&name, &[MIN])
            .expect("open the study")
            .id
    })
    .into_iter()
    .collect();
    assert_eq!(ids.len(), 1, "one study for all: {ids:?}");
}

fn reopening_with_other_directions_fails(b: &dyn Backend) {
    let mut storage = b.connect();
    let name = b.name("s");
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

fn unknown_studies_and_trials_are_errors(b: &dyn Backend) {
    let mut storage = b.connect();
    let study = storage.open_study(&b.name("s"), &[MIN]).unwrap().id;
    // Ids start at 1; no test creates i64::MAX studies.
    for missing in [-1, i64::MAX] {
        assert!(matches!(
            storage.trials(missing, None),
            Err(StorageError::UnknownStudyId(id)) if id == missing
        ));
        assert!(matches!(
            storage.create_running(missing, &Config::new(), None, &me()),
            Err(StorageError::UnknownStudyId(id)) if id == missing
        ));
        assert!(matches!(
            storage.enqueue(missing, &Config::new(), None),
            Err(StorageError::UnknownStudyId(id)) if id == missing
        ));
        assert!(matches!(
            storage.study_attr(missing, "k"),
            Err(StorageError::UnknownStudyId(id)) if id == missing
        ));
    }
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

fn study_attrs_round_trip(b: &dyn Backend) {
    let mut storage = b.connect();
    let study = storage.open_study(&b.name("s"), &[MIN]).unwrap().id;
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

fn the_first_value_of_an_insert_once_attribute_wins(b: &dyn Backend) {
    let mut storage = b.connect();
    let study = storage.open_study(&b.name("s"), &[MIN]).unwrap().id;
    let a = json!({"space": "a"});
    let b_value = json!({"space": "b"});
    assert_eq!(storage.study_attr_or_insert(study, "space", &a).unwrap(), a);
    assert_eq!(
        storage
            .study_attr_or_insert(study, "space", &b_value)
            .unwrap(),
        a
    );
    assert_eq!(storage.study_attr(study, "space").unwrap(), Some(a));

    // Racing inserters all see the one value that won.
    let seen: HashSet<String> = at_once(b, 8, |i, storage| {
        let value = json!({ "writer": i });
        storage
            .study_attr_or_insert(study, "race", &value)
            .unwrap()
            .to_string()
    })
    .into_iter()
    .collect();
    assert_eq!(seen.len(), 1, "{seen:?}");
}

/// The schema version of `b`'s database, one row per stored version.
fn schema_versions(b: &dyn SqlBackend) -> Vec<String> {
    b.raw("SELECT CAST(version AS TEXT) FROM schema_version", &[])
}

fn schema_is_versioned(b: &dyn SqlBackend) {
    drop(b.connect());
    drop(b.connect()); // reconnecting applies nothing twice
    assert_eq!(schema_versions(b), vec!["2"]);
    let indexes = b.index_names();
    let by_state = indexes.iter().filter(|n| *n == "trials_by_state").count();
    assert_eq!(by_state, 1, "{indexes:?}");
}

fn several_connections_can_create_the_schema_of_a_new_database_at_once(b: &dyn SqlBackend) {
    for _ in 0..5 {
        let fresh = b.empty_database();
        let barrier = Barrier::new(8);
        std::thread::scope(|scope| {
            for _ in 0..8 {
                scope.spawn(|| {
                    barrier.wait();
                    let mut storage = fresh.connect();
                    storage.open_study("s", &[MIN]).expect("open the study");
                });
            }
        });
        assert_eq!(schema_versions(&*fresh), vec!["2"]);
    }
}

// -------------------------------------------------------------------------- life cycle

fn trial_numbers_are_sequential(b: &dyn Backend) {
    let mut storage = b.connect();
    let study = storage.open_study(&b.name("s"), &[MIN]).unwrap().id;
    let other = storage.open_study(&b.name("t"), &[MIN]).unwrap().id;
    let p = Config::new();
    let create = |storage: &mut dyn Storage, study| {
        storage
            .create_running(study, &p, Some(1), &me())
            .unwrap()
            .number
    };
    assert_eq!(create(&mut *storage, study), 0);
    assert_eq!(create(&mut *storage, study), 1);
    assert_eq!(create(&mut *storage, other), 0);
    assert_eq!(storage.enqueue(study, &p, None).unwrap(), 2);
    assert_eq!(
        storage
            .create_running(study, &p, None, &me())
            .unwrap()
            .number,
        3
    );
    assert_eq!(create(&mut *storage, other), 1);
}

fn created_trials_are_returned_as_stored(b: &dyn Backend) {
    let mut storage = b.connect();
    let study = storage.open_study(&b.name("s"), &[MIN]).unwrap().id;
    let params = config(&[("lr", 0.01.into()), ("depth", 3i64.into())]);
    let created = storage
        .create_running(study, &params, Some(u64::MAX), &me())
        .unwrap();
    assert_eq!(created.state, TrialState::Running);
    assert_eq!(created.seed, Some(u64::MAX));
    assert!(created.started_at.is_some());
    assert_eq!(storage.trial(study, 0).unwrap(), created);
}

fn finishing_twice_is_not_running(b: &dyn Backend) {
    let mut storage = b.connect();
    let study = storage.open_study(&b.name("s"), &[MIN]).unwrap().id;
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

fn concurrent_finishes_end_a_trial_once(b: &dyn Backend) {
    let mut storage = b.connect();
    let study = storage.open_study(&b.name("s"), &[MIN]).unwrap().id;
    for _ in 0..20 {
        storage
            .create_running(study, &Config::new(), None, &me())
            .unwrap();
    }
    let wins = at_once(b, 4, |i, storage| {
        let mut won = Vec::new();
        for n in 0..20 {
            match storage.finish(study, n, TrialEnd::complete(&[i as f64])) {
                Ok(()) => won.push(n),
                Err(StorageError::NotRunning { .. }) => {}
                Err(e) => panic!("finish {n}: {e}"),
            }
        }
        won
    });
    let mut sorted: Vec<u64> = wins.into_iter().flatten().collect();
    sorted.sort_unstable();
    assert_eq!(
        sorted,
        (0..20).collect::<Vec<_>>(),
        "each finished exactly once"
    );
}

fn failed_and_pruned_trials_keep_their_details(b: &dyn Backend) {
    let mut storage = b.connect();
    let study = storage.open_study(&b.name("s"), &[MIN]).unwrap().id;
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

fn complete_needs_one_value_per_direction(b: &dyn Backend) {
    let mut storage = b.connect();
    let study = storage.open_study(&b.name("s"), &[MIN, MAX]).unwrap().id;
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

fn non_finite_numbers_are_rejected_where_json_cannot_hold_them(b: &dyn Backend) {
    let mut storage = b.connect();
    let study = storage.open_study(&b.name("s"), &[MIN]).unwrap().id;
    let nan_param = config(&[("lr", f64::NAN.into())]);
    match storage.create_running(study, &nan_param, None, &me()) {
        Err(StorageError::NonFinite { what, value }) => {
            assert!(what.contains("`lr`") && value.is_nan(), "{what}");
        }
        other => panic!("expected NonFinite, got {other:?}"),
    }
    assert!(matches!(
        storage.enqueue(study, &nan_param, None),
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

fn intermediate_values_and_attrs_round_trip(b: &dyn Backend) {
    let mut storage = b.connect();
    let study = storage.open_study(&b.name("s"), &[MIN]).unwrap().id;
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

fn params_round_trip_exactly(b: &dyn Backend) {
    let mut storage = b.connect();
    let study = storage.open_study(&b.name("s"), &[MIN]).unwrap().id;
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
    storage.enqueue(study, &params, None).unwrap();
    for trial in storage.trials(study, None).unwrap() {
        assert_same_config(&trial.params, &params);
    }
}

fn trials_filter_by_state_and_catch_up(b: &dyn Backend) {
    let mut storage = b.connect();
    let study = storage.open_study(&b.name("s"), &[MIN]).unwrap().id;
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

fn creating_a_running_trial_under_a_taken_number_is_refused(b: &dyn Backend) {
    let mut storage = b.connect();
    let study = storage.open_study(&b.name("s"), &[MIN]).unwrap().id;
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

/// The trial cap's rules: running, complete and pruned trials count; failed and waiting ones
/// do not; claims respect it too; no cap means no limit.
fn a_trial_cap_counts_running_and_finished_trials_but_not_failed_or_waiting_ones(b: &dyn Backend) {
    let mut storage = b.connect();
    let storage = &mut *storage;
    let study = storage.open_study(&b.name("s"), &[MIN]).unwrap().id;
    let create = |storage: &mut dyn Storage, number: u64, cap: Option<u64>| {
        storage
            .try_create_running(study, number, &Config::new(), None, &me(), cap)
            .unwrap()
    };
    let created = |c: Creation| matches!(c, Creation::Created(_));
    assert!(created(create(storage, 0, Some(2))));
    assert!(created(create(storage, 1, Some(2))));
    assert_eq!(create(storage, 2, Some(2)), Creation::AtCap, "two running");
    storage
        .finish(study, 0, TrialEnd::complete(&[1.0]))
        .unwrap();
    assert_eq!(
        create(storage, 2, Some(2)),
        Creation::AtCap,
        "complete counts"
    );
    storage
        .finish(study, 1, TrialEnd::fail("diverged"))
        .unwrap();
    assert!(
        created(create(storage, 2, Some(2))),
        "failed does not count"
    );
    assert_eq!(storage.enqueue(study, &Config::new(), None).unwrap(), 3);
    assert!(storage
        .claim_waiting(study, &me(), Some(2))
        .unwrap()
        .is_none());
    assert_eq!(storage.trial(study, 3).unwrap().state, TrialState::Waiting);
    let claimed = storage.claim_waiting(study, &me(), Some(3)).unwrap();
    assert_eq!(claimed.map(|t| t.number), Some(3), "waiting does not count");
    storage.finish(study, 2, TrialEnd::pruned()).unwrap();
    assert_eq!(
        create(storage, 4, Some(3)),
        Creation::AtCap,
        "pruned counts"
    );
    assert!(created(create(storage, 4, None)), "no cap");
}

/// One worker's loop under a shared trial cap: claims or creates trials until the storage
/// says the cap is reached, failing every fourth one (failures do not count). Returns how
/// many counted trials it started.
fn start_until_cap(storage: &mut dyn Storage, study: i64, cap: u64) -> usize {
    let (mut started, mut counted) = (0, 0);
    loop {
        let trial = match storage.claim_waiting(study, &me(), Some(cap)).unwrap() {
            Some(trial) => trial,
            None => {
                let number = storage.trials(study, None).unwrap().len() as u64;
                let params = Config::new();
                match storage
                    .try_create_running(study, number, &params, None, &me(), Some(cap))
                    .unwrap()
                {
                    Creation::Created(trial) => *trial,
                    Creation::NumberTaken => continue,
                    Creation::AtCap => return counted,
                }
            }
        };
        started += 1;
        let end = if started % 4 == 0 {
            TrialEnd::fail("diverged")
        } else {
            counted += 1;
            TrialEnd::complete(&[1.0])
        };
        storage.finish(study, trial.number, end).unwrap();
    }
}

fn workers_sharing_a_trial_cap_start_exactly_cap_trials(b: &dyn Backend) {
    let study = b.connect().open_study(&b.name("s"), &[MIN]).unwrap().id;
    b.connect().enqueue(study, &Config::new(), None).unwrap();
    b.connect().enqueue(study, &Config::new(), None).unwrap();
    let cap = 20;
    let started = at_once(b, 8, |_, storage| start_until_cap(storage, study, cap));
    let trials = b.connect().trials(study, None).unwrap();
    let counted = trials
        .iter()
        .filter(|t| t.state.counts_toward_budget())
        .count();
    assert_eq!(counted as u64, cap, "{started:?}");
    assert_eq!(started.iter().sum::<usize>() as u64, cap);
}

// ------------------------------------------------------------------------ waiting queue

fn waiting_trials_are_claimed_in_fifo_order(b: &dyn Backend) {
    let mut storage = b.connect();
    let study = storage.open_study(&b.name("s"), &[MIN]).unwrap().id;
    let first = config(&[("lr", 0.1.into())]);
    let second = config(&[("lr", 0.2.into())]);
    assert_eq!(storage.enqueue(study, &first, None).unwrap(), 0);
    assert_eq!(storage.enqueue(study, &second, Some(u64::MAX)).unwrap(), 1);
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
    assert_eq!(claimed.worker.as_ref(), Some(&worker));
    assert_eq!(storage.trial(study, 0).unwrap().worker, Some(worker));

    assert_eq!(claimed.seed, None);
    let next = storage.claim_waiting(study, &me(), None).unwrap().unwrap();
    assert_eq!(next.number, 1);
    assert_eq!(
        next.seed,
        Some(u64::MAX),
        "an enqueued seed runs with its trial"
    );
    assert!(storage.claim_waiting(study, &me(), None).unwrap().is_none());
}

/// A claimed trial's worker is written to the worker columns (what other tools read).
fn waiting_trials_are_claimed_with_their_worker_in_its_columns(b: &dyn SqlBackend) {
    let mut storage = b.connect();
    let study = storage.open_study(&b.name("s"), &[MIN]).unwrap().id;
    storage.enqueue(study, &Config::new(), None).unwrap();
    let worker = WorkerId {
        host: "gpu-node-7".to_string(),
        pid: 4242,
        started: Some(17),
    };
    storage
        .claim_waiting(study, &worker, None)
        .unwrap()
        .unwrap();
    let stored = b.raw(
        "SELECT worker_host || ' ' || worker_pid || ' ' || worker_started FROM trials
         WHERE study_id = $1 AND number = 0",
        &[study],
    );
    assert_eq!(stored, vec!["gpu-node-7 4242 17"]);
}

fn concurrent_claims_take_each_waiting_trial_once(b: &dyn Backend) {
    let mut storage = b.connect();
    let study = storage.open_study(&b.name("s"), &[MIN]).unwrap().id;
    for i in 0..200i64 {
        storage
            .enqueue(study, &config(&[("i", i.into())]), None)
            .unwrap();
    }
    let mut claimed: Vec<(u64, Config)> = at_once(b, 8, |_, storage| {
        let mut mine = Vec::new();
        while let Some(trial) = storage.claim_waiting(study, &me(), None).unwrap() {
            assert_eq!(trial.state, TrialState::Running);
            mine.push((trial.number, trial.params));
        }
        mine
    })
    .into_iter()
    .flatten()
    .collect();
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

// ------------------------------------------------------------------- crashes and recovery

fn orphans_of_dead_workers_are_failed_and_requeued(b: &dyn Backend) {
    let params = config(&[("lr", 3.0.into()), ("layers", 4i64.into())]);
    let study = {
        let mut storage = b.connect();
        let study = storage.open_study(&b.name("s"), &[MIN]).unwrap().id;
        storage
            .create_running(study, &params, Some(99), &dead_worker())
            .unwrap();
        storage.create_running(study, &params, None, &me()).unwrap();
        study
        // Dropped without finishing: the "crash".
    };
    let mut storage = b.connect();
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

fn a_reused_process_id_does_not_keep_a_dead_workers_trial_alive(b: &dyn Backend) {
    let mut storage = b.connect();
    let study = storage.open_study(&b.name("s"), &[MIN]).unwrap().id;
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

fn committed_work_survives_dropping_the_storage(b: &dyn Backend) {
    let name = b.name("s");
    {
        let mut storage = b.connect();
        let study = storage.open_study(&name, &[MIN]).unwrap().id;
        storage
            .create_running(study, &Config::new(), None, &me())
            .unwrap();
        storage.report_intermediate(study, 0, 1, &[0.25]).unwrap();
        storage
            .finish(study, 0, TrialEnd::complete(&[0.2]))
            .unwrap();
    }
    let mut storage = b.connect();
    let study = storage.find_study(&name).unwrap().unwrap().id;
    let trial = storage.trial(study, 0).unwrap();
    assert_eq!(trial.values, Some(vec![0.2]));
    assert_eq!(trial.intermediate[&1], vec![0.25]);
}

/// Environment variable that turns a backend's `abort_child` test into a worker that
/// crashes: the [`SqlBackend::locator`] of the database it works on.
const CHILD_DB: &str = "NAS_TEST_ABORT_CHILD_DB";

/// Run by [`committed_work_survives_an_abort`] in a child process: commits a finished and a
/// running trial, then aborts without any destructor running.
fn abort_child(b: &dyn SqlBackend) {
    let mut storage = b.connect();
    let study = storage.open_study(&b.name("s"), &[MIN]).unwrap().id;
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

fn committed_work_survives_an_abort(b: &dyn SqlBackend) {
    let child = format!("{}::abort_child", b.kind());
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", &child, "--nocapture", "--test-threads=1"])
        .env(CHILD_DB, b.locator())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("run the child");
    assert!(!status.success(), "the child was meant to abort");

    let mut storage = b.connect();
    let study = storage.find_study(&b.name("s")).unwrap().unwrap().id;
    assert_eq!(storage.trial(study, 0).unwrap().values, Some(vec![0.7]));
    assert_eq!(storage.recover_orphans(study).unwrap(), vec![1]);
}

fn trials_without_heartbeats_are_reclaimed_once_and_beating_ones_are_kept(b: &dyn Backend) {
    let mut a = b.connect();
    let mut other = b.connect();
    let study = a.open_study(&b.name("beats"), &[MIN]).unwrap().id;
    let params = config(&[("x", ParamValue::Float(0.25))]);
    let silent = a.create_running(study, &params, Some(7), &me()).unwrap();
    let beating = a.create_running(study, &params, None, &me()).unwrap();
    assert!(
        a.recover_stale(study, 3600.0).unwrap().is_empty(),
        "fresh trials are alive"
    );
    std::thread::sleep(Duration::from_millis(300));
    a.heartbeat(study, &[beating.number, 99]).unwrap();

    let reclaimed = other.recover_stale(study, 0.2).unwrap();
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

fn concurrent_stale_recovery_reclaims_each_trial_once(b: &dyn Backend) {
    let mut storage = b.connect();
    let study = storage.open_study(&b.name("s"), &[MIN]).unwrap().id;
    for seed in 0..20 {
        storage
            .create_running(study, &Config::new(), Some(seed), &me())
            .unwrap();
    }
    std::thread::sleep(Duration::from_millis(300));
    let mut reclaimed: Vec<u64> = at_once(b, 4, |_, storage| {
        storage.recover_stale(study, 0.2).unwrap()
    })
    .into_iter()
    .flatten()
    .collect();
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

/// A trial read back names its worker, and its heartbeat time moves with each beat.
fn a_trials_worker_and_last_heartbeat_are_read_back(b: &dyn Backend) {
    let mut storage = b.connect();
    let study = storage.open_study(&b.name("s"), &[MIN]).unwrap().id;
    let created = storage
        .create_running(study, &Config::new(), None, &me())
        .unwrap();
    let read = storage.trial(study, created.number).unwrap();
    assert_eq!(read.worker, Some(me()));
    assert_eq!(read.heartbeat_at, read.started_at);
    assert_eq!(read, created, "what create returns is what is stored");
    std::thread::sleep(Duration::from_millis(20));
    storage.heartbeat(study, &[created.number]).unwrap();
    let beaten = storage.trial(study, created.number).unwrap();
    assert!(beaten.heartbeat_at > read.heartbeat_at, "{beaten:?}");
    assert_eq!(beaten.started_at, read.started_at);
    assert_eq!(storage.enqueue(study, &Config::new(), None).unwrap(), 1);
    let waiting = storage.trial(study, 1).unwrap();
    assert_eq!((waiting.worker, waiting.heartbeat_at), (None, None));
}

// ------------------------------------------------------------------------- concurrency

fn concurrent_writers_get_unique_dense_numbers(b: &dyn Backend) {
    let study = b.connect().open_study(&b.name("s"), &[MIN]).unwrap().id;
    let mut numbers: Vec<u64> = at_once(b, 8, |_, storage| {
        (0..50)
            .map(|_| {
                storage
                    .create_running(study, &Config::new(), None, &me())
                    .unwrap()
                    .number
            })
            .collect::<Vec<_>>()
    })
    .into_iter()
    .flatten()
    .collect();
    numbers.sort_unstable();
    assert_eq!(numbers, (0..400).collect::<Vec<_>>());
    assert_eq!(b.connect().trials(study, None).unwrap().len(), 400);
}
