//! Helpers the storage tests share.
#![allow(dead_code)] // each test file uses its own part

use nas_core::space::{Config, ParamValue};
use nas_core::study::{Creation, Storage, TrialEnd, TrialState, WorkerId};

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

/// The trial cap's rules on one storage: running, complete and pruned trials count; failed
/// and waiting ones do not; claims respect it too; no cap means no limit.
pub fn check_trial_cap(storage: &mut dyn Storage, study: i64) {
    let create = |storage: &mut dyn Storage, number: u64, cap: Option<u64>| {
        storage
            .try_create_running(study, number, &Config::new(), None, &me(), cap)
            .unwrap()
    };
    let created = |c: Creation| matches!(c, Creation::Created(_));
    assert!(created(create(storage, 0, Some(2))));
    assert!(created(create(storage, 1, Some(2))));
    assert_eq!(create(storage, 2, Some(2)), Creation::AtCap, "two running");
    storage
        .finish(study, 0, TrialEnd::complete(&[1.0]))
        .unwrap();
    assert_eq!(
        create(storage, 2, Some(2)),
        Creation::AtCap,
        "complete counts"
    );
    storage
        .finish(study, 1, TrialEnd::fail("diverged"))
        .unwrap();
    assert!(
        created(create(storage, 2, Some(2))),
        "failed does not count"
    );
    assert_eq!(storage.enqueue(study, &Config::new()).unwrap(), 3);
    assert!(storage
        .claim_waiting(study, &me(), Some(2))
        .unwrap()
        .is_none());
    assert_eq!(storage.trial(study, 3).unwrap().state, TrialState::Waiting);
    let claimed = storage.claim_waiting(study, &me(), Some(3)).unwrap();
    assert_eq!(claimed.map(|t| t.number), Some(3), "waiting does not count");
    storage.finish(study, 2, TrialEnd::pruned()).unwrap();
    assert_eq!(
        create(storage, 4, Some(3)),
        Creation::AtCap,
        "pruned counts"
    );
    assert!(created(create(storage, 4, None)), "no cap");
}

/// One worker's loop under a shared trial cap: claims or creates trials until the storage
/// says the cap is reached, failing every fourth one (failures do not count). Returns how
/// many counted trials it started.
pub fn start_until_cap(storage: &mut dyn Storage, study: i64, cap: u64) -> usize {
    let (mut started, mut counted) = (0, 0);
    loop {
        let trial = match storage.claim_waiting(study, &me(), Some(cap)).unwrap() {
            Some(trial) => trial,
            None => {
                let number = storage.trials(study, None).unwrap().len() as u64;
                let params = Config::new();
                match storage
                    .try_create_running(study, number, &params, None, &me(), Some(cap))
                    .unwrap()
                {
                    Creation::Created(trial) => trial,
                    Creation::NumberTaken => continue,
                    Creation::AtCap => return counted,
                }
            }
        };
        started += 1;
        let end = if started % 4 == 0 {
            TrialEnd::fail("diverged")
        } else {
            counted += 1;
            TrialEnd::complete(&[1.0])
        };
        storage.finish(study, trial.number, end).unwrap();
    }
}

/// A trial read back names its worker, and its heartbeat time moves with each beat.
pub fn check_worker_and_heartbeat_are_read_back(storage: &mut dyn Storage, study: i64) {
    let created = storage
        .create_running(study, &Config::new(), None, &me())
        .unwrap();
    let read = storage.trial(study, created.number).unwrap();
    assert_eq!(read.worker, Some(me()));
    assert_eq!(read.heartbeat_at, read.started_at);
    assert_eq!(read, created, "what create returns is what is stored");
    std::thread::sleep(std::time::Duration::from_millis(20));
    storage.heartbeat(study, &[created.number]).unwrap();
    let beaten = storage.trial(study, created.number).unwrap();
    assert!(beaten.heartbeat_at > read.heartbeat_at, "{beaten:?}");
    assert_eq!(beaten.started_at, read.started_at);
    assert_eq!(storage.enqueue(study, &Config::new()).unwrap(), 1);
    let waiting = storage.trial(study, 1).unwrap();
    assert_eq!((waiting.worker, waiting.heartbeat_at), (None, None));
}
