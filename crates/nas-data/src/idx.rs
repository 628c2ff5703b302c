//! IDX files (MNIST, Fashion-MNIST, EMNIST): reader and writer, gzip or raw.
//!
//! An IDX file is a big-endian magic number `0x0000_08NN` (`08` = unsigned bytes, `NN` = the
//! number of dimensions), one big-endian u32 per dimension, then the data row-major.

use std::path::Path;

use crate::file::{maybe_gunzip, write_file, Compression};
use crate::{DataError, Dataset, ImageShape};

/// Magic number of an IDX file of u8 images: 3 dimensions (count, rows, columns).
pub const IDX_IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic number of an IDX file of u8 labels: 1 dimension (count).
pub const IDX_LABELS_MAGIC: u32 = 0x0000_0801;

/// The contents of an IDX images file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxImages {
    /// Number of images.
    pub count: usize,
    /// Rows per image.
    pub height: usize,
    /// Columns per image.
    pub width: usize,
    /// `count × height × width` bytes, row-major.
    pub pixels: Vec<u8>,
}

/// Reads an IDX images file (magic `0x00000803`), gzip or raw.
pub fn read_idx_images(path: &Path) -> Result<IdxImages, DataError> {
    let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    parse_idx_images(path, bytes)
}

/// Parses the contents of an IDX images file (magic `0x00000803`), gzip or raw, already in
/// memory; `path` names the source in errors.
pub fn parse_idx_images(path: &Path, bytes: Vec<u8>) -> Result<IdxImages, DataError> {
    let (mut bytes, gzip) = maybe_gunzip(path, bytes)?;
    let dims = read_header(path, &bytes, IDX_IMAGES_MAGIC, "u8 images, 3 dimensions")?;
    let (count, height, width) = (dims[0], dims[1], dims[2]);
    if height == 0 || width == 0 {
        return Err(DataError::invalid(
            &path.display().to_string(),
            format!("IDX images of {height}×{width} pixels"),
        ));
    }
    let what = format!("{count} images of {height}×{width} after the 16-byte header");
    let body_len = count.saturating_mul(height).saturating_mul(width);
    check_body_size(path, &bytes, 16, body_len, what, gzip)?;
    bytes.drain(..16);
    Ok(IdxImages {
        count,
        height,
        width,
        pixels: bytes,
    })
}

/// Reads an IDX labels file (magic `0x00000801`), gzip or raw.
pub fn read_idx_labels(path: &Path) -> Result<Vec<u8>, DataError> {
    let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    parse_idx_labels(path, bytes)
}

/// Parses the contents of an IDX labels file (magic `0x00000801`), gzip or raw, already in
/// memory; `path` names the source in errors.
pub fn parse_idx_labels(path: &Path, bytes: Vec<u8>) -> Result<Vec<u8>, DataError> {
    let (mut bytes, gzip) = maybe_gunzip(path, bytes)?;
    let count = read_header(path, &bytes, IDX_LABELS_MAGIC, "u8 labels, 1 dimension")?[0];
    let what = format!("{count} labels after the 8-byte header");
    check_body_size(path, &bytes, 8, count, what, gzip)?;
    bytes.drain(..8);
    Ok(bytes)
}

/// A 1-channel dataset from an IDX images file and an IDX labels file, each gzip or raw.
/// Fails when the counts differ or a label is `≥ num_classes`.
pub fn load_idx(
    images_path: &Path,
    labels_path: &Path,
    num_classes: usize,
) -> Result<Dataset, DataError> {
    let images = read_idx_images(images_path)?;
    let labels = read_idx_labels(labels_path)?;
    idx_dataset(images_path, images, labels_path, labels, num_classes)
}

/// A 1-channel dataset from the contents of an IDX images file and an IDX labels file
/// already in memory, each gzip or raw; the paths name them in errors. Fails as
/// [`load_idx`] does.
pub fn parse_idx(
    images_path: &Path,
    images: Vec<u8>,
    labels_path: &Path,
    labels: Vec<u8>,
    num_classes: usize,
) -> Result<Dataset, DataError> {
    let images = parse_idx_images(images_path, images)?;
    let labels = parse_idx_labels(labels_path, labels)?;
    idx_dataset(images_path, images, labels_path, labels, num_classes)
}

/// The dataset of parsed images and labels, after checking they agree.
fn idx_dataset(
    images_path: &Path,
    images: IdxImages,
    labels_path: &Path,
    labels: Vec<u8>,
    num_classes: usize,
) -> Result<Dataset, DataError> {
    if images.count != labels.len() {
        return Err(DataError::CountMismatch {
            images_path: images_path.to_path_buf(),
            images: images.count,
            labels_path: labels_path.to_path_buf(),
            labels: labels.len(),
        });
    }
    check_idx_labels(labels_path, &labels, num_classes)?;
    let shape = ImageShape {
        channels: 1,
        height: images.height,
        width: images.width,
    };
    let labels = labels.into_iter().map(u16::from).collect();
    Dataset::new(images.pixels, labels, num_classes, shape, None)
}

