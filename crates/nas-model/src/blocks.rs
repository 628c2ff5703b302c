//! The block zoo: [`VanillaConv`], [`BottleNeck`] and [`InvertedResidual`], built from a
//! resolved [`BlockPlan`].

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::PaddingConfig2d;
use burn::tensor::activation::sigmoid;
use burn::tensor::{Device, Tensor};
use nas_arch::{Activation, BlockKind, BlockPlan, Conv};
use nas_kernels::Activation as Fused;

use crate::cpu_ops::{activate as apply, conv_forward};
use crate::norm::BatchNorm2d;

/// A convolution (no bias unless the plan says so) with `padding = kernel / 2`.
pub fn conv2d(conv: &Conv, device: &Device) -> Conv2d {
    let (k, s, p) = (conv.kernel, conv.stride, conv.padding());
    Conv2dConfig::new([conv.in_channels, conv.out_channels], [k, k])
        .with_stride([s, s])
        .with_groups(conv.groups)
        .with_padding(PaddingConfig2d::Explicit(p, p, p, p))
        .with_bias(conv.bias)
        .init(device)
}

/// A convolution followed by batch norm, without activation.
#[derive(Module, Debug)]
pub struct ConvBn {
    pub(crate) conv: Conv2d,
    pub(crate) bn: BatchNorm2d,
}

impl ConvBn {
    /// Builds it on `device`.
    pub fn new(conv: &Conv, device: &Device) -> ConvBn {
        ConvBn {
            conv: conv2d(conv, device),
            bn: BatchNorm2d::new(conv.out_channels, device),
        }
    }

    /// `bn(conv(x))`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.bn.forward(conv_forward(&self.conv, x))
    }

    /// `activation(bn(conv(x)))`, batch norm and activation fused on the flex device.
    pub fn forward_activated(&self, x: Tensor<4>, activation: Activation) -> Tensor<4> {
        self.bn
            .forward_activated(conv_forward(&self.conv, x), fused(activation))
    }

    /// `relu(bn(conv(x)))`.
    pub fn forward_relu(&self, x: Tensor<4>) -> Tensor<4> {
        self.forward_activated(x, Activation::Relu)
    }
}

/// The kernels' name for an activation.
fn fused(activation: Activation) -> Fused {
    match activation {
        Activation::Relu => Fused::Relu,
        Activation::Relu6 => Fused::Relu6,
        Activation::HardSwish => Fused::HardSwish,
    }
}

/// `max(x, 0)`.
pub fn relu(x: Tensor<4>) -> Tensor<4> {
    apply(x, Fused::Relu)
}

/// `k×k` convolution, batch norm, ReLU.
#[derive(Module, Debug)]
pub struct VanillaConv {
    pub(crate) conv: ConvBn,
}

impl VanillaConv {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.conv.forward_relu(x)
    }
}

/// ResNet bottleneck: 1×1 reduce, `k×k`, 1×1 expand, plus the identity or a projection
/// shortcut, then ReLU.
#[derive(Module, Debug)]
pub struct BottleNeck {
    pub(crate) reduce: ConvBn,
    pub(crate) conv: ConvBn,
    pub(crate) expand: ConvBn,
    pub(crate) shortcut: Option<ConvBn>,
}

impl BottleNeck {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let y = self.reduce.forward_relu(x.clone());
        let y = self.conv.forward_relu(y);
        let y = self.expand.forward(y);
        let shortcut = match &self.shortcut {
            Some(projection) => projection.forward(x),
            None => x,
        };
        relu(y + shortcut)
    }
}

/// Squeeze-and-excitation: global average pool, 1×1 reduce, ReLU, 1×1 expand, sigmoid, then
/// scale the channels.
#[derive(Module, Debug)]
pub struct SqueezeExcite {
    pub(crate) reduce: Conv2d,
    pub(crate) expand: Conv2d,
}

