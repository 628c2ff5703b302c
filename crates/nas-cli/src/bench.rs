//! `nas bench …`: benchmarks that print numbers.

use std::sync::Mutex;

use anyhow::{anyhow, bail, Context};
use clap::Subcommand;
use nas_bench::functions;
use nas_bench::quality::{self, QualityCell};
use nas_bench::speed;
use nas_core::sampler::SamplerKind;

/// `--storage` of `nas bench workers`: `sqlite` or a storage URL.
fn bench_storage(text: &str) -> Result<String, String> {
    if text == "sqlite" {
        return Ok(text.to_string());
    }
    crate::flags::storage_url(text)
}

/// A benchmark function's name (kept-aside ones included).
fn benchmark_function(text: &str) -> Result<String, String> {
    if functions::by_name(text).is_some() {
        return Ok(text.to_string());
    }
    let known: Vec<_> = functions::all()
        .into_iter()
        .chain(functions::held_out())
        .map(|f| f.name)
        .collect();
    Err(format!(
        "no such function `{text}`; choose from {}",
        known.join(", ")
    ))
}

/// The benchmarks.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// The sampler's own time per proposal at 100, 250, 500 and 1000 trials on a
    /// 12-parameter conditional space.
    SamplerSpeed {
        /// Samplers to time, comma-separated.
        #[arg(
            long,
            value_delimiter = ',',
            default_value = "tpe,tpe-multivariate,random",
            value_parser = crate::flags::sampler
        )]
        samplers: Vec<String>,
        /// History sizes to report, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "100,250,500,1000", value_parser = crate::flags::at_least_one)]
        at: Vec<usize>,
        /// Proposals averaged before each history size.
        #[arg(long, default_value_t = 20, value_parser = crate::flags::at_least_one)]
        window: usize,
        /// Seed of the samplers.
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
    /// Time of one ask and tell through a study and its storage (SQLite, or memory), as the
    /// study grows.
    Study {
        /// The sampler.
        #[arg(long, default_value = "tpe", value_parser = crate::flags::sampler)]
        sampler: String,
        /// SQLite file for the study (deleted first if it exists); in memory when not given.
        #[arg(long, value_parser = crate::flags::output_file)]
        storage: Option<std::path::PathBuf>,
        /// History sizes to report, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "100,250,500,1000", value_parser = crate::flags::at_least_one)]
        at: Vec<usize>,
        /// Round trips averaged before each history size.
        #[arg(long, default_value_t = 20, value_parser = crate::flags::at_least_one)]
        window: usize,
    },
    /// Asks per second with several workers sharing one study: each worker a thread with its
    /// own connection, asking and telling in a loop.
    Workers {
        /// `postgres://USER@HOST/DB` (a new study per run), or `sqlite` for a fresh SQLite
        /// file per run in a temporary folder.
        #[arg(long, default_value = "sqlite", value_parser = bench_storage)]
        storage: String,
        /// Worker counts to run, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "1,4,8", value_parser = crate::flags::at_least_one)]
        workers: Vec<usize>,
        /// Ask-and-tell round trips per worker.
        #[arg(long, default_value_t = 100, value_parser = crate::flags::at_least_one)]
        asks: usize,
        /// The sampler.
        #[arg(long, default_value = "random", value_parser = crate::flags::sampler)]
        sampler: String,
    },
    /// Median best value over seeds after a number of trials, per sampler and function.
    SamplerQuality {
        /// Samplers to compare, comma-separated.
        #[arg(
            long,
            value_delimiter = ',',
            default_value = "random,tpe,tpe-multivariate,gp",
            value_parser = crate::flags::sampler
        )]
        samplers: Vec<String>,
        /// Trials per run.
        #[arg(long, default_value_t = 100, value_parser = crate::flags::at_least_one)]
        trials: usize,
        /// Seeds per sampler and function (`first-seed`, `first-seed` + 1, …).
        #[arg(long, default_value_t = 10, value_parser = crate::flags::at_least_one_u64)]
        seeds: u64,
        /// The first seed: tune on seeds other than the reported 0–9, e.g. 1000.
        #[arg(long, default_value_t = 0)]
        first_seed: u64,
        /// Functions, comma-separated (default: every function but those kept aside, which run
        /// only when named: rosenbrock-10d, griewank-12d, int-rosenbrock-6d).
        #[arg(long, value_delimiter = ',', value_parser = benchmark_function)]
        functions: Vec<String>,
        /// Runs in parallel (default: the number of cores).
        #[arg(long, value_parser = crate::flags::at_least_one)]
        jobs: Option<usize>,
    },
    /// Parameters, MACs and inference latency (median, p90) of networks on one backend.
    Latency(crate::bench_model::LatencyArgs),
    /// Training throughput (images/s, Adam) of a network on one or more backends.
    Train(crate::bench_model::TrainArgs),
    /// Memory and first-step time while building and training many sampled architectures in
    /// one process, as a search does.
    Churn(crate::bench_model::ChurnArgs),
    /// Checks that a backend computes what the CPU backend computes: a long reduction and a
    /// few training steps of the benchmark CNN.
    BackendCheck(crate::bench_model::BackendCheckArgs),
    /// Each convolution and batch-norm shape of a network on the CPU, forward and backward:
    /// burn's flex operations beside nas-kernels'.
    ConvOps(crate::bench_model::ConvOpsArgs),
    /// Load time, fidelity views and peak memory of a dataset, and images/s of batches sliced
    /// on each backend.
    Data(crate::data_cmd::DataBenchArgs),
    /// The same compute budget for several sampler:scheduler pairs: best accuracy and the
    /// compute each needed to reach the first one's best.
    Schedulers(crate::bench_search::SchedulerBenchArgs),
}

