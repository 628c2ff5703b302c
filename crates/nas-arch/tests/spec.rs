//! ArchSpec: presets, analytic counts, configurations from the lightweight space, and errors.

use std::path::Path;

use nas_arch::{
    preset, Activation, ArchSpec, BlockKind, BlockSpec, HeadSpec, InputSpec, Plan, SpecError,
    SpecOptions, StageSpec, StemSpec, ARCH_SPEC_VERSION, PRESET_NAMES,
};
use nas_core::sampler::{RandomSampler, SampleContext, Sampler};
use nas_space::{Config, ParamValue, SearchSpace};

fn one_stage(block: BlockSpec, depth: usize, width: usize, stride: usize, stem: usize) -> ArchSpec {
    ArchSpec {
        version: ARCH_SPEC_VERSION,
        input: InputSpec {
            channels: 3,
            height: 8,
            width: 8,
        },
        stem: StemSpec {
            width: stem,
            kernel: 3,
            stride: 1,
        },
        stages: vec![StageSpec {
            block,
            depth,
            width,
            stride,
        }],
        head: HeadSpec {
            conv_width: None,
            dropout: 0.0,
        },
        num_classes: 5,
    }
}

#[test]
fn bench_cnn_has_the_issue_count_and_macs() {
    let plan = Plan::of(&preset("bench-cnn").unwrap()).unwrap();
    assert_eq!(plan.params(), 31_514);
    // conv 1→16 at 28², conv 16→32 s2 at 14², IR 32→96→32 at 14², conv 32→64 s2 at 7², linear.
    let macs = 9 * 16 * 784
        + 9 * 16 * 32 * 196
        + (32 * 96 + 9 * 96 + 96 * 32) * 196
        + 9 * 32 * 64 * 49
        + 640;
    assert_eq!(plan.macs(), macs);
}

#[test]
fn presets_span_the_sizes_the_benchmarks_need() {
    let params = |n| Plan::of(&preset(n).unwrap()).unwrap().params();
    assert!(params("tiny") < 5_000);
    assert!(
        (40_000..70_000).contains(&params("small")),
        "{}",
        params("small")
    );
    assert!(
        (400_000..700_000).contains(&params("medium")),
        "{}",
        params("medium")
    );
    assert!(preset("huge").is_none());
    for name in PRESET_NAMES {
        preset(name).unwrap().validate().unwrap();
    }
}

#[test]
fn vanilla_counts() {
    let plan = Plan::of(&one_stage(BlockSpec::Vanilla { kernel: 5 }, 2, 16, 2, 8)).unwrap();
    // stem 3·8·9 + bn 16; block 1: 25·8·16 + 32; block 2: 25·16·16 + 32; linear 16·5 + 5.
    assert_eq!(plan.params(), 216 + 16 + 3200 + 32 + 6400 + 32 + 85);
    assert!(plan.blocks.iter().all(|b| !b.has_residual()));
    assert_eq!(plan.blocks[0].output.height, 4);
    assert_eq!(plan.blocks[1].stride, 1);
}

#[test]
fn bottleneck_projects_only_when_the_shape_changes() {
    let plan = Plan::of(&one_stage(
        BlockSpec::Bottleneck {
            kernel: 3,
            reduction: 4,
        },
        2,
        16,
        1,
        8,
    ))
    .unwrap();
    let kinds: Vec<_> = plan.blocks.iter().map(|b| b.kind).collect();
    assert!(matches!(
        kinds[0],
        BlockKind::Bottleneck {
            mid_channels: 4,
            projection: true,
            ..
        }
    ));
    assert!(matches!(
        kinds[1],
        BlockKind::Bottleneck {
            mid_channels: 4,
            projection: false,
            ..
        }
    ));
    // block 1: reduce 8·4+8, 3×3 9·4·4+8, expand 4·16+32, shortcut 8·16+32; block 2 without shortcut.
    let block1 = 40 + 152 + 96 + 160;
    let block2 = (16 * 4 + 8) + 152 + 96;
    assert_eq!(plan.params(), 216 + 16 + block1 + block2 + 85);
    let strided = Plan::of(&one_stage(
        BlockSpec::Bottleneck {
            kernel: 3,
            reduction: 4,
        },
        1,
        8,
        2,
        8,
    ))
    .unwrap();
    assert!(matches!(
        strided.blocks[0].kind,
        BlockKind::Bottleneck {
            projection: true,
            ..
        }
    ));
}

