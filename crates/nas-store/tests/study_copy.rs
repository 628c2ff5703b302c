//! `copy_study`: a study copied between storages (SQLite ↔ PostgreSQL) holds the same trials,
//! bit for bit, and the copy is refused rather than merged into an existing study.

mod common;

use common::{dead_worker, scripted_study};

use nas_space::Config;
use nas_store::{
    copy_study, PostgresStorage, SqliteStorage, Storage, StorageError, StudyInfo, Trial,
};

/// The test server's URL, `None` (after a skip line) when there is none and none is required.
fn postgres_url() -> Option<String> {
    match std::env::var("NAS_TEST_POSTGRES") {
        Ok(url) => Some(url),
        Err(_) if std::env::var_os("NAS_REQUIRE_POSTGRES").is_some() => {
            panic!("NAS_REQUIRE_POSTGRES is set but NAS_TEST_POSTGRES is not")
        }
        Err(_) => {
            eprintln!("skipped: set NAS_TEST_POSTGRES=postgres://… to run");
            None
        }
    }
}

/// A study name no other run of the tests uses on a shared server.
fn unique(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("copy-{name}-{}-{nanos}", std::process::id())
}

/// Everything of a study that a copy must keep: its description (without the database id),
/// attributes and trials (printed, so NaN intermediate values compare equal).
fn contents(storage: &mut dyn Storage, name: &str) -> (String, String, Vec<String>) {
    let info = storage.find_study(name).unwrap().expect("the study exists");
    let attrs = storage.study_attrs(info.id).unwrap();
    let trials = storage.trials(info.id, None).unwrap();
    let described = format!("{} {:?} {}", info.name, info.directions, info.created_at);
    let trials = trials.iter().map(|t| format!("{t:?}")).collect();
    (described, format!("{attrs:?}"), trials)
}

/// Copies the scripted study from `from` to `to` and back under a new name, checking that
/// each copy holds exactly what the original holds.
fn round_trip(from: &mut dyn Storage, to: &mut dyn Storage, name: &str) {
    scripted_study(from, name, &dead_worker());
    let original = contents(from, name);
    assert_eq!(original.2.len(), 6, "the script makes six trials");

    copy_study(from, name, to, None).unwrap();
    assert_eq!(contents(to, name), original);

    let back = format!("{name}-back");
    copy_study(to, name, from, Some(&back)).unwrap();
    let (described, attrs, trials) = contents(from, &back);
    assert_eq!((attrs, trials), (original.1.clone(), original.2.clone()));
    assert!(described.starts_with(&back));

    let again = copy_study(from, name, to, None);
    assert!(
        matches!(&again, Err(StorageError::StudyExists(n)) if n == name),
        "{again:?}"
    );
    assert_eq!(
        contents(to, name),
        original,
        "a refused copy changes nothing"
    );
}

#[test]
fn a_study_copied_between_sqlite_files_is_the_same_study() {
    let mut from = SqliteStorage::in_memory().unwrap();
    let mut to = SqliteStorage::in_memory().unwrap();
    round_trip(&mut from, &mut to, "s");
}

#[test]
fn a_study_copied_from_sqlite_to_postgres_and_back_is_the_same_study() {
    let Some(url) = postgres_url() else { return };
    let mut sqlite = SqliteStorage::in_memory().unwrap();
    let mut postgres = PostgresStorage::connect(&url).unwrap();
    round_trip(&mut sqlite, &mut postgres, &unique("to-pg"));
}

#[test]
fn a_study_copied_from_postgres_to_sqlite_and_back_is_the_same_study() {
    let Some(url) = postgres_url() else { return };
    let mut postgres = PostgresStorage::connect(&url).unwrap();
    let mut sqlite = SqliteStorage::in_memory().unwrap();
    round_trip(&mut postgres, &mut sqlite, &unique("from-pg"));
}

#[test]
fn copying_an_unknown_study_or_trials_with_gaps_is_refused() {
    let mut from = SqliteStorage::in_memory().unwrap();
    let mut to = SqliteStorage::in_memory().unwrap();
    let missing = copy_study(&mut from, "nope", &mut to, None);
    assert!(
        matches!(missing, Err(StorageError::UnknownStudy(_))),
        "{missing:?}"
    );

    let info = StudyInfo {
        id: 0,
        name: "gap".into(),
        directions: vec![nas_store::Direction::Minimize],
        created_at: 1.0,
    };
    let gap = [
        Trial::running(0, Config::new()),
        Trial::running(2, Config::new()),
    ];
    let refused = to.import_study(&info, &Default::default(), &gap);
    assert!(
        matches!(refused, Err(StorageError::Corrupt(_))),
        "{refused:?}"
    );
    assert!(
        to.find_study("gap").unwrap().is_none(),
        "nothing half-copied"
    );
}
