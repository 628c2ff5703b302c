//! Dense and grouped 2-D convolution, forward and backward, as im2col and GEMMs (the `gemm`
//! crate): per image and group, the output is `W · col(x)`, the input gradient `col⁻¹(Wᵀ ·
//! dY)` and the weight gradient `Σ dY · col(x)ᵀ`. A 1×1 convolution with stride 1 and no
//! padding multiplies the input in place. Depthwise shapes go to [`crate::depthwise`].
//! Images are spread over threads; the weight gradient sums the partial gradients of a fixed
//! split of the images, in order, so that it is the same however the threads ran.

use std::ops::Range;

use gemm::Parallelism;
use multiversion::multiversion;
use rayon::prelude::*;

use crate::depthwise;
use crate::scratch::with_scratch;
use crate::shape::{Conv2dShape, KernelError};
use crate::taps::{add_scattered, copy_gathered, tap_rows, TapRow};
use crate::tasks::min_items;

/// `output = conv(input, weight) + bias`.
pub fn conv2d_forward(
    shape: &Conv2dShape,
    input: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
    output: &mut [f32],
) -> Result<(), KernelError> {
    shape.check_lengths(&[
        ("input", input.len(), shape.input_len()),
        ("weight", weight.len(), shape.weight_len()),
        (
            "bias",
            bias.map_or(shape.out_channels, <[f32]>::len),
            shape.out_channels,
        ),
        ("output", output.len(), shape.output_len()),
    ])?;
    if shape.is_depthwise() {
        depthwise::forward(shape, input, weight, output);
    } else {
        let (in_image, out_image) = image_lens(shape);
        let rows = tap_rows(shape);
        output
            .par_chunks_mut(out_image)
            .zip(input.par_chunks(in_image))
            .for_each(|(out, x)| forward_image(shape, &rows, x, weight, out));
    }
    if let Some(bias) = bias {
        add_bias(shape, bias, output);
    }
    Ok(())
}

/// `grad_input = ∂(conv(input, weight)) / ∂input · grad_output`.
pub fn conv2d_backward_input(
    shape: &Conv2dShape,
    grad_output: &[f32],
    weight: &[f32],
    grad_input: &mut [f32],
) -> Result<(), KernelError> {
    shape.check_lengths(&[
        ("grad_output", grad_output.len(), shape.output_len()),
        ("weight", weight.len(), shape.weight_len()),
        ("grad_input", grad_input.len(), shape.input_len()),
    ])?;
    if shape.is_depthwise() {
        depthwise::backward_input(shape, grad_output, weight, grad_input);
        return Ok(());
    }
    let (in_image, out_image) = image_lens(shape);
    let rows = tap_rows(shape);
    grad_input
        .par_chunks_mut(in_image)
        .zip(grad_output.par_chunks(out_image))
        .for_each(|(dx, dy)| backward_input_image(shape, &rows, dy, weight, dx));
    Ok(())
}

/// `grad_weight = ∂(conv(input, weight)) / ∂weight · grad_output`.
pub fn conv2d_backward_weight(
    shape: &Conv2dShape,
    input: &[f32],
    grad_output: &[f32],
    grad_weight: &mut [f32],
) -> Result<(), KernelError> {
    shape.check_lengths(&[
        ("input", input.len(), shape.input_len()),
        ("grad_output", grad_output.len(), shape.output_len()),
        ("grad_weight", grad_weight.len(), shape.weight_len()),
    ])?;
    if shape.is_depthwise() {
        depthwise::backward_weight(shape, input, grad_output, grad_weight);
        return Ok(());
    }
    let (in_image, out_image) = image_lens(shape);
    let rows = tap_rows(shape);
    // A fixed split of the images, summed in order: the same gradient to the last bit however
    // the threads ran (a work-stealing reduction would sum in a different order each time).
    let parts = shape.batch.min(PARTIAL_SUMS);
    let per_part = shape.batch.div_ceil(parts);
    let partials: Vec<Vec<f32>> = (0..parts)
        .into_par_iter()
        .map(|part| {
            let mut partial = vec![0.0f32; shape.weight_len()];
            let images = part * per_part..((part + 1) * per_part).min(shape.batch);
            for i in images {
                let x = &input[i * in_image..(i + 1) * in_image];
                let dy = &grad_output[i * out_image..(i + 1) * out_image];
                backward_weight_image(shape, &rows, x, dy, &mut partial);
            }
            partial
        })
        .collect();
    grad_weight.fill(0.0);
    for partial in &partials {
        grad_weight
            .iter_mut()
            .zip(partial)
            .for_each(|(g, p)| *g += p);
    }
    Ok(())
}

