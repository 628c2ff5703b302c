//! A study written by an earlier nas still opens, reports and resumes.
//!
//! `fixtures/study-589dac5.db` is the `study.db` of a real 3-minute `nas search --budget 3m`
//! on Fashion-MNIST made by commit 589dac5, before the trial record became a type
//! (`nas_search::TrialRecord`) and before the storage left nas-core: three trials pruned at
//! rung 0 (by ASHA or the budget), three refused (failed) for the budget.
//! `fixtures/lightweight-589dac5.toml` is the default space it was made with (a study resumes
//! only with its own space; the default space has changed since).

mod common;

use std::path::Path;
use std::process::Command;

use common::{data_dir, run_ok, search_command, LIGHTWEIGHT};
use nas_core::study::{open_storage, TrialState};

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/study-589dac5.db"
);

const FIXTURE_SPACE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/lightweight-589dac5.toml"
);

/// A results folder holding a copy of the old study as `default`.
fn results_with_old_study(root: &Path) -> std::path::PathBuf {
    let results = root.join("results");
    std::fs::create_dir_all(results.join("default")).unwrap();
    std::fs::copy(FIXTURE, results.join("default").join("study.db")).unwrap();
    results
}

#[test]
fn an_old_study_reports_its_records_and_resumes() {
    let (dir, data) = data_dir();
    let results = results_with_old_study(dir.path());

    let mut cmd = Command::new(env!("CARGO_BIN_EXE_nas"));
    cmd.args(["report", "default", "--format", "json", "--results"])
        .arg(&results);
    let report: serde_json::Value = serde_json::from_str(&run_ok(cmd)).expect("JSON report");
    let trials = report["trials"].as_array().expect("trials");
    assert_eq!(trials.len(), 6);
    for row in &trials[..3] {
        assert_eq!(row["state"], "PRUNED", "{row}");
        assert_eq!(row["top_rung"], 0, "{row}");
        let accuracy = row["accuracy"].as_f64().expect("rung 0's accuracy");
        assert!(accuracy > 0.1 && accuracy < 1.0, "{row}");
        assert!(row["param_count"].as_u64().is_some_and(|p| p > 0), "{row}");
        assert!(row["macs"].as_u64().is_some_and(|m| m > 0), "{row}");
        assert!(row["cost_gmacs"].as_f64().is_some_and(|c| c > 0.0), "{row}");
        assert!(row["arch"].as_str().is_some(), "{row}");
        assert!(row["recipe"].as_str().is_some(), "{row}");
        assert!(row["stopped"].as_str().is_some(), "why it stopped: {row}");
    }
    for row in &trials[3..] {
        assert_eq!(row["state"], "FAIL", "{row}");
        let why = row["fail_reason"].as_str().expect("why it failed");
        assert!(why.starts_with("not started"), "{row}");
    }

    // Resumed on other data: one more trial within a budget of 4 (3 pruned + 1), the old
    // trials untouched.
    let url = format!(
        "sqlite://{}",
        results.join("default").join("study.db").display()
    );
    let trials_now = || {
        let mut storage = open_storage(&url).unwrap();
        let info = storage.find_study("default").unwrap().expect("the study");
        storage.trials(info.id, None).unwrap()
    };
    let before = trials_now();
    // Today's default space is not the one the study was made with: refused by name, and
    // nothing written.
    let out = search_command(
        Path::new(LIGHTWEIGHT),
        &data,
        &results,
        "default",
        &["--backend", "flex", "--trials", "4"],
    )
    .output()
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("study `default` was created with another search space"),
        "{stderr}"
    );
    assert_eq!(trials_now(), before);
    run_ok(search_command(
        Path::new(FIXTURE_SPACE),
        &data,
        &results,
        "default",
        &["--backend", "flex", "--trials", "4"],
    ));
    let after = trials_now();
    assert_eq!(after[..6], before[..], "the old trials are as they were");
    let new: Vec<_> = after[6..]
        .iter()
        .filter(|t| t.state.counts_toward_budget())
        .collect();
    assert_eq!(new.len(), 1, "{after:?}");
    assert!(matches!(
        new[0].state,
        TrialState::Complete | TrialState::Pruned
    ));
    assert!(results.join("default").join("report.html").is_file());
}
