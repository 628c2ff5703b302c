//! `nas export STUDY`: retrains a chosen trial at full fidelity, scores it once on the test
//! split and writes `results/<study>/export/<name>/`.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context};
use nas_arch::{ArchSpec, Plan};
use nas_core::study::Trial;
use nas_data::{Fidelity, FidelityView};
use nas_export::{
    model_card, to_onnx, to_safetensors, ExportedArch, Latency, Metrics, Pick, Preprocessing,
    EXPORT_FORMAT, ONNX_FILE, RECORD_FILE, SAFETENSORS_FILE,
};
use nas_model::{measure_latency, BackendKind, Device, LatencySettings, Network};
use nas_search::TrialRecord;
use nas_train::{Recipe, Retrained};

use crate::study_read::read_study;

/// Arguments of `nas export`.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// The study (a folder under --results).
    pub study: String,
    /// Folder of the studies.
    #[arg(long, default_value = "results", value_parser = crate::flags::results_folder)]
    pub results: PathBuf,
    /// The study's storage, when not `<results>/<study>/study.db`: `postgres://USER@HOST/DB`
    /// or `sqlite://PATH`.
    #[arg(long, value_parser = crate::flags::storage_url)]
    pub storage: Option<String>,
    /// Which trial: best-accuracy, knee, max-params N, max-latency-ms T or trial K.
    #[arg(long, num_args = 1..=2, default_value = "best-accuracy")]
    pub pick: Vec<String>,
    /// Training epochs of the final training (default: the trial's sampled epochs, without
    /// the search's cap).
    #[arg(long, value_parser = crate::flags::positive)]
    pub epochs: Option<f64>,
    /// Name of the export folder (default: trial-K).
    #[arg(long, value_parser = crate::flags::folder_name)]
    pub name: Option<String>,
    /// Backend to train on: wgpu, vulkan, cuda, flex or cpu (default: a GPU if there is one,
    /// else flex).
    #[arg(long, value_parser = crate::flags::backend)]
    pub backend: Option<String>,
    /// Seed of the final training (default: the study's seed).
    #[arg(long)]
    pub seed: Option<u64>,
}

/// Runs `nas export`.
pub fn run(args: ExportArgs) -> anyhow::Result<()> {
    let pick =
        Pick::parse(&args.pick).with_context(|| format!("--pick {}", args.pick.join(" ")))?;
    let study = read_study(&args.results, &args.study, args.storage.as_deref())?;
    let report = study.report(&args.study);
    let row = pick.choose(&report)?;
    let trial = study
        .trials
        .iter()
        .find(|t| t.number == row.number)
        .context("the picked trial is in the study")?;
    let (spec, mut recipe) = decode(trial)?;
    if let Some(epochs) = args.epochs {
        recipe = recipe.with_epochs(epochs);
    }
    // The data is read and checked against the network before anything is written.
    let config = &study.config;
    let seed = args.seed.unwrap_or(config.seed());
    let splits = config.load_data()?.splits;
    let shape = splits.train.shape();
    let input = spec.input;
    if (shape.channels, shape.height, shape.width) != (input.channels, input.height, input.width)
        || splits.train.num_classes() != spec.num_classes
    {
        bail!(
            "trial {} was searched on {}×{}×{} images of {} classes, but dataset {} now gives \
             {shape} images of {} classes; was it changed since the search?",
            trial.number,
            input.channels,
            input.height,
            input.width,
            spec.num_classes,
            config.dataset(),
            splits.train.num_classes()
        );
    }
    // A preset that trains a small dataset's trials for more epochs than sampled: the
    // export trains no less than they did.
    let floor = config
        .preset_values()?
        .export_epochs_floor(splits.train.len());
    if let (None, Some(floor)) = (args.epochs, floor) {
        if recipe.epochs < floor {
            recipe = recipe.with_epochs(floor);
        }
    }
    let name = args
        .name
        .clone()
        .unwrap_or_else(|| format!("trial-{}", trial.number));
    let dir = args.results.join(&args.study).join("export").join(&name);
    eprintln!(
        "nas: exporting trial {} (--pick {pick}) of study `{}`: {}",
        trial.number,
        args.study,
        spec.summary()
    );

    let view = FidelityView::new(&splits.train, &splits.test, Fidelity::full(1)?, seed)?;
    let (backend, why) = crate::choose_backend(args.backend.as_deref())?;
    let device = backend.device()?;
    eprintln!(
        "nas: {why}; {} training images, {} test images; recipe {}",
        view.train().len(),
        view.validation().len(),
        recipe.summary()
    );
    let retrained = retrain(&spec, &recipe, &view, &device, seed)?;

    // Written into a hidden folder beside the export and renamed at the end: an export
    // stopped or failed half-way leaves no half-written folder under its name.
    let parent = dir.parent().context("the export folder has a parent")?;
    std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    let partial = tempfile::Builder::new()
        .prefix(&format!(".{name}.partial-"))
        .tempdir_in(parent)
        .with_context(|| format!("creating a folder in {}", parent.display()))?;
    let out = partial.path();

    let class_names = splits.train.class_names().map(<[String]>::to_vec);
    let exported = ExportedArch {
        format: EXPORT_FORMAT.into(),
        study: args.study.clone(),
        trial: trial.number,
        arch: spec.clone(),
        preprocessing: preprocessing(&spec, &view, class_names.unwrap_or_default()),
    };
    exported.write(out)?;
    write_weights(out, &name, &retrained.model, &exported)?;
    let plan = Plan::of(&spec)?;
    let metrics = Metrics {
        test_accuracy: retrained.test.accuracy,
        test_loss: retrained.test.loss,
        test_images: view.validation().len(),
        search_validation_accuracy: row.accuracy,
        params: plan.params(),
        macs: plan.macs(),
        latency: latencies(&spec, backend, config.latency_batch())?,
        epochs: recipe.epochs,
        train_images: view.train().len(),
        train_seconds: retrained.seconds,
        recipe: recipe.summary(),
        seed,
        trained_on: backend.name().into(),
    };
    metrics.write(out)?;
    let card = model_card(&name, &exported, &metrics, &spec.summary());
    write(&out.join(nas_export::CARD_FILE), card.as_bytes())?;
    if dir.exists() {
        std::fs::remove_dir_all(&dir)
            .with_context(|| format!("replacing the earlier export {}", dir.display()))?;
    }
    std::fs::rename(partial.path(), &dir)
        .with_context(|| format!("moving the export into {}", dir.display()))?;
    let _ = partial.keep(); // moved: nothing left to delete
    print_metrics(&metrics, &dir);
    Ok(())
}

