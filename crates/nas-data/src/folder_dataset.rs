//! A user's image folder as a dataset with a training and a test split.
//!
//! Two layouts are read: `root/train/<class>/*` with `root/test/<class>/*` (the folder's own
//! test split, used as it is), or `root/<class>/*` as one pool, of which a share of each class
//! becomes the test split ([`FolderSplitOptions::test_fraction`]).
//!
//! A pooled file is a test image when a hash of its name (`<class>/<file>`, seeded with
//! [`POOL_SPLIT_SEED`] whatever the search's seed) falls below the test fraction. So the
//! split is stratified (each class gives about its share), the same for every study of the
//! folder, and stable when images are added or removed: no file ever moves from training
//! to test, so a study resumed or exported after the folder grew never tests on an image it
//! trained on. A class of two or more images always gives at least one image to each side
//! (its lowest hash to test, its highest to training, when the hash gives none).
//!
//! Every image is brought to one square size, `image_size × image_size` (triangle filter,
//! aspect ratio not kept, as `nas predict` does), and to RGB when any image has colour. The
//! default size is the median of the images' shorter sides, clamped to
//! [[`MIN_IMAGE_SIZE`], [`DEFAULT_MAX_IMAGE_SIZE`]]: a folder of 28×28 digits stays 28×28, a
//! folder of photographs becomes 64×64.

use std::path::Path;

use crate::folder::{any_colour, assemble, decode_fitted, ClassListing, Fitted};
use crate::{DataError, Dataset, Splits};

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
    /// `TrainTest` when `root` has both a `train/` and a `test/` folder, `Pool` when it has
    /// neither; one without the other is an error naming what is missing.
    pub fn of(root: &Path) -> Result<FolderLayout, DataError> {
        match (root.join("train").is_dir(), root.join("test").is_dir()) {
            (true, true) => Ok(FolderLayout::TrainTest),
            (false, false) => Ok(FolderLayout::Pool),
            (train, _) => {
                let (has, lacks) = if train {
                    ("train", "test")
                } else {
                    ("test", "train")
                };
                Err(DataError::invalid(
                    &root.display().to_string(),
                    format!(
                        "has a {has}/ folder but no {lacks}/ folder; give both (each with the \
                         class folders), or only class folders to split"
                    ),
                ))
            }
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
                "pool of {} images split {} train / {} test (by file name hash)",
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
    let layout = FolderLayout::of(root)?;
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
    let image_size = match options.image_size {
        Some(size) => size,
        None => {
            let sizes = listings
                .iter()
                .map(ClassListing::sizes)
                .collect::<Result<Vec<_>, _>>()?;
            default_image_size(&sizes.concat())
        }
    };
    let resize = Some((image_size, image_size));
    let fitted = listings
        .iter()
        .map(|l| decode_fitted(&l.files, resize))
        .collect::<Result<Vec<_>, _>>()?;
    let originals: Vec<(u32, u32)> = fitted.iter().flatten().map(Fitted::original).collect();
    let by_pixels = |&(w, h): &(u32, u32)| u64::from(w) * u64::from(h);
    let smallest = originals.iter().copied().min_by_key(by_pixels);
    let largest = originals.iter().copied().max_by_key(by_pixels);
    let colour = fitted.iter().any(|f| any_colour(f));
    let test_sides = match layout {
        FolderLayout::Pool => Some(pool_test_sides(&listings[0], root, options.test_fraction)?),
        FolderLayout::TrainTest => None,
    };
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
            let is_test = test_sides.expect("a pool's sides");
            let side = |test: bool| -> Vec<usize> {
                (0..pool.len()).filter(|&i| is_test[i] == test).collect()
            };
            Splits {
                train: pool.subset(&side(false)),
                test: pool.subset(&side(true)),
            }
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

/// For each file of a pooled folder, whether it is a test image (see the module's
/// documentation); a class of fewer than two images is an error naming it.
fn pool_test_sides(
    listing: &ClassListing,
    root: &Path,
    test_fraction: f64,
) -> Result<Vec<bool>, DataError> {
    let keys: Vec<f64> = listing
        .files
        .iter()
        .map(|(path, label)| {
            let file = path
                .file_name()
                .map_or(std::borrow::Cow::Borrowed(""), |n| n.to_string_lossy());
            name_hash(&format!("{}/{file}", listing.names[usize::from(*label)]))
        })
        .collect();
    let mut is_test: Vec<bool> = keys.iter().map(|&k| k < test_fraction).collect();
    for (label, name) in listing.names.iter().enumerate() {
        let members: Vec<usize> = (0..keys.len())
            .filter(|&i| usize::from(listing.files[i].1) == label)
            .collect();
        if members.len() < 2 {
            return Err(DataError::ClassTooSmall {
                path: root.join(name),
                images: members.len(),
                test_fraction,
            });
        }
        let by_key = |&a: &usize, &b: &usize| keys[a].total_cmp(&keys[b]);
        if !members.iter().any(|&i| is_test[i]) {
            let lowest = members.iter().copied().min_by(by_key).expect("two members");
            is_test[lowest] = true;
        }
        if members.iter().all(|&i| is_test[i]) {
            let highest = members.iter().copied().max_by(by_key).expect("two members");
            is_test[highest] = false;
        }
    }
    Ok(is_test)
}

/// A number in [0, 1) from `name` and [`POOL_SPLIT_SEED`]: FNV-1a over its bytes, then the
/// SplitMix64 finaliser; the same on every machine and Rust version.
fn name_hash(name: &str) -> f64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ POOL_SPLIT_SEED;
    for byte in name.bytes() {
        h ^= u64::from(byte);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^= h >> 31;
    (h >> 11) as f64 / (1u64 << 53) as f64
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
