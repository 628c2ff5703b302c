//! The files of an exported model, `results/<study>/export/<name>/`: [`ExportedArch`]
//! (`arch.json`: the architecture and the preprocessing any runtime must apply),
//! [`Metrics`] (`metrics.json`) and the model card ([`model_card`], `README.md`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use nas_arch::ArchSpec;
use serde::{Deserialize, Serialize};

use crate::error::ExportError;

/// The burn record (burnpack) of the trained weights.
pub const RECORD_FILE: &str = "model.bpk";
/// The weights as safetensors.
pub const SAFETENSORS_FILE: &str = "model.safetensors";
/// The ONNX model.
pub const ONNX_FILE: &str = "model.onnx";
/// Architecture and preprocessing.
pub const ARCH_FILE: &str = "arch.json";
/// Test accuracy, size and latency.
pub const METRICS_FILE: &str = "metrics.json";
/// The model card.
pub const CARD_FILE: &str = "README.md";
/// Version of the `arch.json` format.
pub const EXPORT_FORMAT: &str = "nas-export/1";

/// What a runtime must do to an image before the network sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Preprocessing {
    /// Input height in pixels.
    pub height: usize,
    /// Input width in pixels.
    pub width: usize,
    /// `grey` (1 channel) or `RGB` (3 channels, in that order).
    pub channel_order: String,
    /// Tensor layout: `NCHW`.
    pub layout: String,
    /// How an image of another size is brought to `height × width`.
    pub resize: String,
    /// Pixel bytes are multiplied by this first (1/255: values in [0, 1]).
    pub scale: f64,
    /// Then each channel has this subtracted…
    pub mean: Vec<f32>,
    /// …and is divided by this.
    pub std: Vec<f32>,
    /// Class names by output index (empty when the dataset has none).
    pub class_names: Vec<String>,
}

impl Preprocessing {
    /// The preprocessing nas trains with: bytes scaled to [0, 1], then `(v − mean) / std`
    /// per channel (statistics of the training images), NCHW, triangle-filter resize.
    pub fn new(
        channels: usize,
        height: usize,
        width: usize,
        mean: Vec<f32>,
        std: Vec<f32>,
        class_names: Vec<String>,
    ) -> Preprocessing {
        Preprocessing {
            height,
            width,
            channel_order: if channels == 1 { "grey" } else { "RGB" }.into(),
            layout: "NCHW".into(),
            resize: "bilinear (triangle filter) to height × width when the size differs".into(),
            scale: 1.0 / 255.0,
            mean,
            std,
            class_names,
        }
    }

    /// Number of channels.
    pub fn channels(&self) -> usize {
        self.mean.len()
    }
}

/// `arch.json`: everything needed to rebuild and feed the network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportedArch {
    /// [`EXPORT_FORMAT`].
    pub format: String,
    /// The study the network comes from.
    pub study: String,
    /// Its trial number.
    pub trial: u64,
    /// The architecture.
    pub arch: ArchSpec,
    /// The input preprocessing.
    pub preprocessing: Preprocessing,
}

impl ExportedArch {
    /// Writes `arch.json` into `dir`.
    pub fn write(&self, dir: &Path) -> Result<PathBuf, ExportError> {
        write_json(&dir.join(ARCH_FILE), self)
    }

    /// Reads and checks `dir/arch.json`; errors name the file and the line.
    pub fn read(dir: &Path) -> Result<ExportedArch, ExportError> {
        let path = dir.join(ARCH_FILE);
        let text = std::fs::read_to_string(&path).map_err(|source| ExportError::Io {
            path: path.clone(),
            source,
        })?;
        ExportedArch::parse(&text, &path)
    }

