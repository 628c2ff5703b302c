//! Batch norm's training pass over NCHW input, forward and backward: per channel, the mean and
//! the (biased) variance over images and pixels in one pass over the data in `f64`, then one
//! pass that normalises, scales and shifts; backward, one pass for the two sums per channel
//! and one for the input gradient. Channels are spread over threads for the sums, planes for
//! the element-wise passes.

use rayon::prelude::*;

use crate::shape::{check_lengths, KernelError};

/// What the forward pass measured, per channel (the backward pass and the running statistics
/// need it).
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

/// Checks the sizes and lengths of a batch-norm call over `[batch, channels, pixels]`.
fn check(
    batch: usize,
    channels: usize,
    pixels: usize,
    slices: &[(&'static str, usize, usize)],
) -> Result<(), KernelError> {
    for (what, v) in [("batch", batch), ("channels", channels), ("pixels", pixels)] {
        if v == 0 {
            return Err(KernelError::Zero { what });
        }
    }
    check_lengths(slices)
}

/// `output = γ · (input − mean) / sqrt(var + eps) + β` with the batch's own statistics, over
/// `[batch, channels, pixels]` (pixels = height × width).
#[allow(clippy::too_many_arguments)]
pub fn batch_norm_forward(
    input: &[f32],
    batch: usize,
    channels: usize,
    pixels: usize,
    gamma: &[f32],
    beta: &[f32],
    eps: f32,
    output: &mut [f32],
) -> Result<BatchNormStats, KernelError> {
    let len = batch * channels * pixels;
    check(
        batch,
        channels,
        pixels,
        &[
            ("input", input.len(), len),
            ("gamma", gamma.len(), channels),
            ("beta", beta.len(), channels),
            ("output", output.len(), len),
        ],
    )?;
    let count = (batch * pixels) as f64;
    let moments: Vec<(f64, f64)> = (0..channels)
        .into_par_iter()
        .map(|c| {
            // Shifted by the channel's first value, so the sum of squares keeps its digits
            // when the mean is large against the spread.
            let shift = f64::from(input[c * pixels]);
            let (mut s1, mut s2) = (0.0f64, 0.0f64);
            for n in 0..batch {
                let plane = &input[(n * channels + c) * pixels..][..pixels];
                let (p1, p2) = plane.iter().fold((0.0f64, 0.0f64), |(a, b), &v| {
                    let d = f64::from(v) - shift;
                    (a + d, b + d * d)
                });
                s1 += p1;
                s2 += p2;
            }
            let mean = s1 / count;
            (shift + mean, (s2 / count - mean * mean).max(0.0))
        })
        .collect();
    let stats = BatchNormStats {
        mean: moments.iter().map(|m| m.0 as f32).collect(),
        var: moments.iter().map(|m| m.1 as f32).collect(),
        inv_std: moments
            .iter()
            .map(|m| (1.0 / (m.1 + f64::from(eps)).sqrt()) as f32)
            .collect(),
    };
    output
        .par_chunks_mut(pixels)
        .zip(input.par_chunks(pixels))
        .enumerate()
        .for_each(|(j, (out, x))| {
            let c = j % channels;
            let scale = gamma[c] * stats.inv_std[c];
            let shift = beta[c] - stats.mean[c] * scale;
            out.iter_mut()
                .zip(x)
                .for_each(|(o, &v)| *o = v * scale + shift);
        });
    Ok(stats)
}

/// The input gradient of [`batch_norm_forward`] (written to `grad_input`) and the gradients
/// of γ and β, from the forward pass's input and `stats`.
#[allow(clippy::too_many_arguments)]
pub fn batch_norm_backward(
    input: &[f32],
    grad_output: &[f32],
    batch: usize,
    channels: usize,
    pixels: usize,
    gamma: &[f32],
    stats: &BatchNormStats,
    grad_input: &mut [f32],
) -> Result<BatchNormGrads, KernelError> {
    let len = batch * channels * pixels;
    check(
        batch,
        channels,
        pixels,
        &[
            ("input", input.len(), len),
            ("grad_output", grad_output.len(), len),
            ("gamma", gamma.len(), channels),
            ("mean", stats.mean.len(), channels),
            ("inv_std", stats.inv_std.len(), channels),
            ("grad_input", grad_input.len(), len),
        ],
    )?;
    // Per channel: Σ dy and Σ dy · x̂.
    let sums: Vec<(f64, f64)> = (0..channels)
        .into_par_iter()
        .map(|c| {
            let (mean, inv_std) = (stats.mean[c], stats.inv_std[c]);
            let (mut sum_dy, mut sum_dy_xhat) = (0.0f64, 0.0f64);
            for n in 0..batch {
                let at = (n * channels + c) * pixels;
                let x = &input[at..at + pixels];
                let dy = &grad_output[at..at + pixels];
                let (a, b) = x.iter().zip(dy).fold((0.0f32, 0.0f32), |(a, b), (&v, &g)| {
                    (a + g, b + g * (v - mean) * inv_std)
                });
                sum_dy += f64::from(a);
                sum_dy_xhat += f64::from(b);
            }
            (sum_dy, sum_dy_xhat)
        })
        .collect();
    let count = (batch * pixels) as f32;
    grad_input
        .par_chunks_mut(pixels)
        .enumerate()
        .for_each(|(j, dx)| {
            let c = j % channels;
            let at = j * pixels;
            let x = &input[at..at + pixels];
            let dy = &grad_output[at..at + pixels];
            let (mean, inv_std) = (stats.mean[c], stats.inv_std[c]);
            let mean_dy = sums[c].0 as f32 / count;
            let mean_dy_xhat = sums[c].1 as f32 / count;
            let scale = gamma[c] * inv_std;
            for ((d, &v), &g) in dx.iter_mut().zip(x).zip(dy) {
                let xhat = (v - mean) * inv_std;
                *d = scale * (g - mean_dy - xhat * mean_dy_xhat);
            }
        });
    Ok(BatchNormGrads {
        gamma: sums.iter().map(|s| s.1 as f32).collect(),
        beta: sums.iter().map(|s| s.0 as f32).collect(),
    })
}
