//! Networks on burn's pure-Rust CPU backend: shapes, residuals, parameter counts, training.

use burn::module::Module;
use burn::tensor::{Device, Distribution, Tensor};
use nas_arch::{
    preset, Activation, ArchSpec, BlockSpec, HeadSpec, InputSpec, Plan, SpecOptions, StageSpec,
    StemSpec, ARCH_SPEC_VERSION, PRESET_NAMES,
};
use nas_model::{random_batch, BackendKind, Block, ModelError, Network, Trainer};

fn flex() -> Device {
    BackendKind::Flex.device().unwrap()
}

fn blocks_of_every_kind() -> Vec<BlockSpec> {
    let ir = |expansion, activation, se_ratio| BlockSpec::InvertedResidual {
        kernel: 3,
        expansion,
        activation,
        se_ratio,
    };
    vec![
        BlockSpec::Vanilla { kernel: 3 },
        BlockSpec::Vanilla { kernel: 5 },
        BlockSpec::Bottleneck {
            kernel: 3,
            reduction: 2,
        },
        BlockSpec::Bottleneck {
            kernel: 5,
            reduction: 4,
        },
        ir(1, Activation::Relu, None),
        ir(3, Activation::Relu6, None),
        ir(6, Activation::HardSwish, Some(0.25)),
        BlockSpec::InvertedResidual {
            kernel: 7,
            expansion: 3,
            activation: Activation::Relu6,
            se_ratio: Some(0.125),
        },
    ]
}

/// Two stages of `block`: the first changes width and stride, the second keeps them, so both
/// shortcut cases occur.
fn spec_with(block: BlockSpec) -> ArchSpec {
    ArchSpec {
        version: ARCH_SPEC_VERSION,
        input: InputSpec {
            channels: 3,
            height: 12,
            width: 10,
        },
        stem: StemSpec {
            width: 8,
            kernel: 3,
            stride: 1,
        },
        stages: vec![
            StageSpec {
                block,
                depth: 2,
                width: 16,
                stride: 2,
            },
            StageSpec {
                block,
                depth: 1,
                width: 16,
                stride: 1,
            },
        ],
        head: HeadSpec {
            conv_width: Some(24),
            dropout: 0.1,
        },
        num_classes: 7,
    }
}

#[test]
fn trainable_parameters_equal_the_analytic_count() {
    let device = flex();
    let specs = blocks_of_every_kind()
        .into_iter()
        .map(spec_with)
        .chain(PRESET_NAMES.map(|n| preset(n).unwrap()));
    for spec in specs {
        let plan = Plan::of(&spec).unwrap();
        let network = Network::new(&spec, &device).unwrap();
        assert_eq!(network.trainable_params(), plan.params(), "{spec:?}");
        let bn_channels: u64 = plan
            .layers()
            .iter()
            .filter_map(|l| match l.kind {
                nas_arch::LayerKind::BatchNorm { channels } => Some(channels as u64),
                _ => None,
            })
            .sum();
        assert_eq!(
            network.num_params() as u64,
            plan.params() + 2 * bn_channels,
            "running stats are not trainable"
        );
    }
}

#[test]
fn every_block_has_the_planned_output_shape_and_residual() {
    let device = flex();
    for block in blocks_of_every_kind() {
        let plan = Plan::of(&spec_with(block)).unwrap();
        for bp in &plan.blocks {
            let built = Block::new(bp, &device);
            assert_eq!(built.has_residual(), bp.has_residual(), "{bp:?}");
            let x = Tensor::<4>::random(
                [2, bp.in_channels, bp.input.height, bp.input.width],
                Distribution::Default,
                &device,
            );
            let y = built.forward(x);
            assert_eq!(
                y.dims(),
                [2, bp.out_channels, bp.output.height, bp.output.width],
                "{bp:?}"
            );
        }
        let residuals: Vec<bool> = plan.blocks.iter().map(|b| b.has_residual()).collect();
        match block {
            BlockSpec::Vanilla { .. } => assert_eq!(residuals, [false, false, false]),
            BlockSpec::Bottleneck { .. } => assert_eq!(residuals, [true, true, true]),
            BlockSpec::InvertedResidual { .. } => assert_eq!(residuals, [false, true, true]),
        }
    }
}

