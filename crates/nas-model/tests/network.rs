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

#[test]
fn the_inference_graph_holds_every_weight_once_with_its_op() {
    let device = flex();
    for block in blocks_of_every_kind() {
        let spec = spec_with(block);
        let network = Network::new(&spec, &device).unwrap();
        let graph = network.to_graph(&spec).unwrap();
        let mut names: Vec<&str> = graph.tensors.iter().map(|t| t.name.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), graph.tensors.len(), "weight names are unique");
        assert_eq!(graph.weight_count(), network.num_params(), "{spec:?}");
        // Every node input is the graph input, a weight or an earlier node's output.
        let mut known: std::collections::HashSet<String> =
            names.iter().map(|n| n.to_string()).collect();
        known.insert(nas_arch::GRAPH_INPUT.into());
        for node in &graph.nodes {
            for input in &node.inputs {
                assert!(known.contains(input), "{} reads unknown {input}", node.name);
            }
            known.insert(node.output.clone());
        }
        assert_eq!(graph.nodes.last().unwrap().output, nas_arch::GRAPH_OUTPUT);
        let has = |op: nas_arch::Op| graph.nodes.iter().any(|n| n.op == op);
        if let BlockSpec::InvertedResidual {
            activation,
            se_ratio,
            ..
        } = block
        {
            let act = match activation {
                Activation::Relu => nas_arch::Op::Relu,
                Activation::Relu6 => nas_arch::Op::Relu6,
                Activation::HardSwish => nas_arch::Op::HardSwish,
            };
            assert!(has(act), "{activation:?}");
            assert_eq!(has(nas_arch::Op::Sigmoid), se_ratio.is_some());
        }
    }
}

#[test]
fn a_saved_network_loads_back_with_the_same_logits() {
    let device = flex();
    let spec = spec_with(BlockSpec::InvertedResidual {
        kernel: 3,
        expansion: 3,
        activation: Activation::HardSwish,
        se_ratio: Some(0.25),
    });
    let trained = {
        let mut trainer = Trainer::new(&spec, &device, 1e-2).unwrap();
        let (images, labels) = random_batch(&spec, 8, &device);
        for _ in 0..3 {
            trainer.step(images.clone(), labels.clone());
        }
        trainer.model().valid()
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.bpk");
    trained.save(&path).unwrap();
    let loaded = Network::load(&spec, &path, &device).unwrap();
    let images = nas_data::F32Images {
        values: (0..2 * 3 * 12 * 10)
            .map(|i| (i % 17) as f32 / 17.0 - 0.5)
            .collect(),
        labels: vec![0, 1],
        shape: nas_data::ImageShape {
            channels: 3,
            height: 12,
            width: 10,
        },
    };
    let before = trained.logits(&images, &device, 2).unwrap();
    let after = loaded.logits(&images, &device, 2).unwrap();
    assert_eq!(before, after);
    let fresh = Network::new(&spec, &device)
        .unwrap()
        .logits(&images, &device, 2)
        .unwrap();
    assert_ne!(
        before, fresh,
        "the loaded weights are the trained ones, not a new draw"
    );

    let other = spec_with(BlockSpec::Vanilla { kernel: 3 });
    let err = Network::load(&other, &path, &device).unwrap_err();
    assert!(err.to_string().contains("model.bpk"), "{err}");
}
