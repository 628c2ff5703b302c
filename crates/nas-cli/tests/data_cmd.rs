//! `nas data info` and `nas bench data` on the real Fashion-MNIST (CI installs the Debian
//! package `dataset-fashion-mnist`), and a missing dataset's error.

use std::process::Command;

fn nas(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_nas"))
        .args(args)
        .output()
        .expect("run nas");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.success(), text(&out.stdout), text(&out.stderr))
}

#[test]
fn info_describes_fashion_mnist() {
    let (ok, out, err) = nas(&["data", "info"]);
    assert!(ok, "{err}");
    assert!(
        out.contains("fashion-mnist train: 60000 images, 1×28×28, 10 classes"),
        "{out}"
    );
    assert!(out.contains("fashion-mnist test: 10000 images"), "{out}");
    assert!(out.contains("Ankle boot"), "{out}");
}

#[test]
fn a_missing_dataset_says_how_to_get_it() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, _, err) = nas(&[
        "data",
        "info",
        "--dataset",
        "mnist",
        "--data-dir",
        dir.path().to_str().unwrap(),
    ]);
    assert!(!ok);
    assert!(err.contains("train-images-idx3-ubyte"), "{err}");
}

#[test]
fn bench_data_reports_load_views_and_batches() {
    let (ok, out, err) = nas(&[
        "bench",
        "data",
        "--backend",
        "flex",
        "--validation",
        "1000",
        "--batch",
        "256",
    ]);
    assert!(ok, "{err}");
    assert!(
        out.contains("load fashion-mnist: 60000 train + 10000 test images"),
        "{out}"
    );
    assert!(
        out.contains("view 28×28 (59000 train + 1000 validation images)"),
        "{out}"
    );
    assert!(out.contains("view 14×14"), "{out}");
    let rows = out.lines().filter(|l| l.starts_with("flex ")).count();
    assert_eq!(rows, 2, "{out}");
}
