//! What only the SQLite study storage has: its file in WAL mode and in-memory databases. What
//! every storage does is tested on SQLite too, in `storage_conformance.rs`.

mod common;

use common::backends::Sqlite;
use common::{config, dead_worker, me, scripted_study, timeless, MAX, MIN};

use std::time::Instant;

use nas_store::{SqliteStorage, Storage, TrialEnd};
use serde_json::json;

#[test]
fn the_database_file_is_in_wal_mode() {
    let db = Sqlite::new_file();
    drop(db.storage());
    drop(db.storage()); // reopening applies nothing twice
    let mode: String = db
        .raw_connection()
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

#[test]
fn an_in_memory_storage_stores_a_study_like_a_file() {
    let file = Sqlite::new_file();
    let mut on_file = file.storage();
    let mut in_memory = SqliteStorage::in_memory().unwrap();
    let dead = dead_worker();
    let file_study = scripted_study(&mut on_file, "s", &dead);
    let memory_study = scripted_study(&mut in_memory, "s", &dead);

    let trials = timeless(in_memory.trials(memory_study, None).unwrap());
    assert_eq!(trials.len(), 6);
    assert_eq!(trials, timeless(on_file.trials(file_study, None).unwrap()));
    assert_eq!(
        in_memory.list_studies().unwrap().len(),
        1,
        "a private database"
    );
    assert_eq!(
        in_memory.study_attr(memory_study, "space").unwrap(),
        on_file.study_attr(file_study, "space").unwrap()
    );
    assert!(SqliteStorage::in_memory()
        .unwrap()
        .list_studies()
        .unwrap()
        .is_empty());
}

/// Not a test: times `trials()` on 5,000 trials with 20 intermediate values and 3 attributes
/// each. Run with `cargo test -p nas-core --test storage_sqlite -- --ignored --nocapture`.
#[test]
#[ignore]
fn time_loading_5000_trials() {
    let db = Sqlite::new_file();
    let mut storage = db.storage();
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
