//! A user's image folder as a dataset with a training and a test split.
//!
//! Two layouts are read: `root/train/<class>/*` with `root/test/<class>/*` (the folder's own
//! test split, used as it is), or `root/<class>/*` as one pool, from which a stratified,
//! seeded share becomes the test split ([`FolderSplitOptions::test_fraction`], seed
//! [`POOL_SPLIT_SEED`] whatever the search's seed, so every study of one folder is tested on
//! the same images).
//!
//! Every image is brought to one square size, `image_size × image_size` (triangle filter,
//! aspect ratio not kept, as `nas predict` does), and to RGB when any image has colour. The
//! default size is the median of the images' shorter sides, clamped to
//! [[`MIN_IMAGE_SIZE`], [`DEFAULT_MAX_IMAGE_SIZE`]]: a folder of 28×28 digits stays 28×28, a
//! folder of photographs becomes 64×64.

use std::path::Path;

use crate::folder::{any_colour, assemble, decode_fitted, ClassListing};
use crate::{split_validation, DataError, Dataset, Holdout, Splits};

/// The smallest image side a folder dataset is brought to (the networks' strides adapt down
/// to it; `nas_arch`'s spec options).
pub const MIN_IMAGE_SIZE: u32 = 8;

/// The largest image side chosen by default; `--image-size` may ask for more.
pub const DEFAULT_MAX_IMAGE_SIZE: u32 = 64;

/// The largest image side that may be asked for.
pub const MAX_IMAGE_SIZE: u32 = 1024;

/// Share of a pooled folder that becomes the test split by default.
pub const DEFAULT_TEST_FRACTION: f64 = 0.2;

/// Seed of a pooled folder's test split.
pub const POOL_SPLIT_SEED: u64 = 0;

/// How a folder dataset is read.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FolderSplitOptions {
    /// Side of the square images, in [`MIN_IMAGE_SIZE`, `MAX_IMAGE_SIZE`]; `None` chooses it
    /// from the images ([`default_image_size`]).
    pub image_size: Option<u32>,
    /// Share of a pooled folder held out as the test split, in (0, 1); not used with the
    /// `train/` + `test/` layout.
    pub test_fraction: f64,
}

impl Default for FolderSplitOptions {
    fn default() -> Self {
        FolderSplitOptions {
            image_size: None,
            test_fraction: DEFAULT_TEST_FRACTION,
        }
    }
}

/// How a folder's images are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FolderLayout {
    /// `root/train/<class>` and `root/test/<class>`.
    TrainTest,
    /// `root/<class>`, split into training and test images.
    Pool,
}

impl FolderLayout {
    /// `TrainTest` when `root` has both a `train/` and a `test/` folder, else `Pool`.
    pub fn of(root: &Path) -> FolderLayout {
        if root.join("train").is_dir() && root.join("test").is_dir() {
            FolderLayout::TrainTest
        } else {
            FolderLayout::Pool
        }
    }
}

/// A folder dataset and how it was read.
#[derive(Debug, Clone, PartialEq)]
pub struct FolderDataset {
    /// The training and test splits.
    pub splits: Splits,
    /// Which layout the folder has.
    pub layout: FolderLayout,
    /// The side every image was brought to.
    pub image_size: u32,
    /// Smallest and largest `(width, height)` among the files, by pixel count.
    pub smallest: (u32, u32),
    /// See `smallest`.
    pub largest: (u32, u32),
}

impl FolderDataset {
    /// One line for logs: `pool of 10000 images in 10 classes, 8000 train / 2000 test (seed
    /// 0); 28×28 … 28×28 files brought to 28×28 grey`.
    pub fn describe(&self) -> String {
        let (train, test) = (&self.splits.train, &self.splits.test);
        let layout = match self.layout {
            FolderLayout::TrainTest => format!(
                "train/ and test/ folders, {} train / {} test images",
                train.len(),
                test.len()
            ),
            FolderLayout::Pool => format!(
                "pool of {} images split {} train / {} test (stratified, seed {POOL_SPLIT_SEED})",
                train.len() + test.len(),
                train.len(),
                test.len()
            ),
        };
        let kind = if train.channels() == 1 { "grey" } else { "RGB" };
        format!(
            "{layout}, {} classes; files {}×{} … {}×{} brought to {n}×{n} {kind}",
            train.num_classes(),
            self.smallest.0,
            self.smallest.1,
            self.largest.0,
            self.largest.1,
            n = self.image_size
        )
    }
}

