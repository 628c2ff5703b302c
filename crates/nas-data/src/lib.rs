//! `nas-data`: datasets without burn. Loaders for IDX files (MNIST, Fashion-MNIST, EMNIST;
//! gzip or raw), CIFAR-10/100 binary batches and image folders (`root/<class>/*.png|jpg`)
//! into one in-memory [`Dataset`] of u8 images; datasets by name ([`load_named`]), never
//! downloaded; a user's image folder as training and test splits at one image size
//! ([`load_folder_dataset`]), and [`DataSource`], what `--dataset` names; stratified, seeded validation splits and subsets; and multi-fidelity views
//! ([`FidelityView`]): a subset of the training set at a lower resolution, normalised f32,
//! with seeded augmentation.
#![warn(missing_docs)]

mod augment;
mod cifar;
mod dataset;
mod error;
mod fidelity;
mod file;
mod folder;
mod folder_dataset;
mod idx;
mod named;
mod source;
mod split;
mod synthetic;

pub use augment::{random_crop, random_horizontal_flip, Augmentation};
pub use cifar::{
    load_cifar10, load_cifar100, parse_cifar, read_cifar_file, CifarKind, CIFAR100_META_FILE,
    CIFAR100_TEST_FILE, CIFAR100_TRAIN_FILE, CIFAR10_META_FILE, CIFAR10_TEST_FILE,
    CIFAR10_TRAIN_FILES, CIFAR_SHAPE,
};
pub use dataset::{Dataset, ImageShape, Splits};
pub use error::DataError;
pub use fidelity::{to_f32_images, F32Images, Fidelity, FidelityView, Normalization};
pub use file::Compression;
pub use folder::{
    image_files_under, load_image_files, load_image_folder, FolderOptions, IMAGE_EXTENSIONS,
};
pub use folder_dataset::{
    default_image_size, load_folder_dataset, FolderDataset, FolderLayout, FolderSplitOptions,
    DEFAULT_MAX_IMAGE_SIZE, DEFAULT_TEST_FRACTION, MAX_IMAGE_SIZE, MIN_IMAGE_SIZE, POOL_SPLIT_SEED,
};
pub use idx::{
    load_idx, parse_idx, parse_idx_images, parse_idx_labels, read_idx_images, read_idx_labels,
    write_idx, write_idx_images, write_idx_labels, IdxImages, IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC,
};
pub use named::{load_named, NamedDataset, FASHION_MNIST_CLASSES, FASHION_MNIST_DIR, MNIST_FILES};
pub use source::{DataSource, LoadedData, SourceOptions};
pub use split::{
    largest_remainder, split_validation, stratified_subset, subset_indices, validation_indices,
    Holdout, IndexSplit, TrainValidation,
};
pub use synthetic::{squares, SQUARES_SIZE};
