//! `nas search`: the whole search on one machine, with progress bars and results on disk.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use nas_arch::SpaceSource;
use nas_core::sampler::WarmStart;
use nas_core::schedule::{self, ScheduleOptions, Scheduler};
use nas_core::study::{best_of, Storage, Study, Trial, TrialState};
use nas_data::split_validation;
use nas_search::{
    signal_name, write_results, Advance, Limits, Progress, Scoring, Search, SearchSettings,
    SearchSummary, SegmentScore, TrialRecord,
};
use nas_settings::{Preset, StudyConfig, Workers, CONFIG_ATTR};
use nas_train::{BurnRunner, RunnerSettings};

use crate::interrupt::{self, Interrupted};
use crate::study_read::{export_hints, recorded_space};

/// Arguments of `nas search`.
#[derive(Debug, clap::Args)]
pub struct SearchArgs {
    /// The study's settings; each flag can also be a key of `--config`.
    #[command(flatten)]
    pub settings: StudyConfig,
    /// A study config file (TOML): one key per flag (`max_epochs = 2`), and `[[rung]]`
    /// tables for an explicit fidelity ladder. Flags override it.
    #[arg(long, value_parser = crate::flags::existing_file)]
    pub config: Option<PathBuf>,
    /// Study name; its results go to `<results>/<study>/`. Running again resumes it, with
    /// the settings saved in its `config.toml`.
    #[arg(long, default_value = "default", value_parser = crate::flags::folder_name)]
    pub study: String,
    /// Where studies live.
    #[arg(long, default_value = "results", value_parser = crate::flags::results_folder)]
    pub results: PathBuf,
    /// The study's storage: `postgres://USER@HOST/DB` for a study that workers on several
    /// machines share, or `sqlite://PATH` (default: `<results>/<study>/study.db`). Start
    /// `nas search` with the same `--study` and `--storage` N times for N workers.
    #[arg(long, value_parser = crate::flags::storage_url)]
    pub storage: Option<String>,
    /// Which device of the backend: the K-th discrete GPU (wgpu, Vulkan) or CUDA device K;
    /// 0 for the CPU backends. Default: the backend's default device.
    #[arg(long)]
    pub device: Option<usize>,
    /// Seconds without a heartbeat after which another worker's running trial is taken for
    /// lost: failed and queued again.
    #[arg(
        long,
        default_value_t = SearchSettings::default().heartbeat_grace.as_secs_f64(),
        value_parser = crate::flags::positive
    )]
    pub heartbeat_grace: f64,
    /// Split training time into forward/backward and optimizer (syncs the device twice per
    /// step; for `nas bench`).
    #[arg(long)]
    pub profile: bool,
    /// No progress bars (logs still go to search.log).
    #[arg(long)]
    pub quiet: bool,
    /// Lets a first rung or a promotion take any share of the budget (not a flag: a
    /// benchmark's plain baseline, e.g. random search as a user's script runs it).
    #[arg(skip)]
    pub uncapped: bool,
}

impl SearchArgs {
    /// A search of `settings` as study `study` under `results`, with every other argument at
    /// its default: what a benchmark runs without going through clap.
    pub fn new(settings: StudyConfig, study: &str, results: &Path) -> SearchArgs {
        SearchArgs {
            settings,
            config: None,
            study: study.to_string(),
            results: results.to_path_buf(),
            storage: None,
            device: None,
            heartbeat_grace: SearchSettings::default().heartbeat_grace.as_secs_f64(),
            profile: false,
            quiet: false,
            uncapped: false,
        }
    }
}

/// Opens the storage at `url`; errors name it without its password.
fn open_named_storage(url: &str) -> anyhow::Result<Box<dyn Storage>> {
    nas_core::study::open_storage(url)
        .with_context(|| format!("opening study storage {}", nas_core::study::redact_url(url)))
}