    /// Parses and checks the text of an `arch.json` (`path` names it in errors): a valid
    /// architecture, and a preprocessing for its input (size, one mean and one std per
    /// channel).
    pub fn parse(text: &str, path: &Path) -> Result<ExportedArch, ExportError> {
        let arch: ExportedArch = serde_json::from_str(text).map_err(|e| ExportError::Json {
            path: path.to_owned(),
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        })?;
        arch.arch.validate().map_err(|source| ExportError::Spec {
            path: path.to_owned(),
            source,
        })?;
        let (input, p) = (arch.arch.input, &arch.preprocessing);
        let mismatch = |field, found: usize, expected: usize, what: &str| {
            (found != expected).then(|| ExportError::Preprocessing {
                path: path.to_owned(),
                field,
                found: format!("{found}{what}"),
                expected: format!("{expected}{what}"),
            })
        };
        let channels = " value(s), one per channel";
        let checks = [
            mismatch("height", p.height, input.height, " px"),
            mismatch("width", p.width, input.width, " px"),
            mismatch("mean", p.mean.len(), input.channels, channels),
            mismatch("std", p.std.len(), input.channels, channels),
        ];
        match checks.into_iter().flatten().next() {
            Some(err) => Err(err),
            None => Ok(arch),
        }
    }
}

/// Median latency of one forward pass on one backend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    /// Images per forward pass.
    pub batch: usize,
    /// Median milliseconds per pass.
    pub median_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
}

/// `metrics.json`: the exported network scored once on the test split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// Accuracy on the test split (never used to choose the network).
    pub test_accuracy: f64,
    /// Mean cross-entropy on the test split.
    pub test_loss: f64,
    /// Test images.
    pub test_images: usize,
    /// The trial's validation accuracy in the search (its top rung).
    pub search_validation_accuracy: Option<f64>,
    /// Trainable parameters.
    pub params: u64,
    /// Multiply-accumulates of one image.
    pub macs: u64,
    /// Latency by backend name.
    pub latency: BTreeMap<String, Latency>,
    /// Training epochs of the final training.
    pub epochs: f64,
    /// Training images (the whole training split).
    pub train_images: usize,
    /// Seconds the final training took.
    pub train_seconds: f64,
    /// The recipe, as the search printed it.
    pub recipe: String,
    /// Seed of the final training.
    pub seed: u64,
    /// Backend the network was trained on.
    pub trained_on: String,
}

impl Metrics {
    /// Writes `metrics.json` into `dir`.
    pub fn write(&self, dir: &Path) -> Result<PathBuf, ExportError> {
        write_json(&dir.join(METRICS_FILE), self)
    }
}

fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<PathBuf, ExportError> {
    let text = serde_json::to_string_pretty(value).unwrap_or_default() + "\n";
    std::fs::write(path, text).map_err(|source| ExportError::Io {
        path: path.to_owned(),
        source,
    })?;
    Ok(path.to_owned())
}