impl SqueezeExcite {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let s = x.clone().mean_dim(3).mean_dim(2);
        let s = relu(conv_forward(&self.reduce, s));
        let s = sigmoid(conv_forward(&self.expand, s));
        x * s
    }
}

/// MobileNetV2 inverted residual: optional 1×1 expand, depthwise `k×k`, optional SE, 1×1
/// linear projection, residual add when stride is 1 and widths match.
#[derive(Module, Debug)]
pub struct InvertedResidual {
    pub(crate) expand: Option<ConvBn>,
    pub(crate) depthwise: ConvBn,
    pub(crate) se: Option<SqueezeExcite>,
    pub(crate) project: ConvBn,
    pub(crate) residual: bool,
    #[module(skip)]
    pub(crate) activation: Activation,
}

impl InvertedResidual {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let mut y = x.clone();
        if let Some(expand) = &self.expand {
            y = expand.forward_activated(y, self.activation);
        }
        y = self.depthwise.forward_activated(y, self.activation);
        if let Some(se) = &self.se {
            y = se.forward(y);
        }
        y = self.project.forward(y);
        if self.residual {
            y = y + x;
        }
        y
    }

    /// Whether the block adds its input to its output.
    pub fn has_residual(&self) -> bool {
        self.residual
    }
}

/// One block of any type.
#[derive(Module, Debug)]
pub enum Block {
    /// See [`VanillaConv`].
    Vanilla(VanillaConv),
    /// See [`BottleNeck`].
    Bottleneck(BottleNeck),
    /// See [`InvertedResidual`].
    Inverted(InvertedResidual),
}

impl Block {
    /// Builds the block a plan describes, with the same layers (and so the same parameter
    /// count) as [`BlockPlan::layers`].
    pub fn new(plan: &BlockPlan, device: &Device) -> Block {
        let (cin, cout, stride) = (plan.in_channels, plan.out_channels, plan.stride);
        let conv_bn = |conv: Conv| ConvBn::new(&conv, device);
        match plan.kind {
            BlockKind::Vanilla { kernel } => Block::Vanilla(VanillaConv {
                conv: conv_bn(Conv::dense(cin, cout, kernel, stride)),
            }),
            BlockKind::Bottleneck {
                kernel,
                mid_channels: mid,
                projection,
            } => Block::Bottleneck(BottleNeck {
                reduce: conv_bn(Conv::dense(cin, mid, 1, 1)),
                conv: conv_bn(Conv::dense(mid, mid, kernel, stride)),
                expand: conv_bn(Conv::dense(mid, cout, 1, 1)),
                shortcut: projection.then(|| conv_bn(Conv::dense(cin, cout, 1, stride))),
            }),
            BlockKind::InvertedResidual {
                kernel,
                hidden_channels: hid,
                expand,
                activation,
                se_channels,
                residual,
            } => Block::Inverted(InvertedResidual {
                expand: expand.then(|| conv_bn(Conv::dense(cin, hid, 1, 1))),
                depthwise: conv_bn(Conv::depthwise(hid, kernel, stride)),
                se: se_channels.map(|sq| SqueezeExcite {
                    reduce: conv2d(&Conv::pointwise_bias(hid, sq), device),
                    expand: conv2d(&Conv::pointwise_bias(sq, hid), device),
                }),
                project: conv_bn(Conv::dense(hid, cout, 1, 1)),
                residual,
                activation,
            }),
        }
    }

    /// Runs the block.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        match self {
            Block::Vanilla(b) => b.forward(x),
            Block::Bottleneck(b) => b.forward(x),
            Block::Inverted(b) => b.forward(x),
        }
    }

    /// Whether the block adds its input (or a projection of it) to its output.
    pub fn has_residual(&self) -> bool {
        match self {
            Block::Vanilla(_) => false,
            Block::Bottleneck(_) => true,
            Block::Inverted(b) => b.has_residual(),
        }
    }
}