/// The default side for images of these `(width, height)` sizes: the median shorter side,
/// clamped to [[`MIN_IMAGE_SIZE`], [`DEFAULT_MAX_IMAGE_SIZE`]].
pub fn default_image_size(sizes: &[(u32, u32)]) -> u32 {
    let mut sides: Vec<u32> = sizes.iter().map(|&(w, h)| w.min(h)).collect();
    sides.sort_unstable();
    let median = sides
        .get(sides.len() / 2)
        .copied()
        .unwrap_or(MIN_IMAGE_SIZE);
    median.clamp(MIN_IMAGE_SIZE, DEFAULT_MAX_IMAGE_SIZE)
}

/// Reads the image folder `root` in either layout (see the module's documentation).
pub fn load_folder_dataset(
    root: &Path,
    options: &FolderSplitOptions,
) -> Result<FolderDataset, DataError> {
    check_options(options)?;
    let (train_dir, test_dir) = (root.join("train"), root.join("test"));
    let layout = FolderLayout::of(root);
    let listings = match layout {
        FolderLayout::TrainTest => {
            let (train, test) = (
                ClassListing::read(&train_dir)?,
                ClassListing::read(&test_dir)?,
            );
            if train.names != test.names {
                return Err(DataError::ClassesDiffer {
                    train: train_dir,
                    test: test_dir,
                    train_classes: train.names.join(", "),
                    test_classes: test.names.join(", "),
                });
            }
            vec![train, test]
        }
        FolderLayout::Pool => vec![ClassListing::read(root)?],
    };
    let sizes: Vec<(u32, u32)> = listings
        .iter()
        .map(ClassListing::sizes)
        .collect::<Result<Vec<_>, _>>()?
        .concat();
    let image_size = options
        .image_size
        .unwrap_or_else(|| default_image_size(&sizes));
    let by_pixels = |&(w, h): &(u32, u32)| u64::from(w) * u64::from(h);
    let smallest = sizes.iter().copied().min_by_key(by_pixels);
    let largest = sizes.iter().copied().max_by_key(by_pixels);
    let resize = Some((image_size, image_size));
    let fitted = listings
        .iter()
        .map(|l| decode_fitted(&l.files, resize))
        .collect::<Result<Vec<_>, _>>()?;
    let colour = fitted.iter().any(|f| any_colour(f));
    let mut sets: Vec<Dataset> = Vec::new();
    for (listing, images) in listings.into_iter().zip(fitted) {
        let labels = listing.files.iter().map(|(_, label)| *label).collect();
        sets.push(assemble(images, labels, listing.names, resize, colour)?);
    }
    let splits = match layout {
        FolderLayout::TrainTest => {
            let test = sets.pop().expect("two listings");
            let train = sets.pop().expect("two listings");
            Splits { train, test }
        }
        FolderLayout::Pool => {
            let pool = sets.pop().expect("one listing");
            pool_splits(&pool, root, options.test_fraction)?
        }
    };
    Ok(FolderDataset {
        splits,
        layout,
        image_size,
        smallest: smallest.unwrap_or((image_size, image_size)),
        largest: largest.unwrap_or((image_size, image_size)),
    })
}

/// `pool` split into training and test sets; every class must keep an image on each side.
fn pool_splits(pool: &Dataset, root: &Path, test_fraction: f64) -> Result<Splits, DataError> {
    let split = split_validation(pool, Holdout::Fraction(test_fraction), POOL_SPLIT_SEED)?;
    let (train_counts, test_counts) = (split.train.class_counts(), split.validation.class_counts());
    let names = pool.class_names().unwrap_or_default();
    for (class, (&train, &test)) in train_counts.iter().zip(&test_counts).enumerate() {
        if train == 0 || test == 0 {
            return Err(DataError::ClassTooSmall {
                path: root.join(names.get(class).map_or("?", String::as_str)),
                images: train + test,
                test_fraction,
            });
        }
    }
    Ok(Splits {
        train: split.train,
        test: split.validation,
    })
}

fn check_options(options: &FolderSplitOptions) -> Result<(), DataError> {
    if let Some(size) = options.image_size {
        if !(MIN_IMAGE_SIZE..=MAX_IMAGE_SIZE).contains(&size) {
            return Err(DataError::invalid(
                "image size",
                format!("{size} is not in {MIN_IMAGE_SIZE}..={MAX_IMAGE_SIZE} pixels"),
            ));
        }
    }
    let f = options.test_fraction;
    if !(f > 0.0 && f < 1.0) {
        return Err(DataError::invalid(
            "test fraction",
            format!("{f} is not in (0, 1)"),
        ));
    }
    Ok(())
}
