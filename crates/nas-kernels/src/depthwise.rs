//! Depthwise convolution (one filter per channel), forward and backward, as direct loops: per
//! [`TapRow`], one multiply-add over a run of output positions (contiguous at stride 1, which
//! the compiler vectorises). A GEMM per (image, channel) would multiply a 1×k² matrix. Planes
//! are spread over threads; the weight gradient over channels.

use multiversion::multiversion;
use rayon::prelude::*;

use crate::shape::Conv2dShape;
use crate::taps::{add_gathered, add_scattered, dot_gathered, tap_rows, TapRow};

/// The k² taps of the channel of plane `j` (planes are numbered image by image).
fn taps_of<'w>(shape: &Conv2dShape, weight: &'w [f32], j: usize) -> &'w [f32] {
    let k2 = shape.kernel * shape.kernel;
    &weight[(j % shape.in_channels) * k2..][..k2]
}

/// One output plane per (image, channel).
pub(crate) fn forward(shape: &Conv2dShape, input: &[f32], weight: &[f32], output: &mut [f32]) {
    let rows = tap_rows(shape);
    let plane = shape.height * shape.width;
    let out_plane = shape.out_height() * shape.out_width();
    output
        .par_chunks_mut(out_plane)
        .zip(input.par_chunks(plane))
        .enumerate()
        .for_each(|(j, (out, x))| {
            forward_plane(&rows, taps_of(shape, weight, j), x, out, shape.stride)
        });
}

/// One output plane: `out` = the taps' runs over `x`, added up.
#[multiversion(targets("x86_64+avx512f", "x86_64+avx2+fma"))]
fn forward_plane(rows: &[TapRow], taps: &[f32], x: &[f32], out: &mut [f32], stride: usize) {
    out.fill(0.0);
    for &TapRow {
        tap,
        output,
        input,
        len,
    } in rows
    {
        add_gathered(&mut out[output..output + len], taps[tap], x, input, stride);
    }
}

/// One input-gradient plane per (image, channel): each output gradient spread back over the
/// pixels its kernel read.
pub(crate) fn backward_input(
    shape: &Conv2dShape,
    grad_output: &[f32],
    weight: &[f32],
    grad_input: &mut [f32],
) {
    let rows = tap_rows(shape);
    let plane = shape.height * shape.width;
    let out_plane = shape.out_height() * shape.out_width();
    grad_input
        .par_chunks_mut(plane)
        .zip(grad_output.par_chunks(out_plane))
        .enumerate()
        .for_each(|(j, (dx, dy))| {
            backward_input_plane(&rows, taps_of(shape, weight, j), dy, dx, shape.stride)
        });
}

/// One input-gradient plane: each run of `dy` scaled by its tap and added where it was read.
#[multiversion(targets("x86_64+avx512f", "x86_64+avx2+fma"))]
fn backward_input_plane(rows: &[TapRow], taps: &[f32], dy: &[f32], dx: &mut [f32], stride: usize) {
    dx.fill(0.0);
    for &TapRow {
        tap,
        output,
        input,
        len,
    } in rows
    {
        add_scattered(dx, input, stride, taps[tap], &dy[output..output + len]);
    }
}

/// Each channel's k² weight gradients, summed over images and positions (runs in `f32`,
/// their sums in `f64`: a sum over a whole batch's positions would lose digits in `f32`).
pub(crate) fn backward_weight(
    shape: &Conv2dShape,
    input: &[f32],
    grad_output: &[f32],
    grad_weight: &mut [f32],
) {
    let rows = tap_rows(shape);
    let plane = shape.height * shape.width;
    let out_plane = shape.out_height() * shape.out_width();
    let k2 = shape.kernel * shape.kernel;
    grad_weight
        .par_chunks_mut(k2)
        .enumerate()
        .for_each(|(c, dw)| {
            let mut sums = vec![0.0f64; k2];
            for n in 0..shape.batch {
                let j = n * shape.in_channels + c;
                let x = &input[j * plane..(j + 1) * plane];
                let dy = &grad_output[j * out_plane..(j + 1) * out_plane];
                add_weight_sums(&rows, x, dy, shape.stride, &mut sums);
            }
            dw.iter_mut().zip(&sums).for_each(|(d, s)| *d = *s as f32);
        });
}

/// Adds one plane's `Σ dy · x` of each tap to `sums`.
#[multiversion(targets("x86_64+avx512f", "x86_64+avx2+fma"))]
fn add_weight_sums(rows: &[TapRow], x: &[f32], dy: &[f32], stride: usize, sums: &mut [f64]) {
    for &TapRow {
        tap,
        output,
        input,
        len,
    } in rows
    {
        sums[tap] += f64::from(dot_gathered(&dy[output..output + len], x, input, stride));
    }
}
