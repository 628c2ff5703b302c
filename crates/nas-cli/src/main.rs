//! `nas`: searches for lightweight convolutional networks.
//!
//! This binary is the thin edge of the workspace: it parses arguments with clap and calls the
//! library crates; errors become `anyhow` messages here and nowhere else.

mod ask_tell;
mod bench;
mod bench_model;
mod bench_search;
mod copy_cmd;
mod data_cmd;
mod export_cmd;
mod flags;
mod interrupt;
mod predict_cmd;
mod report_cmd;
mod search_cmd;
mod space_cmd;
mod status_cmd;
mod study_read;
mod workers_cmd;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use nas_core::sampler::SamplerKind;
use nas_core::space::SearchSpace;
use nas_core::study::{Direction, MemoryStorage, Storage, Study};

/// Searches for lightweight convolutional networks.
#[derive(Debug, Parser)]
#[command(name = "nas", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Search for lightweight networks: train sampled candidates with early stopping, keep
    /// the Pareto front. With no arguments: the quick preset on Fashion-MNIST.
    Search(Box<search_cmd::SearchArgs>),
    /// Validate and sample search spaces.
    Space {
        #[command(subcommand)]
        command: SpaceCommand,
    },
    /// Serve a study over JSON lines on stdin/stdout, so any program can use the samplers.
    AskTell(AskTellArgs),
    /// Benchmarks that print numbers.
    Bench {
        #[command(subcommand)]
        command: bench::BenchCommand,
    },
    /// Report a study (it may still be running): an HTML page with Pareto fronts, progress,
    /// learning curves and parameter importance, or JSON, CSV or a terminal table.
    Report(report_cmd::ReportArgs),
    /// One search worker per device of this machine on one study: `nas workers --devices
    /// 0,1,2,3 -- --study NAME [--storage URL] [search options]`.
    Workers(workers_cmd::WorkersArgs),
    /// Workers, running trials and progress of a study (local or shared through PostgreSQL).
    Status(status_cmd::StatusArgs),
    /// Copies a study to another storage, e.g. from its SQLite file to the PostgreSQL
    /// database that workers on several machines will share: `--study NAME --to URL`.
    CopyStudy(copy_cmd::CopyStudyArgs),
    /// Retrain a trial of a study at full fidelity, score it once on the test split and write
    /// it as a burn record, safetensors and ONNX with its preprocessing and a model card.
    Export(export_cmd::ExportArgs),
    /// Classify images with a model written by `nas export`.
    Predict(predict_cmd::PredictArgs),
    /// Datasets.
    Data {
        #[command(subcommand)]
        command: DataCommand,
    },
}

#[derive(Debug, Subcommand)]
enum DataCommand {
    /// Sizes, image shape and class counts of a dataset's train and test splits.
    Info(data_cmd::DatasetArgs),
}

#[derive(Debug, Subcommand)]
enum SpaceCommand {
    /// The search spaces built into nas, by name.
    List,
    /// Validate a space; print its parameter tree and how many configurations it holds.
    Check {
        /// A built-in space's name (`nas space list`) or a TOML file.
        file: String,
    },
    /// Print sampled configurations, one JSON object per line.
    Sample {
        /// A built-in space's name (`nas space list`) or a TOML file.
        file: String,
        /// How many configurations.
        #[arg(short = 'n', long, default_value_t = 5)]
        count: usize,
        /// Random seed.
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
}

/// Arguments of `nas ask-tell`.
#[derive(Debug, clap::Args)]
struct AskTellArgs {
    /// A built-in space's name (`nas space list`) or a TOML file.
    #[arg(long, value_parser = flags::space)]
    space: String,
    /// random, tpe, tpe-multivariate or gp.
    #[arg(long, default_value = "tpe", value_parser = flags::sampler)]
    sampler: String,
    /// Random seed of the sampler.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// One direction per objective, comma-separated: minimize,maximize,...
    #[arg(long, default_value = "minimize", value_delimiter = ',', value_parser = flags::direction)]
    directions: Vec<String>,
    /// Study storage: `postgres://USER@HOST/DB`, `sqlite://PATH` or an SQLite file path; in
    /// this process's memory when not given (kept nowhere). Several processes may serve one
    /// study stored in a database at once.
    #[arg(long, value_parser = flags::storage_url)]
    storage: Option<String>,
    /// Study name within the storage.
    #[arg(long, default_value = "ask-tell", value_parser = study_name)]
    study: String,
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => match e.downcast_ref::<interrupt::Interrupted>() {
            // The command saved its work and said so; exit as the signal would have.
            Some(&interrupted) => {
                eprintln!("nas: {interrupted}");
                ExitCode::from(interrupted.exit_code())
            }
            None => {
                eprintln!("nas: error: {e:#}");
                ExitCode::FAILURE
            }
        },
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Space { command } => match command {
            SpaceCommand::List => space_cmd::list(),
            SpaceCommand::Check { file } => space_cmd::check(&file),
            SpaceCommand::Sample { file, count, seed } => space_cmd::sample(&file, count, seed),
        },
        Command::Search(args) => search_cmd::run(*args),
        Command::AskTell(args) => run_ask_tell(args),
        Command::Bench { command } => bench::run(command),
        Command::Report(args) => report_cmd::run(args),
        Command::Status(args) => status_cmd::run(args),
        Command::CopyStudy(args) => copy_cmd::run(args),
        Command::Workers(args) => workers_cmd::run(args),
        Command::Export(args) => export_cmd::run(args),
        Command::Predict(args) => predict_cmd::run(args),
        Command::Data { command } => match command {
            DataCommand::Info(args) => data_cmd::info(args),
        },
    }
}

