//! Several `nas search` processes sharing one study: on SQLite and (when `NAS_TEST_POSTGRES`
//! names a server) on PostgreSQL every trial runs once and the study reaches its budget;
//! a worker killed with `kill -9` mid-trial has its trial taken over by another; `nas status`
//! lists the workers.
//!
//! Without `NAS_TEST_POSTGRES` the PostgreSQL test prints a skip line, unless
//! `NAS_REQUIRE_POSTGRES=1` (set by `.ci/run`) makes it fail.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{data_dir, run_ok, search_command, LIGHTWEIGHT};
use nas_core::schedule::BRACKET_ATTR;
use nas_core::study::{open_storage, Trial, TrialState};

/// A worker: `nas search` on the shared study, in the background.
fn worker(data: &Path, results: &Path, study: &str, storage: &str, extra: &[&str]) -> Child {
    let mut args = vec!["--backend", "flex", "--storage", storage];
    args.extend_from_slice(extra);
    search_command(Path::new(LIGHTWEIGHT), data, results, study, &args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start a worker")
}

fn trials(storage: &str, study: &str) -> Vec<Trial> {
    let mut s = open_storage(storage).expect("storage");
    match s.find_study(study).expect("find") {
        Some(info) => s.trials(info.id, None).expect("trials"),
        None => Vec::new(),
    }
}

fn count(trials: &[Trial], state: TrialState) -> usize {
    trials.iter().filter(|t| t.state == state).count()
}

fn worker_of(t: &Trial) -> String {
    t.worker.as_ref().map(|w| w.to_string()).unwrap_or_default()
}

fn wait_ok(child: Child) {
    let out = child.wait_with_output().expect("worker ends");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "a worker failed:\n{err}");
}

/// Three workers, six trials: each trial once, six complete, none left running.
fn three_workers_share_the_budget(storage: &str, study: &str) {
    let (dir, data) = data_dir();
    let results = dir.path().join("results");
    let extra = [
        "--trials",
        "6",
        "--max-epochs",
        "2",
        "--seed",
        "3",
        "--scheduler",
        "none",
    ];
    let workers: Vec<Child> = (0..3)
        .map(|_| worker(&data, &results, study, storage, &extra))
        .collect();
    workers.into_iter().for_each(wait_ok);
    let all = trials(storage, study);
    assert_eq!(count(&all, TrialState::Complete), 6, "{all:#?}");
    assert_eq!(all.len(), 6, "no trial failed, none was run twice");
    let mut workers: Vec<String> = all.iter().map(worker_of).collect();
    workers.sort();
    workers.dedup();
    assert!(workers.len() >= 2, "the work was shared: {workers:?}");

    let mut status = Command::new(env!("CARGO_BIN_EXE_nas"));
    status.args(["status", "--study", study, "--storage", storage]);
    let printed = run_ok(status);
    assert!(
        printed.contains("6 complete") && printed.contains(&format!("workers: {}", workers.len())),
        "{printed}"
    );
}

#[test]
fn three_workers_share_one_sqlite_study() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("shared.db").display());
    three_workers_share_the_budget(&url, "shared");
}

#[test]
fn three_workers_share_one_postgres_study() {
    let Some(url) = common::postgres_url() else {
        return;
    };
    let study = common::unique_study("workers");
    three_workers_share_the_budget(&url, &study);
}

