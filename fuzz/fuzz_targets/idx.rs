//! IDX files (MNIST family), raw or gzip: byte 0 picks images, labels or both (a dataset, as
//! `load_idx` makes it; bytes 1–2 say where the images end), the rest is the file(s).
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use nas_data::{parse_idx, parse_idx_images, parse_idx_labels};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 3 {
        0 => {
            if let Ok(images) = parse_idx_images(Path::new("images"), rest.to_vec()) {
                assert_eq!(
                    images.pixels.len(),
                    images.count * images.height * images.width
                );
            }
        }
        1 => {
            let _ = parse_idx_labels(Path::new("labels"), rest.to_vec());
        }
        _ => {
            if rest.len() < 2 {
                return;
            }
            let split = usize::from(u16::from_le_bytes([rest[0], rest[1]])).min(rest.len() - 2);
            let (images, labels) = rest[2..].split_at(split);
            if let Ok(dataset) = parse_idx(
                Path::new("images"),
                images.to_vec(),
                Path::new("labels"),
                labels.to_vec(),
                10,
            ) {
                for i in 0..dataset.len() {
                    assert!(dataset.label(i) < 10);
                    let _ = dataset.image(i);
                }
            }
        }
    }
});