/// Runs one benchmark.
pub fn run(command: BenchCommand) -> anyhow::Result<()> {
    match command {
        BenchCommand::SamplerSpeed {
            samplers,
            at,
            window,
            seed,
        } => sampler_speed(&parse_samplers(&samplers)?, &at, window, seed),
        BenchCommand::SamplerQuality {
            samplers,
            trials,
            seeds,
            first_seed,
            functions,
            jobs,
        } => sampler_quality(
            &parse_samplers(&samplers)?,
            trials,
            first_seed..first_seed.saturating_add(seeds),
            &functions,
            jobs,
        ),
        BenchCommand::Study {
            sampler,
            storage,
            at,
            window,
        } => study_round_trip(&sampler, storage.as_deref(), &at, window),
        BenchCommand::Workers {
            storage,
            workers,
            asks,
            sampler,
        } => concurrent_workers(&storage, &workers, asks, &sampler),
        BenchCommand::Latency(args) => crate::bench_model::latency(args),
        BenchCommand::Train(args) => crate::bench_model::train(args),
        BenchCommand::Churn(args) => crate::bench_model::churn(args),
        BenchCommand::BackendCheck(args) => crate::bench_model::backend_check(args),
        BenchCommand::ConvOps(args) => crate::bench_model::conv_ops(args),
        BenchCommand::Data(args) => crate::data_cmd::bench(args),
        BenchCommand::Schedulers(args) => crate::bench_search::run(args),
    }
}

fn parse_samplers(names: &[String]) -> anyhow::Result<Vec<SamplerKind>> {
    names
        .iter()
        .map(|n| {
            SamplerKind::parse(n).ok_or_else(|| {
                anyhow!(
                    "unknown sampler `{n}`; choose from {}",
                    SamplerKind::NAMES.join(", ")
                )
            })
        })
        .collect()
}

/// Each history size must have `window` measurements before it.
fn check_window(at: &[usize], window: usize) -> anyhow::Result<()> {
    if window == 0 || at.iter().any(|&c| c < window) {
        bail!("--window must be at least 1 and every --at value at least --window ({window})");
    }
    Ok(())
}

fn sampler_speed(
    samplers: &[SamplerKind],
    at: &[usize],
    window: usize,
    seed: u64,
) -> anyhow::Result<()> {
    check_window(at, window)?;
    println!("sampler time per proposal, 12-parameter conditional space (mean and median of the {window} proposals before each history size)");
    println!(
        "{:<18} {:>8} {:>12} {:>12}",
        "sampler", "trials", "mean ms", "median ms"
    );
    let rows = speed::measure(samplers, at, window, seed).map_err(|e| anyhow!("{e}"))?;
    for r in rows {
        println!(
            "{:<18} {:>8} {:>12.4} {:>12.4}",
            r.sampler,
            r.n_trials,
            r.mean.as_secs_f64() * 1e3,
            r.median.as_secs_f64() * 1e3
        );
    }
    Ok(())
}

fn study_round_trip(
    sampler: &str,
    storage: Option<&std::path::Path>,
    at: &[usize],
    window: usize,
) -> anyhow::Result<()> {
    check_window(at, window)?;
    let kind = parse_samplers(&[sampler.to_string()])?[0];
    if let Some(path) = storage {
        for suffix in ["", "-wal", "-shm"] {
            let file = format!("{}{suffix}", path.display());
            if std::path::Path::new(&file).exists() {
                std::fs::remove_file(&file).with_context(|| format!("removing {file}"))?;
            }
        }
    }
    let place = storage.map_or("in memory".to_string(), |p| p.display().to_string());
    println!("ask + tell through a study ({sampler}, SQLite {place}), mean of the {window} round trips before each size");
    println!("{:>8} {:>12}", "trials", "mean ms");
    for row in nas_bench::study::measure(kind, storage, at, window).map_err(|e| anyhow!("{e}"))? {
        println!("{:>8} {:>12.4}", row.n_trials, row.mean.as_secs_f64() * 1e3);
    }
    Ok(())
}

