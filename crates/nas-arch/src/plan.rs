//! The resolved network: every block with its channels, stride and feature-map sizes, and
//! every layer with its parameter and MAC count.
//!
//! `nas-model` builds its burn modules from the same [`BlockPlan`]s, so the counts here and
//! the trainable parameters of the built network agree by construction (and a test checks it).

use serde::Serialize;

use crate::error::SpecError;
use crate::spec::{Activation, ArchSpec, BlockSpec};

/// Spatial size of a feature map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Resolution {
    /// Height in pixels.
    pub height: usize,
    /// Width in pixels.
    pub width: usize,
}

impl Resolution {
    /// The size after a layer with this stride and `padding = kernel / 2` (odd kernels): the
    /// ceiling of the size divided by the stride.
    pub fn strided(self, stride: usize) -> Resolution {
        Resolution {
            height: (self.height - 1) / stride + 1,
            width: (self.width - 1) / stride + 1,
        }
    }

    fn pixels(self) -> u64 {
        (self.height as u64).saturating_mul(self.width as u64)
    }
}

/// One block with everything needed to build it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BlockPlan {
    /// 1-based stage number.
    pub stage: usize,
    /// 1-based repeat within the stage.
    pub repeat: usize,
    /// Input channels.
    pub in_channels: usize,
    /// Output channels.
    pub out_channels: usize,
    /// Stride (of the strided convolution inside the block).
    pub stride: usize,
    /// Feature-map size the block receives.
    pub input: Resolution,
    /// Feature-map size it produces.
    pub output: Resolution,
    /// The resolved block type.
    pub kind: BlockKind,
}

/// A block type with its derived sizes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum BlockKind {
    /// See [`BlockSpec::Vanilla`].
    Vanilla {
        /// Kernel size.
        kernel: usize,
    },
    /// See [`BlockSpec::Bottleneck`].
    Bottleneck {
        /// Kernel size of the middle convolution.
        kernel: usize,
        /// Bottleneck width: `ceil(out_channels / reduction)`.
        mid_channels: usize,
        /// Whether the shortcut is a strided 1×1 projection (shape changes) rather than the
        /// identity.
        projection: bool,
    },
    /// See [`BlockSpec::InvertedResidual`].
    InvertedResidual {
        /// Kernel size of the depthwise convolution.
        kernel: usize,
        /// Hidden width: `in_channels × expansion`.
        hidden_channels: usize,
        /// Whether there is a 1×1 expansion (expansion > 1).
        expand: bool,
        /// Activation.
        activation: Activation,
        /// Squeeze-excitation bottleneck width: `max(1, round(hidden × se_ratio))`.
        se_channels: Option<usize>,
        /// Whether the input is added to the output (stride 1, equal widths).
        residual: bool,
    },
}

impl BlockPlan {
    /// Whether the block adds its input (or a projection of it) to its output.
    pub fn has_residual(&self) -> bool {
        match self.kind {
            BlockKind::Vanilla { .. } => false,
            BlockKind::Bottleneck { .. } => true,
            BlockKind::InvertedResidual { residual, .. } => residual,
        }
    }

    /// A name for messages and reports: `stage 2 block 1`.
    pub fn name(&self) -> String {
        format!("stage {} block {}", self.stage, self.repeat)
    }

    /// The block's layers in execution order (shortcut last).
    pub fn layers(&self) -> Vec<Layer> {
        let (cin, cout, s) = (self.in_channels, self.out_channels, self.stride);
        let (inp, out) = (self.input, self.output);
        let name = self.name();
        let mut layers = Vec::new();
        let conv_bn = |layers: &mut Vec<Layer>, label: &str, conv: Conv, at: Resolution| {
            layers.push(Layer::conv(format!("{name} {label}"), conv, at));
            layers.push(Layer::batch_norm(
                format!("{name} {label} bn"),
                conv.out_channels,
            ));
        };
        match self.kind {
            BlockKind::Vanilla { kernel } => {
                conv_bn(&mut layers, "conv", Conv::dense(cin, cout, kernel, s), out)
            }
            BlockKind::Bottleneck {
                kernel,
                mid_channels: mid,
                projection,
            } => {
                conv_bn(&mut layers, "reduce", Conv::dense(cin, mid, 1, 1), inp);
                conv_bn(&mut layers, "conv", Conv::dense(mid, mid, kernel, s), out);
                conv_bn(&mut layers, "expand", Conv::dense(mid, cout, 1, 1), out);
                if projection {
                    conv_bn(&mut layers, "shortcut", Conv::dense(cin, cout, 1, s), out);
                }
            }
            BlockKind::InvertedResidual {
                kernel,
                hidden_channels: hid,
                expand,
                se_channels,
                ..
            } => {
                if expand {
                    conv_bn(&mut layers, "expand", Conv::dense(cin, hid, 1, 1), inp);
                }
                conv_bn(
                    &mut layers,
                    "depthwise",
                    Conv::depthwise(hid, kernel, s),
                    out,
                );
                if let Some(sq) = se_channels {
                    let one = Resolution {
                        height: 1,
                        width: 1,
                    };
                    layers.push(Layer::conv(
                        format!("{name} se reduce"),
                        Conv::pointwise_bias(hid, sq),
                        one,
                    ));
                    layers.push(Layer::conv(
                        format!("{name} se expand"),
                        Conv::pointwise_bias(sq, hid),
                        one,
                    ));
                }
                conv_bn(&mut layers, "project", Conv::dense(hid, cout, 1, 1), out);
            }
        }
        layers
    }
}

