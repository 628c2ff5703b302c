//! Depthwise convolution (one filter per channel), forward and backward, as direct loops. A
//! GEMM per (image, channel) would multiply a 1×k² matrix. Planes are spread over threads; the
//! weight gradient over channels.
//!
//! At stride 1 a plane is copied into a zero-padded buffer whose rows are `W + 2p` wide, and
//! each tap is one multiply-add over all output rows at once: output `(y, x)` sits at `y·(W +
//! 2p) + x` and reads `(y + ky)·(W + 2p) + x + kx`, so a tap is a single run of `OH·(W + 2p)`
//! values (the `k − 1` extra values per row are dropped) instead of `OH` runs of `OW`: long
//! loops the compiler vectorises, where a 14-wide row left most of each SIMD register idle.
//! The input gradient is the same correlation of the padded output gradient with the kernel
//! turned by 180°; the weight gradient is one dot product per tap over those runs. Other
//! strides go [`TapRow`] by [`TapRow`].

use multiversion::multiversion;
use rayon::prelude::*;

use crate::scratch::with_scratch;
use crate::shape::Conv2dShape;
use crate::taps::{add_gathered, add_scattered, dot_gathered, tap_rows, TapRow};
use crate::tasks::min_items;

/// The k² taps of the channel of plane `j` (planes are numbered image by image).
fn taps_of<'w>(shape: &Conv2dShape, weight: &'w [f32], j: usize) -> &'w [f32] {
    let k2 = shape.kernel * shape.kernel;
    &weight[(j % shape.in_channels) * k2..][..k2]
}