/// The model card: what the network is, how it was chosen and trained, how it scores, how
/// to feed it, and the files.
pub fn model_card(name: &str, arch: &ExportedArch, metrics: &Metrics, summary: &str) -> String {
    let p = &arch.preprocessing;
    let latency: Vec<String> = metrics
        .latency
        .iter()
        .map(|(backend, l)| {
            format!(
                "| {backend} | {} | {:.3} | {:.3} |",
                l.batch, l.median_ms, l.p90_ms
            )
        })
        .collect();
    let search = metrics
        .search_validation_accuracy
        .map_or("not recorded".to_owned(), |a| format!("{a:.4}"));
    format!(
        "# {name}\n\n\
         A convolutional network found by `nas search` (study `{study}`, trial {trial}), \
         retrained by `nas export` on the whole training split.\n\n\
         **Architecture:** {summary}  \n\
         **Parameters:** {params} · **MACs:** {macs} per image\n\n\
         ## Scores\n\n\
         | | |\n|---|---|\n\
         | test accuracy ({test_images} images, scored once after training) | {acc:.4} |\n\
         | test loss | {loss:.4} |\n\
         | validation accuracy in the search | {search} |\n\n\
         | backend | batch | median ms | p90 ms |\n|---|---|---|---|\n{latency}\n\n\
         ## Training\n\n\
         Recipe: {recipe}; {epochs} epochs on {train_images} images, {secs:.0} s on \
         {trained_on}, seed {seed}.\n\n\
         ## Input\n\n\
         `{layout}` float32 `[batch, {c}, {h}, {w}]`, {order}. Resize: {resize}. \
         Scale bytes by 1/255, then subtract mean {mean:?} and divide by std {std:?} per \
         channel. Output: logits over {classes} classes{names}.\n\n\
         ## Files\n\n\
         - `{arch_file}`: the architecture (`ArchSpec`) and this preprocessing\n\
         - `{record}`: burn record (load with `Network::load`); `nas predict --model DIR IMAGE…`\n\
         - `{st}`: the same weights as safetensors (batch-norm running statistics included)\n\
         - `{onnx}`: ONNX (IR 8, opset 17), input `input`, output `logits`\n\
         - `{metrics_file}`: the numbers above\n",
        study = arch.study,
        trial = arch.trial,
        params = metrics.params,
        macs = metrics.macs,
        test_images = metrics.test_images,
        acc = metrics.test_accuracy,
        loss = metrics.test_loss,
        latency = latency.join("\n"),
        recipe = metrics.recipe,
        epochs = metrics.epochs,
        train_images = metrics.train_images,
        secs = metrics.train_seconds,
        trained_on = metrics.trained_on,
        seed = metrics.seed,
        layout = p.layout,
        c = p.channels(),
        h = p.height,
        w = p.width,
        order = p.channel_order,
        resize = p.resize,
        mean = p.mean,
        std = p.std,
        classes = arch.arch.num_classes,
        names = if p.class_names.is_empty() {
            String::new()
        } else {
            format!(" ({})", p.class_names.join(", "))
        },
        arch_file = ARCH_FILE,
        record = RECORD_FILE,
        st = SAFETENSORS_FILE,
        onnx = ONNX_FILE,
        metrics_file = METRICS_FILE,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An arch.json for 3×4×4 images with `preprocessing` written in.
    fn arch_json(preprocessing: &str) -> String {
        format!(
            r#"{{"format":"nas-export/1","study":"s","trial":0,
            "arch":{{"version":1,"input":{{"channels":3,"height":4,"width":4}},
              "stem":{{"width":4,"kernel":3,"stride":1}},
              "stages":[{{"block":{{"type":"vanilla","kernel":3}},"depth":1,"width":4,"stride":2}}],
              "head":{{"conv_width":null,"dropout":0.0}},"num_classes":2}},
            "preprocessing":{{"channel_order":"RGB","layout":"NCHW","resize":"bilinear",
              "scale":0.00392156862745098,"class_names":[],{preprocessing}}}}}"#
        )
    }

    #[test]
    fn fuzz_a_preprocessing_that_does_not_fit_the_input_is_refused() {
        // Issue 18 (found reviewing what `nas predict` does after the arch_json fuzz target's
        // parse): it indexes `std` by channel, so an arch.json with fewer std values than
        // mean values made it panic; a preprocessing size of 4e9 px made it allocate that.
        let path = Path::new("model/arch.json");
        let good = r#""height":4,"width":4,"mean":[0.5,0.5,0.5],"std":[0.2,0.2,0.2]"#;
        let arch = ExportedArch::parse(&arch_json(good), path).unwrap();
        assert_eq!(arch.preprocessing.channels(), 3);
        let short_std = r#""height":4,"width":4,"mean":[0.5,0.5,0.5],"std":[0.2]"#;
        let err = ExportedArch::parse(&arch_json(short_std), path).unwrap_err();
        assert_eq!(
            err.to_string(),
            "model/arch.json: preprocessing.std is 1 value(s), one per channel, but the \
             architecture's input needs 3 value(s), one per channel"
        );
        let no_mean = r#""height":4,"width":4,"mean":[],"std":[]"#;
        let err = ExportedArch::parse(&arch_json(no_mean), path).unwrap_err();
        assert!(
            err.to_string().contains("preprocessing.mean is 0 value(s)"),
            "{err}"
        );
        let huge = r#""height":4000000000,"width":4,"mean":[0.5,0.5,0.5],"std":[0.2,0.2,0.2]"#;
        let err = ExportedArch::parse(&arch_json(huge), path).unwrap_err();
        assert_eq!(
            err.to_string(),
            "model/arch.json: preprocessing.height is 4000000000 px, but the architecture's \
             input needs 4 px"
        );
    }
}
