//! `nas bench schedulers`: the same compute budget for several (sampler, scheduler) pairs on
//! one dataset; how good each got and how much compute each needed to reach the best
//! accuracy of plain random search at full fidelity.

use std::path::{Path, PathBuf};

use anyhow::Context;
use nas_core::study::{SqliteStorage, Storage, Trial, TrialState};
use nas_search::TrialRecord;

use nas_settings::{Concurrency, StudyConfig};

use crate::search_cmd::{self, SearchArgs};

/// A `sampler:scheduler` pair.
fn method(text: &str) -> Result<String, String> {
    let (sampler, scheduler) = text
        .split_once(':')
        .ok_or_else(|| "expected sampler:scheduler".to_string())?;
    crate::flags::sampler(sampler)?;
    crate::flags::scheduler(scheduler)?;
    Ok(text.to_string())
}

/// Arguments of `nas bench schedulers`.
#[derive(Debug, clap::Args)]
pub struct SchedulerBenchArgs {
    /// `sampler:scheduler` pairs, comma-separated; the first is the baseline, run as a plain
    /// script would (a trial may take any share of the budget), the others as `nas search`
    /// runs them (a first rung may take a sixth of the budget, a promotion half).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "random:none,tpe:asha,bohb:bohb",
        value_parser = method
    )]
    methods: Vec<String>,
    /// Compute budget of each method in GMACs (a training image counts three forward
    /// passes, an evaluated image one).
    #[arg(long, default_value_t = 20_000.0, value_parser = crate::flags::positive)]
    cost: f64,
    /// Budget of every method but the first, as a share of `--cost` (below 1 saves time
    /// when only the compute to reach the baseline's best matters).
    #[arg(long, default_value_t = 1.0)]
    challenger_share: f64,
    /// The search space: a built-in name or a TOML file.
    #[arg(long, default_value = "lightweight", value_parser = crate::flags::space)]
    space: String,
    /// Dataset name.
    #[arg(long, default_value = "fashion-mnist", value_parser = crate::flags::dataset)]
    dataset: String,
    /// Where the dataset's files are.
    #[arg(long, value_parser = crate::flags::existing_folder)]
    data_dir: Option<PathBuf>,
    /// Backend.
    #[arg(long, default_value = "flex", value_parser = crate::flags::backend)]
    backend: String,
    /// Where the studies go (each method's study is replaced).
    #[arg(long, default_value = "results/bench-schedulers", value_parser = crate::flags::results_folder)]
    results: PathBuf,
    /// Seed of every method.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Sampled epochs are capped at this.
    #[arg(long, default_value_t = 1.0, value_parser = crate::flags::positive)]
    max_epochs: f64,
    /// Share of the training split at the top rung.
    #[arg(long, default_value_t = 0.2, value_parser = crate::flags::share)]
    top_fraction: f64,
    /// Validation images.
    #[arg(long, default_value_t = 2000, value_parser = crate::flags::at_least_one)]
    validation: usize,
    /// Rungs of the fidelity ladder (η = 3).
    #[arg(long, default_value_t = 3, value_parser = crate::flags::at_least_one)]
    rungs: usize,
    /// How the fidelity ladder's rungs share a trial's budget: geometric or balanced.
    #[arg(long, default_value = "geometric", value_parser = crate::flags::ladder)]
    ladder: String,
    /// Trials trained at once: auto or a number, as in `nas search`.
    #[arg(long, default_value = "auto", value_parser = crate::flags::concurrency)]
    concurrency: Concurrency,
    /// Also split training time into forward/backward and optimizer.
    #[arg(long)]
    profile: bool,
    /// Run nothing: print the tables of the studies an earlier run left in `--results`.
    #[arg(long)]
    report_only: bool,
    /// Do not run the baseline: read its study from an earlier run in `--results` (the
    /// same seed), and run the other methods against it.
    #[arg(long)]
    reuse_baseline: bool,
}

/// One method's outcome.
struct Outcome {
    method: String,
    cost: f64,
    wall_s: f64,
    best: Option<f64>,
    /// The method's ended trials, in end order.
    trials: Vec<Trial>,
    /// Top-rung accuracies of the complete trials.
    finals: Vec<f64>,
    /// After each trial ended, in end order.
    curve: Vec<Point>,
}

