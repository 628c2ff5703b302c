//! [`Search`]: the loop that asks the study for configurations, trains them rung by rung on
//! worker threads, and lets the scheduler continue, pause or stop each one.
//!
//! One coordinator (the calling thread) owns the study and the scheduler; `concurrency`
//! worker threads train. A worker gets a job (start a trial and train its first rung, or
//! train a running trial to its next rung), and sends back the trial's state with its score.
//! Every decision is written to the study before the next job is handed out, so a killed
//! search loses no finished trial: reopening the study fails the interrupted ones and
//! queues their configurations again.

use std::collections::{HashMap, VecDeque};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use nas_core::schedule::{Decision, RungContext, Scheduler};
use nas_core::study::{Study, StudyError, Trial, TrialEnd, TrialState};
use serde_json::json;

use crate::runner::{
    looks_like_oom, Advance, Measurements, Segment, SegmentScore, TrialFailure, TrialRun,
    TrialRunner, TrialStart,
};
use crate::scoring::Scoring;
use crate::settings::SearchSettings;

/// Why a search stopped early.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// The study failed (storage, sampler).
    #[error(transparent)]
    Study(#[from] StudyError),
    /// Most recent trials failed: something is wrong beyond one configuration.
    #[error("{failed} of the last {window} trials failed; the last because: {reason}")]
    TooManyFailures {
        /// Failed trials in the window.
        failed: usize,
        /// The window.
        window: usize,
        /// The last failure's reason.
        reason: String,
    },
}

/// What the search reports as it goes; the CLI draws progress bars from it.
pub trait Progress {
    /// A trial started in `bracket`.
    fn started(&mut self, number: u64, bracket: usize) {
        let _ = (number, bracket);
    }
    /// A running trial got further into training `rung`.
    fn advanced(&mut self, number: u64, rung: usize, advance: Advance) {
        let _ = (number, rung, advance);
    }
    /// A trial finished a rung.
    fn rung_done(&mut self, number: u64, rung: usize, score: &SegmentScore, values: &[f64]) {
        let _ = (number, rung, score, values);
    }
    /// A trial ended.
    fn ended(&mut self, trial: &Trial, trials: &[Trial]) {
        let _ = (trial, trials);
    }
    /// Another worker's trial stopped beating and was failed and queued again.
    fn reclaimed(&mut self, number: u64) {
        let _ = number;
    }
}

/// A [`Progress`] that reports nothing.
pub struct Silent;
impl Progress for Silent {}

/// What a search did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SearchSummary {
    /// Trials that completed in this run.
    pub completed: usize,
    /// Trials stopped by the scheduler (or the budget).
    pub pruned: usize,
    /// Trials that failed.
    pub failed: usize,
    /// Compute spent in this run, in full-resolution images trained on.
    pub cost: f64,
    /// Wall-clock seconds.
    pub seconds: f64,
}

/// Work for a worker thread.
enum Job {
    /// Build the trial's network, then train to `rung`.
    Start { start: TrialStart, rung: usize },
    /// Train a running trial on to `rung`.
    Continue {
        number: u64,
        run: Box<dyn TrialRun>,
        rung: usize,
    },
}

/// What a worker sends back.
enum Event {
    /// The network was built and measured.
    Built {
        number: u64,
        measurements: Measurements,
        description: serde_json::Value,
        seconds: f64,
    },
    /// A rung was trained.
    Trained {
        number: u64,
        rung: usize,
        score: SegmentScore,
        run: Box<dyn TrialRun>,
    },
    /// The trial failed.
    Failed { number: u64, failure: TrialFailure },
    /// Training went on (the job is still running).
    Advanced {
        number: u64,
        rung: usize,
        advance: Advance,
    },
}

/// A trial this run has in hand.
struct Active {
    /// Compute spent on it so far.
    cost: f64,
}

/// One search over a study.
pub struct Search<'a> {
    study: &'a mut Study,
    scheduler: &'a dyn Scheduler,
    scoring: &'a Scoring,
    settings: &'a SearchSettings,
    segments: Vec<Segment>,
}

