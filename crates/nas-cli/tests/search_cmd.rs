//! `nas search` end to end on a tiny generated dataset: every scheduler on flex, one run on
//! wgpu (lavapipe in CI), a diverging trial, and resuming after `kill -9`.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;

use common::{data_dir, run_ok, search_command, LIGHTWEIGHT};

/// `(number, state, value_accuracy, fail_reason)` of every row of `trials.csv`.
fn rows(study_dir: &Path) -> Vec<(u64, String, String, String)> {
    let text = std::fs::read_to_string(study_dir.join("trials.csv")).unwrap_or_default();
    let mut lines = text.lines();
    let Some(header) = lines.next() else {
        return Vec::new();
    };
    let col = |name: &str| header.split(',').position(|h| h == name).unwrap();
    let (state, acc, reason) = (col("state"), col("value_accuracy"), col("fail_reason"));
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            (
                r[0].parse().unwrap(),
                r[state].to_string(),
                r[acc].to_string(),
                r[reason].to_string(),
            )
        })
        .collect()
}

#[test]
fn every_scheduler_searches_the_tiny_dataset_on_flex() {
    let (dir, data) = data_dir();
    for scheduler in ["none", "sha", "asha", "hyperband", "bohb"] {
        let results = dir.path().join("results");
        let cmd = search_command(
            Path::new(LIGHTWEIGHT),
            &data,
            &results,
            scheduler,
            &[
                "--backend",
                "flex",
                "--scheduler",
                scheduler,
                "--trials",
                "9",
                "--max-epochs",
                "2",
                "--min-resolution",
                "6",
            ],
        );
        let stdout = run_ok(cmd);
        assert!(
            stdout.contains("best validation accuracy"),
            "{scheduler}: {stdout}"
        );
        let study = results.join(scheduler);
        let report = std::fs::read_to_string(study.join("report.html")).unwrap_or_default();
        assert!(
            report.contains("id=\"pareto-table\""),
            "{scheduler}: report.html written"
        );
        // It ends with what to export and how, printed and at the top of the page.
        let export = format!("nas export {scheduler} --results {}", results.display());
        assert!(
            stdout.contains("What to export")
                && stdout.contains(&format!("{export} --pick best-accuracy")),
            "{scheduler}: {stdout}"
        );
        assert!(
            report.contains("id=\"exports\"") && report.contains("--pick best-accuracy"),
            "{scheduler}: the page names what to export"
        );
        let rows = rows(&study);
        let ended = rows
            .iter()
            .filter(|r| r.1 == "COMPLETE" || r.1 == "PRUNED")
            .count();
        assert_eq!(ended, 9, "{scheduler}: {rows:?}");
        assert!(
            rows.iter().all(|r| r.1 != "RUNNING" && r.1 != "WAITING"),
            "{scheduler}: {rows:?}"
        );
        let complete: Vec<f64> = rows
            .iter()
            .filter(|r| r.1 == "COMPLETE")
            .map(|r| r.2.parse().unwrap())
            .collect();
        assert!(
            !complete.is_empty(),
            "{scheduler}: a trial reaches the top rung"
        );
        if scheduler != "none" {
            assert!(
                rows.iter().any(|r| r.1 == "PRUNED"),
                "{scheduler} stops some trials"
            );
            // A complete trial reported rung 0 and the top rung: the agreement is printed.
            assert!(
                stdout.contains("Rung agreement with the top rung 1"),
                "{scheduler}: {stdout}"
            );
        }
        let pareto: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(study.join("pareto.json")).unwrap())
                .unwrap();
        let front = pareto.as_array().unwrap();
        assert!(!front.is_empty(), "{scheduler}");
        for entry in front {
            let n = entry["trial"].as_u64().unwrap();
            assert!(study.join(format!("pareto/trial-{n}.json")).is_file());
            assert!(entry["arch"]["stages"].is_array(), "{entry}");
        }
        assert!(study.join("search.log").is_file() && study.join("study.db").is_file());
    }
}

