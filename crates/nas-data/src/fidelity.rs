//! Multi-fidelity views: a stratified subset of the training set at a lower resolution,
//! as normalised f32, computed once.
//!
//! Downsampling uses `image::imageops::resize` with [`FilterType::Triangle`]: when shrinking,
//! the `image` crate widens the filter by the scale factor, so each output pixel is a
//! tent-weighted average of the input pixels it covers (anti-aliased, like torchvision's
//! bilinear `antialias=True` or PIL's `BILINEAR`). Its weights are never negative, so unlike
//! Lanczos3 or Catmull-Rom it neither rings around the high-contrast edges of small images
//! (a digit's stroke on black) nor overshoots and clips; it also reads fewer input pixels
//! per output pixel (±1 output pixel instead of ±3). Resizing is done in f32 on values
//! scaled to [0, 1], so nothing is rounded to 8 bits on the way.

use std::fmt;

use image::imageops::{self, FilterType};
use image::{ImageBuffer, Luma};

use crate::split::subset_indices;
use crate::{DataError, Dataset, ImageShape};

/// How much a trial may spend: a fraction of the training set, an input resolution and a
/// number of epochs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fidelity {
    /// Fraction of the training set used, in (0, 1].
    pub fraction: f64,
    /// Side of the square images the network sees; `None` keeps the dataset's size.
    pub resolution: Option<usize>,
    /// Training epochs, at least 1.
    pub epochs: usize,
}

impl Fidelity {
    /// A checked fidelity.
    pub fn new(fraction: f64, resolution: Option<usize>, epochs: usize) -> Result<Self, DataError> {
        let fidelity = Fidelity {
            fraction,
            resolution,
            epochs,
        };
        fidelity.validate()?;
        Ok(fidelity)
    }

    /// The whole training set at its own resolution for `epochs` epochs.
    pub fn full(epochs: usize) -> Result<Self, DataError> {
        Fidelity::new(1.0, None, epochs)
    }

    /// Fails when the fraction is not in (0, 1], the resolution is 0 or there are no epochs.
    pub fn validate(&self) -> Result<(), DataError> {
        if !(self.fraction > 0.0 && self.fraction <= 1.0) {
            return Err(DataError::Fidelity {
                field: "fraction",
                value: self.fraction.to_string(),
                reason: "must be in (0, 1]",
            });
        }
        if self.resolution == Some(0) {
            return Err(DataError::Fidelity {
                field: "resolution",
                value: "0".to_string(),
                reason: "must be at least 1 pixel",
            });
        }
        if self.epochs == 0 {
            return Err(DataError::Fidelity {
                field: "epochs",
                value: "0".to_string(),
                reason: "must be at least 1",
            });
        }
        Ok(())
    }
}

impl fmt::Display for Fidelity {
    /// `fraction 0.25, 14×14, 3 epochs` or `fraction 1, native resolution, 1 epoch`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "fraction {}, ", self.fraction)?;
        match self.resolution {
            Some(r) => write!(f, "{r}×{r}, ")?,
            None => write!(f, "native resolution, ")?,
        }
        let plural = if self.epochs == 1 { "" } else { "s" };
        write!(f, "{} epoch{plural}", self.epochs)
    }
}

/// Per-channel mean and standard deviation of pixel values scaled to [0, 1].
#[derive(Debug, Clone, PartialEq)]
pub struct Normalization {
    /// Mean of each channel.
    pub mean: Vec<f32>,
    /// Population standard deviation of each channel (1 for a constant channel, so that
    /// normalising never divides by zero).
    pub std: Vec<f32>,
}

impl Normalization {
    /// The statistics of `values`: whole images of `shape`, channel-planar.
    pub fn of(values: &[f32], shape: ImageShape) -> Normalization {
        let mut sum = vec![0f64; shape.channels];
        let mut sum_sq = vec![0f64; shape.channels];
        for (i, plane) in values.chunks_exact(shape.plane_len()).enumerate() {
            let c = i % shape.channels;
            for &v in plane {
                sum[c] += f64::from(v);
                sum_sq[c] += f64::from(v) * f64::from(v);
            }
        }
        let count = (values.len() / shape.channels.max(1)).max(1) as f64;
        let mean: Vec<f64> = sum.iter().map(|s| s / count).collect();
        let std = sum_sq
            .iter()
            .zip(&mean)
            .map(|(sq, m)| (sq / count - m * m).max(0.0).sqrt())
            .map(|s| if s < 1e-6 { 1.0 } else { s as f32 })
            .collect();
        Normalization {
            mean: mean.iter().map(|&m| m as f32).collect(),
            std,
        }
    }

    /// `(v − mean) / std` for every value of whole images of `shape`, channel-planar.
    pub fn apply(&self, values: &mut [f32], shape: ImageShape) {
        for (i, plane) in values.chunks_exact_mut(shape.plane_len()).enumerate() {
            let c = i % shape.channels;
            let (mean, inv_std) = (self.mean[c], 1.0 / self.std[c]);
            for v in plane {
                *v = (*v - mean) * inv_std;
            }
        }
    }
}

/// Labelled f32 images, N×C×H×W channel-planar.
#[derive(Debug, Clone, PartialEq)]
pub struct F32Images {
    /// The values, `len() × shape.len()`.
    pub values: Vec<f32>,
    /// One label per image.
    pub labels: Vec<u16>,
    /// Shape of every image.
    pub shape: ImageShape,
}

impl F32Images {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there is no image.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Image `i`'s values. Panics when `i ≥ len()`.
    pub fn image(&self, i: usize) -> &[f32] {
        let n = self.shape.len();
        &self.values[i * n..(i + 1) * n]
    }

