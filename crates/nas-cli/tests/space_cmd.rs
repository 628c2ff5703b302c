//! `nas space check` and `nas space sample` through the binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo_file(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel)
}

fn nas(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nas"))
        .args(args)
        .output()
        .expect("run nas")
}

#[test]
fn check_prints_the_tree_and_the_counts() {
    let file = repo_file("search_spaces/lightweight.toml");
    let out = nas(&["space", "check", file.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("valid"), "{text}");
    assert!(text.contains("num_stages"), "{text}");
    assert!(text.contains("  when "), "conditions are shown: {text}");
    let arch = text
        .lines()
        .find_map(|l| l.strip_prefix("distinct architectures: "))
        .expect("architecture count line");
    assert!(arch.parse::<u128>().unwrap() > 1_000_000, "{arch}");
}

#[test]
fn check_names_file_line_and_key_of_a_bad_space() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        "[params.lr]\ntype = \"float\"\nlow = 1.0\nhigh = 0.5\n",
    )
    .unwrap();
    let out = nas(&["space", "check", path.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.toml:"), "{err}");
    assert!(err.contains("params.lr"), "{err}");
}

#[test]
fn sample_is_reproducible_by_seed() {
    let file = repo_file("search_spaces/lightweight.toml");
    let file = file.to_str().unwrap();
    let a = nas(&["space", "sample", file, "-n", "5", "--seed", "0"]);
    let b = nas(&["space", "sample", file, "-n", "5", "--seed", "0"]);
    let c = nas(&["space", "sample", file, "-n", "5", "--seed", "1"]);
    assert!(a.status.success(), "{}", String::from_utf8_lossy(&a.stderr));
    assert_eq!(a.stdout, b.stdout);
    assert_ne!(a.stdout, c.stdout);
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&a.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 5);
    assert!(lines.iter().all(|c| c.get("num_stages").is_some()));
}