fn concurrent_workers(
    storage: &str,
    counts: &[usize],
    asks: usize,
    sampler: &str,
) -> anyhow::Result<()> {
    let kind = parse_samplers(&[sampler.to_string()])?[0];
    let temp = tempfile::tempdir().context("a temporary folder")?;
    let stamp = nas_core::study::unix_now() as u64;
    println!(
        "ask + tell with several workers on one study ({sampler}, {asks} each, storage {})",
        nas_core::study::redact_url(storage)
    );
    println!(
        "{:>8} {:>8} {:>10} {:>10} {:>11}",
        "workers", "asks", "seconds", "asks/s", "duplicates"
    );
    for &n in counts {
        let (url, study) = if storage == "sqlite" {
            let path = temp.path().join(format!("workers-{n}.db"));
            (format!("sqlite://{}", path.display()), "bench".to_string())
        } else {
            (storage.to_string(), format!("bench-workers-{n}-{stamp}"))
        };
        let row = nas_bench::workers::measure(&url, &study, n.max(1), asks, kind)
            .map_err(|e| anyhow!("{e}"))?;
        println!(
            "{:>8} {:>8} {:>10.2} {:>10.1} {:>11}",
            row.workers,
            row.asks,
            row.elapsed.as_secs_f64(),
            row.rate(),
            row.duplicates
        );
    }
    Ok(())
}

fn sampler_quality(
    samplers: &[SamplerKind],
    trials: usize,
    seeds: std::ops::Range<u64>,
    names: &[String],
    jobs: Option<usize>,
) -> anyhow::Result<()> {
    let owned: Vec<functions::TestFunction> = if names.is_empty() {
        functions::all()
    } else {
        names
            .iter()
            .map(|n| {
                functions::by_name(n).ok_or_else(|| {
                    let known: Vec<_> = functions::all()
                        .into_iter()
                        .chain(functions::held_out())
                        .map(|f| f.name)
                        .collect();
                    anyhow!("no such function `{n}`; choose from {}", known.join(", "))
                })
            })
            .collect::<anyhow::Result<_>>()?
    };
    let chosen: Vec<&functions::TestFunction> = owned.iter().collect();
    let seeds: Vec<u64> = seeds.collect();
    let jobs = jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let work: Vec<(usize, usize)> = (0..chosen.len())
        .flat_map(|f| (0..samplers.len()).map(move |s| (f, s)))
        .collect();
    let next = Mutex::new(0usize);
    let results = Mutex::new(vec![None; work.len()]);
    std::thread::scope(|scope| {
        for _ in 0..jobs.max(1) {
            scope.spawn(|| loop {
                let k = {
                    let mut n = next.lock().expect("work counter");
                    *n += 1;
                    *n - 1
                };
                let Some(&(f, s)) = work.get(k) else { break };
                let cell = quality::evaluate(samplers[s], chosen[f], trials, &seeds)
                    .map_err(|e| e.to_string());
                results.lock().expect("results")[k] = Some(cell);
            });
        }
    });
    let results = results.into_inner().expect("results");
    print_quality(&chosen, samplers, trials, &seeds, results)
}

fn print_quality(
    chosen: &[&functions::TestFunction],
    samplers: &[SamplerKind],
    trials: usize,
    seeds: &[u64],
    results: Vec<Option<Result<QualityCell, String>>>,
) -> anyhow::Result<()> {
    let span = match (seeds.first(), seeds.last()) {
        (Some(first), Some(last)) => format!(" ({first}–{last})"),
        _ => String::new(),
    };
    println!(
        "median best value after {trials} trials over {} seeds{span} (lower is better)",
        seeds.len()
    );
    let names: Vec<String> = samplers
        .iter()
        .map(|k| k.build(0).name().to_string())
        .collect();
    print!("{:<22} {:>10}", "function", "optimum");
    names.iter().for_each(|n| print!(" {n:>17}"));
    println!();
    let mut cells = results.into_iter();
    for f in chosen {
        print!("{:<22} {:>10.4}", f.name, f.optimum);
        for _ in samplers {
            let cell = cells
                .next()
                .flatten()
                .ok_or_else(|| anyhow!("missing result"))?;
            match cell.map_err(|e| anyhow!(e))?.median_best {
                Ok(v) => print!(" {v:>17.4}"),
                Err(_) => print!(" {:>17}", "n/a"),
            }
        }
        println!();
    }
    Ok(())
}
