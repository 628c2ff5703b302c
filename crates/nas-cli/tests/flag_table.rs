//! Every flag of `nas search`, `export`, `report`, `ask-tell`, `workers` and `bench *` with
//! one bad value: the command must exit non-zero at once, name the flag and the value, and
//! write nothing under the results folder. The table must cover every flag `--help` lists.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;

use common::{data_dir, run_ok, search_command, LIGHTWEIGHT};

/// `(command words, flag, bad value)`; `{file}` is a regular file. Commands run in a folder
/// whose `results/` holds study `tiny`.
const TABLE: &[(&str, &str, &str)] = &[
    ("search", "--space", "no-such-space.toml"),
    ("search", "--dataset", "no-such-dataset"),
    ("search", "--data-dir", "/no/such/dir"),
    ("search", "--image-size", "3"),
    ("search", "--test-fraction", "1.5"),
    ("search", "--backend", "abacus"),
    ("search", "--preset", "slow"),
    ("search", "--trials", "0"),
    ("search", "--budget", "10x"),
    ("search", "--max-cost", "-5"),
    ("search", "--scheduler", "fifo"),
    ("search", "--sampler", "oracle"),
    ("search", "--concurrency", "0"),
    ("search", "--seed", "x1"),
    ("search", "--objectives", "beauty"),
    ("search", "--max-params", "0"),
    ("search", "--max-latency-ms", "0"),
    ("search", "--max-macs", "0"),
    ("search", "--reward-target-ms", "-1"),
    ("search", "--reward-exponent", "NaN"),
    ("search", "--eta", "1"),
    ("search", "--rungs", "0"),
    ("search", "--min-resolution", "0"),
    ("search", "--mo-rank", "alphabetical"),
    ("search", "--promotion", "lottery"),
    ("search", "--ladder", "steep"),
    ("search", "--validation", "0"),
    ("search", "--latency-batch", "0"),
    ("search", "--max-epochs", "0"),
    ("search", "--top-fraction", "2"),
    ("search", "--cv", "1"),
    ("search", "--warm-start", "no-such-study"),
    ("search", "--warm-start-weight", "0"),
    ("search", "--config", "/no/such/config.toml"),
    ("search", "--study", "../escape"),
    ("search", "--results", "{file}"),
    ("search", "--storage", "mysql://x"),
    ("search", "--device", "99"),
    ("search", "--heartbeat-grace", "0"),
    ("search", "--profile", "yes"),
    ("search", "--quiet", "yes"),
    ("export tiny", "--results", "{file}"),
    ("export tiny", "--storage", "mysql://x"),
    ("export tiny", "--pick", "prettiest"),
    ("export tiny", "--epochs", "0"),
    ("export tiny", "--name", "../escape"),
    ("export tiny", "--backend", "abacus"),
    ("export tiny", "--seed", "x1"),
    ("report tiny", "--results", "{file}"),
    ("report tiny", "--storage", "mysql://x"),
    ("report tiny", "--format", "pdf"),
    ("report tiny", "--output", "/no/such/dir/report.html"),
    ("ask-tell", "--space", "no-such-space.toml"),
    ("ask-tell", "--sampler", "oracle"),
    ("ask-tell", "--seed", "x1"),
    ("ask-tell", "--directions", "sideways"),
    ("ask-tell", "--storage", "mysql://x"),
    ("ask-tell", "--study", " "),
    ("workers", "--devices", "x1"),
    ("bench sampler-speed", "--samplers", "oracle"),
    ("bench sampler-speed", "--at", "0"),
    ("bench sampler-speed", "--window", "0"),
    ("bench sampler-speed", "--seed", "x1"),
    ("bench study", "--sampler", "oracle"),
    ("bench study", "--storage", "/no/such/dir/study.db"),
    ("bench study", "--at", "0"),
    ("bench study", "--window", "0"),
    ("bench workers", "--storage", "mysql://x"),
    ("bench workers", "--workers", "0"),
    ("bench workers", "--asks", "0"),
    ("bench workers", "--sampler", "oracle"),
    ("bench sampler-quality", "--samplers", "oracle"),
    ("bench sampler-quality", "--trials", "0"),
    ("bench sampler-quality", "--seeds", "0"),
    ("bench sampler-quality", "--first-seed", "x1"),
    ("bench sampler-quality", "--functions", "no-such-function"),
    ("bench sampler-quality", "--jobs", "0"),
    ("bench latency", "--arch", "/no/such/arch.json"),
    ("bench latency", "--backend", "abacus"),
    ("bench latency", "--batch", "0"),
    ("bench latency", "--warmup", "x1"),
    ("bench latency", "--runs", "0"),
    ("bench train", "--backend", "abacus"),
    ("bench train", "--arch", "/no/such/arch.json"),
    ("bench train", "--batch", "0"),
    ("bench train", "--warmup-steps", "x1"),
    ("bench train", "--steps", "0"),
    ("bench train", "--threads", "0"),
    ("bench train", "--json", "yes"),
    ("bench churn", "--backend", "abacus"),
    ("bench churn", "--space", "no-such-space.toml"),
    ("bench churn", "--archs", "0"),
    ("bench churn", "--batch", "0"),
    ("bench churn", "--steps", "1"),
    ("bench churn", "--seed", "x1"),
    ("bench churn", "--every", "0"),
    ("bench backend-check", "--backend", "abacus"),
    ("bench backend-check", "--batch", "0"),
    ("bench backend-check", "--steps", "0"),
    ("bench data", "--dataset", "no-such-dataset"),
    ("bench data", "--data-dir", "/no/such/dir"),
    ("bench data", "--image-size", "3"),
    ("bench data", "--test-fraction", "2"),
    ("bench data", "--backend", "abacus"),
    ("bench data", "--resolution", "0"),
    ("bench data", "--batch", "0"),
    ("bench data", "--validation", "x1"),
    ("bench schedulers", "--methods", "random:fifo"),
    ("bench schedulers", "--cost", "0"),
    ("bench schedulers", "--challenger-share", "2"),
    ("bench schedulers", "--space", "no-such-space.toml"),
    ("bench schedulers", "--dataset", "no-such-dataset"),
    ("bench schedulers", "--data-dir", "/no/such/dir"),
    ("bench schedulers", "--backend", "abacus"),
    ("bench schedulers", "--results", "{file}"),
    ("bench schedulers", "--seed", "x1"),
    ("bench schedulers", "--max-epochs", "0"),
    ("bench schedulers", "--top-fraction", "2"),
    ("bench schedulers", "--validation", "0"),
    ("bench schedulers", "--rungs", "0"),
    ("bench schedulers", "--ladder", "steep"),
    ("bench schedulers", "--concurrency", "0"),
    ("bench schedulers", "--profile", "yes"),
    ("bench schedulers", "--report-only", "yes"),
    ("bench schedulers", "--reuse-baseline", "yes"),
];

