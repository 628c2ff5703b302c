//! Helpers shared by the integration tests: small datasets and the files they write.
#![allow(dead_code)]

use std::path::Path;

use nas_data::{Dataset, ImageShape};

/// `n` grey images of `h×w` whose pixel values encode (image, position); labels `i % classes`.
pub fn grey_dataset(n: usize, h: usize, w: usize, classes: usize) -> Dataset {
    let shape = ImageShape {
        channels: 1,
        height: h,
        width: w,
    };
    let pixels = (0..n * h * w).map(|i| (i * 7 % 251) as u8).collect();
    let labels = (0..n).map(|i| (i % classes) as u16).collect();
    Dataset::new(pixels, labels, classes, shape, None).expect("valid dataset")
}

/// Labels with the given number of images per class, interleaved.
pub fn labels_with_counts(counts: &[usize]) -> Vec<u16> {
    let mut left = counts.to_vec();
    let mut labels = Vec::new();
    while left.iter().any(|&c| c > 0) {
        for (class, c) in left.iter_mut().enumerate() {
            if *c > 0 {
                *c -= 1;
                labels.push(class as u16);
            }
        }
    }
    labels
}

/// One CIFAR record: label bytes then 3072 pixel bytes derived from `seed`.
pub fn cifar_record(labels: &[u8], seed: usize) -> Vec<u8> {
    let mut rec = labels.to_vec();
    rec.extend((0..3072).map(|i| ((i + seed * 13) % 256) as u8));
    rec
}

/// Writes `records` CIFAR-10 records labelled `first_label, first_label+1, …` (mod 10).
pub fn write_cifar10_batch(path: &Path, records: usize, first_label: usize) {
    let bytes: Vec<u8> = (0..records)
        .flat_map(|i| cifar_record(&[((first_label + i) % 10) as u8], first_label + i))
        .collect();
    std::fs::write(path, bytes).expect("write batch");
}

/// Writes `records` CIFAR-100 records with fine label `i % 100`, coarse label `i % 20`.
pub fn write_cifar100_file(path: &Path, records: usize) {
    let bytes: Vec<u8> = (0..records)
        .flat_map(|i| cifar_record(&[(i % 20) as u8, (i % 100) as u8], i))
        .collect();
    std::fs::write(path, bytes).expect("write cifar-100");
}

/// Asserts that `message` contains every one of `parts`.
pub fn assert_mentions(message: &str, parts: &[&str]) {
    for part in parts {
        assert!(
            message.contains(part),
            "`{message}` does not mention `{part}`"
        );
    }
}
