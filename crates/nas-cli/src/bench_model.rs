//! `nas bench latency` and `nas bench train`: what candidate networks cost on a backend.

use std::path::PathBuf;

use anyhow::{anyhow, bail, Context};

use clap::Args;
use nas_arch::{preset, ArchSpec, Plan};
use nas_model::{
    device_name, measure_latency, measure_training, BackendKind, LatencySettings, TrainSettings,
};

/// Arguments of `nas bench latency`.
#[derive(Debug, Args)]
pub struct LatencyArgs {
    /// An ArchSpec JSON file; without it, the built-in `tiny`, `small` and `medium` specs.
    #[arg(long, value_parser = crate::flags::existing_file)]
    arch: Option<PathBuf>,
    /// Backend: wgpu, vulkan, cuda, flex or cpu (those this build has).
    #[arg(long, default_value = "flex", value_parser = crate::flags::backend)]
    backend: String,
    /// Batch sizes, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,64", value_parser = crate::flags::at_least_one)]
    batch: Vec<usize>,
    /// Untimed forwards before timing each batch size.
    #[arg(long, default_value_t = 3, value_parser = crate::flags::at_least_one)]
    warmup: usize,
    /// Timed forwards per batch size.
    #[arg(long, default_value_t = 20, value_parser = crate::flags::at_least_one)]
    runs: usize,
}

/// Arguments of `nas bench train`.
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Backends, comma-separated; each is timed in turn.
    #[arg(long, value_delimiter = ',', default_value = "flex", value_parser = crate::flags::backend)]
    backend: Vec<String>,
    /// A built-in spec (bench-cnn, tiny, small, medium) or an ArchSpec JSON file; default the
    /// 31,514-parameter `bench-cnn`.
    #[arg(long, default_value = "bench-cnn")]
    arch: String,
    /// Images per step.
    #[arg(long, default_value_t = 128, value_parser = crate::flags::at_least_one)]
    batch: usize,
    /// Untimed steps first.
    #[arg(long, default_value_t = 5, value_parser = crate::flags::at_least_one)]
    warmup_steps: usize,
    /// Timed steps.
    #[arg(long, default_value_t = 30, value_parser = crate::flags::at_least_one)]
    steps: usize,
    /// CPU threads for the CPU backends (sets RAYON_NUM_THREADS; default: all cores).
    #[arg(long, value_parser = crate::flags::at_least_one)]
    threads: Option<usize>,
    /// Print one JSON object per backend instead of the table.
    #[arg(long)]
    json: bool,
}

/// The backend `--backend` names and its device; errors name unknown or missing backends.
pub(crate) fn backend(name: &str) -> anyhow::Result<(BackendKind, nas_model::Device)> {
    let kind: BackendKind = name.parse()?;
    Ok((kind, kind.device()?))
}

fn load_specs(arch: Option<&PathBuf>, default: &[&str]) -> anyhow::Result<Vec<(String, ArchSpec)>> {
    match arch {
        Some(path) => Ok(vec![(
            path.display().to_string(),
            ArchSpec::from_json_file(path)?,
        )]),
        None => Ok(default
            .iter()
            .map(|n| (n.to_string(), preset(n).expect("built-in preset")))
            .collect()),
    }
}

/// The built-in spec called `arch`, or the ArchSpec JSON file at that path.
fn named_spec(arch: &str) -> anyhow::Result<ArchSpec> {
    match preset(arch) {
        Some(spec) => Ok(spec),
        None => ArchSpec::from_json_file(std::path::Path::new(arch)).with_context(|| {
            format!("--arch `{arch}`: neither a built-in spec nor a readable ArchSpec file")
        }),
    }
}

/// Bytes as MiB with one decimal, `-` when unknown.
pub(crate) fn megabytes(bytes: Option<u64>) -> String {
    bytes.map_or("-".into(), |b| format!("{:.1}", b as f64 / 1048576.0))
}

