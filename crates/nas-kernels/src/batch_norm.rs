//! Batch norm over NCHW input, fused with the activation that follows it ([`BatchNorm`]).
//!
//! Training forward, per channel: the mean and the (biased) variance over images and pixels
//! in one pass (sixteen `f32` lanes per plane, the planes added in `f64`), then one pass that
//! writes `act(γ · x̂ + β)`. Backward, per channel: one pass for `Σ g` and `Σ g · (x − mean)`
//! where `g = dy · act'(z)` is recomputed from the input (nothing but the input and the
//! statistics is kept), and one pass for the input gradient. Each channel is one task, both
//! passes back to back, so its planes are still in cache for the second. Inference is one pass
//! with the running statistics.

use multiversion::multiversion;
use rayon::prelude::*;

use crate::activation::{with_elementwise, Elementwise};
use crate::shape::{check_lengths, KernelError};
use crate::tasks::min_items;
use crate::Activation;

/// Sums kept side by side in a plane's loops (the compiler maps them onto SIMD registers; the
/// order of the additions, so the result, is the same on every CPU).
const LANES: usize = 16;

/// What the training forward pass measured, per channel (the backward pass and the running
/// statistics need it).
#[derive(Debug, Clone, PartialEq)]
pub struct BatchNormStats {
    /// Mean over images and pixels.
    pub mean: Vec<f32>,
    /// Variance over images and pixels, divided by their count (biased).
    pub var: Vec<f32>,
    /// `1 / sqrt(var + eps)`.
    pub inv_std: Vec<f32>,
}

/// The gradients of batch norm's scale and shift, per channel.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchNormGrads {
    /// Of the scale (γ).
    pub gamma: Vec<f32>,
    /// Of the shift (β).
    pub beta: Vec<f32>,
}

/// One batch-norm layer and its activation over `[batch, channels, pixels]` (pixels = height
/// × width): `output = act(γ · (input − mean) / sqrt(var + eps) + β)`.
#[derive(Debug, Clone, Copy)]
pub struct BatchNorm<'a> {
    /// Images.
    pub batch: usize,
    /// Channels.
    pub channels: usize,
    /// Pixels per plane.
    pub pixels: usize,
    /// Scale per channel.
    pub gamma: &'a [f32],
    /// Shift per channel.
    pub beta: &'a [f32],
    /// Added to the variance.
    pub eps: f32,
    /// Applied to the normalised values.
    pub activation: Activation,
}

