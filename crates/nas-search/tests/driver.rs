//! The search driver with a cheap runner: every scheduler end to end, failures, resume,
//! concurrency and the time budget. The runner's accuracy is a known function of the
//! configuration, so the right trials must win.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nas_core::sampler::SamplerKind;
use nas_core::schedule::{self, bracket_of, FidelityLadder, ScheduleOptions, SchedulerKind};
use nas_core::space::SearchSpace;
use nas_core::study::{trial_seed, SqliteStorage, Storage, Study, Trial, TrialState};
use nas_search::{
    Advance, Halt, Interrupt, Measurements, Scoring, Search, SearchError, SearchSettings, Segment,
    SegmentScore, Silent, Timings, TrialFailure, TrialRecord, TrialRun, TrialRunner, TrialStart,
};

const SPACE: &str = r#"
[params.x]
type = "float"
low = 0.0
high = 1.0

[params.width]
type = "int"
low = 1
high = 8
"#;

/// Accuracy `x × share` (so higher x always wins at every rung), latency = width.
/// Fails (diverges) when x is above `fail_above`, panics when below `panic_below`.
struct FakeRunner {
    fail_above: f64,
    panic_below: f64,
    sleep: Duration,
    /// Time and cost grow with the width: `sleep × width / 8`.
    by_width: bool,
    /// Every trial whose number is not a multiple of this takes 40 times as long and costs 40
    /// times as much.
    light_every: Option<u64>,
    counters: Arc<Counters>,
}

/// Trials training now, and the most at once.
#[derive(Default)]
struct Counters {
    running: AtomicUsize,
    peak: AtomicUsize,
}

impl FakeRunner {
    fn new() -> Self {
        FakeRunner {
            fail_above: 2.0,
            panic_below: -1.0,
            sleep: Duration::ZERO,
            by_width: false,
            light_every: None,
            counters: Arc::default(),
        }
    }
}

struct FakeRun {
    x: f64,
    width: i64,
    fail: bool,
    panic: bool,
    sleep: Duration,
    /// Multiplies the time and cost of every segment.
    scale: f64,
    counters: Arc<Counters>,
}

impl TrialRunner for FakeRunner {
    fn start(&self, start: &TrialStart) -> Result<Box<dyn TrialRun>, TrialFailure> {
        let x = start.params["x"].as_f64().expect("x is a float");
        let width = start.params["width"].as_i64().expect("width is an int");
        let mut scale = if self.by_width {
            width as f64 / 8.0
        } else {
            1.0
        };
        if self
            .light_every
            .is_some_and(|k| !start.number.is_multiple_of(k))
        {
            scale *= 40.0;
        }
        Ok(Box::new(FakeRun {
            x,
            width,
            fail: x > self.fail_above,
            panic: x < self.panic_below,
            sleep: self.sleep.mul_f64(scale),
            scale,
            counters: self.counters.clone(),
        }))
    }
}

impl TrialRun for FakeRun {
    fn measurements(&self) -> Measurements {
        Measurements {
            params: 1000 * self.width as u64,
            macs: 0,
            latency_ms: self.width as f64,
        }
    }

    fn describe(&self) -> serde_json::Value {
        serde_json::json!({ "arch": { "x": self.x } })
    }

    fn train(
        &mut self,
        segment: &Segment,
        advance: &mut (dyn FnMut(Advance) + Send),
        halt: &Halt,
    ) -> Result<SegmentScore, TrialFailure> {
        advance(Advance {
            epochs: 1,
            images: 100,
            of: 100,
        });
        let now = self.counters.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.counters.peak.fetch_max(now, Ordering::SeqCst);
        // "Batches" of 5 ms, checking the halt between them as real training does.
        let clock = Instant::now();
        while clock.elapsed() < self.sleep && !halt.is_set() {
            std::thread::sleep(Duration::from_millis(5).min(self.sleep));
        }
        self.counters.running.fetch_sub(1, Ordering::SeqCst);
        if halt.is_set() {
            return Err(TrialFailure::Halted);
        }
        if self.panic {
            panic!("injected panic at x = {}", self.x);
        }
        if self.fail {
            return Err(TrialFailure::Diverged(format!(
                "loss is NaN at x = {}",
                self.x
            )));
        }
        Ok(SegmentScore {
            accuracy: self.x * segment.until_share,
            loss: 1.0 - self.x,
            train_loss: 1.0 - self.x,
            images: 100,
            resolution: 28,
            cost: 100.0 * segment.until_share * self.scale,
            folds: Vec::new(),
            timings: Timings {
                train_s: clock.elapsed().as_secs_f64(),
                ..Timings::default()
            },
        })
    }

    fn estimate_cost(&self, segment: &Segment) -> Option<f64> {
        Some(100.0 * segment.until_share * self.scale)
    }
}

fn open_study(
    storage: SqliteStorage,
    name: &str,
    scoring: &Scoring,
    sampler: SamplerKind,
) -> Study {
    let space = SearchSpace::from_toml_str(SPACE, "test.toml").expect("valid space");
    Study::open(
        Box::new(storage),
        name,
        &scoring.directions(),
        space,
        sampler.build(7),
    )
    .expect("study opens")
}

