//! `nas copy-study`: a search run on one machine's SQLite file, copied to PostgreSQL, reports
//! the same from either storage, and a worker on another machine (no results folder, no space
//! file, no settings flags) continues it with the study's own settings and recorded space,
//! read from the database.
//!
//! Without `NAS_TEST_POSTGRES` the PostgreSQL test prints a skip line, unless
//! `NAS_REQUIRE_POSTGRES=1` (set by `.ci/run`) makes it fail.

mod common;

use std::path::Path;
use std::process::Command;

use common::{data_dir, postgres_url, run_ok, search_command, unique_study, LIGHTWEIGHT};
use nas_core::study::{open_storage, TrialState};

fn nas(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_nas"));
    cmd.args(args);
    cmd
}

/// The JSON report of `study`, read from `storage` (default: its SQLite file in `results`),
/// without `generated_at` (when a report was built, to the second) and without the export
/// commands, which name where the study is read from: the fields two reports of the same
/// study may differ in.
fn json_report(results: &Path, study: &str, storage: Option<&str>) -> serde_json::Value {
    let mut cmd = nas(&["report", study, "--format", "json", "--results"]);
    cmd.arg(results);
    if let Some(url) = storage {
        cmd.args(["--storage", url]);
    }
    let mut report: serde_json::Value =
        serde_json::from_str(&run_ok(cmd)).expect("the JSON report parses");
    let built = report
        .as_object_mut()
        .and_then(|r| r.remove("generated_at"));
    assert!(built.is_some(), "a report says when it was built");
    let exports = report["exports"].as_array_mut().expect("exports listed");
    assert!(!exports.is_empty(), "a finished study names what to export");
    for hint in exports {
        let command = hint.as_object_mut().and_then(|h| h.remove("command"));
        let command = command.and_then(|c| c.as_str().map(str::to_owned));
        assert!(
            command.is_some_and(|c| c.starts_with(&format!("nas export {study} --results"))),
            "{hint}"
        );
    }
    report
}

#[test]
fn a_study_copied_to_postgres_reports_the_same_and_goes_on_with_its_own_settings() {
    let Some(url) = postgres_url() else { return };
    let (dir, data) = data_dir();
    let (here, elsewhere) = (dir.path().join("here"), dir.path().join("elsewhere"));
    let study = unique_study("copied");
    let space = Path::new(LIGHTWEIGHT);
    // One objective and no scheduler: unlike the defaults (two objectives, ASHA).
    let settings = [
        "--backend",
        "flex",
        "--objectives",
        "accuracy",
        "--scheduler",
        "none",
        "--max-epochs",
        "2",
        "--seed",
        "3",
    ];
    let mut first = settings.to_vec();
    first.extend(["--trials", "2"]);
    run_ok(search_command(space, &data, &here, &study, &first));

    let mut copy = nas(&["copy-study", "--study", &study, "--to", &url, "--results"]);
    copy.arg(&here);
    let printed = run_ok(copy);
    assert!(printed.contains("(2 trials)"), "{printed}");

    let local = json_report(&here, &study, None);
    let shared = json_report(&elsewhere, &study, Some(&url));
    let differences = json_differences(&local, &shared, "");
    assert!(
        differences.is_empty(),
        "the same report from SQLite and from PostgreSQL; differing (SQLite / PostgreSQL):\n{}",
        differences.join("\n")
    );

    let mut again = nas(&["copy-study", "--study", &study, "--to", &url, "--results"]);
    again.arg(&here);
    let out = again.output().expect("run nas");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("already exists"),
        "{err}"
    );

    // Another machine: no results folder and no copy of the space file, only the shared
    // storage and a budget.
    let mut worker = search_command(
        &dir.path().join("not-here.toml"),
        &data,
        &elsewhere,
        &study,
        &["--backend", "flex", "--storage", &url, "--trials", "3"],
    );
    let out = worker.output().expect("run nas");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("scheduler none"), "{err}");
    assert!(err.contains("using the search space study"), "{err}");

    let mut storage = open_storage(&url).unwrap();
    let info = storage.find_study(&study).unwrap().expect("study");
    assert_eq!(info.directions.len(), 1, "still the one objective");
    let trials = storage.trials(info.id, None).unwrap();
    assert_eq!(trials.len(), 3);
    assert!(trials.iter().all(|t| t.state == TrialState::Complete));
    // The original two ran here, the third on the other machine, under the same settings.
    assert_eq!(trials[0].worker, trials[1].worker);
    assert_eq!(trials[2].intermediate.len(), trials[0].intermediate.len());
}

/// The paths at which `a` and `b` differ, each with both values, so that a failure names
/// what differs rather than printing two whole reports.
fn json_differences(a: &serde_json::Value, b: &serde_json::Value, path: &str) -> Vec<String> {
    use serde_json::Value;
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            keys.into_iter()
                .flat_map(|k| {
                    let (va, vb) = (
                        x.get(k).unwrap_or(&Value::Null),
                        y.get(k).unwrap_or(&Value::Null),
                    );
                    json_differences(va, vb, &format!("{path}.{k}"))
                })
                .collect()
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .flat_map(|(i, (va, vb))| json_differences(va, vb, &format!("{path}[{i}]")))
            .collect(),
        _ if a == b => Vec::new(),
        _ => vec![format!("{path}: {a} / {b}")],
    }
}

/// Runs `cmd`, which must fail; returns its stderr.
fn fails(mut cmd: Command) -> String {
    let out = cmd.output().expect("run nas");
    assert!(!out.status.success(), "nas should have failed");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn bad_studies_settings_and_spaces_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("s.db").display());
    let to = format!("sqlite://{}", dir.path().join("t.db").display());

    let err = fails(nas(&[
        "copy-study",
        "--study",
        "absent",
        "--from",
        &url,
        "--to",
        &to,
    ]));
    assert!(err.contains("holds no study called `absent`"), "{err}");

    // Settings in the storage that this `nas` cannot read: the attribute is named.
    let mut storage = open_storage(&url).unwrap();
    let study = storage
        .open_study("odd", &[nas_core::study::Direction::Maximize])
        .unwrap();
    let bogus = serde_json::json!({ "no_such_setting": 1 });
    storage.set_study_attr(study.id, "config", &bogus).unwrap();
    let results = dir.path().join("results");
    let mut report = nas(&["report", "odd", "--storage", &url, "--results"]);
    report.arg(&results);
    let err = fails(report);
    assert!(
        err.contains("the `config` attribute of study `odd`"),
        "{err}"
    );

    // A missing space file, and no recorded space to fall back on.
    let missing = dir.path().join("missing.toml");
    let (_data_dir, data) = common::data_dir();
    let mut search = search_command(
        &missing,
        &data,
        &results,
        "new",
        &["--storage", &url, "--trials", "1"],
    );
    search.stdout(std::process::Stdio::null());
    let err = fails(search);
    let expected = format!("search space {} does not exist", missing.display());
    assert!(err.contains(&expected), "{err}");
}
