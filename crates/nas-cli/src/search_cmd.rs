//! `nas search`: the whole search on one machine, with progress bars and results on disk.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use nas_core::sampler::SamplerKind;
use nas_core::schedule::{self, FidelityLadder, MoRank, ScheduleOptions, SchedulerKind};
use nas_core::study::{best_of, SqliteStorage, Study, Trial, TrialState};
use nas_data::{load_named, split_validation, Holdout};
use nas_search::{
    write_results, Limits, MnasReward, Objective, Progress, Scoring, Search, SearchSettings,
    SegmentScore,
};
use nas_train::{BurnRunner, RunnerSettings};

/// Arguments of `nas search`.
#[derive(Debug, clap::Args)]
pub struct SearchArgs {
    /// The TOML search space.
    #[arg(long, default_value = "search_spaces/lightweight.toml")]
    space: PathBuf,
    /// Dataset name (fashion-mnist, mnist, cifar10, cifar100) or a folder of class folders.
    #[arg(long, default_value = "fashion-mnist")]
    dataset: String,
    /// Where the dataset's files are (default: the dataset's usual place).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// flex, cpu, wgpu, vulkan, cuda; default: a real GPU if found, else flex.
    #[arg(long)]
    backend: Option<String>,
    /// quick (20 trials, 2 rungs, at most 2 epochs on a third of the training split) or full
    /// (200 trials, 4 rungs, the sampled epochs on all of it).
    #[arg(long, default_value = "quick")]
    preset: String,
    /// Stop once the study has this many complete or pruned trials.
    #[arg(long)]
    trials: Option<u64>,
    /// Wall-clock budget of this run, e.g. 30m, 2h, 90s.
    #[arg(long)]
    budget: Option<String>,
    /// none, sha, asha, hyperband or bohb.
    #[arg(long, default_value = "asha")]
    scheduler: String,
    /// random, tpe, tpe-multivariate or gp (bohb uses its own).
    #[arg(long, default_value = "tpe")]
    sampler: String,
    /// Trials trained at once.
    #[arg(long, default_value_t = 1)]
    concurrency: usize,
    /// Study name; its results go to `<results>/<study>/`. Running again resumes it.
    #[arg(long, default_value = "default")]
    study: String,
    /// Where studies live.
    #[arg(long, default_value = "results")]
    results: PathBuf,
    /// Seed of the sampler, the validation split and the training.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Objectives, comma-separated: accuracy, latency, params, macs.
    #[arg(long, default_value = "accuracy,latency", value_delimiter = ',')]
    objectives: Vec<String>,
    /// Largest acceptable number of trainable parameters.
    #[arg(long)]
    max_params: Option<u64>,
    /// Largest acceptable latency in milliseconds.
    #[arg(long)]
    max_latency_ms: Option<f64>,
    /// Largest acceptable multiply-accumulates.
    #[arg(long)]
    max_macs: Option<u64>,
    /// Optimise MnasNet's reward ACC × (LAT/T)^w with this target latency T (ms) instead.
    #[arg(long)]
    reward_target_ms: Option<f64>,
    /// The reward's exponent w.
    #[arg(long, default_value_t = -0.07, allow_hyphen_values = true)]
    reward_exponent: f64,
    /// Reduction factor η of the fidelity ladder.
    #[arg(long, default_value_t = 3)]
    eta: u32,
    /// Rungs of the fidelity ladder (default: the preset's).
    #[arg(long)]
    rungs: Option<usize>,
    /// Image side length at the lowest rung (default: half the dataset's).
    #[arg(long)]
    min_resolution: Option<u32>,
    /// crowding or hypervolume: how several objectives are ranked at a rung.
    #[arg(long, default_value = "crowding")]
    mo_rank: String,
    /// Images held out of the training split for validation.
    #[arg(long)]
    validation: Option<usize>,
    /// Batch size of the latency measurement.
    #[arg(long, default_value_t = 1)]
    latency_batch: usize,
    /// Caps the sampled epochs (the quick preset caps at 2).
    #[arg(long)]
    max_epochs: Option<f64>,
    /// Share of the training split the top rung trains on (the quick preset uses 1/3).
    #[arg(long)]
    top_fraction: Option<f64>,
    /// Stop once this run has trained this much compute (full-resolution image passes).
    #[arg(long)]
    max_cost: Option<f64>,
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
    max_epochs: Option<f64>,
    top_fraction: f64,
    validation: usize,
}

fn preset(name: &str) -> anyhow::Result<Preset> {
    Ok(match name {
        "quick" => Preset {
            trials: 20,
            rungs: 2,
            max_epochs: Some(2.0),
            top_fraction: 1.0 / 3.0,
            validation: 5_000,
        },
        "full" => Preset {
            trials: 200,
            rungs: 4,
            max_epochs: None,
            top_fraction: 1.0,
            validation: 10_000,
        },
        other => bail!("unknown preset `{other}`; choose quick or full"),
    })
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

fn scoring(args: &SearchArgs) -> anyhow::Result<Scoring> {
    let objectives = args
        .objectives
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
            exponent: args.reward_exponent,
        }),
    })
}