/// Searches `study` under `kind` (3 rungs, η 3 unless `none`) with `runner`.
fn search(
    study: &mut Study,
    kind: SchedulerKind,
    scoring: &Scoring,
    settings: &SearchSettings,
    runner: Arc<FakeRunner>,
) -> Result<nas_search::SearchSummary, SearchError> {
    let ladder = if kind == SchedulerKind::None {
        FidelityLadder::full()
    } else {
        FidelityLadder::geometric(3, 3, true, None).expect("ladder")
    };
    let scheduler = schedule::build(kind, ladder, &ScheduleOptions::default());
    Search::new(study, scheduler.as_ref(), scoring, settings).run(runner, &mut Silent)
}

fn accuracy_only() -> Scoring {
    Scoring {
        objectives: vec![nas_search::Objective::Accuracy],
        ..Scoring::default()
    }
}

/// A random-search study in memory.
fn in_memory_study(scoring: &Scoring) -> Study {
    open_study(
        SqliteStorage::in_memory().expect("db"),
        "t",
        scoring,
        SamplerKind::Random,
    )
}

fn run(
    kind: SchedulerKind,
    trials: u64,
    concurrency: usize,
    runner: Arc<FakeRunner>,
) -> (Result<nas_search::SearchSummary, SearchError>, Vec<Trial>) {
    let scoring = accuracy_only();
    let mut study = in_memory_study(&scoring);
    let settings = SearchSettings {
        trials: Some(trials),
        concurrency,
        ..SearchSettings::default()
    };
    let result = search(&mut study, kind, &scoring, &settings, runner);
    let all = study.trials().expect("trials");
    (result, all)
}

/// How many trials have a result at each of the first `rungs` rungs.
fn reached_per_rung(trials: &[Trial], rungs: u64) -> Vec<usize> {
    (0..rungs)
        .map(|r| {
            trials
                .iter()
                .filter(|t| t.intermediate.contains_key(&r))
                .count()
        })
        .collect()
}

fn count(trials: &[Trial], state: TrialState) -> usize {
    trials.iter().filter(|t| t.state == state).count()
}

#[test]
fn without_a_scheduler_every_trial_completes_at_full_fidelity() {
    let (result, trials) = run(SchedulerKind::None, 6, 1, Arc::new(FakeRunner::new()));
    let summary = result.expect("search runs");
    assert_eq!(summary.completed, 6);
    assert_eq!(count(&trials, TrialState::Complete), 6);
    for t in &trials {
        assert_eq!(t.intermediate.len(), 1, "one rung: {t:?}");
        let x = t.params["x"].as_f64().unwrap();
        assert_eq!(t.values.as_deref(), Some(&[x][..]));
        assert!(t.attrs.contains_key("arch") && t.attrs.contains_key("measurements"));
        // The seed it trained with is stored with the trial, derived from the search seed.
        let seed = trial_seed(SearchSettings::default().seed, t.number);
        assert_eq!(t.seed, Some(seed));
        assert_eq!(TrialRecord::of(t).seed, Some(seed));
    }
}

#[test]
fn asha_stops_weak_trials_and_completes_the_rest_at_the_top_rung() {
    let (result, trials) = run(SchedulerKind::Asha, 15, 1, Arc::new(FakeRunner::new()));
    let summary = result.expect("search runs");
    assert_eq!(summary.completed + summary.pruned, 15);
    assert!(
        summary.pruned >= 5,
        "ASHA with η = 3 stops most trials: {summary:?}"
    );
    assert!(summary.completed >= 1);
    for t in &trials {
        match t.state {
            TrialState::Complete => assert_eq!(t.intermediate.len(), 3, "{t:?}"),
            TrialState::Pruned => assert!(!t.intermediate.contains_key(&2), "{t:?}"),
            other => panic!("unexpected state {other:?}"),
        }
    }
    // Compute: a pruned trial costs less than a complete one.
    let cost = |t: &Trial| t.attrs["cost"].as_f64().unwrap();
    let full = trials
        .iter()
        .find(|t| t.state == TrialState::Complete)
        .map(cost)
        .unwrap();
    assert!(trials
        .iter()
        .filter(|t| t.state == TrialState::Pruned)
        .all(|t| cost(t) < full));
}

#[test]
fn successive_halving_waits_for_the_rung_and_promotes_the_best_third() {
    let (result, trials) = run(
        SchedulerKind::SuccessiveHalving,
        9,
        2,
        Arc::new(FakeRunner::new()),
    );
    let summary = result.expect("search runs");
    assert_eq!(summary.completed, 1, "9 → 3 → 1: {summary:?}");
    assert_eq!(summary.pruned, 8);
    assert_eq!(reached_per_rung(&trials, 3), [9, 3, 1]);
    let best = trials
        .iter()
        .max_by(|a, b| {
            a.params["x"]
                .as_f64()
                .unwrap()
                .total_cmp(&b.params["x"].as_f64().unwrap())
        })
        .unwrap();
    assert_eq!(best.state, TrialState::Complete, "the best x wins");
}

