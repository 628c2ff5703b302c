//! `nas search`: the whole search on one machine, with progress bars and results on disk.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use nas_arch::SpaceSource;
use nas_core::sampler::{SamplerKind, WarmStart};
use nas_core::schedule::{self, FidelityLadder, MoRank, ScheduleOptions, SchedulerKind};
use nas_core::study::{best_of, SqliteStorage, Storage, Study, Trial, TrialState};
use nas_data::{split_validation, Holdout};
use nas_search::{
    signal_name, write_results, Advance, Limits, MnasReward, Objective, Progress, Scoring, Search,
    SearchSettings, SearchSummary, SegmentScore, TrialRecord,
};
use nas_train::{BurnRunner, RunnerSettings};

use crate::interrupt::{self, Interrupted};
use crate::study_config::{StudyConfig, CONFIG_ATTR};
use crate::study_read::recorded_space;

/// Arguments of `nas search`.
#[derive(Debug, clap::Args)]
pub struct SearchArgs {
    /// The study's settings; each flag can also be a key of `--config`.
    #[command(flatten)]
    settings: StudyConfig,
    /// A study config file (TOML): one key per flag (`max_epochs = 2`), and `[[rung]]`
    /// tables for an explicit fidelity ladder. Flags override it.
    #[arg(long, value_parser = crate::flags::existing_file)]
    config: Option<PathBuf>,
    /// Study name; its results go to `<results>/<study>/`. Running again resumes it, with
    /// the settings saved in its `config.toml`.
    #[arg(long, default_value = "default", value_parser = crate::flags::folder_name)]
    study: String,
    /// Where studies live.
    #[arg(long, default_value = "results", value_parser = crate::flags::results_folder)]
    results: PathBuf,
    /// The study's storage: `postgres://USER@HOST/DB` for a study that workers on several
    /// machines share, or `sqlite://PATH` (default: `<results>/<study>/study.db`). Start
    /// `nas search` with the same `--study` and `--storage` N times for N workers.
    #[arg(long, value_parser = crate::flags::storage_url)]
    storage: Option<String>,
    /// Which device of the backend: the K-th discrete GPU (wgpu, Vulkan) or CUDA device K;
    /// 0 for the CPU backends. Default: the backend's default device.
    #[arg(long)]
    device: Option<usize>,
    /// Seconds without a heartbeat after which another worker's running trial is taken for
    /// lost: failed and queued again.
    #[arg(long, default_value_t = 60.0, value_parser = crate::flags::positive)]
    heartbeat_grace: f64,
    /// Split training time into forward/backward and optimizer (syncs the device twice per
    /// step; for `nas bench`).
    #[arg(long)]
    profile: bool,
    /// No progress bars (logs still go to search.log).
    #[arg(long)]
    quiet: bool,
}

/// `nas search`'s arguments parsed on their own, for benchmarks that run searches.
#[derive(Debug, clap::Parser)]
pub struct SearchCli {
    #[command(flatten)]
    /// The arguments.
    pub args: SearchArgs,
}

/// The budget and fidelity a preset stands for, before flags override it.
struct Preset {
    trials: u64,
    rungs: usize,
    /// How long a complete trial trains, from the size of the training split.
    length: TrainingLength,
    validation: usize,
}

/// How much of the training split a complete trial trains on, and for how long.
#[derive(Debug, Clone, Copy, PartialEq)]
enum TrainingLength {
    /// Every trial trains `epochs` (its sampled epochs cap and floor) on `top_fraction` of the
    /// split: at least [`QUICK_TOP_RUNG_IMAGES`] images, whatever the dataset's size.
    Quick,
    /// The sampled epochs on the whole split.
    Sampled,
}

/// Images that a complete trial of the quick preset trains on, at least: what 2 epochs on a
/// third of Fashion-MNIST's 55,000 training images come to. A smaller dataset gets more
/// epochs instead of fewer optimizer steps, so that its trials learn.
const QUICK_TOP_RUNG_IMAGES: f64 = 36_000.0;