/// `nas bench latency`.
pub fn latency(args: LatencyArgs) -> anyhow::Result<()> {
    let (kind, device) = backend(&args.backend)?;
    let settings = LatencySettings {
        batch_sizes: args.batch,
        warmup: args.warmup,
        runs: args.runs,
    };
    let specs = load_specs(args.arch.as_ref(), &["tiny", "small", "medium"])?;
    println!(
        "inference latency on {kind} ({}): forward to logits on the host; {} warm-up, {} timed runs",
        device_name(&device, kind),
        settings.warmup,
        settings.runs
    );
    println!(
        "{:<10} {:>9} {:>11} {:>6} {:>10} {:>10} {:>10} {:>10} {:>9}",
        "arch", "params", "MACs", "batch", "first ms", "median ms", "p90 ms", "min ms", "peak MiB"
    );
    for (name, spec) in specs {
        let plan = Plan::of(&spec)?;
        let rows =
            measure_latency(&spec, &device, &settings).with_context(|| format!("timing {name}"))?;
        for r in rows {
            println!(
                "{:<10} {:>9} {:>11} {:>6} {:>10.2} {:>10.3} {:>10.3} {:>10.3} {:>9}",
                name,
                plan.params(),
                plan.macs(),
                r.batch,
                r.first_ms,
                r.median_ms,
                r.p90_ms,
                r.min_ms,
                megabytes(r.peak_memory_bytes)
            );
        }
    }
    Ok(())
}

/// `nas bench train`.
pub fn train(args: TrainArgs) -> anyhow::Result<()> {
    if let Some(threads) = args.threads {
        // Read by rayon when its global pool starts, which has not happened yet.
        std::env::set_var("RAYON_NUM_THREADS", threads.to_string());
    }
    let backends = args
        .backend
        .iter()
        .map(|b| backend(b))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let (name, spec) = (args.arch.clone(), named_spec(&args.arch)?);
    let plan = Plan::of(&spec)?;
    let settings = TrainSettings {
        batch: args.batch,
        warmup_steps: args.warmup_steps,
        steps: args.steps,
        ..Default::default()
    };
    if !args.json {
        println!(
            "training throughput of {name} ({} params, {}×{}×{} input), Adam lr {}, batch {}, {} warm-up + {} timed steps",
            plan.params(), spec.input.channels, spec.input.height, spec.input.width,
            settings.lr, settings.batch, settings.warmup_steps, settings.steps
        );
        println!(
            "{:<8} {:<40} {:>12} {:>14} {:>13} {:>11} {:>9}",
            "backend",
            "device",
            "images/s",
            "step ms (med)",
            "first step ms",
            "final loss",
            "peak MiB"
        );
    }
    for (kind, device) in backends {
        let stats =
            measure_training(&spec, &device, &settings).map_err(|e| anyhow!("{kind}: {e}"))?;
        let device = device_name(&device, kind);
        if args.json {
            let row = serde_json::json!({
                "framework": "burn", "backend": kind.name(), "device": device, "arch": name,
                "params": plan.params(), "batch": settings.batch, "images_per_s": stats.images_per_s,
                "step_ms_median": stats.step_ms_median, "first_step_ms": stats.first_step_ms,
                "final_loss": stats.final_loss, "peak_memory_bytes": stats.peak_memory_bytes,
                "lr": settings.lr, "input": spec.input, "dropout": spec.head.dropout, "plan": plan,
            });
            println!("{row}");
        } else {
            println!(
                "{:<8} {:<40} {:>12.1} {:>14.2} {:>13.1} {:>11.4} {:>9}",
                kind.name(),
                device,
                stats.images_per_s,
                stats.step_ms_median,
                stats.first_step_ms,
                stats.final_loss,
                megabytes(stats.peak_memory_bytes)
            );
        }
    }
    Ok(())
}

/// Arguments of `nas bench churn`.
#[derive(Debug, Args)]
pub struct ChurnArgs {
    /// Backend: wgpu, vulkan, cuda, flex or cpu.
    #[arg(long, default_value = "flex", value_parser = crate::flags::backend)]
    backend: String,
    /// Search space to sample architectures from: a built-in name or a TOML file.
    #[arg(long, default_value = "lightweight", value_parser = crate::flags::space)]
    space: String,
    /// Number of architectures.
    #[arg(long, default_value_t = 200, value_parser = crate::flags::at_least_one)]
    archs: usize,
    /// Images per step (1×28×28, 10 classes).
    #[arg(long, default_value_t = 32, value_parser = crate::flags::at_least_one)]
    batch: usize,
    /// Training steps per architecture (at least 2).
    #[arg(long, default_value_t = 3, value_parser = crate::flags::at_least_two)]
    steps: usize,
    /// Seed of the random sampler.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Print every n-th architecture.
    #[arg(long, default_value_t = 10, value_parser = crate::flags::at_least_one)]
    every: usize,
}