#[test]
fn hyperband_starts_each_bracket_at_its_own_rung() {
    let (result, trials) = run(SchedulerKind::Hyperband, 20, 1, Arc::new(FakeRunner::new()));
    result.expect("search runs");
    let brackets: std::collections::BTreeSet<usize> = trials.iter().map(bracket_of).collect();
    assert!(brackets.len() >= 2, "several brackets used: {brackets:?}");
    for t in &trials {
        let first = *t.intermediate.keys().next().expect("a rung") as usize;
        assert_eq!(
            first,
            bracket_of(t),
            "trial {} of bracket {}",
            t.number,
            bracket_of(t)
        );
    }
}

#[test]
fn bohb_runs_with_its_model_based_sampler() {
    let scoring = accuracy_only();
    let mut study = open_study(
        SqliteStorage::in_memory().unwrap(),
        "b",
        &scoring,
        SamplerKind::Bohb,
    );
    let settings = SearchSettings {
        trials: Some(40),
        ..SearchSettings::default()
    };
    search(
        &mut study,
        SchedulerKind::Bohb,
        &scoring,
        &settings,
        Arc::new(FakeRunner::new()),
    )
    .expect("search runs");
    let trials = study.trials().unwrap();
    assert_eq!(trials.len(), 40);
    // The model learns that large x is good: later proposals are better than the first ones.
    let mean_x = |ts: &[Trial]| {
        ts.iter()
            .map(|t| t.params["x"].as_f64().unwrap())
            .sum::<f64>()
            / ts.len() as f64
    };
    assert!(
        mean_x(&trials[25..]) > mean_x(&trials[..15]),
        "BOHB should move towards large x"
    );
}

#[test]
fn failed_and_panicking_trials_are_recorded_and_the_search_goes_on() {
    let runner = Arc::new(FakeRunner {
        fail_above: 0.8,
        panic_below: 0.15,
        ..FakeRunner::new()
    });
    let (result, trials) = run(SchedulerKind::None, 12, 2, runner);
    let summary = result.expect("search goes on");
    assert_eq!(summary.completed, 12);
    let failed: Vec<&Trial> = trials
        .iter()
        .filter(|t| t.state == TrialState::Fail)
        .collect();
    assert!(!failed.is_empty(), "some x fell outside (0.15, 0.8)");
    for t in failed {
        let x = t.params["x"].as_f64().unwrap();
        let reason = t.fail_reason.as_deref().unwrap();
        if x > 0.8 {
            assert!(reason.starts_with("diverged: loss is NaN"), "{reason}");
        } else {
            assert!(reason.starts_with("panicked: injected panic"), "{reason}");
        }
    }
}

#[test]
fn a_search_whose_trials_all_fail_stops_with_the_reason() {
    let runner = Arc::new(FakeRunner {
        fail_above: -1.0,
        ..FakeRunner::new()
    });
    let (result, trials) = run(SchedulerKind::Asha, 50, 1, runner);
    match result {
        Err(SearchError::TooManyFailures {
            failed,
            window,
            reason,
        }) => {
            assert_eq!((failed, window), (10, 10));
            assert!(reason.contains("diverged"), "{reason}");
        }
        other => panic!("expected TooManyFailures, got {other:?}"),
    }
    assert_eq!(trials.len(), 10);
}

#[test]
fn a_second_run_of_the_same_study_continues_to_the_target() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("study.db");
    let scoring = accuracy_only();
    for target in [4, 9] {
        let mut study = open_study(
            SqliteStorage::open(&path).unwrap(),
            "r",
            &scoring,
            SamplerKind::Tpe,
        );
        let settings = SearchSettings {
            trials: Some(target),
            ..SearchSettings::default()
        };
        let runner = Arc::new(FakeRunner::new());
        search(&mut study, SchedulerKind::Asha, &scoring, &settings, runner).unwrap();
        let trials = study.trials().unwrap();
        assert_eq!(trials.len() as u64, target);
        assert!(trials.iter().all(|t| t.state.is_finished()));
    }
}

#[test]
fn concurrent_workers_train_at_once_and_run_every_trial_once() {
    let runner = Arc::new(FakeRunner {
        sleep: Duration::from_millis(30),
        ..FakeRunner::new()
    });
    let counters = runner.counters.clone();
    let (result, trials) = run(SchedulerKind::Asha, 16, 4, runner);
    let summary = result.expect("search runs");
    assert_eq!(summary.completed + summary.pruned, 16);
    assert_eq!(trials.len(), 16, "no trial ran twice or was lost");
    assert_eq!(
        counters.peak.load(Ordering::SeqCst),
        4,
        "four trials trained at once"
    );
}

#[test]
fn the_time_budget_stops_the_search_and_leaves_nothing_running() {
    let runner = Arc::new(FakeRunner {
        sleep: Duration::from_millis(50),
        ..FakeRunner::new()
    });
    let scoring = accuracy_only();
    let mut study = open_study(
        SqliteStorage::in_memory().unwrap(),
        "t",
        &scoring,
        SamplerKind::Random,
    );
    let settings = SearchSettings {
        trials: None,
        budget: Some(Duration::from_millis(400)),
        ..SearchSettings::default()
    };
    let start = std::time::Instant::now();
    search(&mut study, SchedulerKind::Asha, &scoring, &settings, runner).unwrap();
    // Rungs stop at the deadline: no more than a "batch" of 5 ms and the bookkeeping late.
    assert!(
        start.elapsed() < Duration::from_millis(800),
        "{:?}",
        start.elapsed()
    );
    let trials = study.trials().unwrap();
    assert!(trials.len() >= 3, "{} trials", trials.len());
    // Nothing left running; a trial stopped before its first rung ended waits to be re-run.
    assert!(trials
        .iter()
        .all(|t| t.state.is_finished() || t.state == TrialState::Waiting));
}