impl BatchNorm<'_> {
    fn len(&self) -> usize {
        self.batch * self.channels * self.pixels
    }

    /// Checks the sizes, γ and β, and `slices` (what, length, expected length).
    fn check(&self, slices: &[(&'static str, usize, usize)]) -> Result<(), KernelError> {
        for (what, v) in [
            ("batch", self.batch),
            ("channels", self.channels),
            ("pixels", self.pixels),
        ] {
            if v == 0 {
                return Err(KernelError::Zero { what });
            }
        }
        check_lengths(&[
            ("gamma", self.gamma.len(), self.channels),
            ("beta", self.beta.len(), self.channels),
        ])?;
        check_lengths(slices)
    }

    /// The planes of channel `c` of `data`, image by image.
    fn planes<'d>(&self, data: &'d [f32], c: usize) -> impl Iterator<Item = &'d [f32]> + 'd {
        let (channels, pixels) = (self.channels, self.pixels);
        (0..self.batch).map(move |n| &data[(n * channels + c) * pixels..][..pixels])
    }

    /// The planes of `data` grouped by channel: entry `c` holds channel `c`'s planes, image
    /// by image, so each channel can be written by its own task.
    fn planes_by_channel<'d>(&self, data: &'d mut [f32]) -> Vec<Vec<&'d mut [f32]>> {
        let mut by_channel: Vec<Vec<&mut [f32]>> = (0..self.channels)
            .map(|_| Vec::with_capacity(self.batch))
            .collect();
        for (j, plane) in data.chunks_mut(self.pixels).enumerate() {
            by_channel[j % self.channels].push(plane);
        }
        by_channel
    }

    /// Normalises `input` with its own statistics into `output` and returns them.
    pub fn forward_train(
        &self,
        input: &[f32],
        output: &mut [f32],
    ) -> Result<BatchNormStats, KernelError> {
        self.check(&[
            ("input", input.len(), self.len()),
            ("output", output.len(), self.len()),
        ])?;
        let count = (self.batch * self.pixels) as f64;
        let per_channel: Vec<(f32, f32, f32)> = self
            .planes_by_channel(output)
            .into_par_iter()
            .enumerate()
            .map(|(c, out)| {
                // Shifted by the channel's first value, so the sum of squares keeps its
                // digits when the mean is large against the spread.
                let shift = input[c * self.pixels];
                let (s1, s2) = self
                    .planes(input, c)
                    .map(|plane| shifted_moments(plane, shift))
                    .fold((0.0f64, 0.0f64), |(a, b), (p, q)| (a + p, b + q));
                let mean = s1 / count;
                let var = (s2 / count - mean * mean).max(0.0);
                let inv_std = (1.0 / (var + f64::from(self.eps)).sqrt()) as f32;
                let mean = (f64::from(shift) + mean) as f32;
                let (scale, offset) = affine(self.gamma[c], self.beta[c], mean, inv_std);
                with_elementwise!(self.activation, A => {
                    for (out, x) in out.into_iter().zip(self.planes(input, c)) {
                        normalise_run::<A>(x, out, scale, offset);
                    }
                });
                (mean, var as f32, inv_std)
            })
            .collect();
        Ok(BatchNormStats {
            mean: per_channel.iter().map(|s| s.0).collect(),
            var: per_channel.iter().map(|s| s.1).collect(),
            inv_std: per_channel.iter().map(|s| s.2).collect(),
        })
    }

    /// The gradients of [`BatchNorm::forward_train`] from the forward pass's input and
    /// `stats`: `grad` holds the output's gradient and is overwritten with the input's (in
    /// place: no second buffer); the gradients of γ and β are returned.
    pub fn backward(
        &self,
        input: &[f32],
        grad: &mut [f32],
        stats: &BatchNormStats,
    ) -> Result<BatchNormGrads, KernelError> {
        self.check(&[
            ("input", input.len(), self.len()),
            ("grad", grad.len(), self.len()),
            ("mean", stats.mean.len(), self.channels),
            ("inv_std", stats.inv_std.len(), self.channels),
        ])?;
        let count = (self.batch * self.pixels) as f32;
        let sums: Vec<(f32, f32)> = self
            .planes_by_channel(grad)
            .into_par_iter()
            .enumerate()
            .map(|(c, grads)| {
                let (mean, inv_std) = (stats.mean[c], stats.inv_std[c]);
                let (scale, offset) = affine(self.gamma[c], self.beta[c], mean, inv_std);
                with_elementwise!(self.activation, A => {
                    // Σ g and Σ g · (x − mean), g = dy · act'(z).
                    let (sum_g, sum_gx) = self
                        .planes(input, c)
                        .zip(&grads)
                        .map(|(x, dy)| gradient_sums::<A>(x, dy, scale, offset, mean))
                        .fold((0.0f64, 0.0f64), |(a, b), (p, q)| (a + p, b + q));
                    let (d_beta, d_gamma) = (sum_g as f32, sum_gx as f32 * inv_std);
                    // dx = γ·σ⁻¹ · (g − Σg/M − x̂ · Σg·x̂/M), as a·g + b·(x − mean) + c.
                    let a = self.gamma[c] * inv_std;
                    let b = -a * inv_std * d_gamma / count;
                    let c0 = -a * d_beta / count;
                    for (g, x) in grads.into_iter().zip(self.planes(input, c)) {
                        input_gradient_run::<A>(x, g, [scale, offset, mean, a, b, c0]);
                    }
                    (d_gamma, d_beta)
                })
            })
            .collect();
        Ok(BatchNormGrads {
            gamma: sums.iter().map(|s| s.0).collect(),
            beta: sums.iter().map(|s| s.1).collect(),
        })
    }

    /// Normalises `input` with running statistics `mean` and `var` (one pass, no gradient).
    pub fn forward_inference(
        &self,
        mean: &[f32],
        var: &[f32],
        input: &[f32],
        output: &mut [f32],
    ) -> Result<(), KernelError> {
        self.check(&[
            ("mean", mean.len(), self.channels),
            ("var", var.len(), self.channels),
            ("input", input.len(), self.len()),
            ("output", output.len(), self.len()),
        ])?;
        output
            .par_chunks_mut(self.pixels)
            .zip(input.par_chunks(self.pixels))
            .with_min_len(min_items(self.pixels))
            .enumerate()
            .for_each(|(j, (out, x))| {
                let c = j % self.channels;
                let inv_std = 1.0 / (var[c] + self.eps).sqrt();
                let (scale, offset) = affine(self.gamma[c], self.beta[c], mean[c], inv_std);
                with_elementwise!(self.activation, A => normalise_run::<A>(x, out, scale, offset));
            });
        Ok(())
    }
}

