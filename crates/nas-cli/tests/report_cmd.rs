//! `nas report` on a real (tiny) study: while its search is still running, then as HTML,
//! JSON, CSV and a terminal table once it is killed, and a bad format or study named.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{data_dir, run_ok, search_command, LIGHTWEIGHT};

fn report(results: &Path, study: &str, extra: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_nas"));
    cmd.args(["report", study, "--results"])
        .arg(results)
        .args(extra);
    cmd
}

fn json_report(results: &Path, study: &str) -> serde_json::Value {
    let text = run_ok(report(results, study, &["--format", "json"]));
    serde_json::from_str(&text).expect("the JSON report parses")
}

#[test]
fn a_running_study_is_reported_in_every_format() {
    let (dir, data) = data_dir();
    let results = dir.path().join("results");
    let args = ["--backend", "flex", "--scheduler", "asha", "--trials", "12"];
    let args = [&args[..], &["--max-epochs", "6", "--concurrency", "1"]].concat();
    let mut search = search_command(Path::new(LIGHTWEIGHT), &data, &results, "live", &args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();

    // While the search runs: the report reads the study as it stands.
    let deadline = Instant::now() + Duration::from_secs(300);
    let live = loop {
        assert!(Instant::now() < deadline, "no finished trial in time");
        assert!(
            search.try_wait().unwrap().is_none(),
            "the search ended too soon"
        );
        if results.join("live/study.db").exists() {
            let live = json_report(&results, "live");
            let c = &live["counts"];
            let finished = c["complete"].as_u64().unwrap() + c["pruned"].as_u64().unwrap();
            if finished >= 2 {
                break live;
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let still_running = search.try_wait().unwrap().is_none();
    search.kill().unwrap();
    search.wait().unwrap();
    assert!(still_running, "the report was taken while the search ran");
    assert!(
        live["counts"]["running"].as_u64().unwrap() >= 1,
        "{}",
        live["counts"]
    );

    let done = json_report(&results, "live");
    let total = done["counts"]["total"].as_u64().unwrap();
    assert!(total >= live["counts"]["total"].as_u64().unwrap());
    let names = done["objectives"].as_array().unwrap();
    assert_eq!(names[0]["name"], "accuracy");

    let table = run_ok(report(&results, "live", &["--format", "table"]));
    for front in done["pareto"].as_array().unwrap() {
        let number = front["number"].as_u64().unwrap();
        assert!(
            table.contains(&format!("│ {number:>5} ┆")),
            "trial {number} in\n{table}"
        );
    }

    let csv = run_ok(report(&results, "live", &["--format", "csv"]));
    assert_eq!(
        csv.lines().count() as u64,
        total + 1,
        "a header and a row per trial"
    );
    assert!(csv.starts_with("number,state,"), "{csv}");

    let printed = run_ok(report(&results, "live", &[]));
    assert!(printed.contains("Pareto front"), "{printed}");
    let html = std::fs::read_to_string(results.join("live/report.html")).unwrap();
    for id in [
        "pareto-latency",
        "pareto-params",
        "history",
        "curves",
        "importance",
        "pareto-table",
    ] {
        assert!(html.contains(&format!("id=\"{id}\"")), "section {id}");
    }
    // Self-contained: nothing to fetch (the SVG namespace URI is a name, not a link).
    let links = html.replace("http://www.w3.org/2000/svg", "");
    assert!(
        !links.contains("http://") && !links.contains("https://"),
        "self-contained"
    );
}

#[test]
fn a_bad_format_or_study_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let out = report(dir.path(), "absent", &[]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("no study `absent`"),
        "{err}"
    );
    let out = report(dir.path(), "absent", &["--format", "xml"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("invalid value 'xml' for '--format <FORMAT>'"),
        "{err}"
    );
}
