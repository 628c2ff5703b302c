//! The network description itself: input, stem, stages of blocks, head.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::SpecError;

/// The version of the [`ArchSpec`] format that this crate writes and reads.
pub const ARCH_SPEC_VERSION: u32 = 1;

/// The largest value of any size in a spec: channels, image height and width, widths,
/// kernels, strides, expansions, reductions, number of classes.
pub const MAX_SIZE: usize = 1 << 16;

/// The most blocks a spec may have, all stages together (the sum of the depths).
pub const MAX_BLOCKS: usize = 1024;

/// One candidate network, independent of any deep-learning framework: what `nas-model` builds,
/// what the search scores and what reports export.
///
/// The network is `stem → stages → head`. Each stage repeats one block type `depth` times; the
/// first repeat maps the previous width to the stage's width with the stage's stride, the
/// others keep width and resolution. A valid spec has passed [`ArchSpec::validate`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArchSpec {
    /// Format version: [`ARCH_SPEC_VERSION`].
    pub version: u32,
    /// The images the network takes.
    pub input: InputSpec,
    /// The first convolution.
    pub stem: StemSpec,
    /// The stages, in order (at least one).
    pub stages: Vec<StageSpec>,
    /// Everything after the last stage.
    pub head: HeadSpec,
    /// Outputs of the classifier.
    pub num_classes: usize,
}

/// The input images: `channels × height × width`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputSpec {
    /// Colour channels (1 for grey, 3 for RGB).
    pub channels: usize,
    /// Image height in pixels.
    pub height: usize,
    /// Image width in pixels.
    pub width: usize,
}

impl InputSpec {
    /// The shape of a batch of `batch` such images: `[batch, channels, height, width]`.
    pub fn batch_shape(&self, batch: usize) -> [usize; 4] {
        [batch, self.channels, self.height, self.width]
    }
}

/// The stem: a `kernel × kernel` convolution with batch norm and ReLU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StemSpec {
    /// Output channels.
    pub width: usize,
    /// Kernel size (odd).
    pub kernel: usize,
    /// Stride (1 or more).
    pub stride: usize,
}

/// One stage: `depth` blocks of one type.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageSpec {
    /// The block type and its own parameters.
    pub block: BlockSpec,
    /// Number of blocks (repeats).
    pub depth: usize,
    /// Output channels of every block in the stage.
    pub width: usize,
    /// Stride of the first block; the other blocks have stride 1.
    pub stride: usize,
}

/// A block type with its own parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum BlockSpec {
    /// `k×k` convolution, batch norm, ReLU. No residual.
    Vanilla {
        /// Kernel size (odd).
        kernel: usize,
    },
    /// ResNet bottleneck: 1×1 reduce to `ceil(width / reduction)` channels, `k×k`, 1×1 expand,
    /// batch norm after each, ReLU after the first two; the sum with the shortcut (identity, or
    /// a strided 1×1 projection with batch norm when the shape changes) goes through ReLU.
    Bottleneck {
        /// Kernel size of the middle convolution (odd).
        kernel: usize,
        /// Output width divided by the bottleneck width (1 or more).
        reduction: usize,
    },
    /// MobileNetV2 inverted residual: 1×1 expand by `expansion` (left out when it is 1),
    /// depthwise `k×k`, optional squeeze-excitation, 1×1 linear projection, batch norm after
    /// each convolution. Residual add only when the stride is 1 and the widths match.
    InvertedResidual {
        /// Kernel size of the depthwise convolution (odd).
        kernel: usize,
        /// Hidden width divided by the input width (1 or more).
        expansion: usize,
        /// Activation after the expansion and the depthwise convolution.
        activation: Activation,
        /// Squeeze-excitation bottleneck as a fraction of the hidden width; `None` for no SE.
        se_ratio: Option<f64>,
    },
}

impl BlockSpec {
    /// The block type's name as the search space spells it.
    pub fn type_name(&self) -> &'static str {
        match self {
            BlockSpec::Vanilla { .. } => "vanilla",
            BlockSpec::Bottleneck { .. } => "bottleneck",
            BlockSpec::InvertedResidual { .. } => "inverted_residual",
        }
    }

    /// The block's kernel size.
    pub fn kernel(&self) -> usize {
        match *self {
            BlockSpec::Vanilla { kernel }
            | BlockSpec::Bottleneck { kernel, .. }
            | BlockSpec::InvertedResidual { kernel, .. } => kernel,
        }
    }
}