#[test]
fn an_interrupt_stops_running_trials_and_a_resume_runs_them_again() {
    let slow = Arc::new(FakeRunner {
        sleep: Duration::from_secs(30),
        ..FakeRunner::new()
    });
    let scoring = accuracy_only();
    let mut study = in_memory_study(&scoring);
    let settings = SearchSettings {
        trials: Some(4),
        concurrency: 2,
        ..SearchSettings::default()
    };
    let interrupt = Interrupt::new();
    let signal = interrupt.clone();
    let sender = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        signal.request(2);
    });
    let start = Instant::now();
    let scheduler = schedule::build(
        SchedulerKind::Asha,
        FidelityLadder::geometric(3, 3, true, None).unwrap(),
        &ScheduleOptions::default(),
    );
    let summary = Search::new(&mut study, scheduler.as_ref(), &scoring, &settings)
        .interruptible(interrupt)
        .run(slow, &mut Silent)
        .expect("an interrupted search ends normally");
    sender.join().unwrap();
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(summary.interrupted, Some(2));
    assert_eq!(
        summary.requeued.len(),
        2,
        "both running trials queued again"
    );
    let trials = study.trials().unwrap();
    let failed: Vec<&Trial> = trials
        .iter()
        .filter(|t| t.state == TrialState::Fail)
        .collect();
    assert_eq!(failed.len(), 2);
    for t in &failed {
        let reason = t.fail_reason.as_deref().unwrap_or_default();
        assert!(
            reason.starts_with("interrupted by SIGINT; queued again as trial"),
            "{reason}"
        );
    }
    assert_eq!(count(&trials, TrialState::Waiting), 2);
    assert_eq!(count(&trials, TrialState::Running), 0);

    // The resume runs the queued configurations first and completes the four trials.
    let resumed = search(
        &mut study,
        SchedulerKind::None,
        &scoring,
        &settings,
        Arc::new(FakeRunner::new()),
    )
    .unwrap();
    assert_eq!(resumed.interrupted, None);
    let trials = study.trials().unwrap();
    assert_eq!(count(&trials, TrialState::Complete), 4);
    assert_eq!(count(&trials, TrialState::Waiting), 0);
    let params = |n: u64| {
        trials
            .iter()
            .find(|t| t.number == n)
            .unwrap()
            .params
            .clone()
    };
    let seed = |n: u64| trials.iter().find(|t| t.number == n).unwrap().seed;
    for (failed, copy) in [(0, summary.requeued[0]), (1, summary.requeued[1])] {
        assert_eq!(params(failed), params(copy));
        assert_eq!(
            seed(failed),
            seed(copy),
            "a queued copy runs with the same seed"
        );
        assert!(seed(copy).is_some());
        assert_eq!(
            trials.iter().find(|t| t.number == copy).unwrap().state,
            TrialState::Complete
        );
    }
}

#[test]
fn the_budget_stops_a_rung_at_its_end_and_refuses_one_that_cannot_fit() {
    let scoring = accuracy_only();
    // No measured pace yet: the first rung starts, and the deadline stops it mid-rung. Not
    // a rung of it was scored, so its configuration is queued again.
    let mut study = in_memory_study(&scoring);
    let settings = SearchSettings {
        trials: None,
        budget: Some(Duration::from_millis(300)),
        ..SearchSettings::default()
    };
    let slow = Arc::new(FakeRunner {
        sleep: Duration::from_secs(30),
        ..FakeRunner::new()
    });
    let start = Instant::now();
    let summary = search(&mut study, SchedulerKind::None, &scoring, &settings, slow).unwrap();
    assert!(
        start.elapsed() < Duration::from_millis(1000),
        "{:?}",
        start.elapsed()
    );
    assert_eq!((summary.halted_at_deadline, summary.completed), (1, 0));
    let trials = study.trials().unwrap();
    assert_eq!(trials.len(), 2);
    assert_eq!(trials[0].state, TrialState::Fail);
    let reason = trials[0].fail_reason.as_deref().unwrap();
    assert!(reason.starts_with("not scored: the budget ended during its first rung; queued again"));
    assert_eq!(trials[1].state, TrialState::Waiting);
    assert_eq!(trials[1].params, trials[0].params);

    // Rungs of 150 ms (whatever their share: the pace says rung 1 takes 3 times as long,
    // rung 0's 150 ms plus a margin), 700 ms of budget, and no limit on a rung's share of it:
    // three trials train rung 0, the best is promoted but its rung 1 (about 560 ms) cannot
    // end within the 250 ms left, so it is pruned at rung 0. New trials start while their
    // first rung fits, and are refused (failed, never trained) once it does not; the trials
    // waiting at rung 0 are pruned when the search ends.
    let mut study = in_memory_study(&scoring);
    let settings = SearchSettings {
        trials: None,
        budget: Some(Duration::from_millis(700)),
        max_first_rung_share: None,
        max_promotion_share: None,
        ..SearchSettings::default()
    };
    let runner = Arc::new(FakeRunner {
        sleep: Duration::from_millis(150),
        ..FakeRunner::new()
    });
    let start = Instant::now();
    let summary = search(&mut study, SchedulerKind::Asha, &scoring, &settings, runner).unwrap();
    assert!(
        start.elapsed() < Duration::from_millis(850),
        "{:?}",
        start.elapsed()
    );
    assert!(summary.refused_for_budget >= 2, "{summary:?}");
    assert_eq!(
        (summary.halted_at_deadline, summary.too_costly),
        (0, 0),
        "{summary:?}"
    );
    let trials = study.trials().unwrap();
    let stopped = |t: &Trial| {
        t.attrs
            .get("stopped")
            .and_then(|v| v.as_str())
            .map(str::to_owned)
    };
    let refused: Vec<&Trial> = trials
        .iter()
        .filter(|t| stopped(t).is_some_and(|w| w.starts_with("stopped: rung 1 would take about")))
        .collect();
    assert!(!refused.is_empty(), "{trials:#?}");
    for t in refused {
        assert_eq!((t.state, t.intermediate.len()), (TrialState::Pruned, 1));
    }
    assert!(trials.iter().all(|t| t.state != TrialState::Running));
    let trained = trials.iter().filter(|t| !t.intermediate.is_empty()).count();
    assert!(trained >= 3, "{trials:#?}");
    assert_eq!(summary.rungs[0].segments, trained);
    assert!(summary.rungs[0].seconds >= 0.15 * trained as f64);
    for t in trials.iter().filter(|t| t.state == TrialState::Pruned) {
        let why = stopped(t).unwrap_or_default();
        assert!(
            why.starts_with("stopped: rung 1 would take about")
                || why == "stopped: still waiting at rung 0 when the search ended",
            "{why}"
        );
    }
    for t in trials.iter().filter(|t| t.state == TrialState::Fail) {
        let reason = t.fail_reason.as_deref().unwrap_or_default();
        assert!(
            reason.starts_with("not started: rung 0 would take"),
            "{reason}"
        );
    }
}

