//! CIFAR-10 and CIFAR-100 binary files: round trips and bad files.

mod common;

use common::{assert_mentions, cifar_record, write_cifar100_file, write_cifar10_batch};
use nas_data::{
    load_cifar10, load_cifar100, read_cifar_file, CifarKind, CIFAR10_META_FILE, CIFAR10_TEST_FILE,
    CIFAR10_TRAIN_FILES, CIFAR_SHAPE,
};

const CIFAR10_NAMES: &str =
    "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n";

fn write_cifar10(dir: &std::path::Path, per_batch: usize) {
    for (b, name) in CIFAR10_TRAIN_FILES.iter().enumerate() {
        write_cifar10_batch(&dir.join(name), per_batch, b * per_batch);
    }
    write_cifar10_batch(&dir.join(CIFAR10_TEST_FILE), per_batch, 3);
    std::fs::write(dir.join(CIFAR10_META_FILE), CIFAR10_NAMES).unwrap();
}

#[test]
fn cifar10_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    write_cifar10(dir.path(), 4);
    let splits = load_cifar10(dir.path()).unwrap();
    assert_eq!((splits.train.len(), splits.test.len()), (20, 4));
    assert_eq!(splits.train.shape(), CIFAR_SHAPE);
    assert_eq!(splits.train.num_classes(), 10);
    // Batches are concatenated in order; record i of the training set has label i % 10.
    for i in 0..20 {
        assert_eq!(splits.train.label(i), (i % 10) as u16);
        assert_eq!(splits.train.image(i), &cifar_record(&[], i)[..]);
    }
    assert_eq!(splits.test.label(0), 3);
    let names = splits.train.class_names().unwrap();
    assert_eq!(
        (names[0].as_str(), names[9].as_str()),
        ("airplane", "truck")
    );
    assert_eq!(splits.train.class_counts(), vec![2; 10]);
}

#[test]
fn cifar10_pixels_are_channel_planar() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("one.bin");
    let mut rec = vec![7u8];
    rec.extend(std::iter::repeat_n(10u8, 1024));
    rec.extend(std::iter::repeat_n(20u8, 1024));
    rec.extend(std::iter::repeat_n(30u8, 1024));
    std::fs::write(&path, rec).unwrap();
    let data = read_cifar_file(&path, CifarKind::Cifar10).unwrap();
    let image = data.image(0);
    assert_eq!(
        (image[0], image[1024], image[2048], image[3071]),
        (10, 20, 30, 30)
    );
    assert_eq!(data.label(0), 7);
}

#[test]
fn cifar100_uses_fine_labels() {
    let dir = tempfile::tempdir().unwrap();
    write_cifar100_file(&dir.path().join("train.bin"), 120);
    write_cifar100_file(&dir.path().join("test.bin"), 10);
    let names: String = (0..100).map(|i| format!("class{i}\n")).collect();
    std::fs::write(dir.path().join("fine_label_names.txt"), names).unwrap();
    let splits = load_cifar100(dir.path()).unwrap();
    assert_eq!((splits.train.len(), splits.test.len()), (120, 10));
    assert_eq!(splits.train.num_classes(), 100);
    assert_eq!(splits.train.label(57), 57);
    assert_eq!(splits.train.label(110), 10);
    assert_eq!(splits.train.image(5), &cifar_record(&[], 5)[..]);
    assert_eq!(splits.test.class_names().unwrap()[42], "class42");
}

#[test]
fn class_names_are_optional() {
    let dir = tempfile::tempdir().unwrap();
    write_cifar100_file(&dir.path().join("train.bin"), 3);
    write_cifar100_file(&dir.path().join("test.bin"), 3);
    assert!(load_cifar100(dir.path())
        .unwrap()
        .train
        .class_names()
        .is_none());
}

#[test]
fn wrong_number_of_class_names_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    write_cifar10(dir.path(), 1);
    let meta = dir.path().join(CIFAR10_META_FILE);
    std::fs::write(&meta, "cat\ndog\n").unwrap();
    let text = load_cifar10(dir.path()).unwrap_err().to_string();
    assert_mentions(
        &text,
        &[&meta.display().to_string(), "2 class names", "expected 10"],
    );
}

#[test]
fn a_partial_record_is_truncation() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data_batch_1.bin");
    let mut bytes = cifar_record(&[1], 0);
    bytes.extend_from_slice(&cifar_record(&[2], 1)[..1000]);
    std::fs::write(&path, bytes).unwrap();
    let text = read_cifar_file(&path, CifarKind::Cifar10)
        .unwrap_err()
        .to_string();
    assert_mentions(
        &text,
        &[
            &path.display().to_string(),
            "truncated",
            "4073",
            "3073",
            "1 whole records",
            "1000",
        ],
    );
    // A CIFAR-10 batch read as CIFAR-100 is not a whole number of 3074-byte records either.
    let ten = dir.path().join("ten.bin");
    write_cifar10_batch(&ten, 3, 0);
    let text = read_cifar_file(&ten, CifarKind::Cifar100)
        .unwrap_err()
        .to_string();
    assert_mentions(&text, &[&ten.display().to_string(), "3074"]);
}

#[test]
fn an_empty_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("test_batch.bin");
    std::fs::write(&path, []).unwrap();
    let text = read_cifar_file(&path, CifarKind::Cifar10)
        .unwrap_err()
        .to_string();
    assert_mentions(&text, &[&path.display().to_string(), "file size 0"]);
}

#[test]
fn out_of_range_labels_name_file_and_record() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.bin");
    let bytes = [cifar_record(&[3], 0), cifar_record(&[10], 1)].concat();
    std::fs::write(&path, bytes).unwrap();
    let text = read_cifar_file(&path, CifarKind::Cifar10)
        .unwrap_err()
        .to_string();
    assert_mentions(
        &text,
        &[
            &path.display().to_string(),
            "record 1 label is 10",
            "10 classes",
        ],
    );

    let fine = [cifar_record(&[0, 5], 0), cifar_record(&[1, 100], 1)].concat();
    std::fs::write(&path, fine).unwrap();
    let text = read_cifar_file(&path, CifarKind::Cifar100)
        .unwrap_err()
        .to_string();
    assert_mentions(&text, &["record 1 fine label is 100", "100 classes"]);

    let coarse = [cifar_record(&[20, 5], 0)].concat();
    std::fs::write(&path, coarse).unwrap();
    let text = read_cifar_file(&path, CifarKind::Cifar100)
        .unwrap_err()
        .to_string();
    assert_mentions(&text, &["record 0 coarse label is 20", "20 classes"]);
}

#[test]
fn a_missing_batch_names_its_path() {
    let dir = tempfile::tempdir().unwrap();
    write_cifar10(dir.path(), 1);
    let gone = dir.path().join(CIFAR10_TRAIN_FILES[3]);
    std::fs::remove_file(&gone).unwrap();
    let text = load_cifar10(dir.path()).unwrap_err().to_string();
    assert_mentions(&text, &[&gone.display().to_string()]);
}
