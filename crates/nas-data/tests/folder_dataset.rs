//! A user's image folder as a dataset: both layouts, the default and asked image size, mixed
//! sizes and colour, the pool's stratified test split, and bad folders; what `--dataset`
//! names.

mod common;

use std::path::{Path, PathBuf};

use common::assert_mentions;
use image::{GrayImage, Luma, Rgb, RgbImage};
use nas_data::{
    default_image_size, image_files_under, load_folder_dataset, DataSource, FolderLayout,
    FolderSplitOptions, NamedDataset, SourceOptions,
};

fn grey(w: u32, h: u32, seed: u8) -> GrayImage {
    GrayImage::from_fn(w, h, |x, y| {
        Luma([seed.wrapping_add((x * 3 + y * 5) as u8)])
    })
}

fn rgb(w: u32, h: u32, seed: u8) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| Rgb([seed, (x * 10) as u8, (y * 20) as u8]))
}

/// `root/<class>/<i>.png` with `per_class` grey `side×side` images per class.
fn grey_folder(root: &Path, classes: &[&str], per_class: usize, side: u32) {
    for (c, class) in classes.iter().enumerate() {
        let dir = root.join(class);
        std::fs::create_dir_all(&dir).unwrap();
        for i in 0..per_class {
            grey(side, side, (c * 40 + i) as u8)
                .save(dir.join(format!("{i:03}.png")))
                .unwrap();
        }
    }
}

fn options(image_size: Option<u32>) -> FolderSplitOptions {
    FolderSplitOptions {
        image_size,
        ..FolderSplitOptions::default()
    }
}

#[test]
fn a_pool_is_split_by_class_the_same_every_time_and_stably_as_it_grows() {
    let root = tempfile::tempdir().unwrap();
    grey_folder(root.path(), &["cat", "dog", "emu"], 10, 20);
    // A hidden file beside the images (macOS `._` files) is not read.
    std::fs::write(root.path().join("cat").join("._000.png"), b"resource fork").unwrap();
    let data = load_folder_dataset(root.path(), &options(None)).unwrap();
    assert_eq!(data.layout, FolderLayout::Pool);
    assert_eq!(data.image_size, 20, "a uniform size under 64 px is kept");
    let (train, test) = (&data.splits.train, &data.splits.test);
    assert_eq!(train.len() + test.len(), 30);
    for (class, (&tr, &te)) in train
        .class_counts()
        .iter()
        .zip(&test.class_counts())
        .enumerate()
    {
        assert!(
            tr >= 1 && te >= 1 && tr + te == 10,
            "class {class}: {tr} / {te}"
        );
    }
    assert!(
        (2..=12).contains(&test.len()),
        "about a fifth: {}",
        test.len()
    );
    assert_eq!(train.class_names().unwrap(), ["cat", "dog", "emu"]);
    assert_eq!(test.class_names().unwrap(), ["cat", "dog", "emu"]);
    assert_eq!(
        (train.channels(), train.height(), train.width()),
        (1, 20, 20)
    );
    // No image is on both sides, and reading again gives the same split.
    let images = |set: &nas_data::Dataset| {
        (0..set.len())
            .map(|i| set.image(i).to_vec())
            .collect::<Vec<_>>()
    };
    let (before_train, before_test) = (images(train), images(test));
    assert!(before_test.iter().all(|t| !before_train.contains(t)));
    let again = load_folder_dataset(root.path(), &options(None)).unwrap();
    assert_eq!(again.splits, data.splits);
    assert_mentions(&data.describe(), &["pool of 30 images", "20×20 grey"]);

    // Forty more images: no earlier image changes side.
    let cat = root.path().join("cat");
    for i in 0..40u8 {
        grey(20, 20, 120 + i)
            .save(cat.join(format!("new-{i:02}.png")))
            .unwrap();
    }
    let grown = load_folder_dataset(root.path(), &options(None)).unwrap();
    let (after_train, after_test) = (images(&grown.splits.train), images(&grown.splits.test));
    assert_eq!(after_train.len() + after_test.len(), 70);
    assert!(
        before_test.iter().all(|t| after_test.contains(t)),
        "a test image moved"
    );
    assert!(
        before_train.iter().all(|t| after_train.contains(t)),
        "a training image moved"
    );
    let cat_test = grown.splits.test.class_counts()[0];
    assert!(
        (3..=20).contains(&cat_test),
        "about a fifth of 50 cats: {cat_test}"
    );
}