/// `nas bench churn`.
pub fn churn(args: ChurnArgs) -> anyhow::Result<()> {
    use nas_core::sampler::{RandomSampler, SampleContext, Sampler};
    let (kind, device) = backend(&args.backend)?;
    let space = crate::load_space(&args.space)?;
    let mut sampler = RandomSampler::new(args.seed);
    let options = nas_arch::SpecOptions::new(1, 28, 10);
    let specs = (0..args.archs as u64)
        .map(|number| {
            let config = sampler.sample(&SampleContext {
                space: &space,
                directions: &[],
                trials: &[],
                number,
            })?;
            Ok(ArchSpec::from_config(&config, &options)?)
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    println!(
        "{} random architectures from {} on {kind} ({}), {} steps of batch {} each",
        specs.len(),
        args.space,
        device_name(&device, kind),
        args.steps,
        args.batch
    );
    println!(
        "{:>5} {:>9} {:>14} {:>14} {:>9} {:>13} {:>13}",
        "arch",
        "params",
        "first step ms",
        "later step ms",
        "RSS MiB",
        "dev used MiB",
        "dev rsvd MiB"
    );
    let every = args.every.max(1);
    let start = std::time::Instant::now();
    let rows = nas_model::churn(&specs, &device, args.batch, args.steps, |r| {
        if r.index % every == every - 1 || r.index == 0 {
            println!(
                "{:>5} {:>9} {:>14.1} {:>14.2} {:>9} {:>13} {:>13}",
                r.index + 1,
                r.params,
                r.first_step_ms,
                r.later_step_ms,
                megabytes(r.rss_bytes),
                megabytes(r.device_in_use_bytes),
                megabytes(r.device_reserved_bytes)
            );
        }
    })?;
    let total = start.elapsed().as_secs_f64();
    let first: f64 = rows.iter().map(|r| r.first_step_ms).sum::<f64>() / 1e3;
    println!("total {total:.1} s, of which first steps (build, compile, tune) {first:.1} s");
    let peak = |rows: &[nas_model::ChurnRow], f: fn(&nas_model::ChurnRow) -> Option<u64>| {
        rows.iter()
            .filter_map(f)
            .max()
            .map(|b| b as f64 / 1048576.0)
    };
    let half = rows.len() / 2;
    if half > 0 {
        let (first, second) = rows.split_at(half);
        if let (Some(a), Some(b)) = (peak(first, |r| r.rss_bytes), peak(second, |r| r.rss_bytes)) {
            println!(
                "peak RSS: {a:.1} MiB over the first {} architectures, {b:.1} MiB over the last {}",
                first.len(),
                second.len()
            );
        }
        if let (Some(a), Some(b)) = (
            peak(first, |r| r.device_reserved_bytes),
            peak(second, |r| r.device_reserved_bytes),
        ) {
            println!("peak device pool reserved: {a:.1} MiB over the first half, {b:.1} MiB over the second");
        }
    }
    Ok(())
}

/// Arguments of `nas bench backend-check`.
#[derive(Debug, Args)]
pub struct BackendCheckArgs {
    /// The backend to check against flex.
    #[arg(long, default_value = "wgpu", value_parser = crate::flags::backend)]
    backend: String,
    /// Images per training step (128 makes the stem's batch norm reduce 100,352 values).
    #[arg(long, default_value_t = 128, value_parser = crate::flags::at_least_one)]
    batch: usize,
    /// Training steps.
    #[arg(long, default_value_t = 3, value_parser = crate::flags::at_least_one)]
    steps: usize,
}

/// `nas bench backend-check`: a long-row reduction against the host, and training of the
/// benchmark CNN against flex from the same initial weights. Fails when they disagree.
pub fn backend_check(args: BackendCheckArgs) -> anyhow::Result<()> {
    use nas_model::check::{long_row_mean_errors, training_trace, Agreement};
    let (kind, device) = backend(&args.backend)?;
    let reference = BackendKind::Flex.device()?;
    println!(
        "checking {kind} ({}) against flex",
        device_name(&device, kind)
    );
    let mut ok = true;
    for (rows, length) in [(16, 50176), (16, 65536), (16, 100352)] {
        let errors = long_row_mean_errors(&device, rows, length)?;
        println!(
            "  mean of {rows} rows × {length}: {}",
            if errors.is_empty() {
                "correct".into()
            } else {
                format!("WRONG rows (row, value): {errors:?}")
            }
        );
        ok &= errors.is_empty();
    }
    let spec = preset("bench-cnn").expect("built-in preset");
    let initial = nas_model::Network::new(&spec, &reference)?;
    let flex = training_trace(&spec, &initial, &reference, args.batch, args.steps);
    let other = training_trace(&spec, &initial, &device, args.batch, args.steps);
    let agreement = Agreement::of(&flex, &other);
    println!(
        "  bench-cnn, batch {}, {} Adam steps: losses flex {:?}, {kind} {:?} (max diff {:.2e})",
        args.batch, args.steps, flex.losses, other.losses, agreement.loss_diff
    );
    for (i, (channels, diff, zeroed)) in agreement.layers.iter().enumerate() {
        let zeroed = match zeroed.is_empty() {
            true => String::new(),
            false => format!(", exactly 0 on {kind} only in channels {zeroed:?}"),
        };
        println!(
            "  batch norm {i} ({channels} channels): running mean max diff {diff:.2e}{zeroed}"
        );
    }
    ok &= agreement.agrees();
    if !ok {
        bail!("{kind} disagrees with flex (see above)");
    }
    println!("{kind} agrees with flex");
    Ok(())
}

/// Arguments of `nas bench conv-ops`.
#[derive(Debug, Args)]
pub struct ConvOpsArgs {
    /// An ArchSpec JSON file or a built-in spec name; default `bench-cnn`.
    #[arg(long, default_value = "bench-cnn")]
    arch: String,
    /// Images per batch.
    #[arg(long, default_value_t = 128, value_parser = crate::flags::at_least_one)]
    batch: usize,
    /// Timed runs per operation (the median is printed), after one untimed run.
    #[arg(long, default_value_t = 10, value_parser = crate::flags::at_least_one)]
    runs: usize,
    /// CPU threads (sets RAYON_NUM_THREADS; default: all cores).
    #[arg(long, value_parser = crate::flags::at_least_one)]
    threads: Option<usize>,
}

/// `nas bench conv-ops`: each convolution and batch-norm shape of a network, burn's flex
/// operations beside nas-kernels'.
pub fn conv_ops(args: ConvOpsArgs) -> anyhow::Result<()> {
    if let Some(threads) = args.threads {
        // Read by rayon when its global pool starts, which has not happened yet.
        std::env::set_var("RAYON_NUM_THREADS", threads.to_string());
    }
    let spec = named_spec(&args.arch)?;
    let (_, device) = backend("flex")?;
    let shapes = nas_model::layer_shapes(&spec, args.batch)?;
    let rows = nas_model::time_ops(&shapes, &device, args.runs)?;
    println!(
        "{} at batch {}: median ms of {} runs per operation (flex = burn 0.22.1's flex ops; ours = nas-kernels); \
         in = input gradient, w = weight gradient (γ and β with the input for batch norm)",
        args.arch, args.batch, args.runs
    );
    println!(
        "{:<34} {:>3} | {:>8} {:>8} {:>8} | {:>8} {:>8} {:>8} | {:>6}",
        "layer", "×", "flex fwd", "flex in", "flex w", "ours fwd", "ours in", "ours w", "flex/ours"
    );
    let (mut flex_total, mut ours_total) = ([0.0f64; 3], [0.0f64; 3]);
    for row in &rows {
        let name = match row.shape {
            nas_model::LayerShape::Conv(s) => format!(
                "{} {}×{} {}→{} s{} @{}×{}",
                if s.is_depthwise() {
                    "dw"
                } else if s.groups > 1 {
                    "grouped"
                } else {
                    "conv"
                },
                s.kernel,
                s.kernel,
                s.in_channels,
                s.out_channels,
                s.stride,
                s.height,
                s.width
            ),
            nas_model::LayerShape::BatchNorm {
                channels, pixels, ..
            } => format!("bn {channels} @{pixels} px"),
        };
        let flex: f64 = row.burn.iter().sum();
        let ours: f64 = row.ours.iter().sum();
        println!(
            "{:<34} {:>3} | {:>8.3} {:>8.3} {:>8.3} | {:>8.3} {:>8.3} {:>8.3} | {:>6.2}",
            name,
            row.count,
            row.burn[0],
            row.burn[1],
            row.burn[2],
            row.ours[0],
            row.ours[1],
            row.ours[2],
            flex / ours.max(1e-9)
        );
        for i in 0..3 {
            flex_total[i] += row.burn[i] * row.count as f64;
            ours_total[i] += row.ours[i] * row.count as f64;
        }
    }
    println!(
        "{:<34} {:>3} | {:>8.2} {:>8.2} {:>8.2} | {:>8.2} {:>8.2} {:>8.2} | {:>6.2}",
        "whole network (× counts)",
        "",
        flex_total[0],
        flex_total[1],
        flex_total[2],
        ours_total[0],
        ours_total[1],
        ours_total[2],
        flex_total.iter().sum::<f64>() / ours_total.iter().sum::<f64>().max(1e-9)
    );
    Ok(())
}
