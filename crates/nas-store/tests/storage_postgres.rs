//! What only the PostgreSQL study storage has: URLs in its errors and parity with SQLite.
//! What every storage does is tested on PostgreSQL too, in `storage_conformance.rs`.
//!
//! The server comes from `NAS_TEST_POSTGRES` (e.g.
//! `postgres://nas:nas@127.0.0.1:5432/nas_test`). Without it every test that needs one prints
//! a skip line and passes, unless `NAS_REQUIRE_POSTGRES=1`, which makes them fail. Tests share
//! the database and run in parallel: each works on studies of its own unique names.

mod common;

use common::backends::{Backend, Postgres, SqlBackend, Sqlite};
use common::{dead_worker, scripted_study, timeless};

use nas_store::{PostgresStorage, Storage};

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
    let Some(db) = Postgres::for_test("sqlite_and_postgres_store_and_report_a_study_alike") else {
        return;
    };
    let lite = Sqlite::new_file();
    let mut sqlite = lite.storage();
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
    for sql in STORED_TEXT {
        let lite_rows = lite.raw(sql, &[sqlite_study]);
        assert!(!lite_rows.is_empty(), "{sql}");
        assert_eq!(lite_rows, db.raw(sql, &[pg_study]), "{sql}");
    }
}