/// `nas search`. A first SIGINT or SIGTERM stops the running trials at their next batch,
/// queues their configurations again, writes the results and returns [`Interrupted`].
pub fn run(cli: SearchArgs) -> anyhow::Result<()> {
    // The budget counts from here: loading the data is part of the search's time.
    let command_start = Instant::now();
    let interrupt = interrupt::install()?;
    let study_dir = cli.results.join(&cli.study);
    // A shared storage holds the study's settings for workers whose machine lacks its folder.
    let mut shared = match &cli.storage {
        Some(url) => Some(
            open_named_storage(url)
                .with_context(|| format!("--storage {}", nas_core::study::redact_url(url)))?,
        ),
        None => None,
    };
    let saved = match shared.as_deref_mut() {
        Some(storage) => StudyConfig::shared(storage, &cli.study)?,
        None => None,
    };
    let args = cli
        .settings
        .clone()
        .resolve(cli.config.as_deref(), &study_dir, saved)?
        .with_absolute_paths()?;
    args.validate(crate::flags::backend_rule)?;
    let preset = args.preset_values()?;
    let space = match (shared.as_deref_mut(), args.space()) {
        (Some(storage), SpaceSource::File(path)) if !path.exists() => {
            recorded_space(storage, &cli.study, &path)?
        }
        (_, source) => source
            .load()
            .with_context(|| format!("--space {}", args.space.as_deref().unwrap_or("")))?,
    };
    let scoring = args.scoring()?;
    let (sampler, sampler_name) = args.sampler_kind()?;
    let (runner, scheduler, recorded, workers) = prepare(&args, &preset, cli.device, cli.profile)?;
    let mut settings = args.search_settings(&preset, command_start, workers)?;
    settings.heartbeat_grace = Duration::from_secs_f64(cli.heartbeat_grace);
    if cli.uncapped {
        settings.max_first_rung_share = None;
        settings.max_promotion_share = None;
    }
    let warm = match &args.warm_start {
        Some(name) => Some(warm_start(
            // Each `&mut dyn Storage` coerced on its own: an Option's contents are not.
            shared.as_deref_mut().map(|s| s as &mut dyn Storage),
            &cli.results,
            name,
            &scoring,
            args.warm_start_weight()?,
        )?),
        None => None,
    };
    let sampler_box = sampler
        .build_warm(args.seed(), warm)
        .with_context(|| format!("--warm-start with sampler `{sampler_name}`"))?;

    // Everything is checked: from here on the study is written.
    let directions = scoring.directions();
    let param_names: Vec<String> = space.params().iter().map(|p| p.name.clone()).collect();
    std::fs::create_dir_all(&study_dir)
        .with_context(|| format!("creating {}", study_dir.display()))?;
    init_log(&study_dir.join("search.log"))?;
    let place = storage_name(&cli);
    let storage = match shared {
        Some(storage) => storage,
        None => open_named_storage(&format!("sqlite://{}", sqlite_file(&cli).display()))?,
    };
    let mut study = Study::open(storage, &cli.study, &directions, space, sampler_box)
        .with_context(|| format!("opening study `{}` in {}", cli.study, place))?;
    recorded.write(&study_dir.join("config.toml"))?;
    let config = serde_json::to_value(&recorded).context("the study's settings")?;
    study.set_attr(CONFIG_ATTR, &config)?;
    if !study.recovered().is_empty() {
        eprintln!(
            "nas: resuming; trials {:?} were interrupted: marked failed, their configurations queued again",
            study.recovered()
        );
    }
    eprintln!(
        "nas: study `{}` in {} — scheduler {}, sampler {}, {}, {}",
        cli.study,
        study_dir.display(),
        scheduler.name(),
        sampler_name,
        workers_text(&workers),
        budget_text(&settings)
    );
    let value_names = scoring.value_names();
    let mut bars = Bars::new(settings.trials, cli.quiet, &value_names, &directions);
    bars.results = Some((study_dir.clone(), param_names.clone()));
    let outcome = Search::new(&mut study, scheduler.as_ref(), &scoring, &settings)
        .interruptible(interrupt)
        .run(Arc::new(runner), &mut bars);
    bars.finish();
    // The results are written even when the search failed; its own error comes first.
    let written = write_outputs(
        &mut study,
        &cli,
        &study_dir,
        &value_names,
        &param_names,
        &scoring.limits,
    );
    let summary = match outcome {
        Ok(summary) => summary,
        Err(e) => {
            if let Err(also) = &written {
                eprintln!("nas: the results could not be written either: {also:#}");
            }
            return Err(anyhow::Error::from(e).context(format!(
                "the search stopped (study `{}` in {}; every trial told before is kept)",
                cli.study, place
            )));
        }
    };
    let (trials, report) = written?;
    print_summary(
        &trials,
        &value_names,
        &directions,
        command_start.elapsed(),
        &summary,
        &study_dir,
    );
    print_spend(&summary, &settings);
    print!("{}", report.agreement_text());
    print!("{}", report.exports_text());
    if let Some(signal) = summary.interrupted {
        println!(
            "interrupted by {}: {} running trial(s) failed, their configurations queued again as {:?}",
            signal_name(signal),
            summary.requeued.len(),
            summary.requeued
        );
        println!("resume with: {}", interrupt::shell_line(std::env::args()));
        return Err(Interrupted(signal).into());
    }
    Ok(())
}

