//! IDX files: round trips (gzip and raw) and every kind of bad file.

mod common;

use std::path::{Path, PathBuf};

use common::{assert_mentions, grey_dataset};
use nas_data::{
    load_idx, read_idx_images, read_idx_labels, write_idx, write_idx_images, write_idx_labels,
    Compression, DataError, IDX_IMAGES_MAGIC,
};

fn paths(dir: &Path, suffix: &str) -> (PathBuf, PathBuf) {
    (
        dir.join(format!("images-idx3-ubyte{suffix}")),
        dir.join(format!("labels-idx1-ubyte{suffix}")),
    )
}

/// Header + body of an IDX images file, raw.
fn images_bytes(count: u32, h: u32, w: u32, body: usize) -> Vec<u8> {
    let mut bytes = IDX_IMAGES_MAGIC.to_be_bytes().to_vec();
    for d in [count, h, w] {
        bytes.extend_from_slice(&d.to_be_bytes());
    }
    bytes.extend((0..body).map(|i| i as u8));
    bytes
}

fn labels_bytes(count: u32, labels: &[u8]) -> Vec<u8> {
    let mut bytes = 0x0000_0801u32.to_be_bytes().to_vec();
    bytes.extend_from_slice(&count.to_be_bytes());
    bytes.extend_from_slice(labels);
    bytes
}

fn error_text(result: Result<impl std::fmt::Debug, DataError>) -> String {
    result.expect_err("should fail").to_string()
}

#[test]
fn gzip_and_raw_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let data = grey_dataset(12, 5, 7, 10);
    for (compression, suffix) in [(Compression::Gzip, ".gz"), (Compression::Raw, "")] {
        let (images, labels) = paths(dir.path(), suffix);
        write_idx(&data, &images, &labels, compression).unwrap();
        let is_gzip = std::fs::read(&images).unwrap().starts_with(&[0x1f, 0x8b]);
        assert_eq!(is_gzip, compression == Compression::Gzip);
        let back = load_idx(&images, &labels, 10).unwrap();
        assert_eq!(back, data);
        assert_eq!((back.len(), back.height(), back.width()), (12, 5, 7));
    }
}

#[test]
fn gzip_is_detected_by_magic_bytes_not_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let data = grey_dataset(3, 4, 4, 3);
    let (images, labels) = paths(dir.path(), ".bin");
    write_idx(&data, &images, &labels, Compression::Gzip).unwrap();
    assert_eq!(load_idx(&images, &labels, 3).unwrap(), data);
}

#[test]
fn readers_return_dimensions_and_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let (images, labels) = paths(dir.path(), "");
    write_idx_images(&images, &[1, 2, 3, 4, 5, 6], 1, 3, Compression::Raw).unwrap();
    write_idx_labels(&labels, &[0, 1], Compression::Raw).unwrap();
    let read = read_idx_images(&images).unwrap();
    assert_eq!((read.count, read.height, read.width), (2, 1, 3));
    assert_eq!(read.pixels, vec![1, 2, 3, 4, 5, 6]);
    assert_eq!(read_idx_labels(&labels).unwrap(), vec![0, 1]);
}

#[test]
fn wrong_magic_names_the_file_and_both_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let (images, labels) = paths(dir.path(), "");
    std::fs::write(&labels, labels_bytes(2, &[0, 1])).unwrap();
    // A labels file given as images.
    let text = error_text(read_idx_images(&labels));
    assert_mentions(
        &text,
        &[&labels.display().to_string(), "0x00000801", "0x00000803"],
    );
    // An images file given as labels.
    std::fs::write(&images, images_bytes(1, 2, 2, 4)).unwrap();
    let text = error_text(read_idx_labels(&images));
    assert_mentions(
        &text,
        &[&images.display().to_string(), "0x00000803", "0x00000801"],
    );
}

#[test]
fn truncated_images_say_expected_and_found_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let (images, _) = paths(dir.path(), "");
    std::fs::write(&images, images_bytes(3, 4, 4, 40)).unwrap();
    let text = error_text(read_idx_images(&images));
    assert_mentions(
        &text,
        &[&images.display().to_string(), "truncated", "48", "40"],
    );
}

