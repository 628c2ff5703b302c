//! Bad arguments to `nas bench …` get clear errors, not panics.

use std::process::Command;

fn nas_err(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_nas"))
        .args(args)
        .output()
        .expect("run nas");
    assert!(!out.status.success(), "{args:?} should fail");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn an_empty_window_is_refused() {
    let err = nas_err(&["bench", "sampler-speed", "--window", "0"]);
    assert!(
        err.contains("'0' for '--window <WINDOW>': must be at least 1"),
        "{err}"
    );
    let err = nas_err(&["bench", "study", "--at", "10", "--window", "20"]);
    assert!(err.contains("at least --window (20)"), "{err}");
}

#[test]
fn unknown_samplers_and_functions_are_named() {
    let err = nas_err(&["bench", "sampler-speed", "--samplers", "cmaes"]);
    assert!(
        err.contains("unknown sampler `cmaes`") && err.contains("tpe"),
        "{err}"
    );
    let err = nas_err(&["bench", "sampler-quality", "--functions", "sphere"]);
    assert!(
        err.contains("no such function") && err.contains("ackley-4d"),
        "{err}"
    );
}