/// An activation function of an inverted residual block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// `max(x, 0)`.
    Relu,
    /// `min(max(x, 0), 6)`.
    Relu6,
    /// `x · relu6(x + 3) / 6` (MobileNetV3).
    HardSwish,
}

impl Activation {
    /// The name as the search space spells it.
    pub fn name(&self) -> &'static str {
        match self {
            Activation::Relu => "relu",
            Activation::Relu6 => "relu6",
            Activation::HardSwish => "hard_swish",
        }
    }

    /// Parses a search-space name (`relu`, `relu6`, `hard_swish`).
    pub fn from_name(name: &str) -> Option<Activation> {
        [Activation::Relu, Activation::Relu6, Activation::HardSwish]
            .into_iter()
            .find(|a| a.name() == name)
    }
}

/// After the last stage: an optional 1×1 convolution (batch norm, ReLU), global average
/// pooling, dropout and a linear classifier.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeadSpec {
    /// Output channels of the 1×1 convolution; `None` leaves it out.
    pub conv_width: Option<usize>,
    /// Dropout probability before the classifier, in `[0, 1)`.
    pub dropout: f64,
}

impl ArchSpec {
    /// Checks everything a network needs to be built: positive sizes, odd kernels, a version
    /// this crate reads, a dropout in `[0, 1)`, and a resolution large enough for every
    /// stride; sizes at most [`MAX_SIZE`], at most [`MAX_BLOCKS`] blocks, and parameter and
    /// MAC counts that fit in a `u64`. The error names the offending part (`stage 3 block 1`,
    /// `head.dropout`, …).
    pub fn validate(&self) -> Result<(), SpecError> {
        if self.version != ARCH_SPEC_VERSION {
            return Err(SpecError::Version {
                found: self.version,
                expected: ARCH_SPEC_VERSION,
            });
        }
        let InputSpec {
            channels,
            height,
            width,
        } = self.input;
        size("input.channels", channels)?;
        size("input.height", height)?;
        size("input.width", width)?;
        size("num_classes", self.num_classes)?;
        size("stem.width", self.stem.width)?;
        size("stem.stride", self.stem.stride)?;
        odd_kernel("stem.kernel", self.stem.kernel)?;
        if self.stages.is_empty() {
            return Err(SpecError::Invalid {
                part: "stages".into(),
                reason: "no stages".into(),
            });
        }
        for (i, stage) in self.stages.iter().enumerate() {
            stage.validate(&format!("stage {}", i + 1))?;
        }
        // Each depth is at most MAX_SIZE, so the sum cannot overflow.
        let blocks: usize = self.stages.iter().map(|s| s.depth).sum();
        if blocks > MAX_BLOCKS {
            return Err(SpecError::TooLarge {
                part: "stages: blocks (the sum of the depths)".into(),
                value: blocks as u64,
                max: MAX_BLOCKS as u64,
            });
        }
        if let Some(w) = self.head.conv_width {
            size("head.conv_width", w)?;
        }
        let p = self.head.dropout;
        if !(0.0..1.0).contains(&p) {
            return Err(SpecError::Invalid {
                part: "head.dropout".into(),
                reason: format!("{p} is not in [0, 1)"),
            });
        }
        let plan = crate::plan::Plan::of_unchecked(self)?;
        // The counts saturate at u64::MAX.
        if plan.params() == u64::MAX {
            return Err(SpecError::Overflow { what: "parameters" });
        }
        if plan.macs() == u64::MAX {
            return Err(SpecError::Overflow {
                what: "MACs per image",
            });
        }
        Ok(())
    }

    /// A one-line summary for tables and reports:
    /// `stem 16 · vanilla k3 ×2 → 24 /2 · inverted_residual k5 e4 hard_swish se0.25 ×1 → 32 · head 128`.
    pub fn summary(&self) -> String {
        let mut parts = vec![format!("stem {}", self.stem.width)];
        parts.extend(self.stages.iter().map(StageSpec::summary));
        if let Some(w) = self.head.conv_width {
            parts.push(format!("head {w}"));
        }
        parts.join(" · ")
    }