#[test]
fn a_rung_that_would_take_more_than_its_share_of_the_budget_is_not_started() {
    // One rung (no scheduler) of 100 ms × width (1 to 8): a sixth of the 1.5 s budget is
    // 250 ms, so once the first trial has measured the pace, networks of width 3 and more
    // are pruned before training, and the search goes on with the others.
    let scoring = accuracy_only();
    let mut study = in_memory_study(&scoring);
    let settings = SearchSettings {
        trials: None,
        budget: Some(Duration::from_millis(1500)),
        ..SearchSettings::default()
    };
    let runner = Arc::new(FakeRunner {
        sleep: Duration::from_millis(800),
        by_width: true,
        ..FakeRunner::new()
    });
    let summary = search(&mut study, SchedulerKind::None, &scoring, &settings, runner).unwrap();
    let trials = study.trials().unwrap();
    let width = |t: &Trial| t.params["width"].as_i64().unwrap();
    let too_costly: Vec<&Trial> = trials
        .iter()
        .filter(|t| {
            t.attrs
                .get("stopped")
                .and_then(|v| v.as_str())
                .is_some_and(|w| w.starts_with("not started: rung 0 would take about"))
        })
        .collect();
    assert_eq!(summary.too_costly, too_costly.len(), "{summary:?}");
    assert!(!too_costly.is_empty(), "{trials:#?}");
    for t in &too_costly {
        assert_eq!(t.state, TrialState::Pruned);
        assert!(t.intermediate.is_empty());
        assert!(width(t) >= 3, "width {} fits in 250 ms", width(t));
        let why = t.attrs["stopped"].as_str().unwrap();
        assert!(
            why.ends_with("s of the budget a first rung may take"),
            "{why}"
        );
    }
    // Every trained trial but the first (no pace yet) fits the share.
    let trained: Vec<&Trial> = trials
        .iter()
        .filter(|t| !t.intermediate.is_empty())
        .collect();
    assert!(trained.len() >= 2, "{trials:#?}");
    for t in &trained[1..] {
        assert!(width(t) <= 2, "{t:?}");
    }

    // Under ASHA, rungs of 100 ms whose pace says rung 1 takes about 375 ms: with a quarter
    // of the 1.2 s budget (300 ms) for a promotion, the promoted trials are pruned at rung 0
    // instead, and the search goes on with new trials.
    let mut study = in_memory_study(&scoring);
    let settings = SearchSettings {
        trials: None,
        budget: Some(Duration::from_millis(1200)),
        max_promotion_share: Some(0.25),
        ..SearchSettings::default()
    };
    let runner = Arc::new(FakeRunner {
        sleep: Duration::from_millis(100),
        ..FakeRunner::new()
    });
    let summary = search(&mut study, SchedulerKind::Asha, &scoring, &settings, runner).unwrap();
    let trials = study.trials().unwrap();
    let stopped: Vec<&str> = trials
        .iter()
        .filter_map(|t| t.attrs.get("stopped").and_then(|v| v.as_str()))
        .filter(|w| w.contains("a promotion may take"))
        .collect();
    assert!(!stopped.is_empty(), "{trials:#?}");
    assert!(stopped
        .iter()
        .all(|w| w.starts_with("stopped: rung 1 would take about")));
    assert_eq!(summary.too_costly, stopped.len(), "{summary:?}");
    assert!(
        trials.iter().all(|t| t.intermediate.len() <= 1),
        "{trials:#?}"
    );
}