#[test]
fn truncated_gzip_images_say_decompressed() {
    let dir = tempfile::tempdir().unwrap();
    let (images, _) = paths(dir.path(), ".gz");
    let raw = images_bytes(3, 4, 4, 47);
    std::fs::write(&images, gzip(&raw)).unwrap();
    let text = error_text(read_idx_images(&images));
    assert_mentions(
        &text,
        &[
            &images.display().to_string(),
            "truncated",
            "48",
            "47",
            "decompressed",
        ],
    );
}

fn gzip(raw: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(raw).unwrap();
    encoder.finish().unwrap()
}

#[test]
fn trailing_bytes_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (_, labels) = paths(dir.path(), "");
    std::fs::write(&labels, labels_bytes(2, &[0, 1, 2])).unwrap();
    let text = error_text(read_idx_labels(&labels));
    assert_mentions(
        &text,
        &[&labels.display().to_string(), "trailing bytes", "2", "3"],
    );
}

#[test]
fn truncated_header_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let (images, _) = paths(dir.path(), "");
    std::fs::write(&images, &images_bytes(3, 4, 4, 0)[..10]).unwrap();
    let text = error_text(read_idx_images(&images));
    assert_mentions(
        &text,
        &[
            &images.display().to_string(),
            "truncated",
            "IDX header",
            "16",
            "10",
        ],
    );
}

#[test]
fn corrupt_gzip_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let (images, _) = paths(dir.path(), ".gz");
    std::fs::write(&images, [0x1f, 0x8b, 8, 0, 1, 2, 3]).unwrap();
    let text = error_text(read_idx_images(&images));
    assert_mentions(&text, &[&images.display().to_string(), "gzip"]);
}

#[test]
fn image_and_label_counts_must_agree() {
    let dir = tempfile::tempdir().unwrap();
    let (images, labels) = paths(dir.path(), "");
    std::fs::write(&images, images_bytes(3, 2, 2, 12)).unwrap();
    std::fs::write(&labels, labels_bytes(2, &[0, 1])).unwrap();
    let text = error_text(load_idx(&images, &labels, 10));
    assert_mentions(
        &text,
        &[
            &images.display().to_string(),
            &labels.display().to_string(),
            "3 images",
            "2 labels",
        ],
    );
}

#[test]
fn labels_beyond_the_classes_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (images, labels) = paths(dir.path(), "");
    std::fs::write(&images, images_bytes(3, 2, 2, 12)).unwrap();
    std::fs::write(&labels, labels_bytes(3, &[0, 1, 10])).unwrap();
    let text = error_text(load_idx(&images, &labels, 10));
    assert_mentions(
        &text,
        &[
            &labels.display().to_string(),
            "label at index 2 is 10",
            "10 classes (0..=9)",
        ],
    );
}

#[test]
fn a_missing_file_names_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let (images, _) = paths(dir.path(), ".gz");
    let text = error_text(read_idx_images(&images));
    assert_mentions(&text, &[&images.display().to_string(), "No such file"]);
}

#[test]
fn writer_refuses_colour_and_wide_labels() {
    let dir = tempfile::tempdir().unwrap();
    let (images, labels) = paths(dir.path(), "");
    let wide = grey_dataset(300, 1, 1, 300);
    let text = error_text(write_idx(&wide, &images, &labels, Compression::Raw));
    assert_mentions(&text, &["label 256", "byte"]);
    let text = error_text(write_idx_images(&images, &[0; 5], 2, 2, Compression::Raw));
    assert_mentions(&text, &["5 bytes", "2×2"]);
}

#[test]
fn transposed_swaps_rows_and_columns() {
    let data = grey_dataset(2, 2, 3, 2);
    let t = data.clone().transposed();
    assert_eq!((t.height(), t.width()), (3, 2));
    let (a, b) = (data.image(1), t.image(1));
    for r in 0..2 {
        for c in 0..3 {
            assert_eq!(a[r * 3 + c], b[c * 2 + r]);
        }
    }
    assert_eq!(t.transposed(), data);
}