#[test]
fn inverted_residual_adds_only_at_stride_one_and_equal_widths() {
    let block = BlockSpec::InvertedResidual {
        kernel: 3,
        expansion: 6,
        activation: Activation::HardSwish,
        se_ratio: Some(0.25),
    };
    let plan = Plan::of(&one_stage(block, 2, 8, 1, 8)).unwrap();
    assert!(plan.blocks.iter().all(|b| b.has_residual()));
    let BlockKind::InvertedResidual {
        hidden_channels,
        se_channels,
        expand,
        ..
    } = plan.blocks[0].kind
    else {
        panic!()
    };
    assert_eq!((hidden_channels, se_channels, expand), (48, Some(12), true));
    // expand 8·48+96, depthwise 9·48+96, SE 48·12+12 + 12·48+48, project 48·8+16.
    let block_params = 480 + 528 + 588 + 624 + 400;
    assert_eq!(plan.params(), 216 + 16 + 2 * block_params + 45);
    assert!(!Plan::of(&one_stage(block, 1, 16, 1, 8)).unwrap().blocks[0].has_residual());
    assert!(!Plan::of(&one_stage(block, 1, 8, 2, 8)).unwrap().blocks[0].has_residual());
    let no_expand = BlockSpec::InvertedResidual {
        kernel: 3,
        expansion: 1,
        activation: Activation::Relu,
        se_ratio: None,
    };
    let plan = Plan::of(&one_stage(no_expand, 1, 8, 1, 8)).unwrap();
    assert!(plan.layers().iter().all(|l| !l.name.contains("expand")));
}

#[test]
fn invalid_specs_are_rejected_with_the_part_named() {
    let good = one_stage(BlockSpec::Vanilla { kernel: 3 }, 1, 8, 2, 8);
    type Case = (Box<dyn Fn(&mut ArchSpec)>, &'static str);
    let cases: Vec<Case> = vec![
        (
            Box::new(|s| s.stages[0].block = BlockSpec::Vanilla { kernel: 4 }),
            "stage 1 kernel: kernel 4 must be odd",
        ),
        (
            Box::new(|s| s.stages[0].width = 0),
            "stage 1 width: must be at least 1",
        ),
        (Box::new(|s| s.stem.width = 0), "stem.width"),
        (Box::new(|s| s.num_classes = 0), "num_classes"),
        (
            Box::new(|s| s.head.dropout = 1.0),
            "head.dropout: 1 is not in [0, 1)",
        ),
        (Box::new(|s| s.version = 7), "version 7 is not supported"),
        (Box::new(|s| s.stages.clear()), "stages: no stages"),
        (
            Box::new(|s| {
                s.stages[0].block = BlockSpec::InvertedResidual {
                    kernel: 3,
                    expansion: 2,
                    activation: Activation::Relu,
                    se_ratio: Some(0.0),
                }
            }),
            "se_ratio: 0 is not in (0, 1]",
        ),
        (
            Box::new(|s| {
                s.stages = vec![
                    StageSpec {
                        block: BlockSpec::Vanilla { kernel: 3 },
                        depth: 1,
                        width: 8,
                        stride: 2
                    };
                    5
                ]
            }),
            "stage 4 block 1: stride 2 on a 1×1 feature map",
        ),
    ];
    for (change, message) in cases {
        let mut spec = good.clone();
        change(&mut spec);
        let err = spec.validate().unwrap_err().to_string();
        assert!(err.contains(message), "{err:?} lacks {message:?}");
        assert!(Plan::of(&spec).is_err());
    }
}

fn lightweight() -> SearchSpace {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../search_spaces/lightweight.toml");
    SearchSpace::from_toml_file(&path).unwrap()
}

fn samples(space: &SearchSpace, n: u64) -> Vec<Config> {
    let mut sampler = RandomSampler::new(11);
    (0..n)
        .map(|number| {
            sampler
                .sample(&SampleContext {
                    space,
                    directions: &[],
                    trials: &[],
                    number,
                })
                .unwrap()
        })
        .collect()
}

#[test]
fn every_sampled_lightweight_configuration_becomes_a_valid_spec() {
    let space = lightweight();
    let options = SpecOptions::new(1, 28, 10);
    let mut block_types = std::collections::BTreeSet::new();
    for config in samples(&space, 300) {
        let spec = ArchSpec::from_config(&config, &options).unwrap();
        assert_eq!(
            spec.stages.len() as i64,
            config["num_stages"].as_i64().unwrap()
        );
        for (n, stage) in spec.stages.iter().enumerate() {
            let width = config[&format!("stage{}.width", n + 1)].as_i64().unwrap() as usize;
            assert_eq!(
                stage.width, width,
                "widths in the space are already multiples of 8"
            );
            assert_eq!(
                stage.block.type_name(),
                config[&format!("stage{}.block", n + 1)].as_str().unwrap()
            );
            block_types.insert(stage.block.type_name());
        }
        assert_eq!(
            spec.head.conv_width.is_some(),
            config["arch.head_conv"] == ParamValue::Bool(true)
        );
        let plan = Plan::of(&spec).unwrap();
        assert!(plan.params() > 0 && plan.macs() > 0);
        let back: ArchSpec = serde_json::from_str(&spec.to_json()).unwrap();
        assert_eq!(back, spec);
    }
    assert_eq!(block_types.len(), 3);
}

#[test]
fn configuration_errors_name_the_parameter() {
    let space = lightweight();
    let config = samples(&space, 1).remove(0);
    let options = SpecOptions::new(1, 28, 10);
    let mut missing = config.clone();
    missing.remove("stage1.width");
    let err = ArchSpec::from_config(&missing, &options)
        .unwrap_err()
        .to_string();
    assert_eq!(err, "configuration has no `stage1.width`");
    let mut bad = config.clone();
    bad.insert("stage1.block".into(), ParamValue::Str("transformer".into()));
    let err = ArchSpec::from_config(&bad, &options)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(
            "`stage1.block` = \"transformer\": expected vanilla, bottleneck or inverted_residual"
        ),
        "{err}"
    );
    let mut negative = config.clone();
    negative.insert("stage1.depth".into(), ParamValue::Int(-1));
    let err = ArchSpec::from_config(&negative, &options)
        .unwrap_err()
        .to_string();
    assert!(err.contains("`stage1.depth` = -1"), "{err}");
    // A stride-2 stem on 1×1 images: a configuration adapts it to stride 1, a spec written
    // by hand with that stride is refused.
    let mut deep = config;
    deep.insert("num_stages".into(), ParamValue::Int(1));
    deep.insert("arch.stem_stride".into(), ParamValue::Int(2));
    let tiny = SpecOptions::new(1, 1, 10);
    let mut spec = ArchSpec::from_config(&deep, &tiny).unwrap();
    assert_eq!(spec.stem.stride, 1);
    spec.stem.stride = 2;
    let err = spec.validate().unwrap_err();
    assert!(matches!(err, SpecError::ResolutionTooSmall { .. }), "{err}");
}

