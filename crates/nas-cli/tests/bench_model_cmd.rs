//! `nas bench latency`, `train`, `churn` and `conv-ops` on the CPU backend: they print the numbers they
//! promise, and bad arguments get clear errors.

use std::process::Command;

fn nas(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_nas"))
        .args(args)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .output()
        .expect("run nas");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.success(), text(&out.stdout), text(&out.stderr))
}

#[test]
fn latency_without_arch_times_the_three_built_in_specs() {
    let (ok, out, err) = nas(&[
        "bench",
        "latency",
        "--backend",
        "flex",
        "--batch",
        "1,4",
        "--runs",
        "2",
        "--warmup",
        "1",
    ]);
    assert!(ok, "{err}");
    for (name, params) in [("tiny", "3634"), ("small", "51592"), ("medium", "577970")] {
        let rows: Vec<&str> = out.lines().filter(|l| l.starts_with(name)).collect();
        assert_eq!(rows.len(), 2, "{out}");
        for row in rows {
            let cols: Vec<&str> = row.split_whitespace().collect();
            assert_eq!(cols[1], params, "{row}");
            let median: f64 = cols[5].parse().unwrap();
            assert!(median > 0.0, "{row}");
        }
    }
}

#[test]
fn latency_reads_an_arch_file_and_names_it_when_it_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("arch.json");
    std::fs::write(&path, "{\"version\": 1}").unwrap();
    let (ok, _, err) = nas(&["bench", "latency", "--arch", path.to_str().unwrap()]);
    assert!(!ok);
    assert!(
        err.contains("arch.json: line 1") && err.contains("missing field"),
        "{err}"
    );
}

#[test]
fn train_reports_throughput_of_the_benchmark_cnn() {
    let (ok, out, err) = nas(&[
        "bench",
        "train",
        "--backend",
        "flex",
        "--batch",
        "8",
        "--warmup-steps",
        "1",
        "--steps",
        "2",
        "--json",
    ]);
    assert!(ok, "{err}");
    let row: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(row["params"], 31514);
    assert_eq!(row["backend"], "flex");
    assert!(row["images_per_s"].as_f64().unwrap() > 0.0);
    assert!(row["final_loss"].as_f64().unwrap().is_finite());
    // What the PyTorch reference builds the same network from.
    assert_eq!(row["input"]["height"], 28);
    assert_eq!(row["plan"]["stem"]["out_channels"], 16);
    let blocks = row["plan"]["blocks"].as_array().unwrap();
    assert_eq!(blocks[1]["kind"]["type"], "inverted_residual");
    assert_eq!(blocks[1]["kind"]["activation"], "relu6");

    // A built-in spec by name; a name that is neither a spec nor a file is refused.
    let (ok, out, err) = nas(&[
        "bench",
        "train",
        "--arch",
        "tiny",
        "--batch",
        "4",
        "--warmup-steps",
        "1",
        "--steps",
        "1",
        "--json",
    ]);
    assert!(ok, "{err}");
    let row: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(row["arch"], "tiny");
    let (ok, _, err) = nas(&["bench", "train", "--arch", "no-such-net"]);
    assert!(
        !ok && err.contains("--arch `no-such-net`: neither a built-in spec"),
        "{err}"
    );
}

#[test]
fn bad_backends_and_settings_are_refused() {
    let (ok, _, err) = nas(&["bench", "train", "--backend", "tpu"]);
    assert!(!ok && err.contains("unknown backend `tpu`"), "{err}");
    let (ok, _, err) = nas(&["bench", "latency", "--backend", "flex", "--runs", "0"]);
    assert!(
        !ok && err.contains("'0' for '--runs <RUNS>': must be at least 1"),
        "{err}"
    );
    let (ok, _, err) = nas(&["bench", "train", "--threads", "0"]);
    assert!(
        !ok && err.contains("'0' for '--threads <THREADS>': must be at least 1"),
        "{err}"
    );
}

#[test]
fn churn_builds_sampled_architectures_and_reports_memory() {
    let (ok, out, err) = nas(&[
        "bench",
        "churn",
        "--backend",
        "flex",
        "--archs",
        "4",
        "--batch",
        "4",
        "--every",
        "1",
    ]);
    assert!(ok, "{err}");
    let rows: Vec<&str> = out
        .lines()
        .filter(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            cols.len() == 7 && cols[0].parse::<usize>().is_ok()
        })
        .collect();
    assert_eq!(rows.len(), 4, "{out}");
    assert!(out.contains("peak RSS:"), "{out}");
}

#[test]
fn conv_ops_times_each_layer_and_names_a_bad_arch() {
    let (ok, out, err) = nas(&[
        "bench", "conv-ops", "--arch", "tiny", "--batch", "2", "--runs", "1",
    ]);
    assert!(ok, "{err}");
    assert!(out.contains("whole network"), "{out}");
    assert!(out.lines().any(|l| l.starts_with("bn ")), "{out}");
    let (ok, _, err) = nas(&["bench", "conv-ops", "--arch", "no-such-net"]);
    assert!(
        !ok && err
            .contains("--arch `no-such-net`: neither a built-in spec nor a readable ArchSpec file"),
        "{err}"
    );
}
