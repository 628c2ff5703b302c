//! Helpers the storage tests share.
#![allow(dead_code)] // each test file uses its own part

use nas_core::space::{Config, ParamValue};
use nas_core::study::WorkerId;

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
