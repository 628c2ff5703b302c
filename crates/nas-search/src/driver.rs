//! [`Search`]: the loop that asks the study for configurations, trains them rung by rung on
//! worker threads, and lets the scheduler continue, pause or stop each one.
//!
//! One coordinator (the calling thread) owns the study and the scheduler; `concurrency`
//! worker threads train. A worker gets a job (start a trial and train its first rung, or
//! train a running trial to its next rung), and sends back the trial's state with its score.
//! Every decision is written to the study before the next job is handed out, so a killed
//! search loses no finished trial: reopening the study fails the interrupted ones and
//! queues their configurations again.
//!
//! Stopping is checked at every batch: an [`Interrupt`] (SIGINT, SIGTERM) stops every running
//! trial, fails it and queues its configuration again (a resume re-runs it from the start),
//! then the search returns normally so that its results are written. The wall-clock budget
//! is a deadline: a rung that this run's measured pace says cannot end before it is not
//! started, and a rung still training at the deadline is stopped. Either way the trial is
//! pruned at its last finished rung; one that finished none is failed, and queued again
//! when it had started training. A compute budget (GMACs) stops new trials and promotions
//! once spent. Under either budget, a new trial's first rung or a promotion estimated to take
//! more than its share of it is not started, and the trial is pruned.

use std::collections::{HashMap, VecDeque};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nas_core::schedule::{Decision, RungContext, Scheduler};
use nas_core::study::{trial_seed, Study, StudyError, Trial, TrialEnd, TrialState};

use crate::halt::{signal_name, Halt, HaltCause, Interrupt};
use crate::pace::Pace;
use crate::record::{RecordWriter, TrialRecord};
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
    /// A trial that finished `rung` waits there to be promoted (or for its rung to fill).
    fn waiting(&mut self, number: u64, rung: usize) {
        let _ = (number, rung);
    }
    /// A trial goes on to train `rung` (at once, or after waiting).
    fn promoted(&mut self, number: u64, rung: usize) {
        let _ = (number, rung);
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
    /// Compute spent in this run, GMACs ([`crate::SegmentScore::cost`]).
    pub cost: f64,
    /// Wall-clock seconds.
    pub seconds: f64,
    /// The signal that interrupted the search, if one did.
    pub interrupted: Option<i32>,
    /// Copies of the trials failed and queued again: every trial this run had not ended
    /// when interrupted, and trials that the budget stopped before their first rung ended.
    /// A resume runs them first.
    pub requeued: Vec<u64>,
    /// Trials stopped mid-rung by the wall-clock budget's end.
    pub halted_at_deadline: usize,
    /// Trials whose next rung was not started because it could not end within the budget.
    pub refused_for_budget: usize,
    /// Of those, new trials (no rung trained): recorded as failed, `not started: …`.
    pub not_started: usize,
    /// Trials whose next rung was not started because it alone would take more of the budget
    /// than [`SearchSettings::max_first_rung_share`] (a new trial's first rung) or
    /// [`SearchSettings::max_promotion_share`] (a promotion) allows: pruned at their last
    /// rung (a new trial with none, so that the sampler counts its configuration among the
    /// bad ones).
    pub too_costly: usize,
    /// Where this run's training went, rung by rung.
    pub rungs: Vec<RungSpend>,
}

/// What one rung of the ladder cost this run.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RungSpend {
    /// Segments trained to this rung.
    pub segments: usize,
    /// Their compute in GMACs.
    pub gmacs: f64,
    /// Their training and evaluation seconds (summed over workers).
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
    /// The rung was not started: it would take `needs` (seconds at this run's pace, or GMACs),
    /// more than `limit` allows.
    WontFit {
        number: u64,
        rung: usize,
        needs: f64,
        limit: BudgetLimit,
    },
}

/// What a budget is counted in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    /// Wall-clock seconds ([`SearchSettings::budget`]), a rung's at this run's measured pace.
    Seconds,
    /// Compute ([`SearchSettings::max_cost`]), a rung's as the trial estimates it.
    Gmacs,
}

impl Unit {
    /// `amount` with its unit, e.g. `41.3 s` or `1210 GMACs`.
    fn show(self, amount: f64) -> String {
        match self {
            Unit::Seconds => format!("{amount:.1} s"),
            Unit::Gmacs => format!("{amount:.0} GMACs"),
        }
    }
}

