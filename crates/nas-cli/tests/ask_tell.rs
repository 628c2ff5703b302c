//! `nas ask-tell` end to end through the binary: the protocol, errors that keep the server
//! serving, the Pareto set, and a study that survives `kill -9`.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use serde_json::{json, Value};

fn repo_file(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel)
}

/// A running `nas ask-tell` process.
struct Server {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Server {
    fn start(extra: &[&str]) -> Server {
        let space = repo_file("search_spaces/flat_example.toml");
        let mut child = Command::new(env!("CARGO_BIN_EXE_nas"))
            .arg("ask-tell")
            .arg("--space")
            .arg(&space)
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start nas ask-tell");
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Server {
            child,
            stdin,
            stdout,
        }
    }

    /// Sends one line and reads the one-line answer.
    fn send(&mut self, line: &str) -> Value {
        let sent = writeln!(self.stdin, "{line}").and_then(|()| self.stdin.flush());
        let mut answer = String::new();
        self.stdout.read_line(&mut answer).unwrap();
        if sent.is_err() || answer.is_empty() {
            panic!("the server exited: {}", self.stderr());
        }
        serde_json::from_str(&answer).unwrap_or_else(|e| panic!("bad answer {answer:?}: {e}"))
    }

    /// What the server wrote to stderr (after it exited).
    fn stderr(&mut self) -> String {
        let mut stderr = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            std::io::Read::read_to_string(&mut e, &mut stderr).unwrap();
        }
        stderr
    }