#[test]
fn a_rung_that_would_take_more_than_its_share_of_a_compute_budget_is_not_started() {
    // One rung (no scheduler) costing 100 × width / 8 GMACs (width 1 to 8): a sixth of a
    // 300-GMAC budget is 50, so networks of width 5 and more are pruned before training,
    // from the first trial on (a trial's cost is known before it trains), and the others
    // spend the budget.
    let scoring = accuracy_only();
    let width = |t: &Trial| t.params["width"].as_i64().unwrap();
    let stopped = |t: &Trial| {
        t.attrs
            .get("stopped")
            .and_then(|v| v.as_str())
            .map(str::to_owned)
    };
    let mut study = in_memory_study(&scoring);
    let settings = SearchSettings {
        trials: None,
        max_cost: Some(300.0),
        ..SearchSettings::default()
    };
    let runner = Arc::new(FakeRunner {
        by_width: true,
        ..FakeRunner::new()
    });
    let summary = search(&mut study, SchedulerKind::None, &scoring, &settings, runner).unwrap();
    let trials = study.trials().unwrap();
    let (trained, refused): (Vec<&Trial>, Vec<&Trial>) =
        trials.iter().partition(|t| !t.intermediate.is_empty());
    assert!(!refused.is_empty() && trained.len() >= 6, "{trials:#?}");
    assert_eq!(summary.too_costly, refused.len(), "{summary:?}");
    for t in &trained {
        assert!(width(t) <= 4, "width {} costs over 50 GMACs", width(t));
        assert_eq!(t.state, TrialState::Complete);
    }
    for t in &refused {
        assert_eq!(t.state, TrialState::Pruned);
        assert!(width(t) >= 5, "width {} fits in 50 GMACs", width(t));
        let why = stopped(t).unwrap_or_default();
        let expected = format!(
            "not started: rung 0 would take about {:.0} GMACs, more than the 50 GMACs of the \
             budget a first rung may take",
            100.0 * width(t) as f64 / 8.0
        );
        assert_eq!(why, expected);
    }
    assert!(
        (300.0..350.0).contains(&summary.cost),
        "spent {} of 300 GMACs",
        summary.cost
    );

    // Under ASHA (rungs at 1/9, 1/3 and all of a trial), a promotion may take 5 % of a
    // 400-GMAC budget: 20 GMACs, less than rung 1 of a network of width 5 or more
    // (33.3 × width / 8) and rung 2 of width 2 or more (100 × width / 8). Those are pruned
    // at their last rung when promoted; the others go on.
    let mut study = in_memory_study(&scoring);
    let settings = SearchSettings {
        trials: None,
        max_cost: Some(400.0),
        max_promotion_share: Some(0.05),
        ..SearchSettings::default()
    };
    let runner = Arc::new(FakeRunner {
        by_width: true,
        ..FakeRunner::new()
    });
    let summary = search(&mut study, SchedulerKind::Asha, &scoring, &settings, runner).unwrap();
    let trials = study.trials().unwrap();
    let rung_cost =
        |t: &Trial, rung: usize| [100.0 / 9.0, 100.0 / 3.0, 100.0][rung] * width(t) as f64 / 8.0;
    let refused: Vec<&Trial> = trials
        .iter()
        .filter(|t| stopped(t).is_some_and(|w| w.ends_with("a promotion may take")))
        .collect();
    assert!(!refused.is_empty(), "{trials:#?}");
    assert_eq!(summary.too_costly, refused.len(), "{summary:?}");
    for t in &refused {
        let next = t.intermediate.len();
        assert_eq!(t.state, TrialState::Pruned);
        assert!(rung_cost(t, next) > 20.0, "{t:?}");
        let why = stopped(t).unwrap();
        assert!(
            why.starts_with(&format!("stopped: rung {next} would take about")),
            "{why}"
        );
    }
    for t in &trials {
        for rung in 1..t.intermediate.len() {
            assert!(rung_cost(t, rung) <= 20.0, "{t:?}");
        }
    }
}

#[test]
fn a_budgeted_search_of_uneven_trials_ends_within_its_budget() {
    // Trials whose cost and time grow with their width (1 to 8): new trials whose first
    // rung would not fit are refused, the others end in time.
    let scoring = accuracy_only();
    let mut study = in_memory_study(&scoring);
    let budget = Duration::from_millis(1500);
    let settings = SearchSettings {
        trials: None,
        budget: Some(budget),
        ..SearchSettings::default()
    };
    let runner = Arc::new(FakeRunner {
        sleep: Duration::from_millis(400),
        by_width: true,
        ..FakeRunner::new()
    });
    let start = Instant::now();
    let summary = search(&mut study, SchedulerKind::None, &scoring, &settings, runner).unwrap();
    assert!(
        start.elapsed() < budget + Duration::from_millis(100),
        "{:?}",
        start.elapsed()
    );
    assert!(summary.completed >= 2, "{summary:?}");
    let trials = study.trials().unwrap();
    for t in trials.iter().filter(|t| t.state == TrialState::Fail) {
        let reason = t.fail_reason.as_deref().unwrap_or_default();
        assert!(
            reason.starts_with("not started: rung 0 would take")
                || reason.starts_with("not scored"),
            "{reason}"
        );
        assert!(t.intermediate.is_empty());
    }
    let not_started = trials
        .iter()
        .filter(|t| {
            t.fail_reason
                .as_deref()
                .is_some_and(|r| r.starts_with("not started"))
        })
        .count();
    assert_eq!(summary.not_started, not_started);
    assert!(trials.iter().all(|t| t.state != TrialState::Running));
}