#[test]
fn a_residual_block_passes_its_input_through() {
    // With every weight of an inverted residual zeroed except batch norm's shift (also zero),
    // its branch outputs 0, so the block is the identity exactly when it has a residual.
    let device = flex();
    for (width, stride, identity) in [(8, 1, true), (16, 1, false)] {
        let block = BlockSpec::InvertedResidual {
            kernel: 3,
            expansion: 2,
            activation: Activation::Relu,
            se_ratio: None,
        };
        let mut spec = spec_with(block);
        spec.stem.width = 8;
        spec.stages = vec![StageSpec {
            block,
            depth: 1,
            width,
            stride,
        }];
        let plan = Plan::of(&spec).unwrap();
        let zeroed = Block::new(&plan.blocks[0], &device).map(&mut Zero);
        let x = Tensor::<4>::random([1, 8, 6, 6], Distribution::Default, &device);
        let y = zeroed.forward(x.clone());
        if identity {
            let diff: f32 = (y - x).abs().max().into_scalar();
            assert!(diff < 1e-6, "{diff}");
        } else {
            assert_eq!(y.dims()[1], 16);
            let sum: f32 = y.abs().sum().into_scalar();
            assert_eq!(sum, 0.0);
        }
    }
}

/// Sets every float parameter to zero.
struct Zero;

impl burn::module::ModuleMapper for Zero {
    fn map_float<const D: usize>(
        &mut self,
        param: burn::module::Param<Tensor<D>>,
    ) -> burn::module::Param<Tensor<D>> {
        param.map(|t| t.zeros_like())
    }
}

#[test]
fn a_sampled_lightweight_network_classifies_a_batch() {
    let space = nas_core::space::SearchSpace::from_toml_file(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../search_spaces/lightweight.toml"),
    )
    .unwrap();
    let mut sampler = nas_core::sampler::RandomSampler::new(5);
    let device = flex();
    for number in 0..6 {
        use nas_core::sampler::{SampleContext, Sampler};
        let config = sampler
            .sample(&SampleContext {
                space: &space,
                directions: &[],
                trials: &[],
                number,
            })
            .unwrap();
        let spec = ArchSpec::from_config(&config, &SpecOptions::new(1, 28, 10)).unwrap();
        let network = Network::new(&spec, &device).unwrap();
        let logits = network.forward(Tensor::<4>::random(
            [3, 1, 28, 28],
            Distribution::Default,
            &device,
        ));
        assert_eq!(logits.dims(), [3, 10]);
        let values = logits.try_into_vec_as::<f32>().unwrap();
        assert!(values.iter().all(|v| v.is_finite()));
    }
}

#[test]
fn adam_steps_lower_the_loss_on_a_fixed_batch() {
    let device = flex();
    device.seed(3);
    let spec = preset("tiny").unwrap();
    let mut trainer = Trainer::new(&spec, &device, 1e-2).unwrap();
    let (images, labels) = random_batch(&spec, 16, &device);
    let losses: Vec<f32> = (0..8)
        .map(|_| {
            trainer
                .step(images.clone(), labels.clone())
                .into_scalar::<f32>()
        })
        .collect();
    assert!(losses[1] < losses[0], "{losses:?}");
    assert!(losses[7] < 0.8 * losses[0], "{losses:?}");
}

#[test]
fn an_invalid_spec_is_refused_before_anything_is_built() {
    let mut spec = preset("tiny").unwrap();
    spec.stages[0].block = BlockSpec::Vanilla { kernel: 2 };
    let err = Network::new(&spec, &flex()).unwrap_err();
    assert!(matches!(err, ModelError::Spec(_)));
    assert_eq!(
        err.to_string(),
        "stage 1 kernel: kernel 2 must be odd (1, 3, 5, …) so that padding keeps the centre"
    );
}

#[test]
fn backends_parse_and_report_missing_features() {
    assert_eq!("flex".parse::<BackendKind>().unwrap(), BackendKind::Flex);
    let err = "tpu".parse::<BackendKind>().unwrap_err().to_string();
    assert_eq!(
        err,
        "unknown backend `tpu`: expected wgpu, vulkan, cuda, flex or cpu"
    );
    if !BackendKind::Cuda.is_compiled() {
        let err = BackendKind::Cuda.device().unwrap_err().to_string();
        assert!(
            err.contains("rebuild with `--features nas-model/cuda`"),
            "{err}"
        );
    }
}