/// One output plane per (image, channel).
pub(crate) fn forward(shape: &Conv2dShape, input: &[f32], weight: &[f32], output: &mut [f32]) {
    let plane = shape.height * shape.width;
    let out_plane = shape.out_height() * shape.out_width();
    let planes = output
        .par_chunks_mut(out_plane)
        .zip(input.par_chunks(plane))
        .with_min_len(min_items(out_plane * shape.kernel * shape.kernel))
        .enumerate();
    if let Some(wide) = WidePlane::forward(shape) {
        planes.for_each(|(j, (out, x))| wide.correlate(x, taps_of(shape, weight, j), out));
    } else {
        let rows = tap_rows(shape);
        planes.for_each(|(j, (out, x))| {
            forward_plane(&rows, taps_of(shape, weight, j), x, out, shape.stride)
        });
    }
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
    let plane = shape.height * shape.width;
    let out_plane = shape.out_height() * shape.out_width();
    let k2 = shape.kernel * shape.kernel;
    let planes = grad_input
        .par_chunks_mut(plane)
        .zip(grad_output.par_chunks(out_plane))
        .with_min_len(min_items(out_plane * k2))
        .enumerate();
    if let Some(wide) = WidePlane::backward_input(shape) {
        planes.for_each(|(j, (dx, dy))| {
            // The kernel turned by 180°.
            let taps = taps_of(shape, weight, j);
            let turned: [f32; MAX_TAPS] =
                std::array::from_fn(|t| if t < k2 { taps[k2 - 1 - t] } else { 0.0 });
            wide.correlate(dy, &turned[..k2], dx);
        });
    } else {
        let rows = tap_rows(shape);
        planes.for_each(|(j, (dx, dy))| {
            backward_input_plane(&rows, taps_of(shape, weight, j), dy, dx, shape.stride)
        });
    }
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
    let plane = shape.height * shape.width;
    let out_plane = shape.out_height() * shape.out_width();
    let k2 = shape.kernel * shape.kernel;
    let wide = WidePlane::forward(shape);
    let rows = if wide.is_some() {
        Vec::new()
    } else {
        tap_rows(shape)
    };
    grad_weight
        .par_chunks_mut(k2)
        .enumerate()
        .for_each(|(c, dw)| {
            let mut sums = vec![0.0f64; k2];
            for n in 0..shape.batch {
                let j = n * shape.in_channels + c;
                let x = &input[j * plane..(j + 1) * plane];
                let dy = &grad_output[j * out_plane..(j + 1) * out_plane];
                match &wide {
                    Some(wide) => wide.add_tap_sums(x, dy, &mut sums),
                    None => add_weight_sums(&rows, x, dy, shape.stride, &mut sums),
                }
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

/// Kernels up to 7×7 (the largest the search spaces sample) take the wide-row path.
const MAX_TAPS: usize = 49;

/// A stride-1 correlation of one `height × width` plane, zero-padded by `padding`, with a
/// `kernel × kernel` filter, through rows [`WidePlane::row`] wide (see the module docs).
#[derive(Debug, Clone, Copy)]
struct WidePlane {
    height: usize,
    width: usize,
    padding: usize,
    kernel: usize,
}

impl WidePlane {
    /// Whether `shape` takes this path: stride 1, a kernel of at most [`MAX_TAPS`] taps.
    fn takes(shape: &Conv2dShape) -> bool {
        shape.stride == 1 && shape.kernel * shape.kernel <= MAX_TAPS
    }

    /// The forward correlation of `shape`, if it [takes](WidePlane::takes) this path.
    fn forward(shape: &Conv2dShape) -> Option<WidePlane> {
        WidePlane::takes(shape).then_some(WidePlane {
            height: shape.height,
            width: shape.width,
            padding: shape.padding,
            kernel: shape.kernel,
        })
    }

    /// The input gradient of `shape` as a correlation of the output gradient, padded by
    /// `kernel − 1 − padding` (which must not be negative), with the turned kernel.
    fn backward_input(shape: &Conv2dShape) -> Option<WidePlane> {
        if !WidePlane::takes(shape) {
            return None;
        }
        Some(WidePlane {
            height: shape.out_height(),
            width: shape.out_width(),
            padding: (shape.kernel - 1).checked_sub(shape.padding)?,
            kernel: shape.kernel,
        })
    }

    /// Width of a padded row.
    fn row(&self) -> usize {
        self.width + 2 * self.padding
    }

    fn out_height(&self) -> usize {
        self.height + 2 * self.padding + 1 - self.kernel
    }

    fn out_width(&self) -> usize {
        self.row() + 1 - self.kernel
    }

    /// Values of the padded plane, with room for the last row's overhang.
    fn padded_len(&self) -> usize {
        (self.height + 2 * self.padding) * self.row() + self.kernel
    }

    /// Values of one tap's run: every output row at the padded width.
    fn span(&self) -> usize {
        self.out_height() * self.row()
    }

    /// `out = correlate(plane, taps)`, `taps` row-major `kernel × kernel`.
    fn correlate(&self, plane: &[f32], taps: &[f32], out: &mut [f32]) {
        with_scratch(self.padded_len() + self.span(), |buffer| {
            let (padded, wide) = buffer.split_at_mut(self.padded_len());
            self.pad(plane, padded);
            correlate_wide(padded, taps, self.kernel, self.row(), wide);
            let (row, ow) = (self.row(), self.out_width());
            for (o, w) in out.chunks_exact_mut(ow).zip(wide.chunks_exact(row)) {
                o.copy_from_slice(&w[..ow]);
            }
        })
    }

    /// Adds `Σ dy · x` of each tap over the plane to `sums` (the weight gradient's share of
    /// one plane; `dy` is the output gradient, `out_height × out_width`).
    fn add_tap_sums(&self, plane: &[f32], dy: &[f32], sums: &mut [f64]) {
        with_scratch(self.padded_len() + self.span(), |buffer| {
            let (padded, wide) = buffer.split_at_mut(self.padded_len());
            self.pad(plane, padded);
            // dy at the padded width, zeros in the columns past the output.
            let (row, ow) = (self.row(), self.out_width());
            for (w, d) in wide.chunks_exact_mut(row).zip(dy.chunks_exact(ow)) {
                w[..ow].copy_from_slice(d);
                w[ow..].fill(0.0);
            }
            tap_dots(padded, wide, self.kernel, row, sums);
        })
    }

    /// Writes `plane` into `padded` with `padding` zeros around it (and after it).
    fn pad(&self, plane: &[f32], padded: &mut [f32]) {
        let (row, p, w) = (self.row(), self.padding, self.width);
        padded.fill(0.0);
        for (y, src) in plane.chunks_exact(w).enumerate() {
            padded[(y + p) * row + p..][..w].copy_from_slice(src);
        }
    }
}

/// `wide[i] = Σ_tap taps[tap] · padded[i + ky·row + kx]` over the whole of `wide`.
#[multiversion(targets("x86_64+avx512f", "x86_64+avx2+fma"))]
fn correlate_wide(padded: &[f32], taps: &[f32], kernel: usize, row: usize, wide: &mut [f32]) {
    let span = wide.len();
    wide.fill(0.0);
    for (tap, &a) in taps.iter().enumerate() {
        let at = (tap / kernel) * row + tap % kernel;
        let src = &padded[at..at + span];
        wide.iter_mut().zip(src).for_each(|(d, v)| *d += a * v);
    }
}

/// `sums[tap] += Σ_i dy_wide[i] · padded[i + ky·row + kx]`, each in sixteen `f32` lanes.
#[multiversion(targets("x86_64+avx512f", "x86_64+avx2+fma"))]
fn tap_dots(padded: &[f32], dy_wide: &[f32], kernel: usize, row: usize, sums: &mut [f64]) {
    const LANES: usize = 16;
    let span = dy_wide.len();
    for (tap, sum) in sums.iter_mut().enumerate() {
        let at = (tap / kernel) * row + tap % kernel;
        let src = &padded[at..at + span];
        let mut lanes = [0.0f32; LANES];
        let (a, b) = (dy_wide.chunks_exact(LANES), src.chunks_exact(LANES));
        let tail: f32 = a
            .remainder()
            .iter()
            .zip(b.remainder())
            .map(|(x, y)| x * y)
            .sum();
        for (x, y) in a.zip(b) {
            let x: &[f32; LANES] = x.try_into().expect("chunks of LANES");
            let y: &[f32; LANES] = y.try_into().expect("chunks of LANES");
            for i in 0..LANES {
                lanes[i] += x[i] * y[i];
            }
        }
        *sum += lanes.iter().map(|&v| f64::from(v)).sum::<f64>() + f64::from(tail);
    }
}