#[test]
fn heavy_trials_refused_near_the_deadline_do_not_end_a_search_a_light_one_fits() {
    // Trials 0, 5, 10… take 40 ms, the others 1.6 s: with 1.2 s of budget every heavy one is
    // refused (not started), four in a row each time, and the light ones still train until
    // less time is left than one of them takes.
    let scoring = accuracy_only();
    let mut study = in_memory_study(&scoring);
    let budget = Duration::from_millis(1200);
    let settings = SearchSettings {
        trials: None,
        budget: Some(budget),
        max_first_rung_share: None,
        ..SearchSettings::default()
    };
    let runner = Arc::new(FakeRunner {
        sleep: Duration::from_millis(40),
        light_every: Some(5),
        ..FakeRunner::new()
    });
    let start = Instant::now();
    let summary = search(&mut study, SchedulerKind::None, &scoring, &settings, runner).unwrap();
    let elapsed = start.elapsed();
    assert!(elapsed < budget + Duration::from_millis(100), "{elapsed:?}");
    assert!(
        elapsed > budget - Duration::from_millis(300),
        "stopped with {:?} left: {summary:?}",
        budget - elapsed
    );
    assert!(summary.completed >= 5, "{summary:?}");
    let trials = study.trials().unwrap();
    for t in &trials {
        let light = t.number % 5 == 0;
        match t.state {
            TrialState::Complete => assert!(light, "trial {} trained", t.number),
            TrialState::Fail => {
                let reason = t.fail_reason.as_deref().unwrap_or_default();
                assert!(reason.starts_with("not started"), "{reason}");
            }
            other => panic!("trial {} is {other:?}", t.number),
        }
    }
}

#[test]
fn several_objectives_and_limits_are_recorded() {
    let scoring = Scoring {
        objectives: vec![
            nas_search::Objective::Accuracy,
            nas_search::Objective::Latency,
        ],
        limits: nas_search::Limits {
            max_latency_ms: Some(4.0),
            ..Default::default()
        },
        reward: None,
    };
    let mut study = open_study(
        SqliteStorage::in_memory().unwrap(),
        "mo",
        &scoring,
        SamplerKind::Random,
    );
    let settings = SearchSettings {
        trials: Some(12),
        ..SearchSettings::default()
    };
    search(
        &mut study,
        SchedulerKind::Asha,
        &scoring,
        &settings,
        Arc::new(FakeRunner::new()),
    )
    .unwrap();
    for t in study.trials().unwrap() {
        let width = t.params["width"].as_i64().unwrap() as f64;
        for values in t.intermediate.values() {
            assert_eq!(values[1], width, "latency = width");
        }
        if t.state == TrialState::Complete {
            let c = t.constraints.as_ref().expect("constraints recorded")[0];
            assert!((c - (width / 4.0 - 1.0)).abs() < 1e-12);
            assert_eq!(t.is_feasible(), width <= 4.0);
        }
    }
}

#[test]
fn mnas_reward_trades_accuracy_for_latency() {
    let reward = nas_search::MnasReward {
        target_ms: 10.0,
        exponent: -0.07,
    };
    assert!((reward.of(0.9, 10.0) - 0.9).abs() < 1e-12);
    assert!(reward.of(0.9, 20.0) < 0.9 && reward.of(0.9, 5.0) > 0.9);
    assert!((reward.of(0.8, 20.0) - 0.8 * 2f64.powf(-0.07)).abs() < 1e-12);
}

/// Counts what the search reports while it runs.
#[derive(Default)]
struct Recorder {
    advances: Vec<(u64, usize, Advance)>,
    rungs_done: usize,
}

impl nas_search::Progress for Recorder {
    fn advanced(&mut self, number: u64, rung: usize, advance: Advance) {
        self.advances.push((number, rung, advance));
    }
    fn rung_done(&mut self, _: u64, _: usize, _: &SegmentScore, _: &[f64]) {
        self.rungs_done += 1;
    }
}

#[test]
fn training_advances_reach_the_progress_before_each_rung_ends() {
    let scoring = accuracy_only();
    let mut study = in_memory_study(&scoring);
    let settings = SearchSettings {
        trials: Some(6),
        concurrency: 2,
        ..SearchSettings::default()
    };
    let ladder = FidelityLadder::geometric(3, 3, true, None).expect("ladder");
    let scheduler = schedule::build(SchedulerKind::Asha, ladder, &ScheduleOptions::default());
    let mut recorder = Recorder::default();
    Search::new(&mut study, scheduler.as_ref(), &scoring, &settings)
        .run(Arc::new(FakeRunner::new()), &mut recorder)
        .expect("search runs");
    // The fake runner reports one epoch per segment: one advance per trained rung.
    assert_eq!(recorder.advances.len(), recorder.rungs_done);
    assert!(recorder.rungs_done >= 6);
    let trials = study.trials().expect("trials");
    for (number, rung, advance) in &recorder.advances {
        let t = &trials[*number as usize];
        assert!(t.intermediate.contains_key(&(*rung as u64)), "{t:?}");
        assert_eq!((advance.images, advance.of), (100, 100));
    }
}