impl<'a> Search<'a> {
    /// A search of `study` (opened with `scoring.directions()`), scheduled by `scheduler`.
    pub fn new(
        study: &'a mut Study,
        scheduler: &'a dyn Scheduler,
        scoring: &'a Scoring,
        settings: &'a SearchSettings,
    ) -> Search<'a> {
        let segments = scheduler
            .ladder()
            .rungs()
            .iter()
            .enumerate()
            .map(|(rung, r)| Segment {
                rung,
                until_share: r.budget_share,
                data_fraction: r.data_fraction,
                resolution: r.resolution,
            })
            .collect();
        Search {
            study,
            scheduler,
            scoring,
            settings,
            segments,
        }
    }

    /// Runs until the budget is spent, training on `settings.concurrency` threads.
    pub fn run(
        &mut self,
        runner: Arc<dyn TrialRunner>,
        progress: &mut dyn Progress,
    ) -> Result<SearchSummary, SearchError> {
        let workers = self.settings.concurrency.max(1);
        let (job_tx, job_rx) = mpsc::channel::<Job>();
        let (event_tx, event_rx) = mpsc::channel::<Event>();
        let job_rx = Arc::new(Mutex::new(job_rx));
        std::thread::scope(|scope| {
            for _ in 0..workers {
                let jobs = job_rx.clone();
                let events = event_tx.clone();
                let runner = runner.clone();
                let segments = self.segments.clone();
                scope.spawn(move || work(&jobs, &events, runner.as_ref(), &segments));
            }
            drop(event_tx);
            let result = Coordinator::new(self, workers).run(&job_tx, &event_rx, progress);
            drop(job_tx);
            result
        })
    }
}

/// A worker: takes jobs until the channel closes.
fn work(
    jobs: &Mutex<mpsc::Receiver<Job>>,
    events: &mpsc::Sender<Event>,
    runner: &dyn TrialRunner,
    segments: &[Segment],
) {
    loop {
        let job = {
            let rx = jobs.lock().unwrap_or_else(|p| p.into_inner());
            rx.recv()
        };
        let Ok(job) = job else { return };
        let event = match job {
            Job::Start { start, rung } => {
                let number = start.number;
                let clock = Instant::now();
                match guarded(|| runner.start(&start)) {
                    Err(failure) => Event::Failed { number, failure },
                    Ok(run) => {
                        let built = Event::Built {
                            number,
                            measurements: run.measurements(),
                            description: run.describe(),
                            seconds: clock.elapsed().as_secs_f64(),
                        };
                        if events.send(built).is_err() {
                            return;
                        }
                        train(number, run, &segments[rung], events)
                    }
                }
            }
            Job::Continue { number, run, rung } => train(number, run, &segments[rung], events),
        };
        if events.send(event).is_err() {
            return;
        }
    }
}

/// Trains one segment of a trial, turning a panic into a failure; sends its advances on.
fn train(
    number: u64,
    mut run: Box<dyn TrialRun>,
    segment: &Segment,
    events: &mpsc::Sender<Event>,
) -> Event {
    let rung = segment.rung;
    let mut advance = |advance| {
        let _ = events.send(Event::Advanced {
            number,
            rung,
            advance,
        });
    };
    match guarded(|| run.train(segment, &mut advance)) {
        Ok(score) => Event::Trained {
            number,
            rung: segment.rung,
            score,
            run,
        },
        Err(failure) => Event::Failed { number, failure },
    }
}

/// Runs `f`, catching a panic as [`TrialFailure::Panicked`] (or out of memory, when the
/// message says so).
fn guarded<T>(f: impl FnOnce() -> Result<T, TrialFailure>) -> Result<T, TrialFailure> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(result) => result,
        Err(payload) => {
            let message = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown panic".to_string());
            if looks_like_oom(&message) {
                Err(TrialFailure::OutOfMemory(message))
            } else {
                Err(TrialFailure::Panicked(message))
            }
        }
    }
}

/// The coordinator's state during one run.
struct Coordinator<'s, 'a> {
    search: &'s mut Search<'a>,
    workers: usize,
    in_flight: usize,
    pending: VecDeque<Job>,
    paused: HashMap<u64, (Box<dyn TrialRun>, usize)>,
    active: HashMap<u64, Active>,
    recent: VecDeque<Option<String>>,
    summary: SearchSummary,
    started: Instant,
    last_beat: Instant,
}

impl<'s, 'a> Coordinator<'s, 'a> {
    fn new(search: &'s mut Search<'a>, workers: usize) -> Self {
        Coordinator {
            search,
            workers,
            in_flight: 0,
            pending: VecDeque::new(),
            paused: HashMap::new(),
            active: HashMap::new(),
            recent: VecDeque::new(),
            summary: SearchSummary::default(),
            started: Instant::now(),
            last_beat: Instant::now(),
        }
    }