#[test]
fn a_killed_workers_trial_is_taken_over_by_another() {
    let (dir, data) = data_dir();
    let results = dir.path().join("results");
    let url = format!("sqlite://{}", dir.path().join("shared.db").display());
    let extra = ["--trials", "4", "--max-epochs", "8", "--scheduler", "none"];
    let mut doomed = worker(&data, &results, "kill", &url, &extra);
    // Wait until the doomed worker is training a trial, then kill it.
    let deadline = Instant::now() + Duration::from_secs(120);
    let victim = loop {
        assert!(
            Instant::now() < deadline,
            "the worker never started a trial"
        );
        let running: Vec<Trial> = trials(&url, "kill")
            .into_iter()
            .filter(|t| t.state == TrialState::Running && t.attrs.contains_key(BRACKET_ATTR))
            .collect();
        if let Some(t) = running.first() {
            break t.clone();
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut status = Command::new(env!("CARGO_BIN_EXE_nas"));
    status.args(["status", "--study", "kill", "--storage", &url]);
    let printed = run_ok(status);
    let line = format!("trial {:>5} on {}", victim.number, worker_of(&victim));
    assert!(
        printed.contains(&line) && printed.contains("last heartbeat"),
        "the running trial, its worker and its last heartbeat are listed:\n{printed}"
    );
    doomed.kill().unwrap(); // SIGKILL
    doomed.wait().unwrap();

    wait_ok(worker(&data, &results, "kill", &url, &extra));
    let all = trials(&url, "kill");
    let lost = &all[victim.number as usize];
    assert_eq!(lost.state, TrialState::Fail, "{all:#?}");
    let reason = lost.fail_reason.as_deref().unwrap_or_default();
    assert!(reason.contains("re-enqueued"), "{reason}");
    let copy = all
        .iter()
        .find(|t| t.number > victim.number && t.params == victim.params)
        .expect("the killed trial's configuration ran again");
    assert_eq!(copy.state, TrialState::Complete);
    assert_eq!(
        count(&all, TrialState::Complete),
        4,
        "the budget is met: {all:#?}"
    );
    assert_eq!(count(&all, TrialState::Running), 0);
}

#[test]
fn two_workers_run_synchronous_halving_on_one_study() {
    // A bracket of 9 trials split over two processes: each rung is decided over both workers'
    // results, so no trial is stopped for a rung "that could not fill".
    let (dir, data) = data_dir();
    let results = dir.path().join("results");
    let url = format!("sqlite://{}", dir.path().join("sha.db").display());
    let extra = [
        "--trials",
        "9",
        "--max-epochs",
        "2",
        "--min-resolution",
        "6",
        "--scheduler",
        "sha",
    ];
    let workers: Vec<Child> = (0..2)
        .map(|_| worker(&data, &results, "sha", &url, &extra))
        .collect();
    workers.into_iter().for_each(wait_ok);
    let all = trials(&url, "sha");
    assert_eq!(all.len(), 9, "no trial run twice or lost: {all:#?}");
    let stops: Vec<String> = all
        .iter()
        .filter_map(|t| t.attrs.get("stopped").map(|s| s.to_string()))
        .collect();
    assert!(
        stops.iter().all(|s| s.contains("by the scheduler")),
        "{stops:?}"
    );
    // η = 3: rung r keeps max(1, 9 / 3^r) trials, and those at the top rung complete.
    let top = all
        .iter()
        .flat_map(|t| t.intermediate.keys())
        .max()
        .copied();
    let top = top.expect("rung results");
    assert!(top >= 1, "a ladder of at least two rungs");
    for rung in 0..=top {
        let reached = all
            .iter()
            .filter(|t| t.intermediate.contains_key(&rung))
            .count();
        assert_eq!(reached, (9 / 3usize.pow(rung as u32)).max(1), "rung {rung}");
    }
    let kept = (9 / 3usize.pow(top as u32)).max(1);
    assert_eq!(count(&all, TrialState::Complete), kept);
    assert_eq!(count(&all, TrialState::Pruned), 9 - kept);
    let owners: std::collections::BTreeSet<String> = all.iter().map(worker_of).collect();
    assert_eq!(owners.len(), 2, "both workers trained: {owners:?}");
}

#[test]
fn two_workers_run_asha_on_one_study() {
    let (dir, data) = data_dir();
    let results = dir.path().join("results");
    let url = format!("sqlite://{}", dir.path().join("asha.db").display());
    let extra = [
        "--trials",
        "8",
        "--max-epochs",
        "2",
        "--min-resolution",
        "6",
        "--scheduler",
        "asha",
    ];
    let workers: Vec<Child> = (0..2)
        .map(|_| worker(&data, &results, "asha", &url, &extra))
        .collect();
    workers.into_iter().for_each(wait_ok);
    let all = trials(&url, "asha");
    let ended = count(&all, TrialState::Complete) + count(&all, TrialState::Pruned);
    assert_eq!(ended, 8, "{all:#?}");
    assert_eq!(all.len(), 8, "no trial run twice or lost");
    // Every trial went up the ladder in order, owned by one worker from start to end.
    for t in &all {
        let rungs: Vec<u64> = t.intermediate.keys().copied().collect();
        assert_eq!(
            rungs,
            (0..rungs.len() as u64).collect::<Vec<_>>(),
            "trial {}",
            t.number
        );
        assert!(t.worker.is_some());
    }
    assert!(count(&all, TrialState::Complete) >= 1);
}

#[test]
fn nas_workers_starts_one_search_per_device() {
    let (dir, data) = data_dir();
    let results = dir.path().join("results");
    let url = format!("sqlite://{}", dir.path().join("devices.db").display());
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_nas"));
    cmd.args(["workers", "--devices", "0,0", "--", "--space", LIGHTWEIGHT])
        .args(["--dataset", "fashion-mnist", "--data-dir"])
        .arg(&data)
        .arg("--results")
        .arg(&results)
        .args([
            "--study",
            "devices",
            "--validation",
            "100",
            "--top-fraction",
            "1",
        ])
        .args(["--quiet", "--backend", "flex", "--storage", &url])
        .args(["--trials", "4", "--max-epochs", "2", "--scheduler", "none"])
        .args(["--concurrency", "1"]);
    run_ok(cmd);
    let all = trials(&url, "devices");
    assert_eq!(count(&all, TrialState::Complete), 4, "{all:#?}");
    let mut workers: Vec<String> = all.iter().map(worker_of).collect();
    workers.sort();
    workers.dedup();
    assert_eq!(workers.len(), 2, "one process per device: {workers:?}");

    let refused = |extra: &[&str], expected: &str| {
        let mut bad = search_command(Path::new(LIGHTWEIGHT), &data, &results, "bad", &[]);
        bad.args(["--backend", "flex"]).args(extra);
        let out = bad.output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains(expected), "{err}");
    };
    refused(&["--device", "3"], "no device 3");
    refused(
        &["--heartbeat-grace", "0"],
        "'0' for '--heartbeat-grace <HEARTBEAT_GRACE>': must be a positive number",
    );

    let mut twice = Command::new(env!("CARGO_BIN_EXE_nas"));
    twice.args(["workers", "--devices", "0", "--", "--device", "1"]);
    let out = twice.output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("not --device"),
        "{err}"
    );
}

