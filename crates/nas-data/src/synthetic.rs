//! A tiny learnable dataset made in memory, for tests and demonstrations: nothing to
//! download, and a network learns it in seconds on a CPU.

use crate::{Dataset, ImageShape};

/// Side length of [`squares`] images.
pub const SQUARES_SIZE: usize = 12;

/// `per_class × 10` grey 12×12 images, classes interleaved: classes 0–8 show a bright 4×4
/// square at one of the nine places of a 3×3 grid, class 9 one straddling the top-left four
/// (rows and columns 2–5); over noise in [0, 64) drawn from `seed`.
pub fn squares(per_class: usize, seed: u32) -> Dataset {
    let side = SQUARES_SIZE;
    let mut pixels = Vec::with_capacity(per_class * 10 * side * side);
    let mut labels = Vec::with_capacity(per_class * 10);
    let mut state = seed;
    for i in 0..per_class * 10 {
        let class = i % 10;
        let (cy, cx) = if class == 9 {
            (2, 2)
        } else {
            (class / 3 * 4, class % 3 * 4)
        };
        for p in 0..side * side {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            let noise = (state >> 24) as u8 / 4;
            let (y, x) = (p / side, p % side);
            let inside = (cy..cy + 4).contains(&y) && (cx..cx + 4).contains(&x);
            pixels.push(if inside { 200 + noise / 4 } else { noise });
        }
        labels.push(class as u16);
    }
    let shape = ImageShape {
        channels: 1,
        height: side,
        width: side,
    };
    match Dataset::new(pixels, labels, 10, shape, None) {
        Ok(dataset) => dataset,
        Err(e) => unreachable!("squares are a valid dataset: {e}"),
    }
}