#[test]
fn a_trial_whose_worker_stopped_beating_is_reclaimed_and_run_again() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("study.db");
    let scoring = accuracy_only();
    let mut study = open_study(
        SqliteStorage::open(&path).expect("db"),
        "beats",
        &scoring,
        SamplerKind::Random,
    );
    // Another worker, on another machine, started a trial and then went silent.
    let mut other = SqliteStorage::open(&path).expect("db");
    let id = study.info().id;
    let params: nas_core::space::Config = [
        ("x".to_string(), nas_core::space::ParamValue::Float(0.5)),
        ("width".to_string(), nas_core::space::ParamValue::Int(3)),
    ]
    .into_iter()
    .collect();
    let gone = nas_core::study::WorkerId {
        host: "another-machine".into(),
        pid: 1,
        started: None,
    };
    let lost = other
        .create_running(id, &params, Some(5), &gone)
        .expect("trial");

    let settings = SearchSettings {
        trials: Some(3),
        heartbeat: Duration::from_millis(50),
        heartbeat_grace: Duration::from_millis(400),
        ..SearchSettings::default()
    };
    let runner = FakeRunner {
        sleep: Duration::from_millis(250),
        ..FakeRunner::new()
    };
    search(
        &mut study,
        SchedulerKind::None,
        &scoring,
        &settings,
        Arc::new(runner),
    )
    .expect("search");

    let trials = study.trials().expect("trials");
    let lost = &trials[lost.number as usize];
    assert_eq!(lost.state, TrialState::Fail);
    let reason = lost.fail_reason.as_deref().unwrap_or_default();
    assert!(reason.contains("no heartbeat"), "{reason}");
    let copy = trials
        .iter()
        .find(|t| t.number != lost.number && t.params == params)
        .expect("the lost configuration ran again");
    assert_eq!((copy.state, copy.seed), (TrialState::Complete, Some(5)));
    assert_eq!(
        count(&trials, TrialState::Fail),
        1,
        "this run's own trials kept beating"
    );
    assert_eq!(count(&trials, TrialState::Complete), 3);
    assert_eq!(count(&trials, TrialState::Running), 0);
}

/// Runs `workers` searches at once on one SQLite study file, each its own process-like
/// worker (own connection, own coordinator, one training thread); returns the study's trials.
fn shared_study_search(
    kind: SchedulerKind,
    workers: usize,
    settings: &SearchSettings,
    runner: impl Fn() -> FakeRunner + Sync,
) -> Vec<Trial> {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("study.db");
    let scoring = accuracy_only();
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                let (path, scoring, runner) = (&path, &scoring, &runner);
                scope.spawn(move || {
                    let storage = SqliteStorage::open(path).expect("db");
                    let mut study = open_study(storage, "shared", scoring, SamplerKind::Random);
                    search(&mut study, kind, scoring, settings, Arc::new(runner()))
                })
            })
            .collect();
        for handle in handles {
            handle.join().expect("worker thread").expect("search runs");
        }
    });
    let storage = SqliteStorage::open(&path).expect("db");
    open_study(storage, "shared", &scoring, SamplerKind::Random)
        .trials()
        .expect("trials")
}

#[test]
fn workers_sharing_a_trial_budget_never_start_more_than_it() {
    let settings = SearchSettings {
        trials: Some(7),
        ..SearchSettings::default()
    };
    for round in 0..5 {
        let trials = shared_study_search(SchedulerKind::None, 4, &settings, FakeRunner::new);
        assert_eq!(trials.len(), 7, "round {round}: {} trials", trials.len());
        assert_eq!(count(&trials, TrialState::Complete), 7, "round {round}");
    }
}

#[test]
fn successive_halving_across_workers_decides_each_rung_over_all_their_trials() {
    let settings = SearchSettings {
        trials: Some(9),
        heartbeat: Duration::from_millis(20),
        ..SearchSettings::default()
    };
    let runner = || FakeRunner {
        sleep: Duration::from_millis(40),
        ..FakeRunner::new()
    };
    let trials = shared_study_search(SchedulerKind::SuccessiveHalving, 3, &settings, runner);
    let stopped: Vec<String> = trials
        .iter()
        .filter_map(|t| t.attrs.get("stopped").map(|s| s.to_string()))
        .collect();
    assert!(
        stopped.iter().all(|s| s.contains("by the scheduler")),
        "every stop was a rung decision: {stopped:?}"
    );
    assert_eq!(reached_per_rung(&trials, 3), [9, 3, 1]);
    assert_eq!(count(&trials, TrialState::Complete), 1);
    assert_eq!(count(&trials, TrialState::Pruned), 8);
    let x = |t: &Trial| t.params["x"].as_f64().expect("x");
    let best = trials
        .iter()
        .max_by(|a, b| x(a).total_cmp(&x(b)))
        .expect("trials");
    assert_eq!(
        best.state,
        TrialState::Complete,
        "the best x of all workers wins"
    );
}
