//! Networks adapt to the input's size (stem stride, strides that would leave a map under
//! 2×2), and the built-in spaces are what a `--space` value names.

use nas_arch::{
    stem_for, ArchSpec, Plan, SpaceSource, SpecOptions, BUILTIN_SPACES, DEFAULT_SPACE,
    MIN_STRIDED_OUTPUT,
};
use nas_core::sampler::{RandomSampler, SampleContext, Sampler};
use nas_space::{Config, ParamValue, SearchSpace};

fn samples(space: &SearchSpace, n: u64, seed: u64) -> Vec<Config> {
    let mut sampler = RandomSampler::new(seed);
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

fn builtin(name: &str) -> SearchSpace {
    SpaceSource::parse(name).load().unwrap()
}

/// Four vanilla stages of stride 2, width 8.
fn four_halvings() -> Config {
    let mut config = Config::new();
    let mut set = |k: &str, v: ParamValue| {
        config.insert(k.to_string(), v);
    };
    set("arch.stem_width", ParamValue::Int(8));
    set("num_stages", ParamValue::Int(4));
    for n in 1..=4 {
        set(
            &format!("stage{n}.block"),
            ParamValue::Str("vanilla".into()),
        );
        set(&format!("stage{n}.width"), ParamValue::Int(8));
        set(&format!("stage{n}.depth"), ParamValue::Int(1));
        set(&format!("stage{n}.stride"), ParamValue::Int(2));
        set(&format!("stage{n}.vanilla.kernel"), ParamValue::Int(3));
    }
    config
}

fn strides(spec: &ArchSpec) -> Vec<usize> {
    std::iter::once(spec.stem.stride)
        .chain(spec.stages.iter().map(|s| s.stride))
        .collect()
}

#[test]
fn strides_that_would_leave_a_map_under_2x2_become_1() {
    let config = four_halvings();
    let at = |size: usize| ArchSpec::from_config(&config, &SpecOptions::new(1, size, 10)).unwrap();
    // 8 → 4 → 2, then two stages that keep 2×2.
    assert_eq!(strides(&at(8)), [1, 2, 2, 1, 1]);
    assert_eq!(
        Plan::of(&at(8))
            .unwrap()
            .blocks
            .last()
            .unwrap()
            .output
            .height,
        2
    );
    // 28 → 14 → 7 → 4 → 2 and 32 → … → 2: the sampled strides stand.
    assert_eq!(strides(&at(28)), [1, 2, 2, 2, 2]);
    assert_eq!(strides(&at(32)), [1, 2, 2, 2, 2]);
    // 12 → 6 → 3 → 2, then 2×2 stays.
    assert_eq!(strides(&at(12)), [1, 2, 2, 2, 1]);
    // 64: the stem halves it, 32 → … → 2.
    assert_eq!(strides(&at(64)), [2, 2, 2, 2, 2]);
    // 224: a 5×5 stem of stride 4 → 56 → 28 → 14 → 7 → 4.
    let large = at(224);
    assert_eq!((large.stem.kernel, large.stem.stride), (5, 4));
    assert_eq!(
        Plan::of(&large)
            .unwrap()
            .blocks
            .last()
            .unwrap()
            .output
            .height,
        4
    );
}

#[test]
fn the_stem_grows_with_the_input() {
    assert_eq!(stem_for(8), (3, 1));
    assert_eq!(stem_for(63), (3, 1));
    assert_eq!(stem_for(64), (3, 2));
    assert_eq!(stem_for(128), (5, 4));
    assert_eq!(stem_for(255), (5, 4));
    assert_eq!(stem_for(256), (9, 8));
    assert_eq!(stem_for(1024), (33, 32));
    // Every stem sees every pixel (kernel ≥ stride) and leaves 32–64 px from 64 px on.
    for size in 64..=1024 {
        let (kernel, stride) = stem_for(size);
        assert!(kernel >= stride && kernel % 2 == 1, "{size}");
        assert!((32..=64).contains(&size.div_ceil(stride)), "{size}");
    }
}

#[test]
fn every_sampled_network_fits_every_input_size() {
    for builtin_space in BUILTIN_SPACES {
        let space = builtin(builtin_space.name);
        for size in [8, 9, 12, 16, 28, 32, 48, 64, 96, 224] {
            for config in samples(&space, 150, size as u64) {
                let spec = ArchSpec::from_config(&config, &SpecOptions::new(3, size, 7))
                    .unwrap_or_else(|e| panic!("{} at {size}: {e}", builtin_space.name));
                let plan = Plan::of(&spec).unwrap();
                for block in plan.blocks.iter().filter(|b| b.stride > 1) {
                    assert!(
                        block.output.height >= MIN_STRIDED_OUTPUT,
                        "{} at {size}: {} strides to {}",
                        builtin_space.name,
                        block.name(),
                        block.output.height
                    );
                }
                // At the sizes the spaces were written for, nothing is changed.
                if size == 28 || size == 32 {
                    for (n, stage) in spec.stages.iter().enumerate() {
                        let sampled = config[&format!("stage{}.stride", n + 1)].as_i64();
                        assert_eq!(Some(stage.stride as i64), sampled);
                    }
                }
            }
        }
    }
}

#[test]
fn a_space_value_is_a_built_in_name_a_file_or_a_legacy_path() {
    assert_eq!(DEFAULT_SPACE, "lightweight");
    let lightweight = builtin("lightweight");
    let repo_file = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../search_spaces/lightweight.toml"
    );
    assert!(matches!(
        SpaceSource::parse(repo_file),
        SpaceSource::File(_)
    ));
    assert_eq!(
        SpaceSource::parse(repo_file).load().unwrap().params(),
        lightweight.params(),
        "the built-in space is the repository's file"
    );
    // Studies saved before spaces were built in name `search_spaces/<name>.toml`.
    let dir = tempfile::tempdir().unwrap();
    let legacy = dir.path().join("search_spaces").join("compact.toml");
    let legacy = legacy.to_str().unwrap();
    assert!(matches!(SpaceSource::parse(legacy), SpaceSource::Builtin(b) if b.name == "compact"));
    // A missing file elsewhere is an error naming it and the built-in spaces.
    let missing = dir.path().join("mine.toml");
    let err = SpaceSource::parse(missing.to_str().unwrap())
        .load()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("mine.toml") && err.contains("lightweight, compact"),
        "{err}"
    );
    // A file beats a name.
    let shadow = dir.path().join("lightweight");
    std::fs::write(&shadow, "[params.x]\nchoices = [1, 2]\n").unwrap();
    assert_eq!(
        SpaceSource::parse(shadow.to_str().unwrap())
            .load()
            .unwrap()
            .len(),
        1
    );
}