#[test]
fn the_tiny_problem_is_learned() {
    let (dir, data) = data_dir();
    let results = dir.path().join("results");
    let cmd = search_command(
        Path::new(LIGHTWEIGHT),
        &data,
        &results,
        "learn",
        &[
            "--backend",
            "flex",
            "--scheduler",
            "none",
            "--trials",
            "4",
            "--max-epochs",
            "15",
            "--seed",
            "3",
        ],
    );
    run_ok(cmd);
    let best = rows(&results.join("learn"))
        .iter()
        .filter_map(|r| r.2.parse::<f64>().ok())
        .fold(0.0, f64::max);
    assert!(
        best >= 0.5,
        "best validation accuracy {best} on 10 easy classes (chance 0.1)"
    );
}

#[test]
fn two_trials_train_at_once_each_on_its_share_of_the_cores() {
    let (dir, data) = data_dir();
    let results = dir.path().join("results");
    let args = ["--backend", "flex", "--scheduler", "none", "--trials", "4"];
    let args = [&args[..], &["--concurrency", "2", "--seed", "5"]].concat();
    let out = search_command(Path::new(LIGHTWEIGHT), &data, &results, "two", &args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = (cores / 2).max(1);
    let each = if threads == 1 { "thread" } else { "threads" };
    assert!(
        stderr.contains(&format!("2 at once, {threads} {each} each")),
        "{stderr}"
    );
    use nas_core::study::{SqliteStorage, Storage, TrialState};
    let mut storage = SqliteStorage::open(&results.join("two/study.db")).unwrap();
    let info = storage.find_study("two").unwrap().unwrap();
    let trials = storage.trials(info.id, None).unwrap();
    assert_eq!(trials.len(), 4);
    assert!(trials.iter().all(|t| t.state == TrialState::Complete));
    // Trials 0 and 1 are handed out together: each started before the other ended.
    let span = |n: usize| {
        (
            trials[n].started_at.unwrap(),
            trials[n].finished_at.unwrap(),
        )
    };
    let ((s0, f0), (s1, f1)) = (span(0), span(1));
    assert!(s1 < f0 && s0 < f1, "trial 0 {s0}..{f0}, trial 1 {s1}..{f1}");
}

#[test]
fn the_same_seed_replays_the_same_trials() {
    let (dir, data) = data_dir();
    let results = dir.path().join("results");
    let args = [
        "--backend",
        "flex",
        "--scheduler",
        "asha",
        "--trials",
        "5",
        "--max-epochs",
        "2",
        "--objectives",
        "accuracy",
        "--seed",
        "11",
    ];
    for study in ["first", "second"] {
        run_ok(search_command(
            Path::new(LIGHTWEIGHT),
            &data,
            &results,
            study,
            &args,
        ));
    }
    let read = |study: &str| {
        let text = std::fs::read_to_string(results.join(study).join("trials.csv")).unwrap();
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let header = reader.headers().unwrap().clone();
        let keep: Vec<usize> = header
            .iter()
            .enumerate()
            .filter(|(_, h)| !matches!(*h, "latency_ms" | "duration_s"))
            .map(|(i, _)| i)
            .collect();
        reader
            .records()
            .map(|r| {
                let r = r.unwrap();
                keep.iter().map(|&i| r[i].to_string()).collect::<Vec<_>>()
            })
            .collect::<Vec<_>>()
    };
    let (first, second) = (read("first"), read("second"));
    assert_eq!(first.len(), 5);
    assert_eq!(first, second, "same seed, same trials, same accuracies");
}

#[test]
fn a_diverging_trial_fails_and_the_search_goes_on() {
    let (dir, data) = data_dir();
    let space = dir.path().join("diverging.toml");
    let text = std::fs::read_to_string(LIGHTWEIGHT).unwrap();
    // Learning rates of 1e-3 or 1e30: the second one overflows the weights.
    let start = text.find("[params.lr]").unwrap();
    let end = start + text[start..].find("\n\n").unwrap();
    let text = format!(
        "{}[params.lr]\nchoices = [0.001, 1e30]{}",
        &text[..start],
        &text[end..]
    );
    std::fs::write(&space, text).unwrap();
    let results = dir.path().join("results");
    let cmd = search_command(
        &space,
        &data,
        &results,
        "nan",
        &[
            "--backend",
            "flex",
            "--scheduler",
            "none",
            "--trials",
            "4",
            "--seed",
            "5",
            "--sampler",
            "random",
            "--max-epochs",
            "2",
        ],
    );
    run_ok(cmd);
    let rows = rows(&results.join("nan"));
    let failed: Vec<_> = rows.iter().filter(|r| r.1 == "FAIL").collect();
    assert!(!failed.is_empty(), "lr 1e30 diverges: {rows:?}");
    assert!(
        failed.iter().all(|r| r.3.starts_with("diverged")),
        "{failed:?}"
    );
    assert_eq!(rows.iter().filter(|r| r.1 == "COMPLETE").count(), 4);
}

#[test]
fn a_killed_search_resumes_with_its_finished_trials_intact() {
    let (dir, data) = data_dir();
    let results = dir.path().join("results");
    let study = results.join("resume");
    let args = [
        "--backend",
        "flex",
        "--scheduler",
        "none",
        "--trials",
        "8",
        "--max-epochs",
        "6",
    ];
    let mut child = search_command(Path::new(LIGHTWEIGHT), &data, &results, "resume", &args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(300);
    while rows(&study).iter().filter(|r| r.1 == "COMPLETE").count() < 2 {
        assert!(Instant::now() < deadline, "no progress before the kill");
        assert!(
            child.try_wait().unwrap().is_none(),
            "the search ended before it was killed"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let before: Vec<_> = rows(&study)
        .into_iter()
        .filter(|r| r.1 == "COMPLETE")
        .collect();

    let stdout = run_ok(search_command(
        Path::new(LIGHTWEIGHT),
        &data,
        &results,
        "resume",
        &args,
    ));
    assert!(stdout.contains("search done"), "{stdout}");
    let after = rows(&study);
    for row in &before {
        assert!(after.contains(row), "finished trial {row:?} kept as it was");
    }
    let complete = after.iter().filter(|r| r.1 == "COMPLETE").count();
    assert_eq!(complete, 8, "the study reaches its 8 trials: {after:?}");
    let interrupted: Vec<_> = after.iter().filter(|r| r.1 == "FAIL").collect();
    assert!(interrupted.len() <= 1, "{after:?}");
    assert!(
        interrupted
            .iter()
            .all(|r| r.3.contains("died") || r.3.contains("process")),
        "{interrupted:?}"
    );
}

/// Starts a search that trains long enough to be signalled mid-trial; returns it once its
/// first trial trains.
fn start_long_search(
    data: &Path,
    results: &Path,
    study: &str,
) -> (std::process::Child, Vec<String>) {
    let args: Vec<String> = [
        "--backend",
        "flex",
        "--scheduler",
        "none",
        "--trials",
        "2",
        "--max-epochs",
        "25",
        "--concurrency",
        "1",
    ]
    .map(String::from)
    .to_vec();
    let flags: Vec<&str> = args.iter().map(String::as_str).collect();
    let child = search_command(Path::new(LIGHTWEIGHT), data, results, study, &flags)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    common::wait_until_training(&results.join(study));
    (child, args)
}

/// Sends `signal` (a `kill` name) to `child` and waits for it: (exit code, stdout, seconds).
fn signal_and_wait(child: std::process::Child, signal: &str) -> (Option<i32>, String, f64) {
    let sent = Instant::now();
    let status = Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("interrupted by SIG{signal}")),
        "{stdout}\n{stderr}"
    );
    (out.status.code(), stdout, sent.elapsed().as_secs_f64())
}

#[test]
fn a_signalled_search_stops_saves_its_results_and_resumes() {
    let (dir, data) = data_dir();
    let results = dir.path().join("results");
    for (signal, code) in [("INT", 130), ("TERM", 143)] {
        let name = format!("signalled-{signal}");
        let study = results.join(&name);
        let (child, args) = start_long_search(&data, &results, &name);
        let (exit, stdout, seconds) = signal_and_wait(child, signal);
        assert_eq!(exit, Some(code), "{stdout}");
        assert!(seconds < 10.0, "stopped {seconds:.1} s after SIG{signal}");
        assert!(stdout.contains("search done"), "the summary: {stdout}");
        assert!(study.join("report.html").is_file());
        let resume = stdout
            .lines()
            .find_map(|l| l.strip_prefix("resume with: "))
            .unwrap_or_else(|| panic!("a resume command: {stdout}"));
        assert!(resume.ends_with(&args.join(" ")), "{resume}");
        // The trial in training failed with the signal's name and was queued again; none is
        // left running.
        let trials = rows(&study);
        assert!(trials.iter().all(|r| r.1 != "RUNNING"), "{trials:?}");
        let failed: Vec<_> = trials.iter().filter(|r| r.1 == "FAIL").collect();
        assert_eq!(failed.len(), 1, "{trials:?}");
        assert!(
            failed[0].3.starts_with(&format!(
                "interrupted by SIG{signal}; queued again as trial"
            )),
            "{failed:?}"
        );
        assert_eq!(trials.iter().filter(|r| r.1 == "WAITING").count(), 1);
        if signal == "INT" {
            // The same command resumes and completes the two budgeted trials.
            let flags: Vec<&str> = args.iter().map(String::as_str).collect();
            let stdout = run_ok(search_command(
                Path::new(LIGHTWEIGHT),
                &data,
                &results,
                &name,
                &flags,
            ));
            assert!(stdout.contains("search done"), "{stdout}");
            let trials = rows(&study);
            assert_eq!(
                trials.iter().filter(|r| r.1 == "COMPLETE").count(),
                2,
                "{trials:?}"
            );
            assert!(trials.iter().all(|r| r.1 == "COMPLETE" || r.1 == "FAIL"));
        }
    }
}

#[test]
fn a_search_runs_on_wgpu() {
    let (dir, data) = data_dir();
    let space = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/one_network.toml"
    ));
    let results = dir.path().join("results");
    let cmd = search_command(
        space,
        &data,
        &results,
        "wgpu",
        &[
            "--backend",
            "wgpu",
            "--scheduler",
            "asha",
            "--trials",
            "3",
            "--max-epochs",
            "3",
            "--min-resolution",
            "12",
        ],
    );
    run_ok(cmd);
    let rows = rows(&results.join("wgpu"));
    assert_eq!(
        rows.iter()
            .filter(|r| r.1 == "COMPLETE" || r.1 == "PRUNED")
            .count(),
        3,
        "{rows:?}"
    );
    assert!(rows.iter().any(|r| r.1 == "COMPLETE"), "{rows:?}");
}