/// Flags each command's `--help` lists (but `--help`).
fn listed_flags(words: &[&str]) -> Vec<String> {
    let out = Command::new(env!("CARGO_BIN_EXE_nas"))
        .args(words)
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    help.lines()
        .filter_map(|line| {
            let line = line.trim_start();
            let line = line.strip_prefix("-o, ").unwrap_or(line);
            let flag = line.strip_prefix("--")?;
            let name: String = flag
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                .collect();
            (name != "help").then(|| format!("--{name}"))
        })
        .collect()
}

/// Every file and folder under `dir`, with its size.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, u64> {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let path = e.path();
            let meta = e.metadata().unwrap();
            if meta.is_dir() {
                todo.push(path.clone());
            }
            out.insert(path, meta.len());
        }
    }
    out
}

#[test]
fn every_flag_refuses_a_bad_value_by_name_and_writes_nothing() {
    let (dir, data) = data_dir();
    let results = dir.path().join("results");
    // A small finished study for export and report to read.
    run_ok(search_command(
        Path::new(LIGHTWEIGHT),
        &data,
        &results,
        "tiny",
        &[
            "--backend",
            "flex",
            "--scheduler",
            "none",
            "--trials",
            "1",
            "--max-epochs",
            "1",
        ],
    ));
    let file = dir.path().join("a-file");
    std::fs::write(&file, "not a folder").unwrap();
    let fill = |s: &str| s.replace("{file}", &file.display().to_string());

    // The table covers every flag of every command it names.
    let commands: BTreeSet<&str> = TABLE.iter().map(|r| r.0).collect();
    let mut missing = Vec::new();
    for command in &commands {
        let words: Vec<&str> = command.split(' ').filter(|w| *w != "tiny").collect();
        for flag in listed_flags(&words) {
            if !TABLE.iter().any(|r| r.0 == *command && r.1 == flag) {
                missing.push(format!("{command} {flag}"));
            }
        }
    }
    assert!(missing.is_empty(), "flags without a row: {missing:?}");

    let mut failures = Vec::new();
    for &(command, flag, value) in TABLE {
        let value = fill(value);
        let before = snapshot(&results);
        let mut words: Vec<String> = command.split(' ').map(String::from).collect();
        if command == "ask-tell" && flag != "--space" {
            words.extend(["--space".into(), "lightweight".into()]);
        }
        if command == "search" && !["--data-dir", "--dataset", "--results"].contains(&flag) {
            words.extend(["--data-dir".into(), data.display().to_string()]);
        }
        let takes_results = command == "search"
            || command.starts_with("export")
            || command.starts_with("report")
            || command == "bench schedulers";
        if takes_results && flag != "--results" {
            words.extend(["--results".into(), results.display().to_string()]);
        }
        words.push(format!("{flag}={value}"));
        let mut child = Command::new(env!("CARGO_BIN_EXE_nas"))
            .args(&words)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let start = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break Some(status);
            }
            if start.elapsed() > Duration::from_secs(20) {
                child.kill().unwrap();
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let line = format!("nas {}", words.join(" "));
        match status {
            None => failures.push(format!("{line}: still running after 20 s")),
            Some(s) if s.success() => failures.push(format!("{line}: accepted")),
            Some(_) if !stderr.contains(flag) || !stderr.contains(value.trim()) => failures.push(
                format!("{line}: the error does not name {flag} and `{value}`: {stderr}"),
            ),
            Some(_) => {}
        }
        let after = snapshot(&results);
        if after != before {
            let new: Vec<_> = after.keys().filter(|p| !before.contains_key(*p)).collect();
            failures.push(format!("{line}: wrote under results/: {new:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} rows failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
