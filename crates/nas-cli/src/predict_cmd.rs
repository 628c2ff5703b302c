//! `nas predict --model DIR IMAGE...`: classifies images with an exported model.

use std::path::PathBuf;

use anyhow::{bail, Context};
use nas_data::{image_files_under, load_image_files, to_f32_images, ImageShape, Normalization};
use nas_export::{ExportedArch, RECORD_FILE};
use nas_model::Network;

/// Arguments of `nas predict`.
#[derive(Debug, clap::Args)]
pub struct PredictArgs {
    /// The export folder (`results/<study>/export/<name>`).
    #[arg(long)]
    pub model: PathBuf,
    /// Images (PNG or JPEG), any size: they are converted and resized as arch.json says. A
    /// folder stands for every image under it.
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
    let mut paths = Vec::new();
    for path in &args.images {
        if path.is_dir() {
            let found = image_files_under(path)?;
            if found.is_empty() {
                bail!(
                    "{}: no .png, .jpg or .jpeg file in this folder",
                    path.display()
                );
            }
            paths.extend(found);
        } else {
            paths.push(path.clone());
        }
    }
    let images = load_image_files(&paths, shape)?;
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
    for (path, row) in paths.iter().zip(&logits) {
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