/// `(top_fraction, epochs)` of the quick preset for `train_images` training images: 2 epochs
/// on a third of a large split, and on a small one `QUICK_TOP_RUNG_IMAGES` images: first a
/// larger share of the split (up to all of it), then more epochs.
fn quick_length(train_images: usize) -> (f64, f64) {
    let n = train_images.max(1) as f64;
    let images = QUICK_TOP_RUNG_IMAGES.max(2.0 * n / 3.0);
    let top_fraction = (images / (2.0 * n)).min(1.0);
    (top_fraction, images / (top_fraction * n))
}

/// Epochs a final training of `train_images` images needs so that it sees no fewer images
/// than a complete trial of preset `name` did (`None`: the preset keeps the sampled epochs).
pub(crate) fn export_epochs_floor(name: &str, train_images: usize) -> anyhow::Result<Option<f64>> {
    Ok(match preset(name)?.length {
        TrainingLength::Quick => Some(QUICK_TOP_RUNG_IMAGES / train_images.max(1) as f64),
        TrainingLength::Sampled => None,
    })
}

fn preset(name: &str) -> anyhow::Result<Preset> {
    Ok(match name {
        "quick" => Preset {
            trials: 20,
            rungs: 2,
            length: TrainingLength::Quick,
            validation: 5_000,
        },
        "full" => Preset {
            trials: 200,
            rungs: 4,
            length: TrainingLength::Sampled,
            validation: 10_000,
        },
        other => bail!("unknown preset `{other}`; choose quick or full"),
    })
}

/// `(top_fraction, min_epochs, max_epochs)` of the runner: the preset's, with the flags'
/// `--top-fraction` and `--max-epochs` taking precedence (a floor never exceeds the cap).
fn training_length(
    preset: &Preset,
    args: &StudyConfig,
    train_images: usize,
) -> (f64, Option<f64>, Option<f64>) {
    let (top_fraction, epochs) = match preset.length {
        TrainingLength::Quick => {
            let (fraction, epochs) = quick_length(train_images);
            (fraction, Some(epochs))
        }
        TrainingLength::Sampled => (1.0, None),
    };
    let max_epochs = args.max_epochs.or(epochs);
    let min_epochs = epochs.map(|e| max_epochs.map_or(e, |m| e.min(m)));
    (
        args.top_fraction.unwrap_or(top_fraction),
        min_epochs,
        max_epochs,
    )
}

/// Parses `90s`, `30m`, `2h` or a bare number of seconds.
pub fn parse_duration(text: &str) -> anyhow::Result<Duration> {
    let t = text.trim();
    let (number, unit) = match t.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => (&t[..i], &t[i..]),
        None => (t, "s"),
    };
    let value: f64 = number
        .trim()
        .parse()
        .with_context(|| format!("`{text}` is not a duration like 90s, 30m or 2h"))?;
    let seconds = match unit {
        "s" => value,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        _ => bail!("`{text}`: unknown unit `{unit}`; use s, m or h"),
    };
    if !(seconds.is_finite() && seconds > 0.0) {
        bail!("`{text}`: the budget must be positive");
    }
    Ok(Duration::from_secs_f64(seconds))
}

