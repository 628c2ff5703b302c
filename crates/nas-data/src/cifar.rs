//! CIFAR-10 and CIFAR-100 binary versions (`cifar-10-batches-bin`, `cifar-100-binary`).
//!
//! A CIFAR-10 record is 1 label byte and 3072 pixel bytes (1024 red, 1024 green, 1024 blue,
//! each 32×32 row-major); a CIFAR-100 record is a coarse label byte, a fine label byte and the
//! same 3072 pixel bytes. The pixels are already channel-planar.

use std::path::Path;

use crate::{DataError, Dataset, ImageShape, Splits};

/// Shape of every CIFAR image.
pub const CIFAR_SHAPE: ImageShape = ImageShape {
    channels: 3,
    height: 32,
    width: 32,
};

/// CIFAR-10's training batches, in order.
pub const CIFAR10_TRAIN_FILES: [&str; 5] = [
    "data_batch_1.bin",
    "data_batch_2.bin",
    "data_batch_3.bin",
    "data_batch_4.bin",
    "data_batch_5.bin",
];
/// CIFAR-10's test batch.
pub const CIFAR10_TEST_FILE: &str = "test_batch.bin";
/// CIFAR-10's class names, one per line.
pub const CIFAR10_META_FILE: &str = "batches.meta.txt";
/// CIFAR-100's training file.
pub const CIFAR100_TRAIN_FILE: &str = "train.bin";
/// CIFAR-100's test file.
pub const CIFAR100_TEST_FILE: &str = "test.bin";
/// CIFAR-100's fine class names, one per line.
pub const CIFAR100_META_FILE: &str = "fine_label_names.txt";

/// Which CIFAR binary format a file is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CifarKind {
    /// 10 classes; records of 1 label byte + 3072 pixel bytes.
    Cifar10,
    /// 100 fine classes (20 coarse); records of coarse label + fine label + 3072 pixel bytes.
    /// The fine label is used.
    Cifar100,
}

impl CifarKind {
    /// Bytes per record.
    pub fn record_len(self) -> usize {
        self.label_bytes() + CIFAR_SHAPE.len()
    }

    /// Number of (fine) classes.
    pub fn num_classes(self) -> usize {
        match self {
            CifarKind::Cifar10 => 10,
            CifarKind::Cifar100 => 100,
        }
    }

    fn label_bytes(self) -> usize {
        match self {
            CifarKind::Cifar10 => 1,
            CifarKind::Cifar100 => 2,
        }
    }
}

/// Reads one CIFAR binary file (a CIFAR-10 batch, or CIFAR-100's `train.bin` / `test.bin`).
/// Fails when the size is not a whole number of records or a label is out of range.
pub fn read_cifar_file(path: &Path, kind: CifarKind) -> Result<Dataset, DataError> {
    let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    parse_cifar(path, &bytes, kind)
}

/// Parses the contents of one CIFAR binary file already in memory; `path` names the source
/// in errors. Fails as [`read_cifar_file`] does.
pub fn parse_cifar(path: &Path, bytes: &[u8], kind: CifarKind) -> Result<Dataset, DataError> {
    let record = kind.record_len();
    if bytes.is_empty() || !bytes.len().is_multiple_of(record) {
        return Err(DataError::PartialRecord {
            path: path.to_path_buf(),
            size: bytes.len() as u64,
            record: record as u64,
        });
    }
    let count = bytes.len() / record;
    let mut pixels = Vec::with_capacity(count * CIFAR_SHAPE.len());
    let mut labels = Vec::with_capacity(count);
    for (i, rec) in bytes.chunks_exact(record).enumerate() {
        labels.push(record_label(path, kind, i, rec)?);
        pixels.extend_from_slice(&rec[kind.label_bytes()..]);
    }
    Dataset::new(pixels, labels, kind.num_classes(), CIFAR_SHAPE, None)
}

/// CIFAR-10 from a folder holding `data_batch_1.bin` … `data_batch_5.bin`, `test_batch.bin`
/// and optionally `batches.meta.txt` (class names).
pub fn load_cifar10(dir: &Path) -> Result<Splits, DataError> {
    let mut train = read_cifar_file(&dir.join(CIFAR10_TRAIN_FILES[0]), CifarKind::Cifar10)?;
    for name in &CIFAR10_TRAIN_FILES[1..] {
        train = train.concat(&read_cifar_file(&dir.join(name), CifarKind::Cifar10)?)?;
    }
    let test = read_cifar_file(&dir.join(CIFAR10_TEST_FILE), CifarKind::Cifar10)?;
    with_names(Splits { train, test }, &dir.join(CIFAR10_META_FILE), 10)
}

/// CIFAR-100 (fine labels) from a folder holding `train.bin`, `test.bin` and optionally
/// `fine_label_names.txt` (class names).
pub fn load_cifar100(dir: &Path) -> Result<Splits, DataError> {
    let train = read_cifar_file(&dir.join(CIFAR100_TRAIN_FILE), CifarKind::Cifar100)?;
    let test = read_cifar_file(&dir.join(CIFAR100_TEST_FILE), CifarKind::Cifar100)?;
    with_names(Splits { train, test }, &dir.join(CIFAR100_META_FILE), 100)
}

/// The label used from record `i`; CIFAR-100's coarse label is checked but not used.
fn record_label(path: &Path, kind: CifarKind, i: usize, rec: &[u8]) -> Result<u16, DataError> {
    let check = |name: &str, label: u8, num_classes: usize| {
        if label as usize >= num_classes {
            return Err(DataError::LabelOutOfRange {
                path: path.to_path_buf(),
                item: format!("record {i} {name}"),
                label: u32::from(label),
                num_classes,
            });
        }
        Ok(u16::from(label))
    };
    match kind {
        CifarKind::Cifar10 => check("label", rec[0], 10),
        CifarKind::Cifar100 => {
            check("coarse label", rec[0], 20)?;
            check("fine label", rec[1], 100)
        }
    }
}

/// Adds the class names of `meta` (one per line, blank lines ignored) when the file exists.
fn with_names(splits: Splits, meta: &Path, num_classes: usize) -> Result<Splits, DataError> {
    let Some(names) = read_class_names(meta, num_classes)? else {
        return Ok(splits);
    };
    Ok(Splits {
        train: splits.train.with_class_names(names.clone())?,
        test: splits.test.with_class_names(names)?,
    })
}

fn read_class_names(meta: &Path, num_classes: usize) -> Result<Option<Vec<String>>, DataError> {
    let text = match std::fs::read_to_string(meta) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(DataError::io(meta, e)),
    };
    let names: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect();
    if names.len() != num_classes {
        return Err(DataError::invalid(
            &meta.display().to_string(),
            format!("{} class names, expected {num_classes}", names.len()),
        ));
    }
    Ok(Some(names))
}