/// A method's state when one of its trials ended.
struct Point {
    /// Compute of the trials ended so far, GMACs.
    cost: f64,
    /// Their seconds in trials (device time, summed over workers).
    seconds: f64,
    /// Best top-rung accuracy so far.
    best: f64,
}

/// `nas bench schedulers`.
pub fn run(args: SchedulerBenchArgs) -> anyhow::Result<()> {
    if !(args.challenger_share > 0.0 && args.challenger_share <= 1.0) {
        anyhow::bail!(
            "--challenger-share {}: must be in (0, 1]",
            args.challenger_share
        );
    }
    let mut outcomes = Vec::new();
    for (i, method) in args.methods.iter().enumerate() {
        let cost = if i == 0 {
            args.cost
        } else {
            args.cost * args.challenger_share
        };
        let (sampler, scheduler) = method
            .split_once(':')
            .with_context(|| format!("`{method}`: expected sampler:scheduler"))?;
        let study = format!("{sampler}-{scheduler}-s{}", args.seed);
        let dir = args.results.join(&study);
        if args.report_only || (i == 0 && args.reuse_baseline) {
            outcomes.push(outcome(method, &dir, &study)?);
            continue;
        }
        if dir.exists() {
            std::fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
        }
        let settings = StudyConfig {
            space: Some(args.space.clone()),
            dataset: Some(args.dataset.clone()),
            data_dir: args.data_dir.clone(),
            backend: Some(args.backend.clone()),
            sampler: Some(sampler.into()),
            scheduler: Some(scheduler.into()),
            objectives: Some(vec!["accuracy".into()]),
            max_cost: Some(cost),
            seed: Some(args.seed),
            max_epochs: Some(args.max_epochs),
            top_fraction: Some(args.top_fraction),
            validation: Some(args.validation),
            rungs: Some(args.rungs),
            ladder: Some(args.ladder.clone()),
            concurrency: Some(args.concurrency),
            ..StudyConfig::default()
        };
        let search = SearchArgs {
            profile: args.profile,
            quiet: true,
            // The baseline is random search as a plain script runs it: every draw trained
            // whatever it costs. The others run as `nas search` does.
            uncapped: i == 0,
            ..SearchArgs::new(settings, &study, &args.results)
        };
        eprintln!("nas bench schedulers: {method}");
        search_cmd::run(search)?;
        outcomes.push(outcome(method, &dir, &study)?);
    }
    print_table(&outcomes);
    if args.profile {
        for o in &outcomes {
            print_time_split(&o.method, &o.trials);
        }
    }
    Ok(())
}

fn read_trials(dir: &Path, study: &str) -> anyhow::Result<Vec<Trial>> {
    let db = dir.join("study.db");
    if !db.is_file() {
        anyhow::bail!(
            "no study `{study}` at {}: run it first (without --report-only or --reuse-baseline)",
            db.display()
        );
    }
    let mut storage = SqliteStorage::open(&db)?;
    let info = storage
        .find_study(study)?
        .with_context(|| format!("no study `{study}` in {}", dir.display()))?;
    Ok(storage.trials(info.id, None)?)
}

/// The accuracy a trial reached at its top rung, when complete.
fn final_accuracy(t: &Trial) -> Option<f64> {
    if t.state != TrialState::Complete {
        return None;
    }
    TrialRecord::of(t).top_accuracy()
}

fn outcome(method: &str, dir: &Path, study: &str) -> anyhow::Result<Outcome> {
    let mut trials = read_trials(dir, study)?;
    trials.retain(|t| t.state.is_finished());
    trials.sort_by(|a, b| {
        a.finished_at
            .unwrap_or(0.0)
            .total_cmp(&b.finished_at.unwrap_or(0.0))
    });
    let mut curve = Vec::new();
    let (mut cost, mut seconds, mut best) = (0.0, 0.0, f64::NEG_INFINITY);
    for t in &trials {
        cost += TrialRecord::of(t).cost.unwrap_or(0.0);
        seconds += t.duration_s().unwrap_or(0.0);
        if let Some(a) = final_accuracy(t) {
            best = best.max(a);
        }
        curve.push(Point {
            cost,
            seconds,
            best,
        });
    }
    let start = trials
        .iter()
        .filter_map(|t| t.started_at)
        .fold(f64::INFINITY, f64::min);
    let end = trials
        .iter()
        .filter_map(|t| t.finished_at)
        .fold(0.0, f64::max);
    Ok(Outcome {
        method: method.to_string(),
        cost,
        wall_s: (end - start).max(0.0),
        best: best.is_finite().then_some(best),
        finals: trials.iter().filter_map(final_accuracy).collect(),
        trials,
        curve,
    })
}

