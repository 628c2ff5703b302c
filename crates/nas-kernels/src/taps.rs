//! Where each kernel tap meets a plane: for tap `(ky, kx)` and output row `oy`, the run of
//! output positions whose input pixel lies inside the plane (padding reads zeros, so it is
//! left out), and the strided loops that walk such a run. The geometry is the same for every
//! plane of a convolution, so it is listed once per call. The loops are inlined into the
//! callers' per-plane functions, which are compiled for AVX2 and AVX-512 as well and chosen at
//! run time.

use crate::shape::Conv2dShape;

/// One run of tap `tap` (`ky·k + kx`) over a plane: outputs `output..output + len` read the
/// input pixels `input, input + stride, …`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TapRow {
    pub tap: usize,
    pub output: usize,
    pub input: usize,
    pub len: usize,
}

/// Every [`TapRow`] of a plane of `shape`, tap by tap, rows in order; taps and rows that
/// read only padding are left out.
pub(crate) fn tap_rows(shape: &Conv2dShape) -> Vec<TapRow> {
    let (h, w, k, s, p) = (
        shape.height,
        shape.width,
        shape.kernel,
        shape.stride,
        shape.padding,
    );
    let (oh, ow) = (shape.out_height(), shape.out_width());
    let mut rows = Vec::new();
    for ky in 0..k {
        let (y_lo, y_hi) = valid_outputs(ky, s, p, h, oh);
        for kx in 0..k {
            let (x_lo, x_hi) = valid_outputs(kx, s, p, w, ow);
            if x_lo == x_hi {
                continue;
            }
            for oy in y_lo..y_hi {
                rows.push(TapRow {
                    tap: ky * k + kx,
                    output: oy * ow + x_lo,
                    input: (oy * s + ky - p) * w + x_lo * s + kx - p,
                    len: x_hi - x_lo,
                });
            }
        }
    }
    rows
}

/// The output positions `lo..hi` (of `out_size`) whose input index `o·stride + offset −
/// padding` falls inside `0..size`.
fn valid_outputs(
    offset: usize,
    stride: usize,
    padding: usize,
    size: usize,
    out_size: usize,
) -> (usize, usize) {
    // o·s + offset ≥ padding
    let lo = padding.saturating_sub(offset).div_ceil(stride);
    // o·s + offset − padding ≤ size − 1
    let hi = match (size - 1 + padding).checked_sub(offset) {
        Some(room) => (room / stride + 1).min(out_size),
        None => 0,
    };
    (lo.min(hi), hi)
}

/// `dst[i] = src[first + i·stride]` for every `i` of `dst`.
#[inline(always)]
pub(crate) fn copy_gathered(dst: &mut [f32], src: &[f32], first: usize, stride: usize) {
    if stride == 1 {
        dst.copy_from_slice(&src[first..first + dst.len()]);
    } else {
        dst.iter_mut()
            .enumerate()
            .for_each(|(i, d)| *d = src[first + i * stride]);
    }
}

/// `dst[i] += a · src[first + i·stride]` for every `i` of `dst` (contiguous at stride 1,
/// which the compiler vectorises).
#[inline(always)]
pub(crate) fn add_gathered(dst: &mut [f32], a: f32, src: &[f32], first: usize, stride: usize) {
    if stride == 1 {
        let src = &src[first..first + dst.len()];
        dst.iter_mut().zip(src).for_each(|(d, v)| *d += a * v);
    } else {
        dst.iter_mut()
            .enumerate()
            .for_each(|(i, d)| *d += a * src[first + i * stride]);
    }
}

/// `dst[first + i·stride] += a · src[i]` for every `i` of `src`.
#[inline(always)]
pub(crate) fn add_scattered(dst: &mut [f32], first: usize, stride: usize, a: f32, src: &[f32]) {
    if stride == 1 {
        let dst = &mut dst[first..first + src.len()];
        dst.iter_mut().zip(src).for_each(|(d, v)| *d += a * v);
    } else {
        src.iter()
            .enumerate()
            .for_each(|(i, v)| dst[first + i * stride] += a * v);
    }
}

/// `Σ a[i] · b[first + i·stride]` over `a`, in eight independent lanes at stride 1 (one running
/// sum would keep the loop serial).
#[inline(always)]
pub(crate) fn dot_gathered(a: &[f32], b: &[f32], first: usize, stride: usize) -> f32 {
    if stride != 1 {
        return a
            .iter()
            .enumerate()
            .map(|(i, x)| x * b[first + i * stride])
            .sum();
    }
    let b = &b[first..first + a.len()];
    let mut lanes = [0.0f32; 8];
    let whole = a.len() - a.len() % 8;
    for (x, y) in a[..whole].chunks_exact(8).zip(b[..whole].chunks_exact(8)) {
        for i in 0..8 {
            lanes[i] += x[i] * y[i];
        }
    }
    let tail: f32 = a[whole..].iter().zip(&b[whole..]).map(|(x, y)| x * y).sum();
    lanes.iter().sum::<f32>() + tail
}
