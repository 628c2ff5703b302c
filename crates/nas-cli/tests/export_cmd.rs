//! `nas export` and `nas predict` end to end on real Fashion-MNIST (Debian's
//! `dataset-fashion-mnist`): a one-network study that uses every exported operation, its
//! export (burn record, safetensors, ONNX, arch.json, metrics, model card), predictions on
//! real test images, and onnxruntime's logits against burn's (`tests/onnx_check.py`).
//!
//! The onnxruntime check needs `pip install onnxruntime pillow`; without them the test says
//! so and skips that part, unless `NAS_REQUIRE_ONNXRUNTIME=1` (set by `.ci/run`) makes it fail.

use std::path::{Path, PathBuf};
use std::process::Command;

const EVERY_OP: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/every_op.toml");
const ONNX_CHECK: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/onnx_check.py");

fn nas() -> Command {
    Command::new(env!("CARGO_BIN_EXE_nas"))
}

fn run(mut cmd: Command) -> (bool, String, String) {
    let out = cmd.output().expect("run nas");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn run_ok(cmd: Command) -> String {
    let (ok, stdout, stderr) = run(cmd);
    assert!(ok, "nas failed\nstdout:\n{stdout}\nstderr:\n{stderr}");
    stdout
}

/// A one-trial study of the every-op network on a small share of Fashion-MNIST.
fn one_trial_study(results: &Path) {
    let mut search = nas();
    search
        .args(["search", "--space", EVERY_OP, "--results"])
        .arg(results)
        .args(["--study", "ops", "--trials", "1", "--scheduler", "none"])
        .args(["--validation", "500", "--top-fraction", "0.02"])
        .args(["--max-epochs", "1", "--backend", "flex", "--quiet"]);
    run_ok(search);
}

/// The first `n` Fashion-MNIST test images as 28×28 grey PNGs.
fn test_pngs(dir: &Path, n: usize) -> Vec<PathBuf> {
    let splits = nas_data::load_named("fashion-mnist", None).unwrap_or_else(|e| panic!("{e}"));
    (0..n)
        .map(|i| {
            let path = dir.join(format!("test-{i}.png"));
            let pixels = splits.test.image(i).to_vec();
            image::GrayImage::from_raw(28, 28, pixels)
                .expect("28×28 grey")
                .save(&path)
                .expect("write png");
            path
        })
        .collect()
}

fn json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("valid JSON")
}

