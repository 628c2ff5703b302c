//! Image folders: `root/<class>/*.png|jpg|jpeg`, one sub-folder per class.
//!
//! Files are decoded in parallel (rayon), and each is brought to the dataset's size as soon as
//! it is decoded, so a folder of large photographs never holds more than a few full-size
//! images in memory at once.

use std::path::{Path, PathBuf};

use image::imageops::{self, FilterType};
use image::{DynamicImage, GrayImage, ImageReader, RgbImage};
use rayon::prelude::*;

use crate::{DataError, Dataset, ImageShape};

/// Extensions read as images (compared without case).
pub const IMAGE_EXTENSIONS: [&str; 3] = ["png", "jpg", "jpeg"];

/// How an image folder is read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FolderOptions {
    /// Bring every image to this `(width, height)` (triangle filter, anti-aliased when
    /// shrinking), and to RGB when the folder mixes grey and colour images. Without it, all
    /// images must have one size and one colour kind.
    pub resize: Option<(u32, u32)>,
}

/// Decodes image files (PNG, JPEG) and brings each to `shape`: grey or RGB as
/// `shape.channels` says (alpha dropped), resized with the triangle filter when its size
/// differs. The result holds the images in the order given, every label 0, one class. Errors
/// name the file that cannot be read or decoded.
pub fn load_image_files(paths: &[PathBuf], shape: ImageShape) -> Result<Dataset, DataError> {
    let mut pixels = Vec::with_capacity(paths.len() * shape.len());
    for path in paths {
        append_planar(&mut pixels, decode(path)?, shape);
    }
    Dataset::new(pixels, vec![0; paths.len()], 1, shape, None)
}

/// Every image file under `dir` (`.png`, `.jpg`, `.jpeg`, any case), recursively, sorted by
/// path; hidden files and folders are left out.
pub fn image_files_under(dir: &Path) -> Result<Vec<PathBuf>, DataError> {
    let mut found = Vec::new();
    for path in list_dir(dir)? {
        if file_name(&path).starts_with('.') {
            continue;
        }
        if path.is_dir() {
            found.extend(image_files_under(&path)?);
        } else if has_image_extension(&path) {
            found.push(path);
        }
    }
    found.sort();
    Ok(found)
}

/// The classes of an image folder and their files, before any image is decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ClassListing {
    /// Class names (the sub-folders' names), sorted; a label is an index into them.
    pub names: Vec<String>,
    /// Every image file with its label, class by class, sorted by name within a class.
    pub files: Vec<(PathBuf, u16)>,
}

impl ClassListing {
    /// Lists `root/<class>/*.png|jpg|jpeg`: classes are the sub-folders sorted by name
    /// (labels `0..`), images are sorted by file name within a class, other files and hidden
    /// folders are ignored. A folder without class folders, or a class without images, is an
    /// error naming it.
    pub fn read(root: &Path) -> Result<ClassListing, DataError> {
        let classes = class_folders(root)?;
        let mut files = Vec::new();
        for (label, class) in classes.iter().enumerate() {
            let images = image_files(class)?;
            if images.is_empty() {
                return Err(DataError::EmptyClass {
                    path: class.clone(),
                });
            }
            let label = label_u16(label)?;
            files.extend(images.into_iter().map(|f| (f, label)));
        }
        let names = classes.iter().map(|c| file_name(c)).collect();
        Ok(ClassListing { names, files })
    }

    /// Width and height of every image, read from the file headers only (nothing decoded).
    pub fn sizes(&self) -> Result<Vec<(u32, u32)>, DataError> {
        self.files
            .par_iter()
            .map(|(path, _)| {
                open(path)?
                    .into_dimensions()
                    .map_err(|e| decode_error(path, e))
            })
            .collect()
    }
}

/// One decoded image, already at the size it will have in the dataset.
pub(crate) struct Fitted {
    path: PathBuf,
    /// Its size as stored in the file.
    original: (u32, u32),
    /// Whether all its pixels are grey.
    grey: bool,
    /// Its pixels as RGB at the dataset's size (its own size without a resize).
    rgb: RgbImage,
}

impl Fitted {
    /// Its size as stored in the file.
    pub fn original(&self) -> (u32, u32) {
        self.original
    }

    /// `28×28 grey`, `32×32 RGB`.
    fn describe(&self) -> String {
        let kind = if self.grey { "grey" } else { "RGB" };
        format!("{}×{} {kind}", self.original.0, self.original.1)
    }
}

/// Decodes `files` in parallel, each resized to `resize` when given. Errors name the file.
pub(crate) fn decode_fitted(
    files: &[(PathBuf, u16)],
    resize: Option<(u32, u32)>,
) -> Result<Vec<Fitted>, DataError> {
    files
        .par_iter()
        .map(|(path, _)| {
            let image = decode(path)?;
            let original = (image.width(), image.height());
            let grey_type = !image.color().has_color();
            let rgb = image.into_rgb8();
            let grey = grey_type || rgb.pixels().all(|p| p[0] == p[1] && p[1] == p[2]);
            let rgb = match resize {
                Some((w, h)) => fit_rgb(rgb, w, h),
                None => rgb,
            };
            Ok(Fitted {
                path: path.clone(),
                original,
                grey,
                rgb,
            })
        })
        .collect()
}