/// Where the study is stored, as named in messages and errors (a full or read-only disk, a
/// lost server): the `--storage` URL without its password, else the study's SQLite file.
fn storage_name(cli: &SearchArgs) -> String {
    match &cli.storage {
        Some(url) => nas_core::study::redact_url(url),
        None => sqlite_file(cli).display().to_string(),
    }
}

/// The study's SQLite file when no `--storage` is given.
fn sqlite_file(cli: &SearchArgs) -> PathBuf {
    cli.results.join(&cli.study).join("study.db")
}

/// `2 at once, 1 thread each`.
fn workers_text(workers: &Workers) -> String {
    match workers.threads_per_trial {
        Some(1) => format!("{} at once, 1 thread each", workers.trials),
        Some(t) => format!("{} at once, {t} threads each", workers.trials),
        None => format!("{} at once", workers.trials),
    }
}

/// Loads the data, chooses the device, carves the validation split and builds what trains
/// and schedules the trials; returns them with the settings the study keeps (a folder's image
/// size and test share included, so that it reads the folder the same way when resumed or
/// exported) and how many trials train at once on that device. Nothing is written.
fn prepare(
    args: &StudyConfig,
    preset: &Preset,
    device: Option<usize>,
    profile: bool,
) -> anyhow::Result<(BurnRunner, Box<dyn Scheduler>, StudyConfig, Workers)> {
    let data = args.load_data()?;
    let recorded = StudyConfig {
        image_size: args.image_size.or(data.image_size),
        test_fraction: args.test_fraction.or(data.test_fraction),
        ..args.for_study()
    };
    let (backend, why) = crate::choose_backend(args.backend.as_deref())?;
    let device = match device {
        Some(k) => backend
            .device_at(k)
            .with_context(|| format!("--device {k}"))?,
        None => backend.device()?,
    };
    eprintln!(
        "nas: {why}; device: {}",
        nas_model::device_name(&device, backend)
    );
    let workers = args
        .concurrency()
        .workers(backend.is_cpu().then(nas_model::cpu_threads));
    let holdout = args.holdout(preset, data.splits.train.len());
    let carved = split_validation(&data.splits.train, holdout, args.seed())?;
    let full = carved.train.height() as u32;
    eprintln!(
        "nas: {} — {} training, {} validation images ({}×{}); the test split is not used by the search",
        data.description,
        carved.train.len(),
        carved.validation.len(),
        full,
        full
    );
    let training = args.training_plan(preset, carved.train.len());
    let scheduler = schedule::build(
        args.scheduler_kind()?,
        args.ladder(preset, full)?,
        &ScheduleOptions {
            rank: args.rank()?,
            promotion: args.promotion_rule()?,
            ..Default::default()
        },
    );
    let runner = BurnRunner::new(
        device,
        carved.train,
        carved.validation,
        RunnerSettings {
            min_epochs: training.min_epochs,
            max_epochs: training.max_epochs,
            top_fraction: training.top_fraction,
            latency_batch: args.latency_batch(),
            data_seed: args.seed(),
            cv_folds: args.cv()?,
            profile,
            threads_per_trial: workers.threads_per_trial,
            ..RunnerSettings::default()
        },
    );
    Ok((runner, scheduler, recorded, workers))
}