/// How many partial weight gradients [`conv2d_backward_weight`] sums: enough to keep a few
/// cores busy, fixed so that the sum's order never changes.
const PARTIAL_SUMS: usize = 8;

/// Values per image of the input and of the output.
fn image_lens(shape: &Conv2dShape) -> (usize, usize) {
    (
        shape.in_channels * shape.height * shape.width,
        shape.out_channels * shape.out_height() * shape.out_width(),
    )
}

/// The slices of one group's input channels, output channels and filters within an image's
/// input, an image's output and the weight.
struct Group {
    input: Range<usize>,
    output: Range<usize>,
    weight: Range<usize>,
}

impl Group {
    fn of(shape: &Conv2dShape, g: usize) -> Self {
        let (cg, og, rows) = (shape.group_in(), shape.group_out(), shape.col_rows());
        let plane = shape.height * shape.width;
        let out_plane = shape.out_height() * shape.out_width();
        Group {
            input: g * cg * plane..(g + 1) * cg * plane,
            output: g * og * out_plane..(g + 1) * og * out_plane,
            weight: g * og * rows..(g + 1) * og * rows,
        }
    }
}

/// Runs `work` on the im2col matrix of one group's input `x` (`col_rows × out_plane`): the
/// input itself for a pointwise convolution, else built in this thread's scratch buffer.
fn with_col<R>(
    shape: &Conv2dShape,
    rows: &[TapRow],
    x: &[f32],
    work: impl FnOnce(&[f32]) -> R,
) -> R {
    if shape.is_pointwise() {
        return work(x);
    }
    let out_plane = shape.out_height() * shape.out_width();
    with_scratch(shape.col_rows() * out_plane, |col| {
        im2col(shape, rows, x, col);
        work(col)
    })
}

/// One image's output, group by group: `W · col(x)`.
fn forward_image(shape: &Conv2dShape, rows: &[TapRow], x: &[f32], weight: &[f32], out: &mut [f32]) {
    let out_plane = shape.out_height() * shape.out_width();
    let (og, k) = (shape.group_out(), shape.col_rows());
    for g in (0..shape.groups).map(|g| Group::of(shape, g)) {
        with_col(shape, rows, &x[g.input], |col| {
            let w = Matrix::rows(&weight[g.weight], og, k);
            matmul(
                &mut out[g.output],
                w,
                Matrix::rows(col, k, out_plane),
                false,
            );
        });
    }
}

/// One image's input gradient, group by group: `Wᵀ · dY`, folded back onto the pixels.
fn backward_input_image(
    shape: &Conv2dShape,
    rows: &[TapRow],
    dy: &[f32],
    weight: &[f32],
    dx: &mut [f32],
) {
    let out_plane = shape.out_height() * shape.out_width();
    let (og, k) = (shape.group_out(), shape.col_rows());
    for g in (0..shape.groups).map(|g| Group::of(shape, g)) {
        let w_t = Matrix::transposed(&weight[g.weight], og, k);
        let dy_g = Matrix::rows(&dy[g.output], og, out_plane);
        if shape.is_pointwise() {
            matmul(&mut dx[g.input], w_t, dy_g, false);
        } else {
            with_scratch(k * out_plane, |col| {
                matmul(col, w_t, dy_g, false);
                col2im(shape, rows, col, &mut dx[g.input]);
            });
        }
    }
}

/// Adds one image's weight gradient, group by group, to `dw`: `dY · col(x)ᵀ`.
fn backward_weight_image(
    shape: &Conv2dShape,
    rows: &[TapRow],
    x: &[f32],
    dy: &[f32],
    dw: &mut [f32],
) {
    let out_plane = shape.out_height() * shape.out_width();
    let (og, k) = (shape.group_out(), shape.col_rows());
    for g in (0..shape.groups).map(|g| Group::of(shape, g)) {
        with_col(shape, rows, &x[g.input], |col| {
            let dy_g = Matrix::rows(&dy[g.output], og, out_plane);
            matmul(
                &mut dw[g.weight],
                dy_g,
                Matrix::transposed(col, k, out_plane),
                true,
            );
        });
    }
}

