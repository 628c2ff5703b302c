//! Errors of dataset loading, splitting and fidelity views.

use std::path::PathBuf;

/// Why a dataset cannot be loaded, split or viewed. Every variant about a file names it.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// A file or folder could not be opened, read, written or listed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A gzip file that does not decompress.
    #[error("{}: not a valid gzip file: {source}", path.display())]
    Gzip {
        /// The file.
        path: PathBuf,
        /// flate2's error.
        source: std::io::Error,
    },
    /// An IDX file whose magic number is not the expected one.
    #[error(
        "{}: IDX magic number 0x{found:08x}, expected 0x{expected:08x} ({expected_kind}); \
         is this the right file?",
        path.display()
    )]
    BadMagic {
        /// The file.
        path: PathBuf,
        /// The first four bytes, big-endian.
        found: u32,
        /// The magic number the reader expected.
        expected: u32,
        /// What that magic number means (`u8 images, 3 dimensions`).
        expected_kind: &'static str,
    },
    /// A file whose length does not match what its header (or format) announces.
    #[error(
        "{}: {}: {what} needs {expected} bytes, found {found}",
        path.display(), size_problem(*expected, *found)
    )]
    Size {
        /// The file (decompressed contents when it is gzip).
        path: PathBuf,
        /// What the bytes are (`IDX header`, `60000 images of 28×28 after the header`).
        what: String,
        /// Bytes needed.
        expected: u64,
        /// Bytes present.
        found: u64,
    },
    /// A CIFAR binary file whose size is not a whole number of records.
    #[error(
        "{}: truncated: file size {size} bytes is not a multiple of the {record}-byte record \
         ({records} whole records and {rest} bytes left over)",
        path.display(), records = size / record, rest = size % record
    )]
    PartialRecord {
        /// The file.
        path: PathBuf,
        /// Its size in bytes.
        size: u64,
        /// The record size in bytes.
        record: u64,
    },
    /// An images file and a labels file that disagree on the number of examples.
    #[error(
        "{} holds {images} images but {} holds {labels} labels",
        images_path.display(), labels_path.display()
    )]
    CountMismatch {
        /// The images file.
        images_path: PathBuf,
        /// Number of images in it.
        images: usize,
        /// The labels file.
        labels_path: PathBuf,
        /// Number of labels in it.
        labels: usize,
    },
    /// A label outside `0..num_classes`.
    #[error(
        "{}: {item} is {label}, out of range for {num_classes} classes (0..={})",
        path.display(), num_classes.saturating_sub(1)
    )]
    LabelOutOfRange {
        /// The file holding the label (or the dataset's description when built in memory).
        path: PathBuf,
        /// Which label (`label at index 17`, `record 3 fine label`).
        item: String,
        /// The label.
        label: u32,
        /// The number of classes.
        num_classes: usize,
    },
    /// An image file the `image` crate cannot decode.
    #[error("{}: cannot decode image: {message}", path.display())]
    Decode {
        /// The file.
        path: PathBuf,
        /// The decoder's message.
        message: String,
    },
    /// An image folder without class sub-folders.
    #[error(
        "{}: no class folders; an image folder holds one sub-folder of images per class \
         (root/<class>/*.png|jpg|jpeg)",
        path.display()
    )]
    NoClasses {
        /// The root folder.
        path: PathBuf,
    },
    /// A class folder without any image.
    #[error("{}: class folder holds no .png, .jpg or .jpeg file", path.display())]
    EmptyClass {
        /// The class folder.
        path: PathBuf,
    },
    /// Images of different sizes or channel counts in one folder dataset without a resize.
    #[error(
        "{}: {found}, but {} is {expected}; give an explicit resize (width, height) to \
         bring all images to one size and channel count",
        path.display(), first.display()
    )]
    MixedImages {
        /// The image that differs.
        path: PathBuf,
        /// Its size and colour (`32×32 RGB`).
        found: String,
        /// The first image of the dataset.
        first: PathBuf,
        /// The first image's size and colour.
        expected: String,
    },
    /// An image folder's `train/` and `test/` hold different class folders.
    #[error(
        "{} has the classes [{train_classes}] but {} has [{test_classes}]; both need the same \
         class folders",
        train.display(), test.display()
    )]
    ClassesDiffer {
        /// The training folder.
        train: PathBuf,
        /// The test folder.
        test: PathBuf,
        /// Its classes.
        train_classes: String,
        /// The test folder's classes.
        test_classes: String,
    },
    /// A class of a pooled image folder too small to give images to both splits.
    #[error(
        "{}: {images} image(s) cannot be split into training and test images at test \
         fraction {test_fraction}; add images or use train/ and test/ folders",
        path.display()
    )]
    ClassTooSmall {
        /// The class folder.
        path: PathBuf,
        /// Its images.
        images: usize,
        /// The share asked for the test split.
        test_fraction: f64,
    },
    /// A dataset that is not on this machine, with how to obtain it.
    #[error("{dataset}: {} not found. {how}", path.display())]
    Missing {
        /// The dataset's name.
        dataset: String,
        /// The file or folder looked for.
        path: PathBuf,
        /// How to obtain it offline.
        how: String,
    },
    /// A dataset without a default place, loaded without a data directory.
    #[error("{dataset}: no data directory given. {how}")]
    NoDataDir {
        /// The dataset's name.
        dataset: String,
        /// How to obtain it offline.
        how: String,
    },
    /// A dataset name that is not known.
    #[error(
        "unknown dataset `{name}`: not a dataset name ({known}) nor an image folder \
         (DIR/<class>/*.png|jpg|jpeg, or DIR/train/<class> and DIR/test/<class>)"
    )]
    UnknownDataset {
        /// The name given.
        name: String,
        /// The known names, comma-separated.
        known: String,
    },
    /// Pixels, labels and shape that do not make a dataset.
    #[error("{context}: {reason}")]
    Invalid {
        /// What was being built (`dataset`, `IDX writer`).
        context: String,
        /// What is wrong.
        reason: String,
    },
    /// A split or subset that cannot be made.
    #[error("split: {reason}")]
    Split {
        /// What is wrong.
        reason: String,
    },
    /// A fidelity with an impossible value.
    #[error("fidelity {field} = {value}: {reason}")]
    Fidelity {
        /// `fraction`, `resolution` or `epochs`.
        field: &'static str,
        /// The value given.
        value: String,
        /// What it must be.
        reason: &'static str,
    },
}

/// `truncated` when bytes are missing, `trailing bytes` when there are too many.
fn size_problem(expected: u64, found: u64) -> &'static str {
    if found < expected {
        "truncated"
    } else {
        "trailing bytes"
    }
}

impl DataError {
    /// An I/O error on `path`.
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        DataError::Io {
            path: path.into(),
            source,
        }
    }

    /// An in-memory dataset or writer argument that is wrong.
    pub(crate) fn invalid(context: &str, reason: impl Into<String>) -> Self {
        DataError::Invalid {
            context: context.to_string(),
            reason: reason.into(),
        }
    }

    /// A split that cannot be made.
    pub(crate) fn split(reason: impl Into<String>) -> Self {
        DataError::Split {
            reason: reason.into(),
        }
    }
}