#[test]
fn a_signal_to_nas_workers_reaches_its_workers_and_their_trials_are_queued_again() {
    let (dir, data) = data_dir();
    let results = dir.path().join("results");
    let mut workers = Command::new(env!("CARGO_BIN_EXE_nas"));
    workers
        .args(["workers", "--devices", "0", "--", "--space", LIGHTWEIGHT])
        .args(["--dataset", "fashion-mnist", "--data-dir"])
        .arg(&data)
        .arg("--results")
        .arg(&results)
        .args([
            "--study",
            "signalled",
            "--validation",
            "100",
            "--top-fraction",
            "1",
        ])
        .args(["--quiet", "--backend", "flex", "--scheduler", "none"])
        .args(["--trials", "2", "--max-epochs", "25", "--concurrency", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = workers.spawn().unwrap();
    common::wait_until_training(&results.join("signalled"));
    let sent = Instant::now();
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(sent.elapsed() < Duration::from_secs(10), "{err}");
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(err.contains("passing it on to the workers"), "{err}");
    let all = trials(
        results.join("signalled").join("study.db").to_str().unwrap(),
        "signalled",
    );
    assert_eq!(count(&all, TrialState::Running), 0, "{all:#?}");
    let failed: Vec<&Trial> = all.iter().filter(|t| t.state == TrialState::Fail).collect();
    assert_eq!(failed.len(), 1, "{all:#?}");
    let reason = failed[0].fail_reason.as_deref().unwrap_or_default();
    assert!(
        reason.starts_with("interrupted by SIGINT; queued again"),
        "{reason}"
    );
}
