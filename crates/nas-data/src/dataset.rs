//! [`Dataset`]: labelled u8 images stored N×C×H×W, channel-planar.

use std::fmt;

use crate::DataError;

/// Channels, height and width of one image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ImageShape {
    /// 1 (grey) or 3 (RGB).
    pub channels: usize,
    /// Rows.
    pub height: usize,
    /// Columns.
    pub width: usize,
}

impl ImageShape {
    /// Values in one image: `channels × height × width`.
    pub fn len(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// Whether an image of this shape holds no value.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Values in one channel plane: `height × width`.
    pub fn plane_len(&self) -> usize {
        self.height * self.width
    }
}

impl fmt::Display for ImageShape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}×{}×{}", self.channels, self.height, self.width)
    }
}

/// Labelled images: u8 pixels N×C×H×W (each image's channels one plane after another),
/// u16 labels in `0..num_classes`, and optional class names.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    pixels: Vec<u8>,
    labels: Vec<u16>,
    num_classes: usize,
    shape: ImageShape,
    class_names: Option<Vec<String>>,
}

impl Dataset {
    /// A dataset from pixels (`labels.len() × shape.len()` bytes, channel-planar) and labels.
    /// Fails when the sizes disagree, a dimension is zero, a label is `≥ num_classes` or
    /// there are class names but not `num_classes` of them.
    pub fn new(
        pixels: Vec<u8>,
        labels: Vec<u16>,
        num_classes: usize,
        shape: ImageShape,
        class_names: Option<Vec<String>>,
    ) -> Result<Self, DataError> {
        check_shape(shape, num_classes)?;
        let expected = labels.len() * shape.len();
        if pixels.len() != expected {
            return Err(DataError::invalid(
                "dataset",
                format!(
                    "{} labels of {shape} images need {expected} pixel bytes, got {}",
                    labels.len(),
                    pixels.len()
                ),
            ));
        }
        check_labels(&labels, num_classes)?;
        check_class_names(class_names.as_deref(), num_classes)?;
        Ok(Dataset {
            pixels,
            labels,
            num_classes,
            shape,
            class_names,
        })
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there is no image.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Image `i`: `channels × height × width` bytes, channel-planar. Panics when `i ≥ len()`.
    pub fn image(&self, i: usize) -> &[u8] {
        let n = self.shape.len();
        &self.pixels[i * n..(i + 1) * n]
    }

    /// Label of image `i`. Panics when `i ≥ len()`.
    pub fn label(&self, i: usize) -> u16 {
        self.labels[i]
    }

    /// All labels, in image order.
    pub fn labels(&self) -> &[u16] {
        &self.labels
    }

    /// All pixels, N×C×H×W.
    pub fn pixels(&self) -> &[u8] {
        &self.pixels
    }

    /// Number of classes (labels are in `0..num_classes`).
    pub fn num_classes(&self) -> usize {
        self.num_classes
    }

    /// Shape of every image.
    pub fn shape(&self) -> ImageShape {
        self.shape
    }

    /// Channels per image.
    pub fn channels(&self) -> usize {
        self.shape.channels
    }

    /// Rows per image.
    pub fn height(&self) -> usize {
        self.shape.height
    }

    /// Columns per image.
    pub fn width(&self) -> usize {
        self.shape.width
    }

    /// Class names, one per class, when the format provides them.
    pub fn class_names(&self) -> Option<&[String]> {
        self.class_names.as_deref()
    }

    /// Number of images of each class, indexed by label.
    pub fn class_counts(&self) -> Vec<usize> {
        count_classes(&self.labels, self.num_classes)
    }

    /// The images at `indices`, in that order (indices may repeat). Panics on an index
    /// `≥ len()`.
    pub fn subset(&self, indices: &[usize]) -> Dataset {
        let mut pixels = Vec::with_capacity(indices.len() * self.shape.len());
        for &i in indices {
            pixels.extend_from_slice(self.image(i));
        }
        Dataset {
            pixels,
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
            num_classes: self.num_classes,
            shape: self.shape,
            class_names: self.class_names.clone(),
        }
    }

    /// This dataset followed by `other`'s images; both must have the same shape and classes.
    pub fn concat(mut self, other: &Dataset) -> Result<Dataset, DataError> {
        if self.shape != other.shape || self.num_classes != other.num_classes {
            return Err(DataError::invalid(
                "dataset concatenation",
                format!(
                    "{} images of {} classes cannot be joined with {} images of {} classes",
                    self.shape, self.num_classes, other.shape, other.num_classes
                ),
            ));
        }
        self.pixels.extend_from_slice(&other.pixels);
        self.labels.extend_from_slice(&other.labels);
        Ok(self)
    }

    /// The same dataset with class names (one per class).
    pub fn with_class_names(mut self, names: Vec<String>) -> Result<Dataset, DataError> {
        check_class_names(Some(&names), self.num_classes)?;
        self.class_names = Some(names);
        Ok(self)
    }

    /// Every image transposed (rows ↔ columns). EMNIST's IDX files store images transposed
    /// relative to MNIST; call this to see its letters upright.
    pub fn transposed(mut self) -> Dataset {
        let (h, w) = (self.shape.height, self.shape.width);
        let mut plane = vec![0u8; h * w];
        for chunk in self.pixels.chunks_exact_mut(h * w) {
            for (r, row) in chunk.chunks_exact(w).enumerate() {
                for (c, &v) in row.iter().enumerate() {
                    plane[c * h + r] = v;
                }
            }
            chunk.copy_from_slice(&plane);
        }
        self.shape.height = w;
        self.shape.width = h;
        self
    }
}

/// Number of each label in `0..num_classes`; labels must be in range.
pub(crate) fn count_classes(labels: &[u16], num_classes: usize) -> Vec<usize> {
    let mut counts = vec![0; num_classes];
    for &l in labels {
        counts[l as usize] += 1;
    }
    counts
}

fn check_shape(shape: ImageShape, num_classes: usize) -> Result<(), DataError> {
    if shape.is_empty() {
        return Err(DataError::invalid(
            "dataset",
            format!("empty image shape {shape}"),
        ));
    }
    if num_classes == 0 || num_classes > usize::from(u16::MAX) + 1 {
        return Err(DataError::invalid(
            "dataset",
            format!("{num_classes} classes; a dataset has 1 to 65536 classes"),
        ));
    }
    Ok(())
}

fn check_labels(labels: &[u16], num_classes: usize) -> Result<(), DataError> {
    match labels.iter().position(|&l| l as usize >= num_classes) {
        None => Ok(()),
        Some(i) => Err(DataError::LabelOutOfRange {
            path: "dataset".into(),
            item: format!("label of image {i}"),
            label: u32::from(labels[i]),
            num_classes,
        }),
    }
}

fn check_class_names(names: Option<&[String]>, num_classes: usize) -> Result<(), DataError> {
    match names {
        Some(names) if names.len() != num_classes => Err(DataError::invalid(
            "dataset",
            format!("{} class names for {num_classes} classes", names.len()),
        )),
        _ => Ok(()),
    }
}

/// A dataset's training and test sets.
#[derive(Debug, Clone, PartialEq)]
pub struct Splits {
    /// The training set (carve a validation set from it with [`crate::split_validation`]).
    pub train: Dataset,
    /// The test set.
    pub test: Dataset,
}