#[test]
fn bad_search_options_are_refused_by_name() {
    let cases: [(&[&str], &str); 9] = [
        (
            &["--budget", "ten minutes"],
            "`ten minutes` is not a duration",
        ),
        (&["--budget", "5d"], "unknown unit `d`"),
        (&["--scheduler", "pbt"], "unknown scheduler `pbt`"),
        (
            &["--objectives", "accuracy,energy"],
            "unknown objective `energy`",
        ),
        (
            &["--mo-rank", "random"],
            "--mo-rank random: choose crowding or hypervolume",
        ),
        (
            &["--cv", "1"],
            "--cv 1: cross-validation needs at least 2 folds",
        ),
        (
            &["--warm-start", "nowhere"],
            "--warm-start nowhere: no study at",
        ),
        (
            &["--warm-start-weight", "2"],
            "--warm-start-weight 2: must be in (0, 1]",
        ),
        (
            &["--config", "/nonexistent/study.toml"],
            "invalid value '/nonexistent/study.toml' for '--config <CONFIG>': no such file",
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (args, expected) in cases {
        let out = Command::new(env!("CARGO_BIN_EXE_nas"))
            .args(["search", "--space", LIGHTWEIGHT, "--results"])
            .arg(dir.path())
            .args(args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} accepted");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
}

/// The `attrs` JSON of every trial, by number, from the study database.
fn trial_attrs(study_dir: &Path, study: &str) -> Vec<(u64, String, serde_json::Value)> {
    use nas_core::study::{SqliteStorage, Storage};
    let mut storage = SqliteStorage::open(&study_dir.join("study.db")).unwrap();
    let info = storage.find_study(study).unwrap().unwrap();
    storage
        .trials(info.id, None)
        .unwrap()
        .into_iter()
        .map(|t| {
            let attrs = serde_json::to_value(&t.attrs).unwrap();
            (t.number, t.state.as_str().to_string(), attrs)
        })
        .collect()
}

#[test]
fn a_study_config_sets_objectives_and_ladder_and_a_resume_reads_it_back() {
    let (dir, data) = data_dir();
    let results = dir.path().join("results");
    let config = dir.path().join("study.toml");
    std::fs::write(
        &config,
        r#"
objectives = ["accuracy", "params"]
scheduler = "asha"
trials = 4
max_epochs = 1
backend = "flex"

[[rung]]
budget_share = 0.25
data_fraction = 0.5
resolution = 8

[[rung]]
budget_share = 1.0
"#,
    )
    .unwrap();
    let mut cmd = search_command(Path::new(LIGHTWEIGHT), &data, &results, "cfg", &[]);
    cmd.arg("--config").arg(&config);
    run_ok(cmd);
    let study_dir = results.join("cfg");
    let header = std::fs::read_to_string(study_dir.join("trials.csv")).unwrap();
    assert!(
        header.lines().next().unwrap().contains("value_params"),
        "{header}"
    );
    let saved = std::fs::read_to_string(study_dir.join("config.toml")).unwrap();
    assert!(
        saved.contains("[[rung]]") && saved.contains("\"params\""),
        "{saved}"
    );
    assert!(
        !saved.contains("backend"),
        "run-level settings are not kept: {saved}"
    );
    // The explicit ladder: rung 0 at 8 px (or full size for a network too deep for it).
    let attrs = trial_attrs(&study_dir, "cfg");
    assert_eq!(attrs.len(), 4);
    for (number, _, a) in &attrs {
        let px = a["rung0"]["resolution"].as_u64().unwrap();
        assert!(px == 8 || px == 12, "trial {number}: rung 0 at {px} px");
    }
    // Resumed without --config: the saved objectives still apply (another set would not
    // open the study), and the flag raises the target.
    let cmd = search_command(
        Path::new(LIGHTWEIGHT),
        &data,
        &results,
        "cfg",
        &["--trials", "6", "--backend", "flex"],
    );
    run_ok(cmd);
    assert_eq!(trial_attrs(&study_dir, "cfg").len(), 6);
    // A typo in the file is refused with the file and the key named.
    std::fs::write(&config, "objectivs = [\"accuracy\"]\n").unwrap();
    let mut cmd = search_command(Path::new(LIGHTWEIGHT), &data, &results, "typo", &[]);
    cmd.arg("--config").arg(&config);
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("study.toml") && stderr.contains("objectivs"),
        "{stderr}"
    );
    // A ladder whose top rung does not end the budget is refused, naming the rung.
    std::fs::write(&config, "[[rung]]\nbudget_share = 0.5\n").unwrap();
    let mut cmd = search_command(Path::new(LIGHTWEIGHT), &data, &results, "ladder", &[]);
    cmd.arg("--config").arg(&config);
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("[[rung]] ladder") && stderr.contains("rung 0: budget_share 0.5"),
        "{stderr}"
    );
}

#[test]
fn a_bad_challenger_share_is_refused_before_any_search() {
    let out = Command::new(env!("CARGO_BIN_EXE_nas"))
        .args(["bench", "schedulers", "--challenger-share", "0"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("--challenger-share 0: must be in (0, 1]"),
        "{stderr}"
    );
}

#[test]
fn the_scheduler_bench_can_run_its_challengers_against_an_earlier_baseline() {
    let (dir, data) = data_dir();
    let results = dir.path().join("results");
    let compact = Path::new(LIGHTWEIGHT).with_file_name("compact.toml");
    let bench = |extra: &[&str]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_nas"));
        cmd.args(["bench", "schedulers", "--methods", "random:none,tpe:asha"])
            .arg("--space")
            .arg(&compact)
            .arg("--data-dir")
            .arg(&data)
            .arg("--results")
            .arg(&results)
            .args(["--cost", "40", "--challenger-share", "0.5", "--seed", "3"])
            .args(["--validation", "100", "--top-fraction", "1", "--rungs", "2"])
            .args(extra);
        cmd
    };
    // Without the baseline's study, --reuse-baseline stops before training anything.
    let out = bench(&["--reuse-baseline"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("no study `random-none-s3` at") && stderr.contains("--reuse-baseline"),
        "{stderr}"
    );
    assert!(!results.join("tpe-asha-s3").exists());

    let table = run_ok(bench(&[]));
    assert!(
        table.contains("random:none") && table.contains("tpe:asha"),
        "{table}"
    );
    // A mark in the baseline's folder: running the baseline again would replace the folder.
    let mark = results.join("random-none-s3").join("kept");
    std::fs::write(&mark, "").unwrap();
    let again = run_ok(bench(&["--reuse-baseline"]));
    assert!(mark.exists(), "the baseline ran again");
    let baseline_row = |t: &str| {
        t.lines()
            .find(|l| l.starts_with("random:none"))
            .map(str::to_owned)
    };
    assert_eq!(baseline_row(&again), baseline_row(&table), "{again}");
    assert!(again.contains("tpe:asha"), "{again}");
}

#[test]
fn cross_validation_scores_the_subset_rungs_by_folds() {
    let (dir, data) = data_dir();
    let results = dir.path().join("results");
    let cmd = search_command(
        Path::new(LIGHTWEIGHT),
        &data,
        &results,
        "cv",
        &[
            "--backend",
            "flex",
            "--scheduler",
            "asha",
            "--rungs",
            "2",
            "--trials",
            "3",
            "--max-epochs",
            "1",
            "--cv",
            "3",
            "--objectives",
            "accuracy",
        ],
    );
    run_ok(cmd);
    for (number, state, a) in trial_attrs(&results.join("cv"), "cv") {
        assert_ne!(state, "FAIL", "trial {number}: {a}");
        let folds: Vec<f64> = a["rung0"]["folds"]
            .as_array()
            .unwrap_or_else(|| panic!("trial {number}: no folds at rung 0: {a}"))
            .iter()
            .map(|f| f.as_f64().unwrap())
            .collect();
        assert_eq!(folds.len(), 3, "trial {number}");
        let mean = folds.iter().sum::<f64>() / 3.0;
        let acc = a["rung0"]["accuracy"].as_f64().unwrap();
        assert!(
            (acc - mean).abs() < 1e-9,
            "trial {number}: {acc} vs mean {mean}"
        );
        // The full-data rung is scored on the validation split, without folds.
        if let Some(top) = a.get("rung1") {
            assert!(top.get("folds").is_none(), "trial {number}: {top}");
        }
    }
}

/// Runs `nas search` over the lightweight space as a warm-start test study: `WARM_START_BASE`
/// and then `args`. Returns whether it succeeded and its stderr.
fn warm_start_study(data: &Path, results: &Path, study: &str, args: &[&str]) -> (bool, String) {
    let base = [
        "--backend",
        "flex",
        "--scheduler",
        "none",
        "--max-epochs",
        "1",
    ];
    let args = [&base[..], args].concat();
    let out = search_command(Path::new(LIGHTWEIGHT), data, results, study, &args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_warm_start_reads_the_earlier_study_and_is_refused_for_random_search() {
    let (dir, data) = data_dir();
    let results = dir.path().join("results");
    let first = ["--trials", "3", "--objectives", "accuracy"];
    let (ok, stderr) = warm_start_study(&data, &results, "first", &first);
    assert!(ok, "{stderr}");
    let warm = [
        "--trials",
        "2",
        "--objectives",
        "accuracy",
        "--warm-start",
        "first",
    ];
    let (ok, stderr) = warm_start_study(&data, &results, "second", &warm);
    assert!(ok, "{stderr}");
    assert!(
        stderr.contains("warm start from study `first`: 3 finished trials"),
        "{stderr}"
    );
    // Other objectives than the earlier study's, or random search, are refused.
    let other = [
        "--trials",
        "1",
        "--objectives",
        "accuracy,latency",
        "--warm-start",
        "first",
    ];
    let (ok, stderr) = warm_start_study(&data, &results, "third", &other);
    assert!(!ok && stderr.contains("they must match"), "{stderr}");
    let random = [&warm[..], &["--sampler", "random"]].concat();
    let (ok, stderr) = warm_start_study(&data, &results, "fourth", &random);
    assert!(
        !ok && stderr.contains("a warm start needs a TPE sampler"),
        "{stderr}"
    );
}

#[test]
fn a_warm_start_reads_the_earlier_study_from_the_shared_storage() {
    // Both studies in one storage given by --storage (as workers on several machines share
    // one), no study folder of the first under --results.
    let (dir, data) = data_dir();
    let results = dir.path().join("results");
    let url = format!("sqlite://{}", dir.path().join("shared.db").display());
    let first = [
        "--trials",
        "2",
        "--objectives",
        "accuracy",
        "--storage",
        &url,
    ];
    let (ok, stderr) = warm_start_study(&data, &results, "first", &first);
    assert!(ok, "{stderr}");
    std::fs::remove_dir_all(results.join("first")).unwrap();
    let warm = [&first[..], &["--warm-start", "first"]].concat();
    let (ok, stderr) = warm_start_study(&data, &results, "second", &warm);
    assert!(ok, "{stderr}");
    assert!(
        stderr.contains("warm start from study `first`: 2 finished trials")
            && stderr.contains("(from the --storage of this search)"),
        "{stderr}"
    );
}

/// A small tmpfs, unmounted when dropped.
struct SmallDisk(std::path::PathBuf);

impl SmallDisk {
    /// A `size` tmpfs at `dir`, or `None` (after a skip line) where mounting is not allowed.
    fn mount(dir: &Path, size: &str) -> Option<SmallDisk> {
        std::fs::create_dir_all(dir).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!("skipped: cannot mount a tmpfs here (needs root)");
            return None;
        }
        Some(SmallDisk(dir.to_path_buf()))
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_stops_the_search_with_the_file_named_and_keeps_what_was_told() {
    let (dir, data) = data_dir();
    let results = dir.path().join("full");
    let Some(_disk) = SmallDisk::mount(&results, "320k") else {
        return;
    };
    let out = search_command(
        Path::new(LIGHTWEIGHT),
        &data,
        &results,
        "full",
        &[
            "--backend",
            "flex",
            "--scheduler",
            "none",
            "--trials",
            "40",
            "--max-epochs",
            "1",
        ],
    )
    .output()
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "the search went on with a full disk: {stderr}"
    );
    assert!(
        stderr.contains("disk is full") || stderr.contains("No space left on device"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&results.display().to_string()),
        "names the file: {stderr}"
    );
    // What the study recorded stays readable and whole: every complete trial has its values.
    let copy = dir.path().join("copy.db");
    let db = results.join("full").join("study.db");
    std::fs::copy(&db, &copy).unwrap();
    for suffix in ["-wal", "-shm"] {
        let from = db.with_file_name(format!("study.db{suffix}"));
        if from.exists() {
            std::fs::copy(&from, dir.path().join(format!("copy.db{suffix}"))).unwrap();
        }
    }
    let mut storage = nas_core::study::open_storage(copy.to_str().unwrap()).unwrap();
    let info = storage.find_study("full").unwrap().unwrap();
    let trials = storage.trials(info.id, None).unwrap();
    for t in trials
        .iter()
        .filter(|t| t.state == nas_core::study::TrialState::Complete)
    {
        assert!(t.values.is_some() && !t.intermediate.is_empty(), "{t:?}");
    }
}