#[test]
fn widths_are_rounded_to_the_configured_multiple() {
    let mut config = Config::new();
    for (k, v) in [
        ("arch.stem_width", ParamValue::Int(13)),
        ("stage1.block", ParamValue::Str("vanilla".into())),
        ("stage1.vanilla.kernel", ParamValue::Int(3)),
        ("stage1.width", ParamValue::Int(3)),
        ("stage1.depth", ParamValue::Int(1)),
        ("stage1.stride", ParamValue::Int(1)),
    ] {
        config.insert(k.into(), v);
    }
    let mut options = SpecOptions::new(3, 32, 10);
    let spec = ArchSpec::from_config(&config, &options).unwrap();
    assert_eq!((spec.stem.width, spec.stages[0].width), (16, 8));
    assert_eq!(
        spec.stages.len(),
        1,
        "without num_stages, stages are counted by stage<N>.block"
    );
    options.width_multiple = 1;
    let spec = ArchSpec::from_config(&config, &options).unwrap();
    assert_eq!((spec.stem.width, spec.stages[0].width), (13, 3));
}

#[test]
fn json_files_are_checked_and_errors_name_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("arch.json");
    let spec = preset("small").unwrap();
    std::fs::write(&path, spec.to_json()).unwrap();
    assert_eq!(ArchSpec::from_json_file(&path).unwrap(), spec);
    let broken = spec
        .to_json()
        .replace("\"kernel\": 5", "\"kernel\": 5, \"colour\": 1");
    std::fs::write(&path, broken).unwrap();
    let err = ArchSpec::from_json_file(&path).unwrap_err().to_string();
    assert!(
        err.starts_with(&format!("{}: line ", path.display())) && err.contains("colour"),
        "{err}"
    );
    let invalid = spec.to_json().replace("\"kernel\": 5", "\"kernel\": 4");
    std::fs::write(&path, invalid).unwrap();
    let err = ArchSpec::from_json_file(&path).unwrap_err().to_string();
    assert!(
        err.contains("arch.json: stage 3 kernel: kernel 4 must be odd"),
        "{err}"
    );
}

#[test]
fn the_summary_names_every_stage_with_its_block_parameters() {
    for name in nas_arch::PRESET_NAMES {
        let spec = nas_arch::preset(name).expect("a preset");
        check_summary(&spec);
    }
}

fn check_summary(spec: &nas_arch::ArchSpec) {
    let summary = spec.summary();
    assert!(
        summary.starts_with(&format!("stem {}", spec.stem.width)),
        "{summary}"
    );
    assert_eq!(
        summary.matches(" · ").count(),
        spec.stages.len() + usize::from(spec.head.conv_width.is_some())
    );
    for stage in &spec.stages {
        assert!(
            summary.contains(&format!("×{} → {}", stage.depth, stage.width)),
            "{summary}"
        );
    }
}