/// A convolution's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Conv {
    /// Input channels.
    pub in_channels: usize,
    /// Output channels.
    pub out_channels: usize,
    /// Square kernel size.
    pub kernel: usize,
    /// Stride.
    pub stride: usize,
    /// Channel groups (`in_channels` for depthwise).
    pub groups: usize,
    /// Whether it has a bias (only the SE convolutions; the others are followed by batch norm).
    pub bias: bool,
}

impl Conv {
    /// A dense convolution without bias.
    pub fn dense(in_channels: usize, out_channels: usize, kernel: usize, stride: usize) -> Conv {
        Conv {
            in_channels,
            out_channels,
            kernel,
            stride,
            groups: 1,
            bias: false,
        }
    }

    /// A depthwise convolution without bias.
    pub fn depthwise(channels: usize, kernel: usize, stride: usize) -> Conv {
        Conv {
            in_channels: channels,
            out_channels: channels,
            kernel,
            stride,
            groups: channels,
            bias: false,
        }
    }

    /// A 1×1 convolution with bias.
    pub fn pointwise_bias(in_channels: usize, out_channels: usize) -> Conv {
        Conv {
            in_channels,
            out_channels,
            kernel: 1,
            stride: 1,
            groups: 1,
            bias: true,
        }
    }

    /// Zero padding on each side: `kernel / 2`.
    pub fn padding(&self) -> usize {
        self.kernel / 2
    }
}

/// What a layer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LayerKind {
    /// A 2-D convolution.
    Conv(Conv),
    /// Batch norm over this many channels (scale and shift are trainable).
    BatchNorm {
        /// Channels.
        channels: usize,
    },
    /// A fully connected layer with bias.
    Linear {
        /// Inputs.
        inputs: usize,
        /// Outputs.
        outputs: usize,
    },
}

/// One layer with its cost.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Layer {
    /// Where it is (`stage 2 block 1 depthwise`).
    pub name: String,
    /// What it is.
    pub kind: LayerKind,
    /// Trainable parameters (batch norm's running statistics are not trainable).
    pub params: u64,
    /// Multiply-accumulates for one image. Batch norm, activations, additions and pooling are
    /// counted as zero, as in most papers' tables.
    pub macs: u64,
}

impl Layer {
    // The counts saturate at u64::MAX (which `ArchSpec::validate` refuses) rather than
    // overflow.

    fn conv(name: String, conv: Conv, output: Resolution) -> Layer {
        let kernel = conv.kernel as u64;
        let per_output = kernel
            .saturating_mul(kernel)
            .saturating_mul((conv.in_channels / conv.groups.max(1)) as u64);
        let weights = per_output.saturating_mul(conv.out_channels as u64);
        let bias = if conv.bias {
            conv.out_channels as u64
        } else {
            0
        };
        Layer {
            name,
            kind: LayerKind::Conv(conv),
            params: weights.saturating_add(bias),
            macs: weights.saturating_mul(output.pixels()),
        }
    }

    fn batch_norm(name: String, channels: usize) -> Layer {
        Layer {
            name,
            kind: LayerKind::BatchNorm { channels },
            params: (channels as u64).saturating_mul(2),
            macs: 0,
        }
    }

    fn linear(name: String, inputs: usize, outputs: usize) -> Layer {
        let weights = (inputs as u64).saturating_mul(outputs as u64);
        Layer {
            name,
            kind: LayerKind::Linear { inputs, outputs },
            params: weights.saturating_add(outputs as u64),
            macs: weights,
        }
    }
}

