//! `nas-model`: candidate networks on burn. Builds a [`Network`] from an
//! [`nas_arch::ArchSpec`] (blocks [`VanillaConv`], [`BottleNeck`], [`InvertedResidual`]),
//! picks the backend at run time ([`BackendKind`]), and measures inference latency and
//! training throughput. A trained network is saved as a burn record and exported as a
//! framework-free inference graph ([`Network::to_graph`]).
#![warn(missing_docs)]

mod backend;
mod blocks;
pub mod check;
mod churn;
mod conv_ops;
mod cpu_ops;
mod error;
mod feed;
mod graph;
mod measure;
mod network;
mod norm;

pub use backend::{auto_backend, cpu_threads, device_name, BackendKind, ALL_BACKENDS};
pub use blocks::{conv2d, Block, BottleNeck, ConvBn, InvertedResidual, SqueezeExcite, VanillaConv};
/// burn's run-time device, re-exported so that callers need not depend on burn.
pub use burn::tensor::Device;
pub use churn::{churn, peak_resident_bytes, resident_bytes, ChurnRow};
pub use conv_ops::{layer_shapes, time_ops, LayerShape, OpTimes};
pub use cpu_ops::{conv_forward, without_cpu_kernels};
pub use error::ModelError;
pub use feed::{Batches, DeviceImages};
pub use measure::{
    measure_latency, measure_training, peak_pool_bytes, percentile, random_batch, sync,
    LatencySettings, LatencyStats, TrainSettings, TrainStats, Trainer,
};
pub use network::Network;
pub use norm::BatchNorm2d;