#[test]
fn an_exported_model_predicts_and_its_onnx_matches_burn() {
    let tmp = tempfile::tempdir().unwrap();
    let results = tmp.path().join("results");
    one_trial_study(&results);

    let mut export = nas();
    export
        .args(["export", "ops", "--results"])
        .arg(&results)
        .args([
            "--pick",
            "best-accuracy",
            "--epochs",
            "0.05",
            "--backend",
            "flex",
        ])
        .args(["--name", "every-op"]);
    let printed = run_ok(export);
    assert!(printed.contains("test accuracy"), "{printed}");
    let dir = results.join("ops/export/every-op");
    for file in [
        "arch.json",
        "metrics.json",
        "README.md",
        "model.bpk",
        "model.onnx",
        "model.safetensors",
    ] {
        assert!(
            dir.join(file).is_file(),
            "{file} missing in {}",
            dir.display()
        );
    }

    let metrics = json(&dir.join("metrics.json"));
    assert_eq!(metrics["test_images"], 10_000);
    assert_eq!(metrics["train_images"], 60_000, "the whole training split");
    let accuracy = metrics["test_accuracy"].as_f64().expect("a number");
    assert!(
        accuracy > 0.3,
        "3,000 images of training learn something: {accuracy}"
    );
    assert!(metrics["latency"]["flex"]["median_ms"]
        .as_f64()
        .is_some_and(|ms| ms > 0.0));
    let arch = json(&dir.join("arch.json"));
    let pre = &arch["preprocessing"];
    assert_eq!(
        (pre["layout"].as_str(), pre["channel_order"].as_str()),
        (Some("NCHW"), Some("grey"))
    );
    assert_eq!(pre["class_names"][0], "T-shirt/top");
    let mean = pre["mean"][0].as_f64().expect("mean");
    assert!(
        (0.2..0.4).contains(&mean),
        "Fashion-MNIST's mean pixel is about 0.29: {mean}"
    );

    // safetensors: every weight, with burn's parameter count plus the running statistics.
    let bytes = std::fs::read(dir.join("model.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).expect("valid safetensors");
    let values: usize = st
        .tensors()
        .iter()
        .map(|(_, t)| t.shape().iter().product::<usize>())
        .sum();
    let running: usize = st
        .tensors()
        .iter()
        .filter(|(name, _)| name.ends_with("running_mean") || name.ends_with("running_var"))
        .map(|(_, t)| t.shape()[0])
        .sum();
    assert_eq!(
        (values - running) as u64,
        metrics["params"].as_u64().unwrap()
    );
    let card = std::fs::read_to_string(dir.join("README.md")).unwrap();
    assert!(
        card.contains("test accuracy") && card.contains("inverted_residual"),
        "{card}"
    );

    let pngs = test_pngs(tmp.path(), 16);
    let mut predict = nas();
    predict
        .args(["predict", "--model"])
        .arg(&dir)
        .arg("--json")
        .args(&pngs);
    let lines = run_ok(predict);
    let rows: Vec<serde_json::Value> = lines
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert_eq!(rows.len(), 16);
    assert!(rows
        .iter()
        .all(|r| r["logits"].as_array().is_some_and(|l| l.len() == 10)));
    let predictions = tmp.path().join("predictions.jsonl");
    std::fs::write(&predictions, &lines).unwrap();

    let mut text = nas();
    text.args(["predict", "--model"])
        .arg(&dir)
        .args(["--top", "2"])
        .arg(&pngs[0]);
    let line = run_ok(text);
    assert!(
        line.starts_with(&format!("{}: ", pngs[0].display())) && line.matches(", ").count() == 1,
        "{line}"
    );

    onnx_matches_burn(&dir, &predictions);
}

/// Runs `tests/onnx_check.py`: onnxruntime on the same images must give burn's logits.
fn onnx_matches_burn(dir: &Path, predictions: &Path) {
    let required = std::env::var("NAS_REQUIRE_ONNXRUNTIME").is_ok_and(|v| v == "1");
    let out = Command::new("python3")
        .arg(ONNX_CHECK)
        .arg(dir)
        .arg(predictions)
        .output();
    let out = match out {
        Ok(out) => out,
        Err(e) if !required => {
            return eprintln!("skipping the onnxruntime check: no python3 ({e})")
        }
        Err(e) => panic!("python3: {e}"),
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.code() == Some(3) && !required {
        return eprintln!("skipping the onnxruntime check: {stderr}");
    }
    eprintln!("onnx check: {stdout}");
    assert!(
        out.status.success(),
        "onnxruntime disagrees with burn\n{stdout}\n{stderr}"
    );
}

#[test]
fn bad_export_and_predict_input_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let mut missing = nas();
    missing
        .args(["export", "nowhere", "--results"])
        .arg(tmp.path());
    let (ok, _, err) = run(missing);
    assert!(!ok && err.contains("no study `nowhere`"), "{err}");

    let mut no_epochs = nas();
    no_epochs
        .args(["export", "nowhere", "--epochs", "0", "--results"])
        .arg(tmp.path());
    let (ok, _, err) = run(no_epochs);
    assert!(
        !ok && err.contains("'0' for '--epochs <EPOCHS>': must be a positive number"),
        "{err}"
    );

    let mut bad_pick = nas();
    bad_pick
        .args(["export", "nowhere", "--results"])
        .arg(tmp.path())
        .args(["--pick", "fastest"]);
    let (ok, _, err) = run(bad_pick);
    assert!(!ok && err.contains("unknown --pick `fastest`"), "{err}");

    let mut no_model = nas();
    no_model
        .args(["predict", "--model"])
        .arg(tmp.path())
        .arg("x.png");
    let (ok, _, err) = run(no_model);
    assert!(!ok && err.contains("arch.json"), "{err}");

    let model = tmp.path().join("model");
    std::fs::create_dir_all(&model).unwrap();
    std::fs::write(
        model.join("arch.json"),
        "{\"format\": \"nas-export/1\",\n \"oops\": 1}",
    )
    .unwrap();
    let mut bad_json = nas();
    bad_json
        .args(["predict", "--model"])
        .arg(&model)
        .arg("x.png");
    let (ok, _, err) = run(bad_json);
    assert!(
        !ok && err.contains("arch.json") && err.contains("line 2"),
        "{err}"
    );
}