/// `(γ · σ⁻¹, β − mean · γ · σ⁻¹)`: `z = x · scale + offset`. The training forward and
/// backward passes both take `z` from here, so the backward pass sees the forward's `z`.
fn affine(gamma: f32, beta: f32, mean: f32, inv_std: f32) -> (f32, f32) {
    let scale = gamma * inv_std;
    (scale, beta - mean * scale)
}

/// `Σ (v − shift)` and `Σ (v − shift)²` over a plane (two loops: the plane is in L1 for the
/// second, and one sum per loop is what the compiler vectorises).
#[multiversion(targets("x86_64+avx512f", "x86_64+avx2+fma"))]
fn shifted_moments(plane: &[f32], shift: f32) -> (f64, f64) {
    (
        lane_sum(plane, plane, |v, _| v - shift),
        lane_sum(plane, plane, |v, _| (v - shift) * (v - shift)),
    )
}

/// `Σ f(a[i], b[i])`: [`LANES`] sums in `f32` side by side, then added in `f64`, then the
/// tail in `f64`.
#[inline(always)]
fn lane_sum(a: &[f32], b: &[f32], f: impl Fn(f32, f32) -> f32) -> f64 {
    let mut lanes = [0.0f32; LANES];
    let (a_chunks, b_chunks) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let tail = a_chunks.remainder().iter().zip(b_chunks.remainder());
    for (ac, bc) in a_chunks.zip(b_chunks) {
        let ac: &[f32; LANES] = ac.try_into().expect("chunks of LANES");
        let bc: &[f32; LANES] = bc.try_into().expect("chunks of LANES");
        for i in 0..LANES {
            lanes[i] += f(ac[i], bc[i]);
        }
    }
    let body: f64 = lanes.iter().map(|&v| f64::from(v)).sum();
    body + tail.map(|(&u, &v)| f64::from(f(u, v))).sum::<f64>()
}

/// `out = act(x · scale + offset)`.
#[multiversion(targets("x86_64+avx512f", "x86_64+avx2+fma"))]
fn normalise_run<A: Elementwise>(x: &[f32], out: &mut [f32], scale: f32, offset: f32) {
    out.iter_mut()
        .zip(x)
        .for_each(|(o, &v)| *o = A::apply(v * scale + offset));
}

/// `Σ g` and `Σ g · (x − mean)` over a plane, `g = dy · act'(x · scale + offset)`.
#[multiversion(targets("x86_64+avx512f", "x86_64+avx2+fma"))]
fn gradient_sums<A: Elementwise>(
    x: &[f32],
    dy: &[f32],
    scale: f32,
    offset: f32,
    mean: f32,
) -> (f64, f64) {
    let g = |v: f32, d: f32| d * A::slope(v * scale + offset);
    (
        lane_sum(x, dy, g),
        lane_sum(x, dy, |v, d| g(v, d) * (v - mean)),
    )
}

/// `grad = a · g + b · (x − mean) + c` in place, `g = grad · act'(x · scale + offset)`; `k`
/// holds `[scale, offset, mean, a, b, c]`.
#[multiversion(targets("x86_64+avx512f", "x86_64+avx2+fma"))]
fn input_gradient_run<A: Elementwise>(x: &[f32], grad: &mut [f32], k: [f32; 6]) {
    let [scale, offset, mean, a, b, c] = k;
    grad.iter_mut().zip(x).for_each(|(d, &v)| {
        let g = *d * A::slope(v * scale + offset);
        *d = a * g + b * (v - mean) + c;
    });
}