pub(crate) fn scoring(args: &StudyConfig) -> anyhow::Result<Scoring> {
    let objectives = args
        .objectives()
        .iter()
        .map(|o| {
            Objective::parse(o).with_context(|| {
                format!("unknown objective `{o}`; choose from accuracy, latency, params, macs")
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    if objectives.is_empty() {
        bail!("--objectives needs at least one objective");
    }
    Ok(Scoring {
        objectives,
        limits: Limits {
            max_params: args.max_params,
            max_latency_ms: args.max_latency_ms,
            max_macs: args.max_macs,
        },
        reward: args.reward_target_ms.map(|target_ms| MnasReward {
            target_ms,
            exponent: args.reward_exponent(),
        }),
    })
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
    args.validate()?;
    let preset = preset(args.preset())?;
    let space = match (shared.as_deref_mut(), args.space()) {
        (Some(storage), SpaceSource::File(path)) if !path.exists() => {
            recorded_space(storage, &cli.study, &path)?
        }
        (_, source) => source
            .load()
            .with_context(|| format!("--space {}", args.space.as_deref().unwrap_or("")))?,
    };
    let scoring = scoring(&args)?;
    let Some(kind) = SchedulerKind::parse(args.scheduler()) else {
        bail!(
            "unknown scheduler `{}`; choose one of {}",
            args.scheduler(),
            SchedulerKind::NAMES.join(", ")
        );
    };
    let sampler_name = if kind == SchedulerKind::Bohb {
        "bohb"
    } else {
        args.sampler()
    };
    let Some(sampler) = SamplerKind::parse(sampler_name) else {
        bail!(
            "unknown sampler `{}`; choose one of {}",
            args.sampler(),
            SamplerKind::NAMES.join(", ")
        );
    };
    let Some(rank) = MoRank::parse(args.mo_rank()) else {
        bail!(
            "unknown --mo-rank `{}`; choose crowding or hypervolume",
            args.mo_rank()
        );
    };
    let folds = args.cv()?;
    let warm_weight = args.warm_start_weight()?;
    let budget = args.budget.as_deref().map(parse_duration).transpose()?;
    // Read before anything is written: a bad folder leaves no study behind. A folder's image
    // size and test share are kept with the study, so that it reads the folder the same way
    // when resumed or exported.
    let data = args.load_data()?;
    let recorded = StudyConfig {
        image_size: args.image_size.or(data.image_size),
        test_fraction: args.test_fraction.or(data.test_fraction),
        ..args.for_study()
    };
    let (backend, why) = crate::choose_backend(args.backend.as_deref())?;
    let device = match cli.device {
        Some(k) => backend
            .device_at(k)
            .with_context(|| format!("--device {k}"))?,
        None => backend.device()?,
    };
    eprintln!(
        "nas: {why}; device: {}",
        nas_model::device_name(&device, backend)
    );

    let splits = data.splits;
    let held_out = args.validation.unwrap_or(preset.validation);
    let holdout = if held_out * 4 <= splits.train.len() {
        Holdout::Count(held_out)
    } else {
        Holdout::Fraction(0.2)
    };
    let carved = split_validation(&splits.train, holdout, args.seed())?;
    let full = carved.train.height() as u32;
    eprintln!(
        "nas: {} — {} training, {} validation images ({}×{}); the test split is not used by the search",
        data.description,
        carved.train.len(),
        carved.validation.len(),
        full,
        full
    );
    let (top_fraction, min_epochs, max_epochs) =
        training_length(&preset, &args, carved.train.len());

    let ladder = if kind == SchedulerKind::None {
        FidelityLadder::full()
    } else if let Some(rungs) = &args.rung {
        FidelityLadder::new(rungs.clone(), f64::from(args.eta()))
            .context("the [[rung]] ladder of the study config")?
    } else {
        let floor = full.min(nas_data::MIN_IMAGE_SIZE);
        let min = args
            .min_resolution
            .unwrap_or(full.div_ceil(2).max(floor))
            .min(full);
        FidelityLadder::geometric(
            args.eta(),
            args.rungs.unwrap_or(preset.rungs),
            true,
            Some((min, full)),
        )?
    };
    let scheduler = schedule::build(
        kind,
        ladder,
        &ScheduleOptions {
            rank,
            ..Default::default()
        },
    );
    let runner = BurnRunner::new(
        device,
        carved.train,
        carved.validation,
        RunnerSettings {
            min_epochs,
            max_epochs,
            top_fraction,
            latency_batch: args.latency_batch(),
            data_seed: args.seed(),
            cv_folds: folds,
            profile: cli.profile,
            ..RunnerSettings::default()
        },
    );

    let warm = match &args.warm_start {
        Some(name) => Some(warm_start(&cli.results, name, &scoring, warm_weight)?),
        None => None,
    };
    let sampler_box = sampler
        .build_warm(args.seed(), warm)
        .with_context(|| format!("--warm-start with sampler `{sampler_name}`"))?;
    // Everything is checked: from here on the study is written.
    std::fs::create_dir_all(&study_dir)
        .with_context(|| format!("creating {}", study_dir.display()))?;
    init_log(&study_dir.join("search.log"))?;
    // Named in errors of the storage (a full or read-only disk, a lost server).
    let storage_name = match &cli.storage {
        Some(url) => nas_core::study::redact_url(url),
        None => study_dir.join("study.db").display().to_string(),
    };
    let storage = match shared {
        Some(storage) => storage,
        None => open_named_storage(&format!(
            "sqlite://{}",
            study_dir.join("study.db").display()
        ))?,
    };
    let param_names: Vec<String> = space.params().iter().map(|p| p.name.clone()).collect();
    let directions = scoring.directions();
    let mut study = Study::open(storage, &cli.study, &directions, space, sampler_box)
        .with_context(|| format!("opening study `{}` in {storage_name}", cli.study))?;
    recorded.write(&study_dir.join("config.toml"))?;
    let config = serde_json::to_value(&recorded).context("the study's settings")?;
    study.set_attr(CONFIG_ATTR, &config)?;
    if !study.recovered().is_empty() {
        eprintln!(
            "nas: resuming; trials {:?} were interrupted: marked failed, their configurations queued again",
            study.recovered()
        );
    }
    let settings = SearchSettings {
        trials: match (args.trials, budget.is_some() || args.max_cost.is_some()) {
            (Some(n), _) => Some(n),
            (None, true) => None,
            (None, false) => Some(preset.trials),
        },
        budget,
        clock_start: Some(command_start),
        max_cost: args.max_cost,
        concurrency: args.concurrency(),
        seed: args.seed(),
        heartbeat_grace: Duration::from_secs_f64(cli.heartbeat_grace),
        ..SearchSettings::default()
    };
    eprintln!(
        "nas: study `{}` in {} — scheduler {}, sampler {}, {} at once, {}",
        cli.study,
        study_dir.display(),
        scheduler.name(),
        sampler_name,
        settings.concurrency,
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
    let written = study
        .trials()
        .map_err(anyhow::Error::from)
        .and_then(|trials| {
            write_results(&study_dir, &trials, &directions, &value_names, &param_names)?;
            write_report(
                &study_dir,
                &cli.study,
                &trials,
                &directions,
                &value_names,
                study.space(),
            )?;
            Ok(trials)
        });
    let summary = match outcome {
        Ok(summary) => summary,
        Err(e) => {
            if let Err(also) = &written {
                eprintln!("nas: the results could not be written either: {also:#}");
            }
            return Err(anyhow::Error::from(e).context(format!(
                "the search stopped (study `{}` in {storage_name}; every trial told before is kept)",
                cli.study
            )));
        }
    };
    let trials = written?;
    print_summary(
        &trials,
        &value_names,
        &directions,
        command_start.elapsed(),
        &summary,
        &study_dir,
    );
    print_spend(&summary, budget);
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

/// How this run spent its time, rung by rung, and what the budget stopped.
fn print_spend(summary: &SearchSummary, budget: Option<Duration>) {
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
    if let Some(budget) = budget {
        println!(
            "budget {:.0} s: {} rung(s) stopped at its end, {} not started because they could not end within it ({} of them a new trial's first, recorded as failed); {} trial(s) queued again",
            budget.as_secs_f64(),
            summary.halted_at_deadline,
            summary.refused_for_budget,
            summary.not_started,
            summary.requeued.len()
        );
    }
}

/// Writes `report.html` (see `nas report`) beside the study.
fn write_report(
    dir: &Path,
    name: &str,
    trials: &[Trial],
    directions: &[nas_core::study::Direction],
    value_names: &[&str],
    space: &nas_core::space::SearchSpace,
) -> anyhow::Result<()> {
    let value_names: Vec<String> = value_names.iter().map(|s| s.to_string()).collect();
    let report = nas_report::Report::build(&nas_report::ReportInput {
        study: name,
        directions,
        value_names: &value_names,
        trials,
        space: Some(space),
    });
    let path = dir.join("report.html");
    std::fs::write(&path, report.to_html()).with_context(|| format!("writing {}", path.display()))
}

/// The finished trials of study `name` under `results`, checked to have this search's
/// objectives, as a warm start of weight `weight`.
fn warm_start(
    results: &Path,
    name: &str,
    scoring: &Scoring,
    weight: f64,
) -> anyhow::Result<WarmStart> {
    let db = results.join(name).join("study.db");
    if !db.is_file() {
        bail!("--warm-start {name}: no study at {}", db.display());
    }
    let mut storage =
        SqliteStorage::open(&db).with_context(|| format!("opening {}", db.display()))?;
    let info = storage
        .find_study(name)?
        .with_context(|| format!("--warm-start: no study `{name}` in {}", db.display()))?;
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
        "nas: warm start from study `{name}`: {} finished trials at weight {weight}",
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

    fn ended(&mut self, trial: &Trial, trials: &[Trial]) {
        if let Some(bar) = self.running.remove(&trial.number) {
            bar.finish_and_clear();
            self.multi.remove(&bar);
        }
        if matches!(trial.state, TrialState::Complete | TrialState::Pruned) {
            self.overall.inc(1);
        }
        let best = best_accuracy(trials).map_or("-".into(), |(n, a)| format!("{a:.4} (#{n})"));
        self.overall.set_message(format!(
            "best acc {best}, Pareto {}",
            pareto_size(trials, &self.directions)
        ));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quick_trials_see_36000_images_whatever_the_dataset_size() {
        // Fashion-MNIST's 55,000 training images: 2 epochs on a third, as always.
        let (fraction, epochs) = quick_length(55_000);
        assert!((fraction - 1.0 / 3.0).abs() < 1e-12 && epochs == 2.0);
        // CIFAR's 45,000: a larger share, still 2 epochs.
        assert_eq!(quick_length(45_000), (0.4, 2.0));
        // 6,400 (an 8,000-image dataset less its validation split): all of it, 5.6 epochs.
        assert_eq!(quick_length(6_400), (1.0, 5.625));
        // 300 images: 120 epochs, not a dozen optimizer steps.
        assert_eq!(quick_length(300), (1.0, 120.0));
        for n in [10, 999, 18_000, 30_000, 54_000, 200_000] {
            let (fraction, epochs) = quick_length(n);
            let images = fraction * epochs * n as f64;
            assert!(images >= QUICK_TOP_RUNG_IMAGES - 1e-6, "{n}: {images}");
            assert!(fraction <= 1.0 && epochs >= 2.0, "{n}");
        }
    }

    #[test]
    fn flags_override_the_preset_s_training_length() {
        let quick = preset("quick").unwrap();
        let none = StudyConfig::default();
        assert_eq!(
            training_length(&quick, &none, 6_400),
            (1.0, Some(5.625), Some(5.625))
        );
        // --max-epochs caps the floor too; --top-fraction replaces the preset's.
        let flags = StudyConfig {
            max_epochs: Some(2.0),
            top_fraction: Some(0.5),
            ..StudyConfig::default()
        };
        assert_eq!(
            training_length(&quick, &flags, 6_400),
            (0.5, Some(2.0), Some(2.0))
        );
        let full = preset("full").unwrap();
        assert_eq!(training_length(&full, &none, 6_400), (1.0, None, None));
    }
}
