//! Helpers the storage tests share: the backends they run on ([`backends`]), trial data and
//! assertions.
#![allow(dead_code)] // each test file uses its own part

pub mod backends;

use nas_space::{Config, ParamValue};
use nas_store::{Direction, Storage, Trial, TrialEnd, WorkerId};
use serde_json::json;

pub const MIN: Direction = Direction::Minimize;
pub const MAX: Direction = Direction::Maximize;

pub fn config(pairs: &[(&str, ParamValue)]) -> Config {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

pub fn me() -> WorkerId {
    WorkerId::current()
}

/// A worker on this host whose process has exited and been reaped.
pub fn dead_worker() -> WorkerId {
    let mut child = std::process::Command::new("true")
        .spawn()
        .expect("spawn `true`");
    let pid = child.id();
    child.wait().expect("wait for `true`");
    WorkerId {
        host: WorkerId::current().host,
        pid,
        started: None,
    }
}

/// The same value and the same kind: `Int(3)` is not `Float(3.0)` here, and floats compare by
/// bits.
pub fn same_kind(a: &ParamValue, b: &ParamValue) -> bool {
    match (a, b) {
        (ParamValue::Int(x), ParamValue::Int(y)) => x == y,
        (ParamValue::Float(x), ParamValue::Float(y)) => x.to_bits() == y.to_bits(),
        (ParamValue::Bool(x), ParamValue::Bool(y)) => x == y,
        (ParamValue::Str(x), ParamValue::Str(y)) => x == y,
        _ => false,
    }
}

pub fn assert_same_config(got: &Config, want: &Config) {
    assert_eq!(got.len(), want.len());
    for (name, value) in want {
        let stored = &got[name];
        assert!(
            same_kind(stored, value),
            "{name}: stored {stored:?}, want {value:?}"
        );
    }
}

/// The numbers of `trials`, in their order.
pub fn numbers(trials: &[Trial]) -> Vec<u64> {
    trials.iter().map(|t| t.number).collect()
}

/// One sequence of operations, run on any storage, with `dead` as the worker of an orphan;
/// returns the study id.
pub fn scripted_study(storage: &mut dyn Storage, name: &str, dead: &WorkerId) -> i64 {
    let study = storage.open_study(name, &[MIN, MAX]).unwrap().id;
    storage
        .set_study_attr(
            study,
            "space",
            &json!({"lr": [1e-4, 0.1], "opt": ["adam", "sgd"]}),
        )
        .unwrap();
    storage
        .study_attr_or_insert(study, "sampler", &json!("tpe"))
        .unwrap();
    let params = config(&[
        ("lr", 0.1.into()),
        ("whole", 3.0.into()),
        ("depth", 4i64.into()),
        ("opt", "adam".into()),
        ("bn", true.into()),
    ]);
    // 0: complete, with intermediate values (one diverged) and attributes.
    storage
        .create_running(study, &params, Some(u64::MAX), &me())
        .unwrap();
    storage
        .report_intermediate(study, 0, 1, &[0.5, 1.0 / 3.0])
        .unwrap();
    storage
        .report_intermediate(study, 0, 2, &[f64::NAN, f64::INFINITY])
        .unwrap();
    storage
        .set_trial_attr(
            study,
            0,
            "summary",
            &json!({"params": 1234, "flops": 5.5e9}),
        )
        .unwrap();
    storage
        .finish(
            study,
            0,
            TrialEnd::complete(&[0.25, 0.1 + 0.2]).with_constraints(&[-0.5]),
        )
        .unwrap();
    // 1: enqueued, claimed, pruned; 2: failed.
    storage.enqueue(study, &params, None).unwrap();
    storage.claim_waiting(study, &me(), None).unwrap();
    storage.finish(study, 1, TrialEnd::pruned()).unwrap();
    storage
        .try_create_running(study, 2, &params, Some(5), &me(), None)
        .unwrap();
    storage
        .finish(study, 2, TrialEnd::fail("diverged"))
        .unwrap();
    // 3: orphan of a dead worker, re-enqueued as 4; 5 still running.
    storage
        .create_running(study, &params, Some(3), dead)
        .unwrap();
    storage.recover_orphans(study).unwrap();
    storage
        .create_running(study, &Config::new(), None, &me())
        .unwrap();
    study
}

/// Trials without their timestamps, printed (NaN equals NaN in this form).
pub fn timeless(trials: Vec<Trial>) -> Vec<String> {
    trials
        .into_iter()
        .map(|t| {
            format!(
                "{:?}",
                Trial {
                    started_at: t.started_at.map(|_| 0.0),
                    finished_at: t.finished_at.map(|_| 0.0),
                    heartbeat_at: t.heartbeat_at.map(|_| 0.0),
                    ..t
                }
            )
        })
        .collect()
}