/// What a rung that was not started would have overrun.
#[derive(Debug, Clone, Copy, PartialEq)]
enum BudgetLimit {
    /// The deadline, this many seconds away.
    Deadline(f64),
    /// [`SearchSettings::max_first_rung_share`] of the budget, for a new trial's first rung.
    FirstRung(f64, Unit),
    /// [`SearchSettings::max_promotion_share`] of the budget, for a promotion.
    Promotion(f64, Unit),
}

/// The most of the budget a new trial's first rung and a promotion may take, in one unit.
#[derive(Debug, Clone, Copy, PartialEq)]
struct ShareCaps {
    unit: Unit,
    first_rung: Option<f64>,
    promotion: Option<f64>,
}

impl ShareCaps {
    /// The caps `settings` gives a budget of `total` in `unit`.
    fn of(settings: &SearchSettings, total: f64, unit: Unit) -> ShareCaps {
        ShareCaps {
            unit,
            first_rung: settings.max_first_rung_share.map(|s| s * total),
            promotion: settings.max_promotion_share.map(|s| s * total),
        }
    }

    /// The limit a rung needing `needs` overruns, if any.
    fn overrun(&self, needs: f64, first: bool) -> Option<BudgetLimit> {
        let (most, limit): (f64, fn(f64, Unit) -> BudgetLimit) = match first {
            true => (self.first_rung?, BudgetLimit::FirstRung),
            false => (self.promotion?, BudgetLimit::Promotion),
        };
        (needs > most).then(|| limit(most, self.unit))
    }
}

/// A trial this run has in hand.
struct Active {
    /// Compute spent on it so far.
    cost: f64,
    /// Rungs it finished in this run.
    rungs: usize,
}

/// One search over a study.
pub struct Search<'a> {
    study: &'a mut Study,
    scheduler: &'a dyn Scheduler,
    scoring: &'a Scoring,
    settings: &'a SearchSettings,
    segments: Vec<Segment>,
    interrupt: Interrupt,
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
            interrupt: Interrupt::new(),
        }
    }

    /// Stops the search when `interrupt` is requested: running trials stop at their next
    /// batch, and every trial of this run not ended is failed and queued again.
    pub fn interruptible(mut self, interrupt: Interrupt) -> Search<'a> {
        self.interrupt = interrupt;
        self
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
        let started = self.settings.clock_start.unwrap_or_else(Instant::now);
        let deadline = self.settings.budget.map(|b| started + b);
        let halt = Halt::new(self.interrupt.clone(), deadline);
        let pace = Arc::new(Mutex::new(Pace::default()));
        self.study.seed_trials(self.settings.seed);
        std::thread::scope(|scope| {
            for _ in 0..workers {
                let jobs = job_rx.clone();
                let worker = Worker {
                    events: event_tx.clone(),
                    runner: runner.clone(),
                    segments: self.segments.clone(),
                    halt: halt.clone(),
                    pace: pace.clone(),
                    // Shares of what the workers can train in the budget: with two trials
                    // at once, a first rung may take a third of the wall-clock budget on one.
                    time_caps: self.settings.budget.map(|b| {
                        let worker_seconds = b.as_secs_f64() * workers as f64;
                        ShareCaps::of(self.settings, worker_seconds, Unit::Seconds)
                    }),
                    compute_caps: self
                        .settings
                        .max_cost
                        .map(|c| ShareCaps::of(self.settings, c, Unit::Gmacs)),
                };
                scope.spawn(move || worker.work(&jobs));
            }
            drop(event_tx);
            let coordinator = Coordinator::new(self, workers, started, halt, pace);
            let result = coordinator.run(&job_tx, &event_rx, progress);
            drop(job_tx);
            result
        })
    }
}

/// A worker thread's share of the search.
struct Worker {
    events: mpsc::Sender<Event>,
    runner: Arc<dyn TrialRunner>,
    segments: Vec<Segment>,
    halt: Halt,
    pace: Arc<Mutex<Pace>>,
    /// What a first rung and a promotion may take of the wall-clock budget, at this run's
    /// pace.
    time_caps: Option<ShareCaps>,
    /// What a first rung and a promotion may take of the compute budget, as the trial
    /// estimates its cost: without them a network ranked in the top 1/η once could take
    /// most of a scheduler comparison's compute.
    compute_caps: Option<ShareCaps>,
}