    fn run(
        mut self,
        jobs: &mpsc::Sender<Job>,
        events: &mpsc::Receiver<Event>,
        progress: &mut dyn Progress,
    ) -> Result<SearchSummary, SearchError> {
        loop {
            self.dispatch(jobs, progress)?;
            if self.in_flight == 0 {
                // Before leaving, take over what dead workers left running: the budget
                // counted those trials, so nobody else may run them.
                if !self.reclaim(progress)?.is_empty() {
                    continue;
                }
                // Paused trials wait for a rung that other workers' trials may still fill.
                if self.paused.is_empty() || !self.others_training()? {
                    self.review(progress)?;
                    if !self.pending.is_empty() {
                        continue;
                    }
                    self.end_paused(progress)?;
                    break;
                }
            }
            self.beat_if_due(progress)?;
            match events.recv_timeout(self.search.settings.heartbeat) {
                Ok(event) => self.handle(event, progress)?,
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        self.summary.seconds = self.started.elapsed().as_secs_f64();
        Ok(self.summary)
    }

    /// Every `heartbeat` interval: marks this run's trials (training or paused) alive, and
    /// fails and queues again other workers' trials whose process is gone (same host) or
    /// that stopped beating (any host).
    fn beat_if_due(&mut self, progress: &mut dyn Progress) -> Result<(), SearchError> {
        let settings = self.search.settings;
        if self.last_beat.elapsed() < settings.heartbeat {
            return Ok(());
        }
        self.last_beat = Instant::now();
        let mine: Vec<u64> = self.active.keys().copied().collect();
        self.search.study.heartbeat(&mine)?;
        self.reclaim(progress)?;
        // Other workers' results may have decided the rungs this run's trials wait at.
        self.review(progress)
    }

    /// Whether another worker sharing the study is training a trial now (a RUNNING trial not
    /// of this run and not paused at a rung): its result may still decide the rungs this
    /// run's paused trials wait at.
    fn others_training(&mut self) -> Result<bool, SearchError> {
        let trials = self.search.study.trials()?;
        Ok(trials.iter().any(|t| {
            t.state == TrialState::Running
                && !self.active.contains_key(&t.number)
                && t.attrs.get(PAUSED_ATTR).is_none_or(|rung| rung.is_null())
        }))
    }

    /// Fails and queues again other workers' trials whose process is gone (same host) or
    /// that stopped beating (any host); returns their numbers.
    fn reclaim(&mut self, progress: &mut dyn Progress) -> Result<Vec<u64>, SearchError> {
        let grace = self.search.settings.heartbeat_grace.as_secs_f64();
        let study = &mut *self.search.study;
        let mut reclaimed = study.recover_orphans()?;
        reclaimed.extend(study.recover_stale(grace)?);
        for &number in &reclaimed {
            tracing::warn!(trial = number, "reclaimed a trial whose worker stopped");
            progress.reclaimed(number);
        }
        Ok(reclaimed)
    }

    /// Hands out jobs while workers are free: continuing trials first, then new ones.
    fn dispatch(
        &mut self,
        jobs: &mpsc::Sender<Job>,
        progress: &mut dyn Progress,
    ) -> Result<(), SearchError> {
        while self.in_flight < self.workers {
            let job = if self.out_of_time() {
                // No promotions after the deadline: the trial ends with what it has.
                if let Some(Job::Continue { number, .. }) = self.pending.pop_front() {
                    self.end_pruned(number, "stopped: budget spent", progress)?;
                    continue;
                }
                None
            } else if let Some(job) = self.pending.pop_front() {
                Some(job)
            } else if self.may_start()? {
                self.new_trial(progress)?
            } else {
                None
            };
            let Some(job) = job else { break };
            if jobs.send(job).is_err() {
                break;
            }
            self.in_flight += 1;
        }
        Ok(())
    }

    /// Whether the time or compute budget is spent.
    fn out_of_time(&self) -> bool {
        let settings = self.search.settings;
        settings.budget.is_some_and(|b| self.started.elapsed() >= b)
            || settings.max_cost.is_some_and(|c| self.summary.cost >= c)
    }

    /// Whether the trial budget allows one more trial: the study's complete, pruned and
    /// running trials (of any run and any worker) stay under `trials`.
    fn may_start(&mut self) -> Result<bool, SearchError> {
        if self.out_of_time() {
            return Ok(false);
        }
        let settings = self.search.settings;
        let Some(limit) = settings.trials else {
            return Ok(settings.budget.is_some() || settings.max_cost.is_some());
        };
        // Every worker's trials count: ended ones and those running now (this run's, paused
        // ones included, and other processes' sharing the study). A quick look; the storage
        // checks again when it starts the trial.
        let trials = self.search.study.trials()?;
        let taken = trials
            .iter()
            .filter(|t| t.state.counts_toward_budget())
            .count();
        Ok((taken as u64) < limit)
    }

    /// Asks the study for a trial and makes its start job; `None` when the trial budget is
    /// spent (other workers may have taken the last trials since [`Self::may_start`] looked:
    /// the storage checks the budget and starts the trial in one step).
    fn new_trial(&mut self, progress: &mut dyn Progress) -> Result<Option<Job>, SearchError> {
        let asked = Instant::now();
        let trial = match self.search.settings.trials {
            Some(cap) => match self.search.study.ask_within(cap)? {
                Some(trial) => trial,
                None => return Ok(None),
            },
            None => self.search.study.ask()?,
        };
        let number = trial.number;
        let ask_s = asked.elapsed().as_secs_f64();
        self.search
            .study
            .set_trial_attr(number, "ask_s", &json!(ask_s))?;
        let trials = self.search.study.trials()?;
        let ctx = RungContext {
            trials: &trials,
            directions: &self.search.study.info().directions,
        };
        let bracket = self.search.scheduler.bracket_for(&ctx, number);
        let rung = self.search.scheduler.first_rung(bracket);
        self.search
            .study
            .set_trial_attr(number, "bracket", &json!(bracket))?;
        let seed = trial_seed(self.search.settings.seed, number);
        self.search
            .study
            .set_trial_attr(number, "seed", &json!(seed))?;
        self.active.insert(number, Active { cost: 0.0 });
        progress.started(number, bracket);
        tracing::info!(trial = number, bracket, rung, "trial started");
        Ok(Some(Job::Start {
            start: TrialStart {
                number,
                params: trial.params,
                seed,
            },
            rung,
        }))
    }

    fn handle(&mut self, event: Event, progress: &mut dyn Progress) -> Result<(), SearchError> {
        match event {
            Event::Built {
                number,
                measurements,
                description,
                seconds,
            } => {
                self.in_flight += 1; // the same job goes on to train
                let study = &mut *self.search.study;
                study.set_trial_attr(number, "arch", &description)?;
                study.set_trial_attr(number, "build_s", &json!(seconds))?;
                study.set_trial_attr(number, "measurements", &json!(measurements))?;
            }
            Event::Failed { number, failure } => {
                self.fail(number, &failure, progress)?;
            }
            Event::Trained {
                number,
                rung,
                score,
                run,
            } => self.trained(number, rung, score, run, progress)?,
            Event::Advanced {
                number,
                rung,
                advance,
            } => {
                progress.advanced(number, rung, advance);
                return Ok(()); // the job goes on
            }
        }
        self.in_flight -= 1;
        Ok(())
    }

    fn trained(
        &mut self,
        number: u64,
        rung: usize,
        score: SegmentScore,
        run: Box<dyn TrialRun>,
        progress: &mut dyn Progress,
    ) -> Result<(), SearchError> {
        let measurements = run.measurements();
        let values = self.search.scoring.values(&score, &measurements);
        self.summary.cost += score.cost;
        let cost = self.active.get_mut(&number).map_or(score.cost, |a| {
            a.cost += score.cost;
            a.cost
        });
        let study = &mut *self.search.study;
        study.report(number, rung as u64, &values)?;
        study.set_trial_attr(number, &format!("rung{rung}"), &json!(score))?;
        study.set_trial_attr(number, "cost", &json!(cost))?;
        progress.rung_done(number, rung, &score, &values);
        tracing::info!(
            trial = number,
            rung,
            accuracy = score.accuracy,
            loss = score.loss,
            seconds = score.timings.train_s + score.timings.eval_s,
            "rung done"
        );
        if rung == self.search.scheduler.ladder().top() {
            return self.complete(number, &values, &measurements, progress);
        }
        let trials = self.search.study.trials()?;
        let ctx = RungContext {
            trials: &trials,
            directions: &self.search.study.info().directions,
        };
        let decision = self.search.scheduler.decide(&ctx, number, rung);
        self.apply(number, rung, decision, run, progress)?;
        self.review(progress)
    }

    /// Carries out a decision about a trial that has finished `rung`.
    fn apply(
        &mut self,
        number: u64,
        rung: usize,
        decision: Decision,
        run: Box<dyn TrialRun>,
        progress: &mut dyn Progress,
    ) -> Result<(), SearchError> {
        match decision {
            Decision::Continue => self.pending.push_back(Job::Continue {
                number,
                run,
                rung: rung + 1,
            }),
            Decision::Pause => {
                // Other workers read this to tell a paused trial from a training one.
                self.search
                    .study
                    .set_trial_attr(number, PAUSED_ATTR, &json!(rung))?;
                self.paused.insert(number, (run, rung));
            }
            Decision::Stop => self.end_pruned(number, "stopped by the scheduler", progress)?,
        }
        Ok(())
    }

    /// Asks the scheduler about paused trials after new results.
    fn review(&mut self, progress: &mut dyn Progress) -> Result<(), SearchError> {
        if self.paused.is_empty() {
            return Ok(());
        }
        let trials = self.search.study.trials()?;
        let ctx = RungContext {
            trials: &trials,
            directions: &self.search.study.info().directions,
        };
        let mut paused: Vec<(u64, usize)> =
            self.paused.iter().map(|(&n, (_, r))| (n, *r)).collect();
        paused.sort_unstable();
        for (number, decision) in self.search.scheduler.review(&ctx, &paused) {
            if matches!(decision, Decision::Pause) {
                continue;
            }
            if let Some((run, rung)) = self.paused.remove(&number) {
                self.search
                    .study
                    .set_trial_attr(number, PAUSED_ATTR, &serde_json::Value::Null)?;
                self.apply(number, rung, decision, run, progress)?;
            }
        }
        Ok(())
    }

    /// Ends trials still paused when nothing else can run (their rung can no longer fill).
    fn end_paused(&mut self, progress: &mut dyn Progress) -> Result<(), SearchError> {
        let mut numbers: Vec<u64> = self.paused.keys().copied().collect();
        numbers.sort_unstable();
        for number in numbers {
            self.paused.remove(&number);
            self.end_pruned(
                number,
                "stopped: its rung could not fill within the budget",
                progress,
            )?;
        }
        Ok(())
    }

    fn complete(
        &mut self,
        number: u64,
        values: &[f64],
        measurements: &Measurements,
        progress: &mut dyn Progress,
    ) -> Result<(), SearchError> {
        let constraints = self.search.scoring.constraints(measurements);
        let mut end = TrialEnd::complete(values);
        if let Some(c) = &constraints {
            end = end.with_constraints(c);
        }
        self.search.study.tell(number, end)?;
        self.summary.completed += 1;
        self.ended(number, None, progress)
    }

    fn end_pruned(
        &mut self,
        number: u64,
        why: &str,
        progress: &mut dyn Progress,
    ) -> Result<(), SearchError> {
        let study = &mut *self.search.study;
        study.set_trial_attr(number, "stopped", &json!(why))?;
        study.tell(number, TrialEnd::pruned())?;
        self.summary.pruned += 1;
        self.ended(number, None, progress)
    }

    fn fail(
        &mut self,
        number: u64,
        failure: &TrialFailure,
        progress: &mut dyn Progress,
    ) -> Result<(), SearchError> {
        let reason = failure.to_string();
        tracing::warn!(trial = number, %reason, "trial failed");
        self.search.study.tell(number, TrialEnd::fail(&reason))?;
        self.summary.failed += 1;
        self.ended(number, Some(reason), progress)
    }

    /// Bookkeeping of an ended trial; stops the search when most recent trials failed.
    fn ended(
        &mut self,
        number: u64,
        failure: Option<String>,
        progress: &mut dyn Progress,
    ) -> Result<(), SearchError> {
        self.active.remove(&number);
        let trials = self.search.study.trials()?;
        if let Some(trial) = trials.iter().find(|t| t.number == number) {
            progress.ended(trial, &trials);
        }
        let window = self.search.settings.failure_window;
        self.recent.push_back(failure);
        while self.recent.len() > window {
            self.recent.pop_front();
        }
        let failed = self.recent.iter().filter(|f| f.is_some()).count();
        if window > 0 && self.recent.len() == window && failed * 5 >= window * 4 {
            let reason = self
                .recent
                .iter()
                .rev()
                .find_map(|f| f.clone())
                .unwrap_or_default();
            return Err(SearchError::TooManyFailures {
                failed,
                window,
                reason,
            });
        }
        Ok(())
    }
}

/// Trial attribute: the rung a trial is paused at (synchronous schedulers), `null` once it
/// goes on.
pub const PAUSED_ATTR: &str = "paused_at";

/// The seed of trial `number`'s training under the search seed.
pub fn trial_seed(seed: u64, number: u64) -> u64 {
    // SplitMix64 of the pair, so neighbouring trials get unrelated seeds.
    let mut z = seed ^ number.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