/// Writes `trials.csv`, `pareto.json` and `report.html` of the study; returns its trials and
/// the report (with what to export).
fn write_outputs(
    study: &mut Study,
    cli: &SearchArgs,
    study_dir: &Path,
    value_names: &[&str],
    param_names: &[String],
    limits: &Limits,
) -> anyhow::Result<(Vec<Trial>, nas_report::Report)> {
    let trials = study.trials()?;
    let directions = study.info().directions.clone();
    write_results(study_dir, &trials, &directions, value_names, param_names)?;
    let value_names: Vec<String> = value_names.iter().map(|s| s.to_string()).collect();
    let mut report = nas_report::Report::build(&nas_report::ReportInput {
        study: &cli.study,
        directions: &directions,
        value_names: &value_names,
        trials: &trials,
        space: Some(study.space()),
    });
    report.exports = export_hints(
        &report,
        &cli.results,
        cli.storage.as_deref(),
        limits.max_params,
        limits.max_latency_ms,
    );
    let path = study_dir.join("report.html");
    std::fs::write(&path, report.to_html())
        .with_context(|| format!("writing {}", path.display()))?;
    Ok((trials, report))
}

/// How this run spent its time, rung by rung, and what the budget stopped.
fn print_spend(summary: &SearchSummary, settings: &SearchSettings) {
    let trained: f64 = summary.rungs.iter().map(|r| r.seconds).sum();
    let parts: Vec<String> = summary
        .rungs
        .iter()
        .enumerate()
        .filter(|(_, r)| r.segments > 0)
        .map(|(k, r)| {
            format!(
                "rung {k}: {} trained, {:.0} GMACs, {:.0} s ({:.0} %)",
                r.segments,
                r.gmacs,
                r.seconds,
                100.0 * r.seconds / trained.max(1e-9)
            )
        })
        .collect();
    if !parts.is_empty() {
        println!(
            "time spent training (summed over workers): {}",
            parts.join("; ")
        );
    }
    let caps = format!(
        "a first rung over {:.0} %, a promotion over {:.0} %; pruned",
        100.0 * settings.max_first_rung_share.unwrap_or(1.0),
        100.0 * settings.max_promotion_share.unwrap_or(1.0),
    );
    if let Some(budget) = settings.budget {
        println!(
            "budget {:.0} s: {} rung(s) stopped at its end, {} not started because they could not end within it ({} of them a new trial's first, recorded as failed), {} not started because they would take too much of it ({caps}); {} trial(s) queued again",
            budget.as_secs_f64(),
            summary.halted_at_deadline,
            summary.refused_for_budget,
            summary.not_started,
            summary.too_costly,
            summary.requeued.len()
        );
    }
    if let Some(cost) = settings.max_cost {
        println!(
            "compute budget {cost:.0} GMACs, {:.0} spent: {} rung(s) not started because they would take too much of it ({caps})",
            summary.cost, summary.too_costly,
        );
    }
}

/// The finished trials of study `name`, checked to have this search's objectives, as a warm
/// start of weight `weight`: read from `shared` (the `--storage` of this search) when it holds
/// a study of that name, else from `<results>/<name>/study.db`.
fn warm_start(
    shared: Option<&mut dyn Storage>,
    results: &Path,
    name: &str,
    scoring: &Scoring,
    weight: f64,
) -> anyhow::Result<WarmStart> {
    if let Some(storage) = shared {
        if storage.find_study(name)?.is_some() {
            let place = "the --storage of this search";
            return read_warm_start(storage, place, name, scoring, weight);
        }
    }
    let db = results.join(name).join("study.db");
    if !db.is_file() {
        bail!("--warm-start {name}: no study at {}", db.display());
    }
    let mut local = open_named_storage(&format!("sqlite://{}", db.display()))?;
    let place = db.display().to_string();
    read_warm_start(local.as_mut(), &place, name, scoring, weight)
}

/// The warm start of [`warm_start`] from `storage`, which `place` names in messages.
fn read_warm_start(
    storage: &mut dyn Storage,
    place: &str,
    name: &str,
    scoring: &Scoring,
    weight: f64,
) -> anyhow::Result<WarmStart> {
    let info = storage
        .find_study(name)?
        .with_context(|| format!("--warm-start: no study `{name}` in {place}"))?;
    let names = scoring.value_names();
    if info.directions != scoring.directions() {
        bail!(
            "--warm-start {name}: that study has {} objective(s), this one {} ({}); they must match",
            info.directions.len(),
            names.len(),
            names.join(", ")
        );
    }
    let trials: Vec<Trial> = storage
        .trials(info.id, None)?
        .into_iter()
        .filter(|t| t.state.is_finished() && t.state != TrialState::Fail)
        .collect();
    eprintln!(
        "nas: warm start from study `{name}`: {} finished trials at weight {weight} (from {place})",
        trials.len()
    );
    Ok(WarmStart { trials, weight })
}

