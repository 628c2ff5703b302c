//! `nas-export`: what `nas export` writes for a chosen network. An inference
//! [`nas_arch::Graph`] becomes ONNX ([`to_onnx`], protobuf through `prost`) and safetensors
//! ([`to_safetensors`]); [`ExportedArch`], [`Metrics`] and [`model_card`] are the
//! `arch.json`, `metrics.json` and `README.md` beside them.
//!
//! This crate does not depend on burn: `nas-model` turns a trained network into the graph.
#![warn(missing_docs)]

mod bundle;
mod error;
mod onnx;
mod pick;
pub mod proto;
mod weights;

pub use bundle::{
    model_card, ExportedArch, Latency, Metrics, Preprocessing, ARCH_FILE, CARD_FILE, EXPORT_FORMAT,
    METRICS_FILE, ONNX_FILE, RECORD_FILE, SAFETENSORS_FILE,
};
pub use error::ExportError;
pub use onnx::{to_onnx, ONNX_IR_VERSION, ONNX_OPSET};
pub use pick::{answers, Pick, PickError};
pub use weights::to_safetensors;