impl Worker {
    /// Takes jobs until the channel closes.
    fn work(&self, jobs: &Mutex<mpsc::Receiver<Job>>) {
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
                    match guarded(|| self.runner.start(&start)) {
                        Err(failure) => Event::Failed { number, failure },
                        Ok(run) => {
                            let built = Event::Built {
                                number,
                                measurements: run.measurements(),
                                description: run.describe(),
                                seconds: clock.elapsed().as_secs_f64(),
                            };
                            if self.events.send(built).is_err() {
                                return;
                            }
                            self.train(number, run, rung, true)
                        }
                    }
                }
                Job::Continue { number, run, rung } => self.train(number, run, rung, false),
            };
            if self.events.send(event).is_err() {
                return;
            }
        }
    }

    /// Trains one segment of a trial, turning a panic into a failure; sends its advances
    /// on. Does not start when halted, or when the segment cannot end before the deadline at
    /// this run's pace.
    fn train(&self, number: u64, mut run: Box<dyn TrialRun>, rung: usize, first: bool) -> Event {
        let segment = &self.segments[rung];
        if self.halt.is_set() {
            return Event::Failed {
                number,
                failure: TrialFailure::Halted,
            };
        }
        if let Some((needs, limit)) = self.too_long(run.as_ref(), segment, first) {
            return Event::WontFit {
                number,
                rung,
                needs,
                limit,
            };
        }
        let events = &self.events;
        let mut advance = |advance| {
            let _ = events.send(Event::Advanced {
                number,
                rung,
                advance,
            });
        };
        match guarded(|| run.train(segment, &mut advance, &self.halt)) {
            Ok(score) => Event::Trained {
                number,
                rung,
                score,
                run,
            },
            Err(failure) => Event::Failed { number, failure },
        }
    }

    /// What `segment` should take and the limit it overruns: the time left before the
    /// deadline, or the share of the wall-clock or compute budget a trial's `first` rung or a
    /// promotion may take. `None` when it fits, or when there is no budget or no estimate
    /// yet.
    fn too_long(
        &self,
        run: &dyn TrialRun,
        segment: &Segment,
        first: bool,
    ) -> Option<(f64, BudgetLimit)> {
        let cost = run.estimate_cost(segment)?;
        if let Some(deadline) = self.halt.deadline() {
            let seconds = self
                .pace
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .seconds_for(segment.rung, cost);
            if let Some(seconds) = seconds {
                let left = deadline
                    .saturating_duration_since(Instant::now())
                    .as_secs_f64();
                if seconds > left {
                    return Some((seconds, BudgetLimit::Deadline(left)));
                }
                let over = self.time_caps.and_then(|c| c.overrun(seconds, first));
                if let Some(limit) = over {
                    return Some((seconds, limit));
                }
            }
        }
        let over = self.compute_caps?.overrun(cost, first)?;
        Some((cost, over))
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
    halt: Halt,
    pace: Arc<Mutex<Pace>>,
    /// New trials refused in a row because their first rung would not end within the budget.
    refusals_in_a_row: usize,
    /// Seconds of the quickest first rung this run trained: once a new trial is refused for
    /// the deadline with less time left than this, no other is tried.
    quickest_first_rung: Option<f64>,
    /// New trials refused in a row because their first rung would take more than
    /// [`SearchSettings::max_first_rung_share`] of the budget.
    costly_in_a_row: usize,
}

impl<'s, 'a> Coordinator<'s, 'a> {
    fn new(
        search: &'s mut Search<'a>,
        workers: usize,
        started: Instant,
        halt: Halt,
        pace: Arc<Mutex<Pace>>,
    ) -> Self {
        let rungs = vec![RungSpend::default(); search.segments.len()];
        Coordinator {
            search,
            workers,
            in_flight: 0,
            pending: VecDeque::new(),
            paused: HashMap::new(),
            active: HashMap::new(),
            recent: VecDeque::new(),
            summary: SearchSummary {
                rungs,
                ..SearchSummary::default()
            },
            started,
            last_beat: Instant::now(),
            halt,
            pace,
            refusals_in_a_row: 0,
            quickest_first_rung: None,
            costly_in_a_row: 0,
        }
    }

