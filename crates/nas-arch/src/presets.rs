//! Built-in specs for benchmarks and tests, all for 1×28×28 images and 10 classes.

use crate::spec::{
    Activation, ArchSpec, BlockSpec, HeadSpec, InputSpec, StageSpec, StemSpec, ARCH_SPEC_VERSION,
};

/// Names accepted by [`preset`].
pub const PRESET_NAMES: [&str; 4] = ["tiny", "small", "medium", "bench-cnn"];

/// A built-in spec by name: `tiny` (≈ 2.5 k parameters), `small` (≈ 50 k), `medium`
/// (≈ 500 k) or `bench-cnn` (the 31,514-parameter CNN that `nas bench train` times).
pub fn preset(name: &str) -> Option<ArchSpec> {
    Some(match name {
        "tiny" => tiny(),
        "small" => small(),
        "medium" => medium(),
        "bench-cnn" => bench_cnn(),
        _ => return None,
    })
}

fn spec(stem: usize, stages: Vec<StageSpec>, head: HeadSpec) -> ArchSpec {
    ArchSpec {
        version: ARCH_SPEC_VERSION,
        input: InputSpec {
            channels: 1,
            height: 28,
            width: 28,
        },
        stem: StemSpec {
            width: stem,
            kernel: 3,
            stride: 1,
        },
        stages,
        head,
        num_classes: 10,
    }
}

fn stage(block: BlockSpec, depth: usize, width: usize, stride: usize) -> StageSpec {
    StageSpec {
        block,
        depth,
        width,
        stride,
    }
}

fn inverted(
    kernel: usize,
    expansion: usize,
    activation: Activation,
    se_ratio: Option<f64>,
) -> BlockSpec {
    BlockSpec::InvertedResidual {
        kernel,
        expansion,
        activation,
        se_ratio,
    }
}

const NO_HEAD: HeadSpec = HeadSpec {
    conv_width: None,
    dropout: 0.0,
};

/// Two small stages: a strided vanilla conv and an inverted residual.
fn tiny() -> ArchSpec {
    spec(
        8,
        vec![
            stage(BlockSpec::Vanilla { kernel: 3 }, 1, 16, 2),
            stage(inverted(3, 3, Activation::Relu6, None), 1, 16, 1),
        ],
        NO_HEAD,
    )
}

/// MobileNet-like: inverted residuals with SE and hard-swish.
fn small() -> ArchSpec {
    spec(
        16,
        vec![
            stage(BlockSpec::Vanilla { kernel: 3 }, 1, 24, 2),
            stage(inverted(3, 3, Activation::Relu6, None), 2, 32, 2),
            stage(inverted(5, 3, Activation::HardSwish, Some(0.25)), 2, 40, 2),
        ],
        HeadSpec {
            conv_width: None,
            dropout: 0.1,
        },
    )
}

/// All three block types and a head convolution.
fn medium() -> ArchSpec {
    spec(
        32,
        vec![
            stage(
                BlockSpec::Bottleneck {
                    kernel: 3,
                    reduction: 2,
                },
                1,
                48,
                1,
            ),
            stage(inverted(5, 6, Activation::HardSwish, Some(0.25)), 2, 64, 2),
            stage(inverted(3, 4, Activation::HardSwish, Some(0.25)), 2, 96, 2),
            stage(BlockSpec::Vanilla { kernel: 3 }, 1, 112, 2),
        ],
        HeadSpec {
            conv_width: Some(192),
            dropout: 0.2,
        },
    )
}

/// The benchmark CNN: conv3×3 1→16; conv3×3 16→32 stride 2; inverted residual 32→96→32
/// (ReLU6, residual); conv3×3 32→64 stride 2; average pool; linear 64→10. 31,514 trainable
/// parameters.
fn bench_cnn() -> ArchSpec {
    spec(
        16,
        vec![
            stage(BlockSpec::Vanilla { kernel: 3 }, 1, 32, 2),
            stage(inverted(3, 3, Activation::Relu6, None), 1, 32, 1),
            stage(BlockSpec::Vanilla { kernel: 3 }, 1, 64, 2),
        ],
        NO_HEAD,
    )
}