/// The whole resolved network.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    /// The stem convolution.
    pub stem: Conv,
    /// Resolution after the stem.
    pub stem_output: Resolution,
    /// Every block, stage by stage.
    pub blocks: Vec<BlockPlan>,
    /// The head's 1×1 convolution, if any.
    pub head_conv: Option<Conv>,
    /// Resolution the head receives.
    pub head_input: Resolution,
    /// Channels into the classifier.
    pub features: usize,
    /// Classifier outputs.
    pub num_classes: usize,
}

impl Plan {
    /// Resolves a spec, validating it first.
    pub fn of(spec: &ArchSpec) -> Result<Plan, SpecError> {
        spec.validate()?;
        Plan::of_unchecked(spec)
    }

    /// Resolves a spec whose fields have been checked; still checks the strides against the
    /// resolution.
    pub(crate) fn of_unchecked(spec: &ArchSpec) -> Result<Plan, SpecError> {
        let input = Resolution {
            height: spec.input.height,
            width: spec.input.width,
        };
        check_stride("stem", spec.stem.stride, input)?;
        let stem = Conv::dense(
            spec.input.channels,
            spec.stem.width,
            spec.stem.kernel,
            spec.stem.stride,
        );
        let stem_output = input.strided(spec.stem.stride);
        let (mut channels, mut resolution) = (spec.stem.width, stem_output);
        let mut blocks = Vec::new();
        for (s, stage) in spec.stages.iter().enumerate() {
            for r in 0..stage.depth {
                let stride = if r == 0 { stage.stride } else { 1 };
                let block = BlockPlan {
                    stage: s + 1,
                    repeat: r + 1,
                    in_channels: channels,
                    out_channels: stage.width,
                    stride,
                    input: resolution,
                    output: resolution.strided(stride),
                    kind: resolve(stage.block, channels, stage.width, stride),
                };
                check_stride(&block.name(), stride, resolution)?;
                (channels, resolution) = (block.out_channels, block.output);
                blocks.push(block);
            }
        }
        let head_conv = spec.head.conv_width.map(|w| Conv::dense(channels, w, 1, 1));
        let features = spec.head.conv_width.unwrap_or(channels);
        Ok(Plan {
            stem,
            stem_output,
            blocks,
            head_conv,
            head_input: resolution,
            features,
            num_classes: spec.num_classes,
        })
    }

    /// Every layer in execution order.
    pub fn layers(&self) -> Vec<Layer> {
        let mut layers = vec![
            Layer::conv("stem".into(), self.stem, self.stem_output),
            Layer::batch_norm("stem bn".into(), self.stem.out_channels),
        ];
        layers.extend(self.blocks.iter().flat_map(BlockPlan::layers));
        if let Some(conv) = self.head_conv {
            layers.push(Layer::conv("head conv".into(), conv, self.head_input));
            layers.push(Layer::batch_norm("head conv bn".into(), conv.out_channels));
        }
        layers.push(Layer::linear(
            "classifier".into(),
            self.features,
            self.num_classes,
        ));
        layers
    }

    /// Trainable parameters of the whole network (`u64::MAX` if the count overflows, which a
    /// validated spec's does not).
    pub fn params(&self) -> u64 {
        self.layers()
            .iter()
            .fold(0, |sum: u64, l| sum.saturating_add(l.params))
    }

    /// Multiply-accumulates for one image (`u64::MAX` if the count overflows, which a
    /// validated spec's does not).
    pub fn macs(&self) -> u64 {
        self.layers()
            .iter()
            .fold(0, |sum: u64, l| sum.saturating_add(l.macs))
    }
}

fn resolve(block: BlockSpec, cin: usize, cout: usize, stride: usize) -> BlockKind {
    match block {
        BlockSpec::Vanilla { kernel } => BlockKind::Vanilla { kernel },
        BlockSpec::Bottleneck { kernel, reduction } => BlockKind::Bottleneck {
            kernel,
            mid_channels: cout.div_ceil(reduction),
            projection: stride != 1 || cin != cout,
        },
        BlockSpec::InvertedResidual {
            kernel,
            expansion,
            activation,
            se_ratio,
        } => {
            let hidden = cin * expansion;
            BlockKind::InvertedResidual {
                kernel,
                hidden_channels: hidden,
                expand: expansion != 1,
                activation,
                se_channels: se_ratio.map(|r| ((hidden as f64 * r).round() as usize).max(1)),
                residual: stride == 1 && cin == cout,
            }
        }
    }
}

fn check_stride(part: &str, stride: usize, at: Resolution) -> Result<(), SpecError> {
    if stride > 1 && (at.height < stride || at.width < stride) {
        return Err(SpecError::ResolutionTooSmall {
            part: part.into(),
            stride,
            height: at.height,
            width: at.width,
        });
    }
    Ok(())
}
