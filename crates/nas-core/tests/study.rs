//! `Study`: ask and tell over SQLite, several handles on one file, and the checks made when a
//! study opens.

use nas_core::sampler::{SamplerKind, TpeConfig, TpeSampler};
use nas_core::space::{Condition, Distribution, Param, SearchSpace};
use nas_core::study::{
    Direction, SqliteStorage, StorageError, Study, StudyError, TrialEnd, TrialState,
};

fn space() -> SearchSpace {
    SearchSpace::new(vec![
        Param {
            name: "opt".into(),
            distribution: Distribution::Categorical {
                choices: vec!["sgd".into(), "adam".into()],
            },
            conditions: vec![],
        },
        Param {
            name: "x".into(),
            distribution: Distribution::Float {
                low: 0.0,
                high: 1.0,
                log: false,
                step: None,
            },
            conditions: vec![Condition::In {
                parent: "opt".into(),
                values: vec!["sgd".into()],
            }],
        },
    ])
    .unwrap()
}

fn open(path: &std::path::Path, seed: u64) -> Study {
    let tpe = TpeSampler::new(
        TpeConfig {
            n_startup_trials: 3,
            ..TpeConfig::default()
        },
        seed,
    );
    Study::open(
        Box::new(SqliteStorage::open(path).unwrap()),
        "s",
        &[Direction::Minimize],
        space(),
        Box::new(tpe),
    )
    .unwrap()
}

fn loss(t: &nas_core::study::Trial) -> f64 {
    match t.params.get("x").and_then(|v| v.as_f64()) {
        Some(x) => (x - 0.3).powi(2),
        None => 1.0,
    }
}

#[test]
fn two_handles_on_one_file_see_each_others_trials() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("study.db");
    let (mut a, mut b) = (open(&path, 1), open(&path, 2));
    let mut numbers = Vec::new();
    for round in 0..15 {
        let ta = a.ask().unwrap();
        let tb = b.ask().unwrap();
        numbers.extend([ta.number, tb.number]);
        // Each of A's results is the best so far; B saw A's trial running when it asked, so
        // its cached history must pick up the tell.
        let value = -1.0 - round as f64;
        a.tell(ta.number, TrialEnd::complete(&[value])).unwrap();
        let best_b = b.best_trials().unwrap();
        assert_eq!(
            best_b[0].number, ta.number,
            "round {round}: B missed A's result"
        );
        assert_eq!(best_b[0].values, Some(vec![value]));
        b.tell(tb.number, TrialEnd::complete(&[loss(&tb)])).unwrap();
    }
    numbers.sort_unstable();
    assert_eq!(
        numbers,
        (0..30).collect::<Vec<u64>>(),
        "numbers unique across handles"
    );
    let all = a.trials().unwrap();
    assert_eq!(all.len(), 30);
    assert!(all.iter().all(|t| t.state == TrialState::Complete));
    let best_a = a.best_trials().unwrap();
    let best_b = b.best_trials().unwrap();
    assert_eq!(best_a[0].number, best_b[0].number);
}

#[test]
fn telling_a_wrong_result_is_refused_and_the_trial_stays_running() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = open(&dir.path().join("s.db"), 0);
    let t = s.ask().unwrap();
    assert!(matches!(
        s.tell(t.number, TrialEnd::complete(&[1.0, 2.0])),
        Err(StudyError::Storage(StorageError::ValueCount {
            expected: 1,
            got: 2,
            ..
        }))
    ));
    assert!(matches!(
        s.tell(t.number, TrialEnd::complete(&[f64::NAN])),
        Err(StudyError::Storage(StorageError::NonFinite { .. }))
    ));
    s.tell(t.number, TrialEnd::fail("diverged")).unwrap();
    let stored = &s.trials().unwrap()[0];
    assert_eq!(stored.state, TrialState::Fail);
    assert_eq!(stored.fail_reason.as_deref(), Some("diverged"));
}

#[test]
fn reopening_with_another_space_or_an_unsuitable_sampler_fails() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    drop(open(&path, 0));
    let mut other = space().params().to_vec();
    other.pop();
    let changed = Study::open(
        Box::new(SqliteStorage::open(&path).unwrap()),
        "s",
        &[Direction::Minimize],
        SearchSpace::new(other).unwrap(),
        SamplerKind::Tpe.build(0),
    );
    assert!(matches!(changed, Err(StudyError::SpaceChanged { .. })));
    let gp = Study::open(
        Box::new(SqliteStorage::in_memory().unwrap()),
        "g",
        &[Direction::Minimize],
        space(),
        SamplerKind::Gp.build(0),
    );
    assert!(matches!(gp, Err(StudyError::Sampler(_))));
}

/// For each proposal, the number and state of every trial the sampler was shown.
type Seen = std::sync::Arc<std::sync::Mutex<Vec<Vec<(u64, TrialState)>>>>;

/// A sampler that proposes `opt = sgd, x = 0.5` and records what it was shown.
struct Recording {
    seen: Seen,
}

impl nas_core::sampler::Sampler for Recording {
    fn name(&self) -> &'static str {
        "recording"
    }

    fn sample(
        &mut self,
        ctx: &nas_core::sampler::SampleContext<'_>,
    ) -> Result<nas_core::space::Config, nas_core::sampler::SamplerError> {
        let states = ctx.trials.iter().map(|t| (t.number, t.state)).collect();
        self.seen.lock().unwrap().push(states);
        Ok([
            ("opt".to_string(), "sgd".into()),
            ("x".to_string(), 0.5.into()),
        ]
        .into_iter()
        .collect())
    }
}

#[test]
fn the_sampler_sees_the_running_trials_of_every_worker() {
    // What a constant liar needs: the trials other workers are running right now.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("study.db");
    let seen = Seen::default();
    let open_recording = |seen: &Seen| {
        Study::open(
            Box::new(SqliteStorage::open(&path).unwrap()),
            "s",
            &[Direction::Minimize],
            space(),
            Box::new(Recording {
                seen: std::sync::Arc::clone(seen),
            }),
        )
        .unwrap()
    };
    let mut a = open_recording(&seen);
    let mut b = open_recording(&seen);
    let first = a.ask().unwrap();
    let second = b.ask().unwrap();
    a.tell(first.number, TrialEnd::complete(&[0.1])).unwrap();
    let third = a.ask().unwrap();
    assert_eq!((first.number, second.number, third.number), (0, 1, 2));
    let seen = seen.lock().unwrap();
    assert_eq!(
        seen[1],
        vec![(0, TrialState::Running)],
        "b sees a's trial running"
    );
    assert_eq!(
        seen[2],
        vec![(0, TrialState::Complete), (1, TrialState::Running)],
        "a sees its result and b's running trial"
    );
}