/// The file `tracing` events go to: the current study's `search.log` (a benchmark runs
/// several studies in one process, and a subscriber can be installed only once).
static LOG_FILE: std::sync::Mutex<Option<std::fs::File>> = std::sync::Mutex::new(None);

/// A writer into [`LOG_FILE`].
struct CurrentLog;

impl std::io::Write for CurrentLog {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match LOG_FILE.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
            Some(file) => file.write(buf),
            None => Ok(buf.len()),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match LOG_FILE.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
            Some(file) => file.flush(),
            None => Ok(()),
        }
    }
}

/// The budget in words: `20 trials`, `1800 s`, `50000 GMACs`, joined by "or".
fn budget_text(settings: &SearchSettings) -> String {
    let mut parts = Vec::new();
    if let Some(n) = settings.trials {
        parts.push(format!("{n} trials"));
    }
    if let Some(b) = settings.budget {
        parts.push(format!("{} s", b.as_secs()));
    }
    if let Some(c) = settings.max_cost {
        parts.push(format!("{c} GMACs"));
    }
    parts.join(" or ")
}

/// Sends `tracing` events to `path` (appending) from now on.
fn init_log(path: &Path) -> anyhow::Result<()> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    *LOG_FILE.lock().unwrap_or_else(|p| p.into_inner()) = Some(file);
    let _ = tracing_subscriber::fmt()
        .with_writer(|| CurrentLog)
        .with_ansi(false)
        .try_init();
    Ok(())
}

fn print_summary(
    trials: &[Trial],
    value_names: &[&str],
    directions: &[nas_core::study::Direction],
    elapsed: Duration,
    summary: &SearchSummary,
    dir: &Path,
) {
    let cost = summary.cost;
    let count = |s: TrialState| trials.iter().filter(|t| t.state == s).count();
    let best = best_accuracy(trials);
    let front = pareto_size(trials, directions);
    println!(
        "search done in {:.1} min: {} trials ({} complete, {} pruned, {} failed); compute this run {:.0} GMACs",
        elapsed.as_secs_f64() / 60.0,
        trials.len(),
        count(TrialState::Complete),
        count(TrialState::Pruned),
        count(TrialState::Fail),
        cost
    );
    match best {
        Some((n, acc)) => println!("best validation accuracy {:.4} (trial {n}, top rung)", acc),
        None => println!("no trial completed"),
    }
    println!(
        "Pareto front ({}): {} trials — {}",
        value_names.join(" vs "),
        front,
        dir.join("pareto.json").display()
    );
    println!("report: {}", dir.join("report.html").display());
}

/// The best validation accuracy of completed trials.
fn best_accuracy(trials: &[Trial]) -> Option<(u64, f64)> {
    trials
        .iter()
        .filter(|t| t.state == TrialState::Complete)
        .filter_map(|t| Some((t.number, TrialRecord::of(t).top_accuracy()?)))
        .max_by(|a, b| a.1.total_cmp(&b.1))
}

/// Trials on the front of feasible completed trials ([`best_of`], the study's own rule).
fn pareto_size(trials: &[Trial], directions: &[nas_core::study::Direction]) -> usize {
    let complete = trials
        .iter()
        .filter(|t| t.state == TrialState::Complete)
        .cloned()
        .collect();
    best_of(complete, directions).len()
}

/// Progress bars: one for the study, one line per running trial.
struct Bars {
    multi: MultiProgress,
    overall: ProgressBar,
    running: std::collections::HashMap<u64, ProgressBar>,
    /// Trials waiting at a rung: counted on the study's line instead of one line each.
    waiting: std::collections::BTreeSet<u64>,
    /// The best accuracy and the front's size, as the study's line shows them.
    standing: String,
    results: Option<(PathBuf, Vec<String>)>,
    value_names: Vec<String>,
    directions: Vec<nas_core::study::Direction>,
}