    fn ask(&mut self) -> (u64, Value) {
        let a = self.send(r#"{"op":"ask"}"#);
        (
            a["trial"].as_u64().expect("trial number"),
            a["params"].clone(),
        )
    }

    fn stderr_after_exit(self) -> String {
        drop(self.stdin);
        let out = self.child.wait_with_output().unwrap();
        assert!(out.status.success(), "exit status {:?}", out.status);
        String::from_utf8_lossy(&out.stderr).into_owned()
    }
}

fn objective(params: &Value) -> f64 {
    let lr = params["lr"].as_f64().unwrap();
    (lr.log10() + 2.0).powi(2)
}

#[test]
fn ask_and_tell_round_trip_with_only_active_parameters() {
    let mut s = Server::start(&["--sampler", "tpe", "--seed", "3"]);
    for k in 0..25 {
        let (trial, params) = s.ask();
        assert_eq!(trial, k);
        let sgd = params["optimizer"] == "sgd";
        assert_eq!(params.get("momentum").is_some(), sgd, "{params}");
        assert!(params["lr"].is_f64());
        let told =
            s.send(&json!({"op":"tell","trial":trial,"values":[objective(&params)]}).to_string());
        assert_eq!(told, json!({"ok": true}));
    }
    let best = s.send(r#"{"op":"best"}"#);
    assert!(best["values"][0].as_f64().unwrap() < 1.0, "{best}");
    s.stderr_after_exit();
}

#[test]
fn bad_requests_get_errors_and_the_server_keeps_serving() {
    let mut s = Server::start(&[]);
    let (trial, _) = s.ask();
    for bad in [
        "not json",
        "\u{fffd}\u{fffd} not utf-8 below",
        r#"{"op":"fly"}"#,
        r#"{"op":"tell","trial":99,"values":[1.0]}"#,
        &json!({"op":"tell","trial":trial,"values":[1.0, 2.0]}).to_string(),
        &json!({"op":"tell","trial":trial}).to_string(),
        &json!({"op":"tell","trial":trial,"state":"exploded"}).to_string(),
        r#"{"op":"best"}"#,
    ] {
        let answer = s.send(bad);
        assert!(answer["error"].is_string(), "{bad} → {answer}");
    }
    // Bytes that are not UTF-8 get an error too; the server keeps serving.
    s.stdin.write_all(b"\xff\xfe{\"op\":\"ask\"}\n").unwrap();
    s.stdin.flush().unwrap();
    let mut answer = String::new();
    s.stdout.read_line(&mut answer).unwrap();
    assert!(answer.contains("error"), "{answer}");
    assert_eq!(
        s.send(&json!({"op":"tell","trial":trial,"values":[0.5]}).to_string()),
        json!({"ok": true})
    );
    let twice = s.send(&json!({"op":"tell","trial":trial,"values":[0.5]}).to_string());
    assert!(
        twice["error"].as_str().unwrap().contains("not running"),
        "{twice}"
    );
    let (next, _) = s.ask();
    assert_eq!(next, trial + 1);
    assert_eq!(
        s.send(&json!({"op":"tell","trial":next,"state":"fail"}).to_string()),
        json!({"ok": true})
    );
    s.stderr_after_exit();
}

#[test]
fn several_directions_answer_the_pareto_set() {
    let mut s = Server::start(&["--directions", "minimize,maximize", "--sampler", "random"]);
    // (loss, accuracy): trial 0 dominates trial 1; trials 0 and 2 trade off.
    for values in [[1.0, 0.9], [2.0, 0.8], [0.5, 0.5]] {
        let (trial, _) = s.ask();
        s.send(&json!({"op":"tell","trial":trial,"values":values}).to_string());
    }
    let best = s.send(r#"{"op":"best"}"#);
    let trials: Vec<u64> = best["pareto"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["trial"].as_u64().unwrap())
        .collect();
    assert_eq!(trials, vec![0, 2]);
    s.stderr_after_exit();
}

#[test]
fn a_killed_server_loses_no_told_trial_and_reruns_the_interrupted_one() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("study.db");
    let storage = db.to_str().unwrap();
    let mut s = Server::start(&["--storage", storage, "--seed", "1"]);
    for _ in 0..3 {
        let (trial, params) = s.ask();
        s.send(&json!({"op":"tell","trial":trial,"values":[objective(&params)]}).to_string());
    }
    let (interrupted, params) = s.ask();
    s.child.kill().unwrap(); // SIGKILL: no destructor, no flush
    s.child.wait().unwrap();

    let mut s = Server::start(&["--storage", &format!("sqlite://{storage}"), "--seed", "1"]);
    let (rerun, rerun_params) = s.ask();
    assert_eq!(
        rerun_params, params,
        "the interrupted configuration runs again"
    );
    assert_eq!(rerun, interrupted + 1);
    s.send(&json!({"op":"tell","trial":rerun,"values":[objective(&params)]}).to_string());
    let best = s.send(r#"{"op":"best"}"#);
    assert!(best["trial"].as_u64().unwrap() <= rerun);
    let stderr = s.stderr_after_exit();
    assert!(stderr.contains(&format!("[{interrupted}]")), "{stderr}");
}

#[test]
fn a_sampler_that_cannot_serve_the_space_fails_before_serving() {
    let out = Command::new(env!("CARGO_BIN_EXE_nas"))
        .args(["ask-tell", "--sampler", "gp", "--space"])
        .arg(repo_file("search_spaces/flat_example.toml"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("gp") && err.contains("conditional"), "{err}");
}

#[test]
fn three_servers_share_one_study_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("shared.db");
    three_servers_share(db.to_str().unwrap(), "ask-tell");
}

/// Three `nas ask-tell` processes on one study of `storage` at once, interleaved: trial
/// numbers unique and dense across them, every tell recorded once, one best for all.
fn three_servers_share(storage: &str, study: &str) {
    let mut servers: Vec<Server> = (0..3)
        .map(|seed| {
            let seed = seed.to_string();
            Server::start(&["--storage", storage, "--study", study, "--seed", &seed])
        })
        .collect();
    let mut numbers = Vec::new();
    for _ in 0..15 {
        // Every server asks before any tells, so each sees the others' running trials.
        let asked: Vec<(u64, Value)> = servers.iter_mut().map(Server::ask).collect();
        for (server, (trial, params)) in servers.iter_mut().zip(&asked) {
            let told = server
                .send(&json!({"op":"tell","trial":trial,"values":[objective(params)]}).to_string());
            assert_eq!(told, json!({"ok": true}));
            numbers.push(*trial);
        }
    }
    numbers.sort_unstable();
    assert_eq!(numbers, (0..45).collect::<Vec<u64>>());
    // A trial told by one process cannot be told again by another.
    let again = servers[1].send(&json!({"op":"tell","trial":0,"values":[0.0]}).to_string());
    assert!(
        again["error"]
            .as_str()
            .is_some_and(|e| e.contains("not running")),
        "{again}"
    );
    let best: Vec<Value> = servers
        .iter_mut()
        .map(|s| s.send(r#"{"op":"best"}"#))
        .collect();
    assert!(
        best.windows(2).all(|w| w[0] == w[1]),
        "all servers agree on the best: {best:?}"
    );
    for s in servers {
        s.stderr_after_exit();
    }
}

#[test]
fn bad_arguments_are_named_before_serving() {
    let space = repo_file("search_spaces/flat_example.toml");
    for (args, expected) in [
        (["--directions", "sideways"], "unknown direction `sideways`"),
        (["--sampler", "cmaes"], "unknown sampler `cmaes`"),
        (
            ["--storage", "mysql://db/x"],
            "unsupported storage `mysql://db/x`",
        ),
        (
            ["--storage", "postgres://nobody:secret@127.0.0.1:1/x"],
            "cannot connect to postgres://nobody:***@127.0.0.1:1/x",
        ),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_nas"))
            .arg("ask-tell")
            .arg("--space")
            .arg(&space)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(expected), "{args:?}: {err}");
    }
}

#[test]
fn several_processes_share_one_postgres_study() {
    let Some(url) = common::postgres_url() else {
        return;
    };
    let study = common::unique_study("ask-tell");
    three_servers_share(&url, &study);
}

#[test]
fn a_signalled_server_queues_the_trials_it_handed_out_again() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("study.db");
    let mut server = Command::new(env!("CARGO_BIN_EXE_nas"))
        .args(["ask-tell", "--space", "lightweight", "--storage"])
        .arg(&db)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = server.stdin.take().unwrap();
    let mut output = std::io::BufReader::new(server.stdout.take().unwrap());
    let mut answer = String::new();
    for request in [
        r#"{"op":"ask"}"#,
        r#"{"op":"ask"}"#,
        r#"{"op":"tell","trial":0,"values":[0.5]}"#,
    ] {
        writeln!(input, "{request}").unwrap();
        answer.clear();
        std::io::BufRead::read_line(&mut output, &mut answer).unwrap();
        assert!(!answer.contains("error"), "{answer}");
    }
    let sent = std::time::Instant::now();
    let killed = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = server.wait_with_output().unwrap();
    assert!(sent.elapsed() < std::time::Duration::from_secs(5));
    assert_eq!(out.status.code(), Some(143));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("interrupted by SIGTERM"), "{err}");
    drop(input);

    // Trial 0 was told; trial 1 was handed out and not: failed and queued again as trial 2.
    let mut storage = nas_core::study::open_storage(db.to_str().unwrap()).unwrap();
    let info = storage.find_study("ask-tell").unwrap().unwrap();
    let trials = storage.trials(info.id, None).unwrap();
    let states: Vec<&str> = trials.iter().map(|t| t.state.as_str()).collect();
    assert_eq!(states, ["COMPLETE", "FAIL", "WAITING"]);
    assert_eq!(
        trials[1].fail_reason.as_deref(),
        Some("interrupted by SIGTERM; queued again as trial 2")
    );
    assert_eq!(trials[2].params, trials[1].params);
}