    /// Reads a spec from a JSON file and validates it; errors name the file.
    pub fn from_json_file(path: &Path) -> Result<ArchSpec, SpecError> {
        let file = |source: SpecError| SpecError::File {
            path: path.to_owned(),
            source: Box::new(source),
        };
        let text = std::fs::read_to_string(path).map_err(|e| file(SpecError::Io(e.to_string())))?;
        let spec: ArchSpec = serde_json::from_str(&text).map_err(|e| {
            file(SpecError::Json {
                line: e.line(),
                column: e.column(),
                message: e.to_string(),
            })
        })?;
        spec.validate().map_err(file)?;
        Ok(spec)
    }

    /// The spec as pretty-printed JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("an ArchSpec always serialises")
    }
}

impl StageSpec {
    /// `vanilla k3 ×2 → 24 /2`: block type and its parameters, depth, width and stride
    /// (left out when 1).
    pub fn summary(&self) -> String {
        let block = match self.block {
            BlockSpec::Vanilla { kernel } => format!("vanilla k{kernel}"),
            BlockSpec::Bottleneck { kernel, reduction } => {
                format!("bottleneck k{kernel} r{reduction}")
            }
            BlockSpec::InvertedResidual {
                kernel,
                expansion,
                activation,
                se_ratio,
            } => {
                let se = se_ratio.map_or(String::new(), |r| format!(" se{r}"));
                format!(
                    "inverted_residual k{kernel} e{expansion} {}{se}",
                    activation.name()
                )
            }
        };
        let stride = if self.stride > 1 {
            format!(" /{}", self.stride)
        } else {
            String::new()
        };
        format!("{block} ×{} → {}{stride}", self.depth, self.width)
    }

    fn validate(&self, part: &str) -> Result<(), SpecError> {
        size(&format!("{part} depth"), self.depth)?;
        size(&format!("{part} width"), self.width)?;
        size(&format!("{part} stride"), self.stride)?;
        odd_kernel(&format!("{part} kernel"), self.block.kernel())?;
        match self.block {
            BlockSpec::Vanilla { .. } => Ok(()),
            BlockSpec::Bottleneck { reduction, .. } => {
                size(&format!("{part} reduction"), reduction)
            }
            BlockSpec::InvertedResidual {
                expansion,
                se_ratio,
                ..
            } => {
                size(&format!("{part} expansion"), expansion)?;
                match se_ratio {
                    Some(r) if !(r > 0.0 && r <= 1.0) => Err(SpecError::Invalid {
                        part: format!("{part} se_ratio"),
                        reason: format!("{r} is not in (0, 1]"),
                    }),
                    _ => Ok(()),
                }
            }
        }
    }
}

fn positive(part: &str, value: usize) -> Result<(), SpecError> {
    if value == 0 {
        return Err(SpecError::Invalid {
            part: part.into(),
            reason: "must be at least 1, got 0".into(),
        });
    }
    Ok(())
}

/// A size: at least 1 and at most [`MAX_SIZE`].
fn size(part: &str, value: usize) -> Result<(), SpecError> {
    positive(part, value)?;
    if value > MAX_SIZE {
        return Err(SpecError::TooLarge {
            part: part.into(),
            value: value as u64,
            max: MAX_SIZE as u64,
        });
    }
    Ok(())
}

