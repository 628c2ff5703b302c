//! Image folders: `root/<class>/*.png|jpg|jpeg`, one sub-folder per class.

use std::path::{Path, PathBuf};

use image::imageops::{self, FilterType};
use image::{DynamicImage, GrayImage, ImageReader, RgbImage};

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
        append_planar(&mut pixels, decode(path.clone())?.image, shape);
    }
    Dataset::new(pixels, vec![0; paths.len()], 1, shape, None)
}

/// One decoded image and whether all its pixels are grey.
struct Decoded {
    path: PathBuf,
    image: DynamicImage,
    grey: bool,
}

impl Decoded {
    /// `28×28 grey`, `32×32 RGB`.
    fn describe(&self) -> String {
        let kind = if self.grey { "grey" } else { "RGB" };
        format!("{}×{} {kind}", self.image.width(), self.image.height())
    }
}

/// Loads `root/<class>/*.png|jpg|jpeg`: classes are the sub-folders sorted by name (labels
/// `0..`), images are sorted by file name within a class, other files and hidden folders are
/// ignored. When every image is grey (a grey colour type, or equal red, green and blue
/// everywhere) the dataset has 1 channel, otherwise 3; alpha is dropped.
pub fn load_image_folder(root: &Path, options: &FolderOptions) -> Result<Dataset, DataError> {
    let classes = class_folders(root)?;
    let mut images = Vec::new();
    let mut labels = Vec::new();
    for (label, class) in classes.iter().enumerate() {
        let files = image_files(class)?;
        if files.is_empty() {
            return Err(DataError::EmptyClass {
                path: class.clone(),
            });
        }
        for file in files {
            images.push(decode(file)?);
            labels.push(label_u16(label)?);
        }
    }
    let shape = common_shape(&images, options.resize)?;
    let mut pixels = Vec::with_capacity(images.len() * shape.len());
    for decoded in images {
        append_planar(&mut pixels, decoded.image, shape);
    }
    let names = classes.iter().map(|c| file_name(c)).collect();
    Dataset::new(pixels, labels, classes.len(), shape, Some(names))
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

/// The image files of a class folder, sorted by name.
fn image_files(class: &Path) -> Result<Vec<PathBuf>, DataError> {
    let mut files: Vec<PathBuf> = list_dir(class)?
        .into_iter()
        .filter(|p| p.is_file() && has_image_extension(p))
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

fn decode(path: PathBuf) -> Result<Decoded, DataError> {
    let reader = ImageReader::open(&path).map_err(|e| DataError::io(&path, e))?;
    let decode_error = |message: String| DataError::Decode {
        path: path.clone(),
        message,
    };
    let reader = reader
        .with_guessed_format()
        .map_err(|e| decode_error(e.to_string()))?;
    let image = reader.decode().map_err(|e| decode_error(e.to_string()))?;
    let grey = is_grey(&image);
    Ok(Decoded { path, image, grey })
}

/// Whether the image has a grey colour type or equal red, green and blue everywhere.
fn is_grey(image: &DynamicImage) -> bool {
    if !image.color().has_color() {
        return true;
    }
    image
        .to_rgb8()
        .pixels()
        .all(|p| p[0] == p[1] && p[1] == p[2])
}

/// The dataset's image shape: the resize if given, else the first image's size, which every
/// image must share, as it must share its colour kind.
fn common_shape(images: &[Decoded], resize: Option<(u32, u32)>) -> Result<ImageShape, DataError> {
    let all_grey = images.iter().all(|d| d.grey);
    let channels = if all_grey { 1 } else { 3 };
    if let Some((width, height)) = resize {
        return Ok(ImageShape {
            channels,
            height: height as usize,
            width: width as usize,
        });
    }
    let first = &images[0];
    let same = |d: &Decoded| {
        d.grey == first.grey
            && (d.image.width(), d.image.height()) == (first.image.width(), first.image.height())
    };
    if let Some(odd) = images.iter().find(|d| !same(d)) {
        return Err(DataError::MixedImages {
            path: odd.path.clone(),
            found: odd.describe(),
            first: first.path.clone(),
            expected: first.describe(),
        });
    }
    Ok(ImageShape {
        channels,
        height: first.image.height() as usize,
        width: first.image.width() as usize,
    })
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