fn run_ask_tell(args: AskTellArgs) -> anyhow::Result<()> {
    let space = load_space(&args.space)?;
    let directions = parse_directions(&args.directions)?;
    let Some(kind) = SamplerKind::parse(&args.sampler) else {
        bail!(
            "unknown sampler `{}`; choose one of {}",
            args.sampler,
            SamplerKind::NAMES.join(", ")
        );
    };
    let storage = open_storage(args.storage.as_deref())?;
    let mut study = Study::open(
        storage,
        &args.study,
        &directions,
        space,
        kind.build(args.seed),
    )?;
    if !study.recovered().is_empty() {
        eprintln!(
            "nas: trials {:?} were left running by a process that died; marked failed and queued again",
            study.recovered()
        );
    }
    serve_stdin(&mut study)
}

/// Serves standard input until it ends or a signal comes. The serving thread itself waits
/// for input, a tenth of a second at a time, so that a signal is noticed while no request
/// arrives; right after an answer it first stays awake for the next request a moment
/// ([`SPIN_AFTER_ANSWER`]).
fn serve_stdin(study: &mut Study) -> anyhow::Result<()> {
    let interrupt = interrupt::install()?;
    let mut server = ask_tell::Server::new(study);
    let mut output = std::io::stdout().lock();
    let mut input = std::io::stdin().lock();
    let mut pending: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    let mut ended = false;
    // Whether a request was answered since the last wait.
    let mut answered = false;
    loop {
        if let Some(end) = pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            server.answer(&line, &mut output)?;
            answered = true;
            continue;
        }
        if ended {
            // A last line without a newline is still a request.
            return server.answer(&pending, &mut output);
        }
        let spin = if answered {
            SPIN_AFTER_ANSWER
        } else {
            Duration::ZERO
        };
        answered = false;
        if stdin_readable_after_spin(spin).context("waiting for standard input")? {
            // One read, which poll said will not block.
            match std::io::Read::read(&mut input, &mut chunk) {
                Ok(0) => ended = true,
                Ok(n) => pending.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e).context("reading standard input"),
            }
        }
        if let Some(signal) = interrupt.requested() {
            let why = format!("interrupted by {}", nas_search::signal_name(signal));
            let copies = server.requeue_open(&why)?;
            if !copies.is_empty() {
                eprintln!("nas: {why}: trials handed out and not told were failed and queued again as {copies:?}");
            }
            return Err(interrupt::Interrupted(signal).into());
        }
    }
}

/// How long `nas ask-tell` stays awake for the next request after answering one, where the
/// machine has a core to spare: a client in an ask-tell loop sends it within tens of
/// microseconds, and sleeping in `poll` and being woken costs about as much again.
const SPIN_AFTER_ANSWER: Duration = Duration::from_micros(200);

/// Whether standard input has something to read within `spin` of asking again and again
/// (a core kept busy, where there is more than one), else within a tenth of a second of
/// sleeping on it.
fn stdin_readable_after_spin(spin: Duration) -> std::io::Result<bool> {
    static SPARE_CORE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let spare =
        *SPARE_CORE.get_or_init(|| std::thread::available_parallelism().is_ok_and(|n| n.get() > 1));
    if spare && !spin.is_zero() {
        let start = Instant::now();
        while start.elapsed() < spin {
            if stdin_readable_within(0)? {
                return Ok(true);
            }
            std::hint::spin_loop();
        }
    }
    stdin_readable_within(100)
}

/// Whether standard input has something to read (data, or its end) within `millis`
/// milliseconds; false when a signal cuts the wait short.
fn stdin_readable_within(millis: i32) -> std::io::Result<bool> {
    let mut fd = libc::pollfd {
        fd: libc::STDIN_FILENO,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: `fd` is one valid `pollfd` for the duration of the call.
    let ready = unsafe { libc::poll(&mut fd, 1, millis) };
    if ready >= 0 {
        // POLLHUP or POLLERR too: the next read says what happened (the end, or the error).
        return Ok(ready > 0 && fd.revents != 0);
    }
    let e = std::io::Error::last_os_error();
    match e.kind() {
        std::io::ErrorKind::Interrupted => Ok(false),
        _ => Err(e),
    }
}

/// The backend `--backend` names, else a GPU if there is one, else flex; with the reason.
pub(crate) fn choose_backend(
    flag: Option<&str>,
) -> anyhow::Result<(nas_model::BackendKind, String)> {
    Ok(match flag {
        Some(name) => (name.parse()?, format!("backend {name} (from --backend)")),
        None => nas_model::auto_backend(),
    })
}

/// Reads and validates a search space: a built-in one by name or a TOML file
/// ([`nas_arch::SpaceSource`]).
pub(crate) fn load_space(name_or_path: &str) -> anyhow::Result<SearchSpace> {
    Ok(nas_arch::SpaceSource::parse(name_or_path).load()?)
}

/// A study's name in a storage: not blank.
fn study_name(text: &str) -> Result<String, String> {
    if text.trim().is_empty() {
        return Err("must not be blank".into());
    }
    Ok(text.to_string())
}

fn parse_directions(names: &[String]) -> anyhow::Result<Vec<Direction>> {
    names
        .iter()
        .map(|n| {
            Direction::parse(n)
                .with_context(|| format!("unknown direction `{n}`; use minimize or maximize"))
        })
        .collect()
}

fn open_storage(url: Option<&str>) -> anyhow::Result<Box<dyn Storage>> {
    Ok(match url {
        None => Box::new(MemoryStorage::new()),
        Some(url) => nas_core::study::open_storage(url).with_context(|| {
            format!("opening study storage {}", nas_core::study::redact_url(url))
        })?,
    })
}
