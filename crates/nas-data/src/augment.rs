//! Data augmentation on batches of f32 images (N×C×H×W, channel-planar), driven by a
//! caller-seeded random number generator so that a run can be replayed.

use rand::Rng;

use crate::ImageShape;

/// Which augmentations to apply to each training batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Augmentation {
    /// Random crop after padding each side with this many zeros (0: no crop). On normalised
    /// images zero is the channel mean.
    pub crop_padding: usize,
    /// Mirror each image left-right with probability ½.
    pub horizontal_flip: bool,
}

impl Augmentation {
    /// Applies the crop, then the flip, to every image of `batch`. Panics when `batch` is not
    /// a whole number of `shape` images.
    pub fn apply<R: Rng + ?Sized>(&self, batch: &mut [f32], shape: ImageShape, rng: &mut R) {
        if self.crop_padding > 0 {
            random_crop(batch, shape, self.crop_padding, rng);
        }
        if self.horizontal_flip {
            random_horizontal_flip(batch, shape, rng);
        }
    }
}

/// Shifts each image by a random offset in `-padding..=padding` on each axis (the same for
/// all its channels), filling with zeros: a random `H×W` crop of the image padded with
/// `padding` zeros per side. Panics when `batch` is not a whole number of `shape` images.
pub fn random_crop<R: Rng + ?Sized>(
    batch: &mut [f32],
    shape: ImageShape,
    padding: usize,
    rng: &mut R,
) {
    let mut scratch = vec![0f32; shape.plane_len()];
    for image in whole_images(batch, shape) {
        let dy = rng.random_range(0..=2 * padding) as isize - padding as isize;
        let dx = rng.random_range(0..=2 * padding) as isize - padding as isize;
        for plane in image.chunks_exact_mut(shape.plane_len()) {
            shift_plane(plane, &mut scratch, shape, dy, dx);
        }
    }
}

/// Mirrors each image left-right with probability ½. Panics when `batch` is not a whole
/// number of `shape` images.
pub fn random_horizontal_flip<R: Rng + ?Sized>(batch: &mut [f32], shape: ImageShape, rng: &mut R) {
    for image in whole_images(batch, shape) {
        if rng.random_bool(0.5) {
            for row in image.chunks_exact_mut(shape.width) {
                row.reverse();
            }
        }
    }
}

fn whole_images(batch: &mut [f32], shape: ImageShape) -> std::slice::ChunksExactMut<'_, f32> {
    assert!(
        batch.len().checked_rem(shape.len()) == Some(0),
        "a batch of {} values is not a whole number of {shape} images",
        batch.len()
    );
    batch.chunks_exact_mut(shape.len())
}

/// `plane[y][x] ← plane[y + dy][x + dx]`, zero outside the plane.
fn shift_plane(plane: &mut [f32], scratch: &mut [f32], shape: ImageShape, dy: isize, dx: isize) {
    let (h, w) = (shape.height as isize, shape.width as isize);
    scratch.fill(0.0);
    for y in 0..h {
        let sy = y + dy;
        if !(0..h).contains(&sy) {
            continue;
        }
        let (x0, x1) = ((-dx).max(0), (w - dx).min(w));
        if x0 >= x1 {
            continue;
        }
        let dst = (y * w + x0) as usize..(y * w + x1) as usize;
        let src = (sy * w + x0 + dx) as usize..(sy * w + x1 + dx) as usize;
        scratch[dst].copy_from_slice(&plane[src]);
    }
    plane.copy_from_slice(scratch);
}
