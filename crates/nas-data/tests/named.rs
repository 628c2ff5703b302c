//! Datasets by name, including the real Fashion-MNIST that CI installs.

mod common;

use std::path::Path;
use std::time::Instant;

use common::{assert_mentions, grey_dataset, write_cifar100_file, write_cifar10_batch};
use nas_data::{
    load_named, write_idx, Compression, NamedDataset, CIFAR10_TEST_FILE, CIFAR10_TRAIN_FILES,
    FASHION_MNIST_DIR, MNIST_FILES,
};

/// Needs `apt-get install dataset-fashion-mnist`; fails rather than skips without it.
#[test]
fn real_fashion_mnist_loads_from_its_debian_package() {
    let start = Instant::now();
    let splits = load_named("fashion-mnist", None).unwrap_or_else(|e| panic!("{e}"));
    eprintln!(
        "Fashion-MNIST train + test loaded in {:.2?}",
        start.elapsed()
    );
    assert_eq!((splits.train.len(), splits.test.len()), (60_000, 10_000));
    for set in [&splits.train, &splits.test] {
        assert_eq!((set.channels(), set.height(), set.width()), (1, 28, 28));
        assert_eq!(set.num_classes(), 10);
        assert_eq!(set.class_names().unwrap()[9], "Ankle boot");
    }
    // Fashion-MNIST is balanced: 6,000 and 1,000 images per class.
    assert_eq!(splits.train.class_counts(), vec![6_000; 10]);
    assert_eq!(splits.test.class_counts(), vec![1_000; 10]);
    // The first training image is an ankle boot (label 9).
    assert_eq!(splits.train.label(0), 9);
}

#[test]
fn missing_fashion_mnist_says_how_to_install_it() {
    let dir = tempfile::tempdir().unwrap();
    let text = load_named("fashion-mnist", Some(dir.path()))
        .unwrap_err()
        .to_string();
    let expected = dir.path().join("train-images-idx3-ubyte.gz");
    assert_mentions(
        &text,
        &[
            &expected.display().to_string(),
            "apt-get install dataset-fashion-mnist",
            FASHION_MNIST_DIR,
        ],
    );
    let gone = dir.path().join("nowhere");
    let text = load_named("fashion-mnist", Some(&gone))
        .unwrap_err()
        .to_string();
    assert_mentions(
        &text,
        &[&gone.display().to_string(), "not found", "apt-get"],
    );
}

fn write_mnist(dir: &Path, compression: Compression, suffix: &str) {
    let train = grey_dataset(30, 28, 28, 10);
    let test = grey_dataset(10, 28, 28, 10);
    let [ti, tl, vi, vl] = MNIST_FILES.map(|f| dir.join(format!("{f}{suffix}")));
    write_idx(&train, &ti, &tl, compression).unwrap();
    write_idx(&test, &vi, &vl, compression).unwrap();
}

#[test]
fn mnist_loads_raw_or_gzip_from_a_data_dir() {
    for (compression, suffix) in [(Compression::Raw, ""), (Compression::Gzip, ".gz")] {
        let dir = tempfile::tempdir().unwrap();
        write_mnist(dir.path(), compression, suffix);
        let splits = load_named("mnist", Some(dir.path())).unwrap();
        assert_eq!((splits.train.len(), splits.test.len()), (30, 10));
        assert_eq!(splits.train.class_names().unwrap()[3], "3");
        assert_eq!(
            splits.train,
            grey_dataset(30, 28, 28, 10)
                .with_class_names((0..10).map(|d| d.to_string()).collect())
                .unwrap()
        );
    }
}

#[test]
fn mnist_without_a_data_dir_says_which_files_to_provide() {
    let text = load_named("mnist", None).unwrap_err().to_string();
    assert_mentions(
        &text,
        &[
            "mnist",
            "no data directory",
            "train-images-idx3-ubyte",
            "t10k-labels-idx1-ubyte",
            "datasets/README.md",
        ],
    );
    let dir = tempfile::tempdir().unwrap();
    write_mnist(dir.path(), Compression::Raw, "");
    std::fs::remove_file(dir.path().join("t10k-labels-idx1-ubyte")).unwrap();
    let text = load_named("mnist", Some(dir.path()))
        .unwrap_err()
        .to_string();
    assert_mentions(&text, &["t10k-labels-idx1-ubyte.gz", "not found"]);
}

#[test]
fn cifar10_is_found_in_its_extracted_folder() {
    let dir = tempfile::tempdir().unwrap();
    let inner = dir.path().join("cifar-10-batches-bin");
    std::fs::create_dir(&inner).unwrap();
    for name in CIFAR10_TRAIN_FILES {
        write_cifar10_batch(&inner.join(name), 2, 0);
    }
    write_cifar10_batch(&inner.join(CIFAR10_TEST_FILE), 2, 0);
    let splits = NamedDataset::Cifar10.load(Some(dir.path())).unwrap();
    assert_eq!((splits.train.len(), splits.test.len()), (10, 2));
    let text = load_named("cifar10", Some(&inner.join("x")))
        .unwrap_err()
        .to_string();
    assert_mentions(
        &text,
        &["cifar10", "data_batch_1.bin", "cifar-10-batches-bin"],
    );
}

#[test]
fn cifar100_loads_and_says_what_it_needs() {
    let dir = tempfile::tempdir().unwrap();
    write_cifar100_file(&dir.path().join("train.bin"), 5);
    write_cifar100_file(&dir.path().join("test.bin"), 2);
    let splits = load_named("CIFAR100", Some(dir.path())).unwrap();
    assert_eq!(splits.train.num_classes(), 100);
    let text = load_named("cifar100", None).unwrap_err().to_string();
    assert_mentions(
        &text,
        &["cifar100", "train.bin", "test.bin", "fine_label_names.txt"],
    );
}

#[test]
fn unknown_names_list_the_known_ones() {
    let text = load_named("imagenet", None).unwrap_err().to_string();
    assert_mentions(
        &text,
        &["imagenet", "fashion-mnist, mnist, cifar10, cifar100"],
    );
    for d in NamedDataset::ALL {
        assert_eq!(d.name().parse::<NamedDataset>().unwrap(), d);
    }
}