impl Bars {
    fn new(
        trials: Option<u64>,
        quiet: bool,
        value_names: &[&str],
        directions: &[nas_core::study::Direction],
    ) -> Bars {
        let target = if quiet {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        };
        let multi = MultiProgress::with_draw_target(target);
        let overall = multi.add(ProgressBar::new(trials.unwrap_or(0)));
        overall.set_style(
            ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} trials  {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        overall.enable_steady_tick(Duration::from_millis(500));
        Bars {
            multi,
            overall,
            running: Default::default(),
            waiting: Default::default(),
            standing: String::new(),
            results: None,
            value_names: value_names.iter().map(|s| s.to_string()).collect(),
            directions: directions.to_vec(),
        }
    }

    fn finish(&self) {
        for bar in self.running.values() {
            bar.finish_and_clear();
        }
        self.overall.finish();
    }

    /// Removes a trial's line, if it has one.
    fn drop_bar(&mut self, number: u64) {
        if let Some(bar) = self.running.remove(&number) {
            bar.finish_and_clear();
            self.multi.remove(&bar);
        }
    }

    /// The study's line: the best accuracy, the front's size and how many trials wait.
    fn show_waiting(&self) {
        let message = match self.waiting.len() {
            0 => self.standing.clone(),
            n => format!("{}, {n} waiting at a rung", self.standing),
        };
        self.overall.set_message(message);
    }
}

impl Progress for Bars {
    fn started(&mut self, number: u64, bracket: usize) {
        let bar = self.multi.add(ProgressBar::new_spinner());
        bar.set_message(format!("trial {number} (bracket {bracket}): building"));
        bar.enable_steady_tick(Duration::from_millis(250));
        self.running.insert(number, bar);
    }

    fn advanced(&mut self, number: u64, rung: usize, advance: Advance) {
        if let Some(bar) = self.running.get(&number) {
            bar.set_message(format!(
                "trial {number}: rung {rung}, epoch {} done, {}/{} images ({:.0} %)",
                advance.epochs,
                advance.images,
                advance.of,
                100.0 * advance.images as f64 / advance.of.max(1) as f64
            ));
        }
    }

    fn rung_done(&mut self, number: u64, rung: usize, score: &SegmentScore, _values: &[f64]) {
        if let Some(bar) = self.running.get(&number) {
            bar.set_message(format!(
                "trial {number}: rung {rung} done, val acc {:.4} ({} px, {:.1} s)",
                score.accuracy,
                score.resolution,
                score.timings.train_s + score.timings.eval_s
            ));
        }
    }

    fn waiting(&mut self, number: u64, rung: usize) {
        // A waiting trial gives up its line: many wait at once under ASHA.
        self.drop_bar(number);
        self.waiting.insert(number);
        let _ = self
            .multi
            .println(format!("trial {number} waits at rung {rung}"));
        self.show_waiting();
    }

    fn promoted(&mut self, number: u64, rung: usize) {
        if self.waiting.remove(&number) {
            self.show_waiting();
        }
        if !self.running.contains_key(&number) {
            let bar = self.multi.add(ProgressBar::new_spinner());
            bar.enable_steady_tick(Duration::from_millis(250));
            self.running.insert(number, bar);
        }
        if let Some(bar) = self.running.get(&number) {
            bar.set_message(format!("trial {number}: promoted to rung {rung}"));
        }
    }

    fn ended(&mut self, trial: &Trial, trials: &[Trial]) {
        self.drop_bar(trial.number);
        self.waiting.remove(&trial.number);
        if matches!(trial.state, TrialState::Complete | TrialState::Pruned) {
            self.overall.inc(1);
        }
        let best = best_accuracy(trials).map_or("-".into(), |(n, a)| format!("{a:.4} (#{n})"));
        self.standing = format!(
            "best acc {best}, Pareto {}",
            pareto_size(trials, &self.directions)
        );
        self.show_waiting();
        let _ = self.multi.println(format!(
            "trial {} {}{}",
            trial.number,
            trial.state.as_str(),
            trial
                .values
                .as_ref()
                .map(|v| format!(
                    ": {}",
                    self.value_names
                        .iter()
                        .zip(v)
                        .map(|(n, x)| format!("{n}={x:.4}"))
                        .collect::<Vec<_>>()
                        .join(" ")
                ))
                .or_else(|| trial.fail_reason.as_ref().map(|r| format!(": {r}")))
                .unwrap_or_default()
        ));
        if let Some((dir, names)) = &self.results {
            let names_ref: Vec<&str> = self.value_names.iter().map(String::as_str).collect();
            if let Err(e) = write_results(dir, trials, &self.directions, &names_ref, names) {
                tracing::warn!("cannot write results: {e}");
            }
        }
    }
}
