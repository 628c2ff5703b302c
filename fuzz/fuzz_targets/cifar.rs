//! CIFAR binary batches: byte 0 picks CIFAR-10 or CIFAR-100, the rest is the file.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use nas_data::{parse_cifar, CifarKind};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let kind = if mode & 1 == 0 {
        CifarKind::Cifar10
    } else {
        CifarKind::Cifar100
    };
    if let Ok(dataset) = parse_cifar(Path::new("batch.bin"), rest, kind) {
        assert_eq!(dataset.len() * kind.record_len(), rest.len());
        for i in 0..dataset.len() {
            assert!(usize::from(dataset.label(i)) < kind.num_classes());
            let _ = dataset.image(i);
        }
    }
});