/// The dataset of `fitted` images labelled `labels`: 1 channel when every image is grey
/// (a grey colour type, or equal red, green and blue everywhere) and `force_rgb` is false,
/// else 3. Without a resize, every image must
/// share the first one's size and colour kind.
pub(crate) fn assemble(
    fitted: Vec<Fitted>,
    labels: Vec<u16>,
    names: Vec<String>,
    resize: Option<(u32, u32)>,
    force_rgb: bool,
) -> Result<Dataset, DataError> {
    let Some(first) = fitted.first() else {
        return Err(DataError::invalid("image folder", "no images"));
    };
    if resize.is_none() {
        let same = |f: &Fitted| f.grey == first.grey && f.original == first.original;
        if let Some(odd) = fitted.iter().find(|f| !same(f)) {
            return Err(DataError::MixedImages {
                path: odd.path.clone(),
                found: odd.describe(),
                first: first.path.clone(),
                expected: first.describe(),
            });
        }
    }
    let channels = if !force_rgb && fitted.iter().all(|f| f.grey) {
        1
    } else {
        3
    };
    let (width, height) = first.rgb.dimensions();
    let shape = ImageShape {
        channels,
        height: height as usize,
        width: width as usize,
    };
    let mut pixels = Vec::with_capacity(fitted.len() * shape.len());
    for image in &fitted {
        for c in 0..channels {
            pixels.extend(image.rgb.pixels().map(|p| p[c]));
        }
    }
    Dataset::new(pixels, labels, names.len(), shape, Some(names))
}

/// Whether any of `fitted` has colour.
pub(crate) fn any_colour(fitted: &[Fitted]) -> bool {
    fitted.iter().any(|f| !f.grey)
}

/// Loads `root/<class>/*.png|jpg|jpeg` (see [`ClassListing::read`] for what is read). When
/// every image is grey (a grey colour type, or equal red, green and blue everywhere) the
/// dataset has 1 channel, otherwise 3; alpha is dropped.
pub fn load_image_folder(root: &Path, options: &FolderOptions) -> Result<Dataset, DataError> {
    let listing = ClassListing::read(root)?;
    let fitted = decode_fitted(&listing.files, options.resize)?;
    let labels = listing.files.iter().map(|(_, label)| *label).collect();
    assemble(fitted, labels, listing.names, options.resize, false)
}

/// The class sub-folders of `root`, sorted by name, hidden ones left out.
fn class_folders(root: &Path) -> Result<Vec<PathBuf>, DataError> {
    let mut classes: Vec<PathBuf> = list_dir(root)?
        .into_iter()
        .filter(|p| p.is_dir() && !file_name(p).starts_with('.'))
        .collect();
    classes.sort();
    if classes.is_empty() {
        return Err(DataError::NoClasses {
            path: root.to_path_buf(),
        });
    }
    Ok(classes)
}

/// The image files of a class folder, sorted by name; hidden ones (`._photo.jpg`, which
/// macOS leaves beside copies) left out.
fn image_files(class: &Path) -> Result<Vec<PathBuf>, DataError> {
    let mut files: Vec<PathBuf> = list_dir(class)?
        .into_iter()
        .filter(|p| p.is_file() && has_image_extension(p) && !file_name(p).starts_with('.'))
        .collect();
    files.sort();
    Ok(files)
}

fn list_dir(dir: &Path) -> Result<Vec<PathBuf>, DataError> {
    let entries = std::fs::read_dir(dir).map_err(|e| DataError::io(dir, e))?;
    entries
        .map(|entry| entry.map(|e| e.path()).map_err(|e| DataError::io(dir, e)))
        .collect()
}

fn has_image_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.iter().any(|x| x.eq_ignore_ascii_case(e)))
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn label_u16(label: usize) -> Result<u16, DataError> {
    u16::try_from(label).map_err(|_| {
        DataError::invalid("image folder", "more than 65536 class folders".to_string())
    })
}

fn decode_error(path: &Path, e: impl ToString) -> DataError {
    DataError::Decode {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// A reader of `path` whose format is guessed from its first bytes.
fn open(path: &Path) -> Result<ImageReader<std::io::BufReader<std::fs::File>>, DataError> {
    ImageReader::open(path)
        .map_err(|e| DataError::io(path, e))?
        .with_guessed_format()
        .map_err(|e| decode_error(path, e))
}

fn decode(path: &Path) -> Result<DynamicImage, DataError> {
    open(path)?.decode().map_err(|e| decode_error(path, e))
}

/// Appends `image`, converted to `shape` (channels, then size), channel-planar.
fn append_planar(pixels: &mut Vec<u8>, image: DynamicImage, shape: ImageShape) {
    let (w, h) = (shape.width as u32, shape.height as u32);
    if shape.channels == 1 {
        pixels.extend_from_slice(&fit_grey(image.into_luma8(), w, h));
    } else {
        let rgb = fit_rgb(image.into_rgb8(), w, h);
        for c in 0..3 {
            pixels.extend(rgb.pixels().map(|p| p[c]));
        }
    }
}

fn fit_grey(image: GrayImage, width: u32, height: u32) -> GrayImage {
    if image.dimensions() == (width, height) {
        return image;
    }
    imageops::resize(&image, width, height, FilterType::Triangle)
}

fn fit_rgb(image: RgbImage, width: u32, height: u32) -> RgbImage {
    if image.dimensions() == (width, height) {
        return image;
    }
    imageops::resize(&image, width, height, FilterType::Triangle)
}