/// An odd kernel size, at most [`MAX_SIZE`].
fn odd_kernel(part: &str, kernel: usize) -> Result<(), SpecError> {
    if kernel & 1 == 0 {
        return Err(SpecError::Invalid {
            part: part.into(),
            reason: format!(
                "kernel {kernel} must be odd (1, 3, 5, …) so that padding keeps the centre"
            ),
        });
    }
    size(part, kernel)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Plan;

    /// The `tiny` preset as JSON with another stem, first-stage depth and width.
    fn tiny_with(stem: &str, depth: &str, width: &str) -> String {
        format!(
            r#"{{"version":1,"input":{{"channels":1,"height":28,"width":28}},
            "stem":{stem},
            "stages":[{{"block":{{"type":"vanilla","kernel":3}},"depth":{depth},"width":{width},"stride":2}},
            {{"block":{{"type":"inverted_residual","kernel":3,"expansion":3,"activation":"relu6","se_ratio":null}},"depth":1,"width":16,"stride":1}}],
            "head":{{"conv_width":null,"dropout":0.0}},"num_classes":10}}"#
        )
    }

    const STEM: &str = r#"{"width":8,"kernel":3,"stride":1}"#;

    /// What `nas predict` and `nas export` do with an arch.json (minus the file).
    fn check(json: &str) -> Result<Plan, SpecError> {
        let spec: ArchSpec = serde_json::from_str(json).expect("well-formed JSON");
        Plan::of(&spec)
    }

    #[test]
    fn fuzz_a_huge_kernel_is_refused_not_an_overflow() {
        // Issue 18, fuzz target arch_json (hand-made input): a 2³² + 1 kernel overflowed
        // the parameter count (a panic in `Layer::conv`).
        let json = tiny_with(r#"{"width":8,"kernel":4294967297,"stride":1}"#, "1", "16");
        let err = check(&json).unwrap_err();
        assert!(matches!(err, SpecError::TooLarge { .. }), "{err}");
        assert_eq!(
            err.to_string(),
            "stem.kernel: 4294967297 is more than the largest allowed, 65536"
        );
    }

    #[test]
    fn fuzz_a_huge_depth_is_refused_before_any_block_is_planned() {
        // A depth of 10¹² made `Plan::of` push blocks until it ran out of time or memory.
        let err = check(&tiny_with(STEM, "1000000000000", "16")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "stage 1 depth: 1000000000000 is more than the largest allowed, 65536"
        );
        let err = check(&tiny_with(STEM, "1024", "16")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "stages: blocks (the sum of the depths): 1025 is more than the largest allowed, 1024"
        );
    }

    #[test]
    fn fuzz_huge_widths_are_refused_not_an_overflow() {
        // Widths of 2⁴⁰ overflowed the MAC count (a panic in `Layer::conv`).
        let json = tiny_with(
            r#"{"width":1099511627776,"kernel":3,"stride":1}"#,
            "1",
            "1099511627776",
        );
        let err = check(&json).unwrap_err();
        assert_eq!(
            err.to_string(),
            "stem.width: 1099511627776 is more than the largest allowed, 65536"
        );
    }

    #[test]
    fn counts_that_overflow_64_bits_are_refused() {
        // Every size within MAX_SIZE, but two convolutions of 65535² × 65536 × 65536
        // weights (each just under 2⁶⁴).
        let json = r#"{"version":1,"input":{"channels":65536,"height":1,"width":1},
            "stem":{"width":65536,"kernel":65535,"stride":1},
            "stages":[{"block":{"type":"vanilla","kernel":65535},"depth":1,"width":65536,"stride":1}],
            "head":{"conv_width":null,"dropout":0.0},"num_classes":1}"#;
        let err = check(json).unwrap_err();
        assert!(
            matches!(err, SpecError::Overflow { what: "parameters" }),
            "{err}"
        );
        // One of them on a 65536×65536 input: 2⁶⁴ − 2⁴⁹ + 2³² weights, MACs beyond 2⁶⁴.
        let json = r#"{"version":1,"input":{"channels":65536,"height":65536,"width":65536},
            "stem":{"width":65536,"kernel":65535,"stride":1},
            "stages":[{"block":{"type":"vanilla","kernel":1},"depth":1,"width":1,"stride":1}],
            "head":{"conv_width":null,"dropout":0.0},"num_classes":1}"#;
        let err = check(json).unwrap_err();
        assert!(
            matches!(
                err,
                SpecError::Overflow {
                    what: "MACs per image"
                }
            ),
            "{err}"
        );
        // Large but countable: the counts are exact.
        let json = r#"{"version":1,"input":{"channels":65536,"height":1,"width":1},
            "stem":{"width":65536,"kernel":1,"stride":1},
            "stages":[{"block":{"type":"vanilla","kernel":1},"depth":1,"width":1,"stride":1}],
            "head":{"conv_width":null,"dropout":0.0},"num_classes":1}"#;
        let plan = check(json).unwrap();
        assert_eq!(plan.params(), (1 << 32) + 2 * (1 << 16) + (1 << 16) + 2 + 2);
    }
}