/// [`nas_train::retrain`], printing each epoch; a signal stops it as
/// [`crate::interrupt::Interrupted`].
fn retrain(
    spec: &ArchSpec,
    recipe: &Recipe,
    view: &FidelityView,
    device: &Device,
    seed: u64,
) -> anyhow::Result<Retrained> {
    let per_epoch = view.train().len() as f64;
    let started = Instant::now();
    let mut after_epoch = |images| {
        eprintln!(
            "nas: epoch {:.1} of {} done ({:.0} s)",
            images as f64 / per_epoch,
            recipe.epochs,
            started.elapsed().as_secs_f64()
        );
    };
    let halt = nas_search::Halt::new(crate::interrupt::install()?, None);
    let retrained = nas_train::retrain(spec, recipe, view, device, seed, &mut after_epoch, &halt);
    if let (Err(nas_train::TrainError::Halted), Some(nas_search::HaltCause::Signal(signal))) =
        (&retrained, halt.cause())
    {
        return Err(crate::interrupt::Interrupted(signal).into());
    }
    Ok(retrained?)
}

/// The preprocessing the network was trained with: the training split's per-channel
/// statistics at the spec's input size.
fn preprocessing(spec: &ArchSpec, view: &FidelityView, class_names: Vec<String>) -> Preprocessing {
    let (input, normalization) = (spec.input, view.normalization());
    Preprocessing::new(
        input.channels,
        input.height,
        input.width,
        normalization.mean.clone(),
        normalization.std.clone(),
        class_names,
    )
}

/// Writes the weights three ways: burn record, ONNX and safetensors (the last two with the
/// architecture and preprocessing as metadata).
fn write_weights(
    dir: &Path,
    name: &str,
    model: &Network,
    exported: &ExportedArch,
) -> anyhow::Result<()> {
    model.save(&dir.join(RECORD_FILE))?;
    let graph = model.to_graph(&exported.arch)?;
    let metadata = [
        ("nas.arch".to_owned(), serde_json::to_string(exported)?),
        ("nas.study".to_owned(), exported.study.clone()),
    ];
    write(&dir.join(ONNX_FILE), &to_onnx(&graph, name, &metadata))?;
    let safetensors = to_safetensors(&graph, HashMap::from(metadata))?;
    write(&dir.join(SAFETENSORS_FILE), &safetensors)
}

/// The architecture the trial trained and its sampled recipe (epochs not capped).
fn decode(trial: &Trial) -> anyhow::Result<(ArchSpec, Recipe)> {
    let arch = TrialRecord::of(trial)
        .arch
        .with_context(|| format!("trial {} recorded no architecture", trial.number))?;
    let spec: ArchSpec = serde_json::from_value(arch)
        .with_context(|| format!("the architecture of trial {}", trial.number))?;
    spec.validate()?;
    let recipe = Recipe::from_config(&trial.params)?;
    Ok((spec, recipe))
}

/// Inference latency on the training backend and, when that is not it, on flex (the CPU
/// every build has).
fn latencies(
    spec: &ArchSpec,
    trained_on: BackendKind,
    batch: usize,
) -> anyhow::Result<BTreeMap<String, Latency>> {
    let mut backends = vec![trained_on];
    if trained_on != BackendKind::Flex && BackendKind::Flex.is_compiled() {
        backends.push(BackendKind::Flex);
    }
    let settings = LatencySettings {
        batch_sizes: vec![batch],
        warmup: 3,
        runs: 30,
    };
    let mut out = BTreeMap::new();
    for backend in backends {
        let stats = measure_latency(spec, &backend.device()?, &settings)?;
        for s in stats {
            out.insert(
                backend.name().to_owned(),
                Latency {
                    batch: s.batch,
                    median_ms: s.median_ms,
                    p90_ms: s.p90_ms,
                },
            );
        }
    }
    Ok(out)
}

fn write(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))
}

fn print_metrics(m: &Metrics, dir: &Path) {
    println!(
        "test accuracy {:.4} ({} images) · {} params · {} MACs · trained {} epochs in {:.0} s",
        m.test_accuracy, m.test_images, m.params, m.macs, m.epochs, m.train_seconds
    );
    for (backend, l) in &m.latency {
        println!(
            "latency on {backend}: {:.3} ms median, {:.3} ms p90 (batch {})",
            l.median_ms, l.p90_ms, l.batch
        );
    }
    println!("written to {}", dir.display());
}