/// Expected compute for search without early stopping (the baseline) to reach `target`:
/// its trials are independent draws, so the number it needs is geometric with success rate
/// `hits / n`, each trial costing `cost / n` on average: `cost / hits`. Unlike the compute
/// at which one run happened to get there, this uses every trial, not their order.
fn expected_cost(o: &Outcome, target: f64) -> Option<f64> {
    let hits = o.finals.iter().filter(|&&a| a >= target).count();
    (hits > 0).then(|| o.cost / hits as f64)
}

/// The point at which the best accuracy first reached `target`.
fn reach(o: &Outcome, target: f64) -> Option<&Point> {
    o.curve.iter().find(|p| p.best >= target)
}

fn print_table(outcomes: &[Outcome]) {
    let Some(base) = outcomes.first() else { return };
    let target = base.best.unwrap_or(f64::INFINITY);
    let base_reach = reach(base, target);
    println!(
        "{:<16} {:>6} {:>8} {:>10} {:>8} {:>9} {:>16} {:>13} {:>7}",
        "method",
        "trials",
        "complete",
        "compute",
        "wall s",
        "best acc",
        "compute to base",
        "trial s to base",
        "saving"
    );
    for o in outcomes {
        let at = reach(o, target);
        let saving = match (base_reach, at) {
            (Some(b), Some(r)) if r.cost > 0.0 => format!("{:.1}×", b.cost / r.cost),
            _ => "-".into(),
        };
        println!(
            "{:<16} {:>6} {:>8} {:>10.0} {:>8.0} {:>9} {:>16} {:>13} {:>7}",
            o.method,
            o.trials.len(),
            o.finals.len(),
            o.cost,
            o.wall_s,
            o.best.map_or("-".into(), |b| format!("{b:.4}")),
            at.map_or("not reached".into(), |r| format!("{:.0}", r.cost)),
            at.map_or("-".into(), |r| format!("{:.0}", r.seconds)),
            saving
        );
    }
    println!("compute in GMACs; base = best accuracy of {}", base.method);
    for o in outcomes.iter().skip(1) {
        let Some(best) = o.best else { continue };
        let target = best.min(base.best.unwrap_or(best));
        let (Some(expected), Some(at)) = (expected_cost(base, target), reach(o, target)) else {
            continue;
        };
        println!(
            "to reach {target:.4}: {} expects {expected:.0} GMACs ({} of {} trials got there), {} used {:.0}: {:.1}× less",
            base.method,
            base.finals.iter().filter(|&&a| a >= target).count(),
            base.finals.len(),
            o.method,
            at.cost,
            expected / at.cost.max(1e-9)
        );
    }
}

/// Where the time of a method's trials went.
fn print_time_split(method: &str, trials: &[Trial]) {
    let mut sums = [0.0f64; 7];
    for t in trials {
        let record = TrialRecord::of(t);
        sums[0] += record.ask_s.unwrap_or(0.0);
        sums[1] += record.build_s.unwrap_or(0.0);
        for score in record.rungs.values() {
            let timing = &score.timings;
            sums[2] += timing.data_s;
            sums[3] += timing.forward_backward_s;
            sums[4] += timing.optimizer_s;
            sums[5] += timing.train_s - timing.forward_backward_s - timing.optimizer_s;
            sums[6] += timing.eval_s;
        }
    }
    let total: f64 = sums.iter().sum();
    let names = [
        "sampler (ask)",
        "build + latency",
        "data prep",
        "forward+backward",
        "optimizer step",
        "batching, other",
        "evaluation",
    ];
    println!("{method}: where the time went ({total:.0} s in trials)");
    for (name, s) in names.iter().zip(sums) {
        println!(
            "  {name:<18} {s:>8.1} s {:>5.1} %",
            100.0 * s / total.max(1e-9)
        );
    }
}
