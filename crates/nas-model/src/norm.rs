//! [`BatchNorm2d`]: batch normalisation of `[N, C, H, W]` feature maps whose batch statistics
//! never reduce a row longer than `max(N, H, W)`.
//!
//! burn's own `BatchNorm` computes the batch mean as `x.swap_dims(0, 1).reshape([C, N·H·W])
//! .mean_dim(1)`. On wgpu (seen on Mesa's lavapipe with burn 0.22.1) a sum over a row of
//! 65,536 elements or more comes out wrong for every 4th row — `mean_dim` on a `[16, 100352]`
//! tensor returns exactly 0 for rows 3, 7, 11 and 15 — so a 16-channel layer on 128 images of
//! 28×28 trained with wrong statistics and kept a running mean of 0 in those channels. Here the
//! statistics are means over W, then H, then N: the same numbers, through short rows, and
//! without the transposed copy `swap_dims` + `reshape` costs on the CPU backend.

use burn::module::{Module, Param, RunningState};
use burn::tensor::{Device, Tensor};

use nas_kernels::Activation;

use crate::cpu_ops::{activate, batch_norm_inference, batch_norm_train, kernels_take};

/// Batch norm over the channels of `[N, C, H, W]` inputs, PyTorch's conventions: ε = 1e-5,
/// momentum 0.1, running variance updated with the unbiased batch variance.
///
/// It normalises with batch statistics (and updates the running ones) when the input is on an
/// autodiff device, and with the running statistics otherwise (`model.valid()` on a plain
/// device).
#[derive(Module, Debug)]
pub struct BatchNorm2d {
    pub(crate) gamma: Param<Tensor<1>>,
    pub(crate) beta: Param<Tensor<1>>,
    pub(crate) running_mean: RunningState<Tensor<1>>,
    pub(crate) running_var: RunningState<Tensor<1>>,
    pub(crate) momentum: f64,
    pub(crate) epsilon: f64,
}

impl BatchNorm2d {
    /// Scale 1, shift 0, running mean 0 and variance 1, on `device`.
    pub fn new(channels: usize, device: &Device) -> BatchNorm2d {
        BatchNorm2d {
            gamma: Param::from_tensor(Tensor::ones([channels], device)),
            beta: Param::from_tensor(Tensor::zeros([channels], device)),
            running_mean: RunningState::new(Tensor::zeros([channels], device)),
            running_var: RunningState::new(Tensor::ones([channels], device)),
            momentum: 0.1,
            epsilon: 1e-5,
        }
    }

    /// Normalises `x`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.forward_activated(x, Activation::Identity)
    }

    /// `activation(self.forward(x))`; on the flex device both in one operation of
    /// nas-kernels (forward and backward).
    pub fn forward_activated(&self, x: Tensor<4>, activation: Activation) -> Tensor<4> {
        if x.is_autodiff() {
            self.forward_train(x, activation)
        } else {
            self.forward_inference(x, activation)
        }
    }

    /// The running mean, one value per channel.
    pub fn running_mean(&self) -> Tensor<1> {
        self.running_mean.value()
    }

    /// The running variance, one value per channel.
    pub fn running_var(&self) -> Tensor<1> {
        self.running_var.value()
    }

    fn forward_inference(&self, x: Tensor<4>, activation: Activation) -> Tensor<4> {
        let device = x.device();
        let mean = self.running_mean.value().to_device(&device);
        let var = self.running_var.value().to_device(&device);
        let (gamma, beta) = (self.gamma.val(), self.beta.val());
        if kernels_take(&x) {
            return batch_norm_inference(x, [gamma, beta, mean, var], self.epsilon, activation);
        }
        let out = burn::tensor::module::batch_norm(x, gamma, beta, mean, var, self.epsilon);
        activate(out, activation)
    }

    fn forward_train(&self, x: Tensor<4>, activation: Activation) -> Tensor<4> {
        let [n, _, h, w] = x.dims();
        let (out, mean, var) = if kernels_take(&x) {
            let (gamma, beta) = (self.gamma.val(), self.beta.val());
            batch_norm_train(x, gamma, beta, self.epsilon, activation)
        } else {
            let (out, mean, var) = self.normalise_by_decomposition(x);
            (activate(out, activation), mean, var)
        };

        let count = (n * h * w) as f64;
        let unbiased = if count > 1.0 {
            count / (count - 1.0)
        } else {
            1.0
        };
        let device = mean.device();
        let m = self.momentum;
        let update = |state: &RunningState<Tensor<1>>, batch: Tensor<1>, factor: f64| {
            let old = state.value_sync().to_device(&device);
            let batch = batch.detach().mul_scalar(factor * m);
            state.update(old.mul_scalar(1.0 - m).add(batch).detach());
        };
        update(&self.running_mean, mean, 1.0);
        update(&self.running_var, var, unbiased);
        out
    }

    /// The output, batch mean and biased batch variance (per channel) from burn's tensor
    /// operations, through the short rows the module docs describe.
    fn normalise_by_decomposition(&self, x: Tensor<4>) -> (Tensor<4>, Tensor<1>, Tensor<1>) {
        let c = x.dims()[1];
        let per_channel = |t: Tensor<4>| t.mean_dim(3).mean_dim(2).mean_dim(0);
        let mean = per_channel(x.clone());
        let centered = x - mean.clone();
        let var = per_channel(centered.clone().square());
        let scale =
            (var.clone() + self.epsilon).sqrt().recip() * self.gamma.val().reshape([1, c, 1, 1]);
        let out = centered * scale + self.beta.val().reshape([1, c, 1, 1]);
        (out, mean.reshape([c]), var.reshape([c]))
    }
}
