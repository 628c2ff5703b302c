//! `nas-arch`: [`ArchSpec`], a framework-free, versioned, serde-serialisable description of
//! one candidate network (input, stem, stages of VanillaConv / BottleNeck / InvertedResidual
//! blocks, head), made from a sampled configuration with [`ArchSpec::from_config`], resolved
//! into blocks and layers by [`Plan`], with analytic trainable-parameter and MAC counts.
//!
//! A trained network is exported as a [`Graph`]: framework-free inference nodes and named
//! weights. The search spaces of such networks that ship with nas are compiled in
//! ([`BUILTIN_SPACES`], [`SpaceSource`]).
//!
//! This crate does not depend on burn: `nas-model` builds the burn network from a [`Plan`].
#![warn(missing_docs)]

mod config;
mod error;
mod graph;
mod plan;
mod presets;
mod spaces;
mod spec;

pub use config::{stem_for, SpecOptions, MIN_STRIDED_OUTPUT};
pub use error::SpecError;
pub use graph::{Graph, NamedTensor, Node, Op, GRAPH_INPUT, GRAPH_OUTPUT};
pub use plan::{BlockKind, BlockPlan, Conv, Layer, LayerKind, Plan, Resolution};
pub use presets::{preset, PRESET_NAMES};
pub use spaces::{builtin_space, BuiltinSpace, SpaceSource, BUILTIN_SPACES, DEFAULT_SPACE};
pub use spec::{
    Activation, ArchSpec, BlockSpec, HeadSpec, InputSpec, StageSpec, StemSpec, ARCH_SPEC_VERSION,
    MAX_BLOCKS, MAX_SIZE,
};
