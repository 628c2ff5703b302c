//! What the CLI tests share: a tiny generated dataset in the Fashion-MNIST layout and a
//! small `nas search` command over it.
#![allow(dead_code)] // each test file uses its own part

use std::path::{Path, PathBuf};
use std::process::Command;

use nas_data::{squares, write_idx, Compression};

/// The 10-class squares dataset (`nas_data::squares`, 12×12) in the Fashion-MNIST file layout.
pub fn tiny_dataset(dir: &Path) {
    for (stem, per_class, seed) in [("train", 60, 1), ("t10k", 10, 2)] {
        write_idx(
            &squares(per_class, seed),
            &dir.join(format!("{stem}-images-idx3-ubyte")),
            &dir.join(format!("{stem}-labels-idx1-ubyte")),
            Compression::Raw,
        )
        .unwrap();
    }
}

/// The default search space.
pub const LIGHTWEIGHT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../search_spaces/lightweight.toml"
);

/// A search over `space` and the tiny dataset with small defaults; `extra` adds flags.
pub fn search_command(
    space: &Path,
    data: &Path,
    results: &Path,
    study: &str,
    extra: &[&str],
) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_nas"));
    cmd.args(["search", "--space"])
        .arg(space)
        .args(["--dataset", "fashion-mnist", "--data-dir"])
        .arg(data)
        .arg("--results")
        .arg(results)
        .args(["--study", study, "--validation", "100"])
        .args(["--top-fraction", "1", "--quiet"])
        .args(extra);
    // The quick preset trains a small dataset for many epochs (36,000 images a trial); these
    // tests keep the 2 epochs a trial they were written for unless they set their own.
    if !extra.contains(&"--max-epochs") {
        cmd.args(["--max-epochs", "2"]);
    }
    // One trial at a time unless a test asks otherwise: the order results arrive in, and
    // with it what the sampler and scheduler do, is then the seed's alone.
    if !extra.contains(&"--concurrency") {
        cmd.args(["--concurrency", "1"]);
    }
    cmd
}

pub fn run_ok(mut cmd: Command) -> String {
    let out = cmd.output().expect("run nas");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "nas failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    stdout
}

pub fn data_dir() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    tiny_dataset(&data);
    (dir, data)
}

/// The PostgreSQL server of the tests (`NAS_TEST_POSTGRES`), or `None` after a skip line;
/// with `NAS_REQUIRE_POSTGRES=1` a missing server fails the test instead.
pub fn postgres_url() -> Option<String> {
    match std::env::var("NAS_TEST_POSTGRES") {
        Ok(url) => Some(url),
        Err(_) => {
            assert!(
                std::env::var("NAS_REQUIRE_POSTGRES").as_deref() != Ok("1"),
                "NAS_REQUIRE_POSTGRES=1 but NAS_TEST_POSTGRES is not set"
            );
            eprintln!("skipping: set NAS_TEST_POSTGRES=postgres://… to run it");
            None
        }
    }
}

/// A study name no other run of the tests uses.
pub fn unique_study(prefix: &str) -> String {
    let now = nas_core::study::unix_now();
    format!("{prefix}-{}-{}", std::process::id(), (now * 1e6) as u64)
}

/// Waits (up to 2 minutes) until the search of `study_dir` logs a trial start, then a little
/// longer, so that the trial is inside its training.
pub fn wait_until_training(study_dir: &Path) {
    let log = study_dir.join("search.log");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while !std::fs::read_to_string(&log)
        .unwrap_or_default()
        .contains("trial started")
    {
        assert!(std::time::Instant::now() < deadline, "no trial started");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::thread::sleep(std::time::Duration::from_millis(800));
}