#[test]
fn train_and_test_folders_are_used_as_they_are() {
    let root = tempfile::tempdir().unwrap();
    grey_folder(&root.path().join("train"), &["a", "b"], 6, 12);
    grey_folder(&root.path().join("test"), &["a", "b"], 3, 12);
    let data = load_folder_dataset(root.path(), &options(Some(8))).unwrap();
    assert_eq!(data.layout, FolderLayout::TrainTest);
    assert_eq!(data.splits.train.class_counts(), [6, 6]);
    assert_eq!(data.splits.test.class_counts(), [3, 3]);
    assert_eq!(data.splits.test.shape(), data.splits.train.shape());
    assert_eq!(data.splits.train.height(), 8, "--image-size 8 resizes");

    // A test folder whose classes differ is named with both lists; a train/ folder without
    // a test/ one is named too.
    let lone = tempfile::tempdir().unwrap();
    grey_folder(&lone.path().join("train"), &["a", "b"], 2, 12);
    let err = load_folder_dataset(lone.path(), &options(None)).unwrap_err();
    assert_mentions(&err.to_string(), &["train/ folder but no test/ folder"]);

    grey_folder(&root.path().join("test"), &["c"], 1, 12);
    let err = load_folder_dataset(root.path(), &options(None)).unwrap_err();
    assert_mentions(&err.to_string(), &["[a, b]", "[a, b, c]", "test"]);
}

#[test]
fn mixed_sizes_and_colours_become_one_square_rgb_size() {
    let root = tempfile::tempdir().unwrap();
    let a = root.path().join("a");
    let b = root.path().join("b");
    std::fs::create_dir_all(&a).unwrap();
    std::fs::create_dir_all(&b).unwrap();
    grey(10, 12, 1).save(a.join("small.png")).unwrap();
    grey(300, 200, 2).save(a.join("wide.png")).unwrap();
    rgb(40, 30, 3).save(b.join("colour.png")).unwrap();
    rgb(90, 120, 4).save(b.join("tall.jpg")).unwrap();
    grey(64, 64, 5).save(b.join("square.png")).unwrap();
    // Shorter sides 10, 200, 30, 90, 64: the median is 64.
    assert_eq!(
        default_image_size(&[(10, 12), (300, 200), (40, 30), (90, 120), (64, 64)]),
        64
    );
    let pool = FolderSplitOptions {
        image_size: None,
        test_fraction: 0.4,
    };
    let data = load_folder_dataset(root.path(), &pool).unwrap();
    assert_eq!(data.image_size, 64);
    let train = &data.splits.train;
    assert_eq!(
        (train.channels(), train.height(), train.width()),
        (3, 64, 64)
    );
    assert_eq!(data.splits.test.shape(), train.shape());
    assert_eq!((data.smallest, data.largest), ((10, 12), (300, 200)));
    assert_mentions(&data.describe(), &["10×12 … 300×200", "64×64 RGB"]);
}

#[test]
fn the_default_size_is_the_median_shorter_side_within_8_to_64() {
    assert_eq!(default_image_size(&[(28, 28); 5]), 28);
    assert_eq!(default_image_size(&[(4, 4), (5, 6)]), 8);
    assert_eq!(default_image_size(&[(224, 224), (500, 375)]), 64);
    assert_eq!(default_image_size(&[(32, 40), (20, 10), (50, 50)]), 32);
}