/// A matrix over a row-major array's values: the array itself or its transpose.
#[derive(Clone, Copy)]
struct Matrix<'a> {
    values: &'a [f32],
    rows: usize,
    columns: usize,
    /// Step between consecutive columns, and between consecutive rows.
    col_stride: isize,
    row_stride: isize,
}

impl<'a> Matrix<'a> {
    /// The `rows × columns` row-major array `values`.
    fn rows(values: &'a [f32], rows: usize, columns: usize) -> Self {
        Matrix {
            values,
            rows,
            columns,
            col_stride: 1,
            row_stride: columns as isize,
        }
    }

    /// The transpose (`columns × rows`) of the `rows × columns` row-major array `values`.
    fn transposed(values: &'a [f32], rows: usize, columns: usize) -> Self {
        Matrix {
            values,
            rows: columns,
            columns: rows,
            col_stride: columns as isize,
            row_stride: 1,
        }
    }
}

/// `dst (row-major) = [dst +] lhs · rhs`, single-threaded (the callers spread images over
/// threads).
fn matmul(dst: &mut [f32], lhs: Matrix<'_>, rhs: Matrix<'_>, accumulate: bool) {
    let (m, k, n) = (lhs.rows, lhs.columns, rhs.columns);
    assert_eq!(rhs.rows, k, "inner dimensions agree");
    assert_eq!(lhs.values.len(), m * k, "lhs holds its values");
    assert_eq!(rhs.values.len(), k * n, "rhs holds its values");
    assert_eq!(dst.len(), m * n, "destination holds the product");
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            dst.fill(0.0);
        }
        return;
    }
    // SAFETY: the asserts above make every index gemm reads, `row · row_stride + column ·
    // col_stride` within the operand's shape, fall inside `lhs` and `rhs`, and every index it
    // writes fall inside `dst` (m×n, row-major); `dst` is borrowed mutably, so it overlaps
    // neither operand.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            lhs.values.as_ptr(),
            lhs.col_stride,
            lhs.row_stride,
            rhs.values.as_ptr(),
            rhs.col_stride,
            rhs.row_stride,
            1.0,
            1.0,
            false,
            false,
            false,
            Parallelism::None,
        );
    }
}

/// `col[(c·k² + tap)][o] = x[c][the pixel tap reads at output o]`, 0 where it reads padding.
#[multiversion(targets("x86_64+avx512f", "x86_64+avx2+fma"))]
fn im2col(shape: &Conv2dShape, rows: &[TapRow], x: &[f32], col: &mut [f32]) {
    let plane = shape.height * shape.width;
    let out_plane = shape.out_height() * shape.out_width();
    let k2 = shape.kernel * shape.kernel;
    col.fill(0.0);
    for c in 0..shape.group_in() {
        let x_c = &x[c * plane..(c + 1) * plane];
        let col_c = &mut col[c * k2 * out_plane..(c + 1) * k2 * out_plane];
        for &TapRow {
            tap,
            output,
            input,
            len,
        } in rows
        {
            let row = &mut col_c[tap * out_plane + output..][..len];
            copy_gathered(row, x_c, input, shape.stride);
        }
    }
}

/// The adjoint of [`im2col`]: `dx` is set to the sum of each pixel's entries in `col`.
#[multiversion(targets("x86_64+avx512f", "x86_64+avx2+fma"))]
fn col2im(shape: &Conv2dShape, rows: &[TapRow], col: &[f32], dx: &mut [f32]) {
    let plane = shape.height * shape.width;
    let out_plane = shape.out_height() * shape.out_width();
    let k2 = shape.kernel * shape.kernel;
    dx.fill(0.0);
    for c in 0..shape.group_in() {
        let dx_c = &mut dx[c * plane..(c + 1) * plane];
        let col_c = &col[c * k2 * out_plane..(c + 1) * k2 * out_plane];
        for &TapRow {
            tap,
            output,
            input,
            len,
        } in rows
        {
            let row = &col_c[tap * out_plane + output..][..len];
            add_scattered(dx_c, input, shape.stride, 1.0, row);
        }
    }
}

/// Adds each output channel's bias to its planes.
fn add_bias(shape: &Conv2dShape, bias: &[f32], output: &mut [f32]) {
    let out_plane = shape.out_height() * shape.out_width();
    output
        .par_chunks_mut(out_plane)
        .with_min_len(min_items(out_plane))
        .enumerate()
        .for_each(|(j, plane)| {
            let b = bias[j % shape.out_channels];
            plane.iter_mut().for_each(|v| *v += b);
        });
}