    fn run(
        mut self,
        jobs: &mpsc::Sender<Job>,
        events: &mpsc::Receiver<Event>,
        progress: &mut dyn Progress,
    ) -> Result<SearchSummary, SearchError> {
        loop {
            if let Some(signal) = self.search.interrupt.requested() {
                // Running trials stop at their next batch; then nothing of this run is left.
                if self.in_flight == 0 {
                    self.requeue_unfinished(signal, progress)?;
                    self.summary.interrupted = Some(signal);
                    break;
                }
            } else {
                self.dispatch(jobs, progress)?;
            }
            if self.in_flight == 0 && self.search.interrupt.requested().is_none() {
                // Before leaving, take over what dead workers left running: the budget
                // counted those trials, so nobody else may run them.
                if !self.reclaim(progress)?.is_empty() {
                    continue;
                }
                // Paused trials wait for a rung that other workers' trials may still fill.
                if self.paused.is_empty() || self.out_of_time() || !self.others_training()? {
                    self.review(progress)?;
                    if !self.pending.is_empty() {
                        continue;
                    }
                    self.end_paused(progress)?;
                    break;
                }
            }
            self.beat_if_due(progress)?;
            // Wake at the deadline too, so that paused trials end with the budget.
            let wait = match self.halt.deadline() {
                Some(d) if d > Instant::now() => {
                    (d - Instant::now()).min(self.search.settings.heartbeat)
                }
                _ => self.search.settings.heartbeat,
            };
            match events.recv_timeout(wait.max(Duration::from_millis(10))) {
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
        let trials = self.search.study.history()?;
        Ok(trials.iter().any(|t| {
            t.state == TrialState::Running
                && !self.active.contains_key(&t.number)
                && TrialRecord::paused_at(t).is_none()
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

    /// Whether the time or compute budget is spent (a rung stopped for the deadline means
    /// that less than a training step is left).
    fn out_of_time(&self) -> bool {
        let settings = self.search.settings;
        self.halt.deadline().is_some_and(|d| Instant::now() >= d)
            || self.summary.halted_at_deadline > 0
            || settings.max_cost.is_some_and(|c| self.summary.cost >= c)
    }

    /// Whether less time is left before the deadline than the quickest first rung this run
    /// trained took (true when none was trained).
    fn no_first_rung_fits(&self) -> bool {
        let Some(deadline) = self.halt.deadline() else {
            return false;
        };
        let left = deadline
            .saturating_duration_since(Instant::now())
            .as_secs_f64();
        self.quickest_first_rung
            .is_none_or(|quickest| left < quickest)
    }

    /// Whether the trial budget allows one more trial: the study's complete, pruned and
    /// running trials (of any run and any worker) stay under `trials`.
    fn may_start(&mut self) -> Result<bool, SearchError> {
        if self.out_of_time()
            || self.refusals_in_a_row >= REFUSALS_TO_STOP
            || (self.refusals_in_a_row > 0 && self.no_first_rung_fits())
            || self.costly_in_a_row >= COSTLY_TO_STOP
        {
            return Ok(false);
        }
        let settings = self.search.settings;
        let Some(limit) = settings.trials else {
            return Ok(settings.budget.is_some() || settings.max_cost.is_some());
        };
        // Every worker's trials count: ended ones and those running now (this run's, paused
        // ones included, and other processes' sharing the study). A quick look; the storage
        // checks again when it starts the trial.
        let trials = self.search.study.history()?;
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
        let directions = self.search.study.info().directions.clone();
        let trials = self.search.study.history()?;
        let ctx = RungContext {
            trials,
            directions: &directions,
        };
        let bracket = self.search.scheduler.bracket_for(&ctx, number);
        let rung = self.search.scheduler.first_rung(bracket);
        // Stored with the trial; only a trial queued without one (by an older version of
        // nas) gets it here, from its number.
        let seed = trial
            .seed
            .unwrap_or_else(|| trial_seed(self.search.settings.seed, number));
        RecordWriter::new(self.search.study, number).started(bracket, ask_s)?;
        self.active.insert(
            number,
            Active {
                cost: 0.0,
                rungs: 0,
            },
        );
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
                RecordWriter::new(self.search.study, number).built(
                    &description,
                    &measurements,
                    seconds,
                )?;
            }
            Event::Failed {
                number,
                failure: TrialFailure::Halted,
            } => self.halted(number, progress)?,
            Event::Failed { number, failure } => {
                self.fail(number, &failure, progress)?;
            }
            Event::WontFit {
                number,
                rung,
                needs,
                limit: BudgetLimit::Deadline(left),
            } => self.refused(number, rung, needs, left, progress)?,
            Event::WontFit {
                number,
                rung,
                needs,
                limit: BudgetLimit::FirstRung(most, unit),
            } => self.too_costly(number, rung, (needs, most, unit), "a first rung", progress)?,
            Event::WontFit {
                number,
                rung,
                needs,
                limit: BudgetLimit::Promotion(most, unit),
            } => self.too_costly(number, rung, (needs, most, unit), "a promotion", progress)?,
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
        let seconds = score.timings.train_s + score.timings.eval_s;
        self.pace
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .record(rung, score.cost, seconds);
        if let Some(spend) = self.summary.rungs.get_mut(rung) {
            spend.segments += 1;
            spend.gmacs += score.cost;
            spend.seconds += seconds;
        }
        if self.active.get(&number).is_some_and(|a| a.rungs == 0) {
            self.refusals_in_a_row = 0;
            self.costly_in_a_row = 0;
            self.quickest_first_rung =
                Some(self.quickest_first_rung.map_or(seconds, |q| q.min(seconds)));
        }
        let cost = self.active.get_mut(&number).map_or(score.cost, |a| {
            a.cost += score.cost;
            a.rungs += 1;
            a.cost
        });
        let study = &mut *self.search.study;
        study.report(number, rung as u64, &values)?;
        RecordWriter::new(study, number).rung(rung, &score, cost)?;
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
        let directions = self.search.study.info().directions.clone();
        let trials = self.search.study.history()?;
        let ctx = RungContext {
            trials,
            directions: &directions,
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
            Decision::Continue => {
                progress.promoted(number, rung + 1);
                self.pending.push_back(Job::Continue {
                    number,
                    run,
                    rung: rung + 1,
                });
            }
            Decision::Pause => {
                // Other workers read this to tell a paused trial from a training one.
                RecordWriter::new(self.search.study, number).paused(Some(rung))?;
                self.paused.insert(number, (run, rung));
                progress.waiting(number, rung);
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
        let directions = self.search.study.info().directions.clone();
        let trials = self.search.study.history()?;
        let ctx = RungContext {
            trials,
            directions: &directions,
        };
        let mut paused: Vec<(u64, usize)> =
            self.paused.iter().map(|(&n, (_, r))| (n, *r)).collect();
        paused.sort_unstable();
        for (number, decision) in self.search.scheduler.review(&ctx, &paused) {
            if matches!(decision, Decision::Pause) {
                continue;
            }
            if let Some((run, rung)) = self.paused.remove(&number) {
                RecordWriter::new(self.search.study, number).paused(None)?;
                self.apply(number, rung, decision, run, progress)?;
            }
        }
        Ok(())
    }

    /// Ends trials still paused when nothing else can run: not promoted (ASHA, Hyperband), or
    /// their rung can no longer fill (successive halving). Each is pruned at its rung.
    fn end_paused(&mut self, progress: &mut dyn Progress) -> Result<(), SearchError> {
        let mut waiting: Vec<(u64, usize)> =
            self.paused.iter().map(|(&n, (_, r))| (n, *r)).collect();
        waiting.sort_unstable();
        for (number, rung) in waiting {
            self.paused.remove(&number);
            let why = format!("stopped: still waiting at rung {rung} when the search ended");
            self.end_pruned(number, &why, progress)?;
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

    /// A trial whose training stopped at a batch boundary: at the deadline it is pruned at
    /// its last finished rung; on a signal it stays for [`Self::requeue_unfinished`].
    fn halted(&mut self, number: u64, progress: &mut dyn Progress) -> Result<(), SearchError> {
        match self.halt.cause() {
            Some(HaltCause::Signal(_)) => Ok(()),
            Some(HaltCause::Deadline) | None => self.stopped_at_deadline(number, progress),
        }
    }

    /// A trial the budget stopped mid-rung: pruned at its last finished rung, or, when it
    /// finished none, failed and queued again, since nothing of it was scored.
    fn stopped_at_deadline(
        &mut self,
        number: u64,
        progress: &mut dyn Progress,
    ) -> Result<(), SearchError> {
        self.summary.halted_at_deadline += 1;
        if self.active.get(&number).is_some_and(|a| a.rungs > 0) {
            let why = "stopped: the budget ended mid-rung; its last finished rung stands";
            return self.end_pruned(number, why, progress);
        }
        let why = "not scored: the budget ended during its first rung";
        let copy = self.search.study.fail_and_requeue(number, why)?;
        self.summary.requeued.push(copy);
        self.ended(number, None, progress)
    }

    /// A trial whose next rung was not started: it would take `seconds` at this run's pace,
    /// past the budget. Pruned at its last finished rung; a new trial (no rung finished) is
    /// failed as not started, and no more are started once less time is left than the
    /// quickest first rung of this run took, or after [`REFUSALS_TO_STOP`] such trials in a
    /// row.
    fn refused(
        &mut self,
        number: u64,
        rung: usize,
        seconds: f64,
        left: f64,
        progress: &mut dyn Progress,
    ) -> Result<(), SearchError> {
        self.summary.refused_for_budget += 1;
        let why = format!(
            "rung {rung} would take about {seconds:.1} s at this run's pace, more than the {left:.1} s left"
        );
        if self.active.get(&number).is_some_and(|a| a.rungs > 0) {
            return self.end_pruned(number, &format!("stopped: {why}"), progress);
        }
        self.refusals_in_a_row += 1;
        self.summary.not_started += 1;
        let reason = format!("not started: {why}");
        self.search.study.tell(number, TrialEnd::fail(&reason))?;
        self.ended(number, None, progress)
    }

    /// A trial whose next rung was not started: it would take `needs` (seconds at this run's
    /// pace, or GMACs), more than the `most` of the budget `what` (a first rung, a promotion)
    /// may take. Pruned at its last finished rung; a new trial is pruned without one, so that
    /// samplers count its configuration among the bad ones instead of proposing it again. The
    /// search goes on.
    fn too_costly(
        &mut self,
        number: u64,
        rung: usize,
        (needs, most, unit): (f64, f64, Unit),
        what: &str,
        progress: &mut dyn Progress,
    ) -> Result<(), SearchError> {
        self.summary.too_costly += 1;
        let pace = match unit {
            Unit::Seconds => " at this run's pace",
            Unit::Gmacs => "",
        };
        let why = format!(
            "rung {rung} would take about {}{pace}, more than the {} of the budget {what} may take",
            unit.show(needs),
            unit.show(most)
        );
        let why = if self.active.get(&number).is_some_and(|a| a.rungs > 0) {
            format!("stopped: {why}")
        } else {
            self.costly_in_a_row += 1;
            format!("not started: {why}")
        };
        self.end_pruned(number, &why, progress)
    }

    /// Fails every trial of this run that has not ended (training stopped, promoted, paused)
    /// and queues its configuration again.
    fn requeue_unfinished(
        &mut self,
        signal: i32,
        progress: &mut dyn Progress,
    ) -> Result<(), SearchError> {
        self.pending.clear();
        self.paused.clear();
        let mut numbers: Vec<u64> = self.active.keys().copied().collect();
        numbers.sort_unstable();
        let why = format!("interrupted by {}", signal_name(signal));
        for number in numbers {
            let copy = self.search.study.fail_and_requeue(number, &why)?;
            tracing::warn!(trial = number, copy, "{why}: failed and queued again");
            self.summary.requeued.push(copy);
            self.active.remove(&number);
            let trials = self.search.study.history()?;
            if let Some(trial) = trials.iter().find(|t| t.number == number) {
                progress.ended(trial, trials);
            }
        }
        Ok(())
    }

    fn end_pruned(
        &mut self,
        number: u64,
        why: &str,
        progress: &mut dyn Progress,
    ) -> Result<(), SearchError> {
        let study = &mut *self.search.study;
        RecordWriter::new(study, number).stopped(why)?;
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
        let trials = self.search.study.history()?;
        if let Some(trial) = trials.iter().find(|t| t.number == number) {
            progress.ended(trial, trials);
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

/// New trials in a row whose first rung would not end within the budget, after which a
/// search starts no more: each costs building and measuring a network (about 0.2 s). With
/// 3, a 20-minute search stopped with 228 s left, the sampler having proposed three heavy
/// networks in a row where its first rungs had taken from 2.6 s.
const REFUSALS_TO_STOP: usize = 30;

/// New trials in a row refused for [`SearchSettings::max_first_rung_share`], after which a
/// search starts no more: the sampler had the chance to learn that such networks are too
/// heavy.
const COSTLY_TO_STOP: usize = 10;