#[test]
fn bad_folders_name_the_file_or_folder() {
    // A corrupt PNG among good ones.
    let root = tempfile::tempdir().unwrap();
    grey_folder(root.path(), &["a", "b"], 4, 10);
    let bad = root.path().join("b").join("zz-broken.png");
    std::fs::write(&bad, b"\x89PNG\r\n\x1a\n truncated").unwrap();
    let err = load_folder_dataset(root.path(), &options(None)).unwrap_err();
    assert_mentions(&err.to_string(), &[&bad.display().to_string()]);

    // An empty class.
    let root = tempfile::tempdir().unwrap();
    grey_folder(root.path(), &["a"], 4, 10);
    let empty = root.path().join("b");
    std::fs::create_dir_all(&empty).unwrap();
    let err = load_folder_dataset(root.path(), &options(None)).unwrap_err();
    assert_mentions(&err.to_string(), &[&empty.display().to_string(), "no .png"]);

    // A class of one image cannot give images to both splits.
    let root = tempfile::tempdir().unwrap();
    grey_folder(root.path(), &["a"], 5, 10);
    grey_folder(root.path(), &["b"], 1, 10);
    let err = load_folder_dataset(root.path(), &options(None)).unwrap_err();
    assert_mentions(
        &err.to_string(),
        &[&root.path().join("b").display().to_string(), "1 image"],
    );

    // Sizes and fractions out of range.
    let err = load_folder_dataset(root.path(), &options(Some(4))).unwrap_err();
    assert_mentions(&err.to_string(), &["image size", "4"]);
    let zero = FolderSplitOptions {
        image_size: None,
        test_fraction: 0.0,
    };
    let err = load_folder_dataset(root.path(), &zero).unwrap_err();
    assert_mentions(&err.to_string(), &["test fraction", "0"]);
}

#[test]
fn a_dataset_value_is_a_name_or_a_folder() {
    assert_eq!(
        DataSource::parse("Fashion-MNIST").unwrap(),
        DataSource::Named(NamedDataset::FashionMnist)
    );
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().to_str().unwrap();
    assert_eq!(
        DataSource::parse(dir).unwrap(),
        DataSource::Folder(PathBuf::from(dir))
    );
    // A bare word that is neither a name nor a folder is unknown; a missing path is a folder
    // whose absence is named when it is read.
    let err = DataSource::parse("fashoin-mnist").unwrap_err();
    assert_mentions(
        &err.to_string(),
        &["fashoin-mnist", "fashion-mnist", "image folder"],
    );
    let gone = root.path().join("nowhere");
    let source = DataSource::parse(gone.to_str().unwrap()).unwrap();
    let err = source.load(&SourceOptions::default()).unwrap_err();
    assert_mentions(
        &err.to_string(),
        &[&gone.display().to_string(), "No such file"],
    );

    // Options that do not apply are refused, naming them.
    let named = DataSource::Named(NamedDataset::Mnist);
    let sized = SourceOptions {
        image_size: Some(32),
        ..SourceOptions::default()
    };
    assert_mentions(
        &named.load(&sized).unwrap_err().to_string(),
        &["image size", "mnist"],
    );
    grey_folder(root.path(), &["a", "b"], 3, 9);
    let folder = DataSource::Folder(root.path().to_path_buf());
    let with_dir = SourceOptions {
        data_dir: Some(PathBuf::from("/somewhere")),
        ..SourceOptions::default()
    };
    assert_mentions(
        &folder.load(&with_dir).unwrap_err().to_string(),
        &["/somewhere", "data directory"],
    );
    let loaded = folder
        .load(&SourceOptions {
            test_fraction: Some(1.0 / 3.0),
            ..SourceOptions::default()
        })
        .unwrap();
    let (train, test) = (&loaded.splits.train, &loaded.splits.test);
    assert_eq!(train.len() + test.len(), 6);
    assert!(train
        .class_counts()
        .iter()
        .chain(&test.class_counts())
        .all(|&c| c >= 1));
    assert_eq!(train.height(), 9);
    assert_eq!(
        (loaded.image_size, loaded.test_fraction),
        (Some(9), Some(1.0 / 3.0))
    );
}

#[test]
fn image_files_under_a_folder_are_found_recursively_in_order() {
    let root = tempfile::tempdir().unwrap();
    grey_folder(root.path(), &["b", "a"], 2, 4);
    std::fs::write(root.path().join("a").join("notes.txt"), "x").unwrap();
    grey(4, 4, 0).save(root.path().join(".hidden.png")).unwrap();
    let found = image_files_under(root.path()).unwrap();
    let names: Vec<String> = found
        .iter()
        .map(|p| p.strip_prefix(root.path()).unwrap().display().to_string())
        .collect();
    assert_eq!(names, ["a/000.png", "a/001.png", "b/000.png", "b/001.png"]);
}