/// Writes `count` images of `height × width` bytes (row-major) as an IDX images file.
pub fn write_idx_images(
    path: &Path,
    pixels: &[u8],
    height: usize,
    width: usize,
    compression: Compression,
) -> Result<(), DataError> {
    let image_len = height * width;
    if pixels.len().checked_rem(image_len) != Some(0) {
        return Err(DataError::invalid(
            "IDX writer",
            format!(
                "{} bytes are not a whole number of {height}×{width} images",
                pixels.len()
            ),
        ));
    }
    let dims = [pixels.len() / image_len, height, width];
    let bytes = with_header(IDX_IMAGES_MAGIC, &dims, pixels)?;
    write_file(path, &bytes, compression)
}

/// Writes u8 labels as an IDX labels file.
pub fn write_idx_labels(
    path: &Path,
    labels: &[u8],
    compression: Compression,
) -> Result<(), DataError> {
    let bytes = with_header(IDX_LABELS_MAGIC, &[labels.len()], labels)?;
    write_file(path, &bytes, compression)
}

/// Writes a 1-channel dataset with labels below 256 as an IDX images and an IDX labels file.
pub fn write_idx(
    dataset: &Dataset,
    images_path: &Path,
    labels_path: &Path,
    compression: Compression,
) -> Result<(), DataError> {
    if dataset.channels() != 1 {
        return Err(DataError::invalid(
            "IDX writer",
            format!(
                "IDX holds 1-channel images; this dataset has {}",
                dataset.channels()
            ),
        ));
    }
    let labels = labels_as_bytes(dataset.labels())?;
    let (h, w) = (dataset.height(), dataset.width());
    write_idx_images(images_path, dataset.pixels(), h, w, compression)?;
    write_idx_labels(labels_path, &labels, compression)
}

/// The dimensions of an IDX header after checking its magic number.
fn read_header(
    path: &Path,
    bytes: &[u8],
    magic: u32,
    kind: &'static str,
) -> Result<Vec<usize>, DataError> {
    let num_dims = (magic & 0xff) as usize;
    let header_len = 4 + 4 * num_dims;
    if bytes.len() >= 4 {
        let found = be_u32(&bytes[..4]);
        if found != magic {
            return Err(DataError::BadMagic {
                path: path.to_path_buf(),
                found,
                expected: magic,
                expected_kind: kind,
            });
        }
    }
    if bytes.len() < header_len {
        return Err(DataError::Size {
            path: path.to_path_buf(),
            what: "the IDX header".to_string(),
            expected: header_len as u64,
            found: bytes.len() as u64,
        });
    }
    Ok(bytes[4..header_len]
        .chunks_exact(4)
        .map(|b| be_u32(b) as usize)
        .collect())
}

fn check_body_size(
    path: &Path,
    bytes: &[u8],
    header_len: usize,
    body_len: usize,
    what: String,
    gzip: bool,
) -> Result<(), DataError> {
    let found = bytes.len() - header_len;
    if found == body_len {
        return Ok(());
    }
    let suffix = if gzip { " (decompressed)" } else { "" };
    Err(DataError::Size {
        path: path.to_path_buf(),
        what: format!("{what}{suffix}"),
        expected: body_len as u64,
        found: found as u64,
    })
}

fn check_idx_labels(path: &Path, labels: &[u8], num_classes: usize) -> Result<(), DataError> {
    match labels.iter().position(|&l| l as usize >= num_classes) {
        None => Ok(()),
        Some(i) => Err(DataError::LabelOutOfRange {
            path: path.to_path_buf(),
            item: format!("label at index {i}"),
            label: u32::from(labels[i]),
            num_classes,
        }),
    }
}

fn labels_as_bytes(labels: &[u16]) -> Result<Vec<u8>, DataError> {
    labels
        .iter()
        .map(|&l| {
            u8::try_from(l).map_err(|_| {
                DataError::invalid("IDX writer", format!("label {l} does not fit in a byte"))
            })
        })
        .collect()
}

fn with_header(magic: u32, dims: &[usize], body: &[u8]) -> Result<Vec<u8>, DataError> {
    let mut bytes = Vec::with_capacity(4 + 4 * dims.len() + body.len());
    bytes.extend_from_slice(&magic.to_be_bytes());
    for &d in dims {
        let d = u32::try_from(d).map_err(|_| {
            DataError::invalid(
                "IDX writer",
                format!("dimension {d} does not fit in 32 bits"),
            )
        })?;
        bytes.extend_from_slice(&d.to_be_bytes());
    }
    bytes.extend_from_slice(body);
    Ok(bytes)
}

fn be_u32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}