    /// The images at `indices` and their labels, as one batch.
    pub fn batch(&self, indices: &[usize]) -> (Vec<f32>, Vec<u16>) {
        let mut values = Vec::with_capacity(indices.len() * self.shape.len());
        for &i in indices {
            values.extend_from_slice(self.image(i));
        }
        (values, indices.iter().map(|&i| self.labels[i]).collect())
    }

    /// Fold `k` of `folds` for k-fold cross-validation, as (training part, held-out part):
    /// image `i` is held out when `i mod folds = k`. On images grouped by class this keeps
    /// every class's share in each fold; on shuffled ones it is a random split. Panics when
    /// `k ≥ folds`.
    pub fn fold(&self, k: usize, folds: usize) -> (F32Images, F32Images) {
        assert!(k < folds, "fold {k} of {folds}");
        let (held, kept): (Vec<usize>, Vec<usize>) = (0..self.len()).partition(|i| i % folds == k);
        let part = |indices: &[usize]| {
            let (values, labels) = self.batch(indices);
            F32Images {
                values,
                labels,
                shape: self.shape,
            }
        };
        (part(&kept), part(&held))
    }
}

/// The training data of one fidelity, prepared once: a stratified subset of the training
/// set, resized to the fidelity's resolution and normalised with its own per-channel
/// statistics; the validation set prepared the same way (whole, so that scores of different
/// fractions are comparable).
#[derive(Debug, Clone)]
pub struct FidelityView {
    fidelity: Fidelity,
    train_indices: Vec<usize>,
    normalization: Normalization,
    train: F32Images,
    validation: F32Images,
}

impl FidelityView {
    /// Prepares `fidelity` on `train` (subset drawn with `seed`) and `validation`, which
    /// must have the same image shape.
    pub fn new(
        train: &Dataset,
        validation: &Dataset,
        fidelity: Fidelity,
        seed: u64,
    ) -> Result<FidelityView, DataError> {
        fidelity.validate()?;
        let indices = subset_indices(train.labels(), train.num_classes(), fidelity.fraction, seed)?;
        let size = fidelity.resolution.map(|r| (r, r));
        let mut train_f32 = to_f32_images(&train.subset(&indices), size);
        let normalization = Normalization::of(&train_f32.values, train_f32.shape);
        normalization.apply(&mut train_f32.values, train_f32.shape);
        let validation = prepare_like(validation, &train_f32, &normalization)?;
        Ok(FidelityView {
            fidelity,
            train_indices: indices,
            normalization,
            train: train_f32,
            validation,
        })
    }

    /// `dataset` (validation or test) resized and normalised exactly as the training subset.
    pub fn prepare(&self, dataset: &Dataset) -> Result<F32Images, DataError> {
        prepare_like(dataset, &self.train, &self.normalization)
    }

    /// The fidelity.
    pub fn fidelity(&self) -> Fidelity {
        self.fidelity
    }

    /// Indices of the training subset in the training set, ascending.
    pub fn train_indices(&self) -> &[usize] {
        &self.train_indices
    }

    /// The statistics used to normalise every set of this view.
    pub fn normalization(&self) -> &Normalization {
        &self.normalization
    }

    /// The prepared training subset.
    pub fn train(&self) -> &F32Images {
        &self.train
    }

    /// The prepared validation set.
    pub fn validation(&self) -> &F32Images {
        &self.validation
    }
}

/// `dataset`'s pixels scaled to [0, 1] and, when `size` (height, width) differs from the
/// images', resized with the anti-aliasing triangle filter.
pub fn to_f32_images(dataset: &Dataset, size: Option<(usize, usize)>) -> F32Images {
    let from = dataset.shape();
    let (height, width) = size.unwrap_or((from.height, from.width));
    let shape = ImageShape {
        channels: from.channels,
        height,
        width,
    };
    let mut values = Vec::with_capacity(dataset.len() * shape.len());
    for plane in dataset.pixels().chunks_exact(from.plane_len()) {
        let unit: Vec<f32> = plane.iter().map(|&p| f32::from(p) / 255.0).collect();
        values.extend(resize_plane(unit, from, height, width));
    }
    F32Images {
        values,
        labels: dataset.labels().to_vec(),
        shape,
    }
}

/// One channel plane of `from`'s size resized to `height × width` (a copy-free no-op when
/// the size is unchanged).
fn resize_plane(plane: Vec<f32>, from: ImageShape, height: usize, width: usize) -> Vec<f32> {
    if (from.height, from.width) == (height, width) {
        return plane;
    }
    let (w, h) = (from.width as u32, from.height as u32);
    let Some(image) = ImageBuffer::<Luma<f32>, Vec<f32>>::from_raw(w, h, plane) else {
        unreachable!("a plane of a dataset has height × width values");
    };
    imageops::resize(&image, width as u32, height as u32, FilterType::Triangle).into_raw()
}

/// `dataset` resized to `train`'s size and normalised with `normalization`.
fn prepare_like(
    dataset: &Dataset,
    train: &F32Images,
    normalization: &Normalization,
) -> Result<F32Images, DataError> {
    let channels = train.shape.channels;
    if dataset.channels() != channels {
        return Err(DataError::invalid(
            "fidelity view",
            format!(
                "{} images cannot be prepared like the {channels}-channel training set",
                dataset.shape()
            ),
        ));
    }
    let mut images = to_f32_images(dataset, Some((train.shape.height, train.shape.width)));
    normalization.apply(&mut images.values, images.shape);
    Ok(images)
}