/// `nas search`.
pub fn run(args: SearchArgs) -> anyhow::Result<()> {
    let preset = preset(&args.preset)?;
    let space = crate::load_space(&args.space)?;
    let scoring = scoring(&args)?;
    let Some(kind) = SchedulerKind::parse(&args.scheduler) else {
        bail!(
            "unknown scheduler `{}`; choose one of {}",
            args.scheduler,
            SchedulerKind::NAMES.join(", ")
        );
    };
    let sampler_name = if kind == SchedulerKind::Bohb {
        "bohb"
    } else {
        &args.sampler
    };
    let Some(sampler) = SamplerKind::parse(sampler_name) else {
        bail!(
            "unknown sampler `{}`; choose one of {}",
            args.sampler,
            SamplerKind::NAMES.join(", ")
        );
    };
    let Some(rank) = MoRank::parse(&args.mo_rank) else {
        bail!(
            "unknown --mo-rank `{}`; choose crowding or hypervolume",
            args.mo_rank
        );
    };
    let budget = args.budget.as_deref().map(parse_duration).transpose()?;
    let study_dir = args.results.join(&args.study);
    std::fs::create_dir_all(&study_dir)
        .with_context(|| format!("creating {}", study_dir.display()))?;
    init_log(&study_dir.join("search.log"))?;

    let (backend, why) = match &args.backend {
        Some(name) => (name.parse()?, format!("backend {name} (from --backend)")),
        None => nas_model::auto_backend(),
    };
    let device = backend.device()?;
    eprintln!(
        "nas: {why}; device: {}",
        nas_model::device_name(&device, backend)
    );

    let splits = load_named(&args.dataset, args.data_dir.as_deref())?;
    let held_out = args.validation.unwrap_or(preset.validation);
    let holdout = if held_out * 4 <= splits.train.len() {
        Holdout::Count(held_out)
    } else {
        Holdout::Fraction(0.2)
    };
    let carved = split_validation(&splits.train, holdout, args.seed)?;
    let full = carved.train.height() as u32;
    eprintln!(
        "nas: {} — {} training, {} validation images ({}×{}); the test split is not used by the search",
        args.dataset,
        carved.train.len(),
        carved.validation.len(),
        full,
        full
    );

    let ladder = if kind == SchedulerKind::None {
        FidelityLadder::full()
    } else {
        let min = args.min_resolution.unwrap_or(full.div_ceil(2)).min(full);
        FidelityLadder::geometric(
            args.eta,
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
    let top_fraction = args.top_fraction.unwrap_or(preset.top_fraction);
    let runner = BurnRunner::new(
        device,
        carved.train,
        carved.validation,
        RunnerSettings {
            max_epochs: args.max_epochs.or(preset.max_epochs),
            top_fraction,
            latency_batch: args.latency_batch,
            data_seed: args.seed,
            profile: args.profile,
            ..RunnerSettings::default()
        },
    );

    let storage = SqliteStorage::open(&study_dir.join("study.db"))
        .with_context(|| format!("opening {}", study_dir.join("study.db").display()))?;
    let param_names: Vec<String> = space.params().iter().map(|p| p.name.clone()).collect();
    let directions = scoring.directions();
    let mut study = Study::open(
        Box::new(storage),
        &args.study,
        &directions,
        space,
        sampler.build(args.seed),
    )?;
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
        max_cost: args.max_cost,
        concurrency: args.concurrency.max(1),
        seed: args.seed,
        ..SearchSettings::default()
    };
    eprintln!(
        "nas: study `{}` in {} — scheduler {}, sampler {}, {} at once, {}",
        args.study,
        study_dir.display(),
        scheduler.name(),
        sampler_name,
        settings.concurrency,
        budget_text(&settings)
    );
    let value_names = scoring.value_names();
    let mut bars = Bars::new(settings.trials, args.quiet, &value_names, &directions);
    bars.results = Some((study_dir.clone(), param_names.clone()));
    let started = Instant::now();
    let outcome = Search::new(&mut study, scheduler.as_ref(), &scoring, &settings)
        .run(Arc::new(runner), &mut bars);
    bars.finish();
    let trials = study.trials()?;
    write_results(&study_dir, &trials, &directions, &value_names, &param_names)?;
    let summary = outcome?;
    print_summary(
        &trials,
        &value_names,
        &directions,
        started.elapsed(),
        summary.cost,
        &study_dir,
    );
    Ok(())
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

/// The budget in words: `20 trials`, `1800 s`, `100000 image passes`, joined by "or".
fn budget_text(settings: &SearchSettings) -> String {
    let mut parts = Vec::new();
    if let Some(n) = settings.trials {
        parts.push(format!("{n} trials"));
    }
    if let Some(b) = settings.budget {
        parts.push(format!("{} s", b.as_secs()));
    }
    if let Some(c) = settings.max_cost {
        parts.push(format!("{c} image passes"));
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
    cost: f64,
    dir: &Path,
) {
    let count = |s: TrialState| trials.iter().filter(|t| t.state == s).count();
    let best = best_accuracy(trials);
    let front = pareto_size(trials, directions);
    println!(
        "search done in {:.1} min: {} trials ({} complete, {} pruned, {} failed); compute this run {:.0} image passes",
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
}

/// The best validation accuracy of completed trials.
fn best_accuracy(trials: &[Trial]) -> Option<(u64, f64)> {
    trials
        .iter()
        .filter(|t| t.state == TrialState::Complete)
        .filter_map(|t| {
            let rung = nas_search::top_rung(t)?;
            let acc = t
                .attrs
                .get(&format!("rung{rung}"))?
                .get("accuracy")?
                .as_f64()?;
            Some((t.number, acc))
        })
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
