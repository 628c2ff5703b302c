//! CPU kernels for exactly the operations nas's networks train with, on `f32` tensors in NCHW
//! order held as plain slices: dense and grouped 2-D convolution (im2col and a GEMM from the
//! `gemm` crate), depthwise convolution (direct loops), and batch norm fused with the
//! activation after it (ReLU, ReLU6, hard-swish), each forward and backward (input and weight
//! gradients). Work is split across images or
//! channels with rayon; im2col buffers are kept per thread and reused between calls.
//!
//! Burn-free: the backend that routes burn's operations here lives with the model code. Every
//! kernel is checked against the plain loops of the definitions (`tests/`).

#![warn(missing_docs)]

mod activation;
mod batch_norm;
mod conv;
mod depthwise;
mod scratch;
mod shape;
mod taps;
mod tasks;

pub use activation::{activation_backward, activation_forward, Activation};
pub use batch_norm::{BatchNorm, BatchNormGrads, BatchNormStats};
pub use conv::{conv2d_backward_input, conv2d_backward_weight, conv2d_forward};
pub use shape::{Conv2dShape, KernelError};
