//! `nas predict --model DIR IMAGE...`: classifies images with an exported model.

use std::path::PathBuf;

use anyhow::Context;
use nas_data::{load_image_files, to_f32_images, ImageShape, Normalization};
use nas_export::{ExportedArch, RECORD_FILE};
use nas_model::Network;

/// Arguments of `nas predict`.
#[derive(Debug, clap::Args)]
pub struct PredictArgs {
    /// The export folder (`results/<study>/export/<name>`).
    #[arg(long)]
    pub model: PathBuf,
    /// Images (PNG or JPEG), any size: they are converted and resized as arch.json says.
    #[arg(required = true)]
    pub images: Vec<PathBuf>,
    /// Classes to print per image.
    #[arg(long, default_value_t = 3)]
    pub top: usize,
    /// One JSON object per image with the logits, instead of text.
    #[arg(long)]
    pub json: bool,
    /// Backend: wgpu, vulkan, cuda, flex or cpu.
    #[arg(long, default_value = "flex")]
    pub backend: String,
}

/// Runs `nas predict`.
pub fn run(args: PredictArgs) -> anyhow::Result<()> {
    let exported = ExportedArch::read(&args.model)?;
    let p = &exported.preprocessing;
    let shape = ImageShape {
        channels: p.channels(),
        height: p.height,
        width: p.width,
    };
    let images = load_image_files(&args.images, shape)?;
    let mut values = to_f32_images(&images, None);
    let normalization = Normalization {
        mean: p.mean.clone(),
        std: p.std.clone(),
    };
    normalization.apply(&mut values.values, shape);
    let device = args.backend.parse::<nas_model::BackendKind>()?.device()?;
    let record = args.model.join(RECORD_FILE);
    let network = Network::load(&exported.arch, &record, &device)
        .with_context(|| format!("loading the model in {}", args.model.display()))?;
    let logits = network.logits(&values, &device, 64)?;
    for (path, row) in args.images.iter().zip(&logits) {
        let probabilities = softmax(row);
        let mut ranked: Vec<usize> = (0..row.len()).collect();
        ranked.sort_by(|&a, &b| probabilities[b].total_cmp(&probabilities[a]));
        let name = |i: usize| {
            p.class_names
                .get(i)
                .cloned()
                .unwrap_or_else(|| i.to_string())
        };
        if args.json {
            let line = serde_json::json!({
                "image": path,
                "class": ranked[0],
                "label": name(ranked[0]),
                "probability": probabilities[ranked[0]],
                "logits": row,
            });
            println!("{line}");
        } else {
            let top: Vec<String> = ranked
                .iter()
                .take(args.top.max(1))
                .map(|&i| format!("{} {:.3}", name(i), probabilities[i]))
                .collect();
            println!("{}: {}", path.display(), top.join(", "));
        }
    }
    Ok(())
}

/// Probabilities from logits, computed stably.
fn softmax(logits: &[f32]) -> Vec<f64> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exp: Vec<f64> = logits.iter().map(|&l| f64::from(l - max).exp()).collect();
    let sum: f64 = exp.iter().sum();
    exp.iter().map(|e| e / sum).collect()
}
