//! Image folders: grey and RGB round trips, JPEG, resizing and bad folders.

mod common;

use std::path::{Path, PathBuf};

use common::assert_mentions;
use image::{GrayImage, Luma, Rgb, RgbImage};
use nas_data::{load_image_folder, FolderOptions};

fn grey(w: u32, h: u32, seed: u8) -> GrayImage {
    GrayImage::from_fn(w, h, |x, y| {
        Luma([seed.wrapping_add((x * 3 + y * 5) as u8)])
    })
}

fn rgb(w: u32, h: u32, seed: u8) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| Rgb([seed, (x * 10) as u8, (y * 20) as u8]))
}

fn class_dir(root: &Path, class: &str) -> PathBuf {
    let dir = root.join(class);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn load(root: &Path) -> Result<nas_data::Dataset, nas_data::DataError> {
    load_image_folder(root, &FolderOptions::default())
}

#[test]
fn grey_pngs_load_as_one_channel_with_sorted_classes() {
    let root = tempfile::tempdir().unwrap();
    // Created out of order: classes and files must come back sorted by name.
    let zebra = class_dir(root.path(), "zebra");
    let ant = class_dir(root.path(), "ant");
    grey(6, 4, 100).save(zebra.join("b.png")).unwrap();
    grey(6, 4, 50).save(zebra.join("a.png")).unwrap();
    grey(6, 4, 0).save(ant.join("only.PNG")).unwrap();
    std::fs::write(ant.join("notes.txt"), "not an image").unwrap();
    class_dir(root.path(), ".hidden");

    let data = load(root.path()).unwrap();
    assert_eq!(
        (data.len(), data.channels(), data.height(), data.width()),
        (3, 1, 4, 6)
    );
    assert_eq!(data.class_names().unwrap(), ["ant", "zebra"]);
    assert_eq!(data.labels(), [0, 1, 1]);
    assert_eq!(data.image(0), grey(6, 4, 0).as_raw().as_slice());
    assert_eq!(data.image(1), grey(6, 4, 50).as_raw().as_slice());
    assert_eq!(data.image(2), grey(6, 4, 100).as_raw().as_slice());
}

#[test]
fn rgb_pngs_load_channel_planar() {
    let root = tempfile::tempdir().unwrap();
    let dir = class_dir(root.path(), "c");
    let image = rgb(5, 3, 77);
    image.save(dir.join("x.png")).unwrap();
    let data = load(root.path()).unwrap();
    assert_eq!(data.channels(), 3);
    let planes = data.image(0);
    for (i, p) in image.pixels().enumerate() {
        assert_eq!([planes[i], planes[15 + i], planes[30 + i]], p.0);
    }
}

#[test]
fn rgb_files_with_grey_content_count_as_grey() {
    let root = tempfile::tempdir().unwrap();
    let dir = class_dir(root.path(), "c");
    let g = grey(4, 4, 9);
    let as_rgb = RgbImage::from_fn(4, 4, |x, y| {
        let v = g.get_pixel(x, y)[0];
        Rgb([v, v, v])
    });
    as_rgb.save(dir.join("a.png")).unwrap();
    g.save(dir.join("b.png")).unwrap();
    let data = load(root.path()).unwrap();
    assert_eq!(data.channels(), 1);
    assert_eq!(data.image(0), data.image(1));
}

#[test]
fn jpegs_decode_close_to_the_original() {
    let root = tempfile::tempdir().unwrap();
    let dir = class_dir(root.path(), "c");
    let flat = GrayImage::from_pixel(8, 8, Luma([120]));
    flat.save(dir.join("a.jpg")).unwrap();
    flat.save(dir.join("b.jpeg")).unwrap();
    let data = load(root.path()).unwrap();
    assert_eq!((data.len(), data.channels()), (2, 1));
    assert!(data.pixels().iter().all(|&p| p.abs_diff(120) <= 2));
}

#[test]
fn an_empty_class_names_its_folder() {
    let root = tempfile::tempdir().unwrap();
    grey(4, 4, 0)
        .save(class_dir(root.path(), "a").join("x.png"))
        .unwrap();
    let empty = class_dir(root.path(), "b");
    std::fs::write(empty.join("readme.txt"), "").unwrap();
    let text = load(root.path()).unwrap_err().to_string();
    assert_mentions(
        &text,
        &[&empty.display().to_string(), "no .png, .jpg or .jpeg"],
    );
}

#[test]
fn a_root_without_classes_is_refused() {
    let root = tempfile::tempdir().unwrap();
    grey(4, 4, 0).save(root.path().join("loose.png")).unwrap();
    let text = load(root.path()).unwrap_err().to_string();
    assert_mentions(
        &text,
        &[&root.path().display().to_string(), "no class folders"],
    );
}

#[test]
fn a_missing_root_names_its_path() {
    let root = tempfile::tempdir().unwrap();
    let gone = root.path().join("nowhere");
    let text = load(&gone).unwrap_err().to_string();
    assert_mentions(&text, &[&gone.display().to_string()]);
}

#[test]
fn an_undecodable_file_is_named() {
    let root = tempfile::tempdir().unwrap();
    let dir = class_dir(root.path(), "a");
    grey(4, 4, 0).save(dir.join("good.png")).unwrap();
    let bad = dir.join("broken.png");
    std::fs::write(&bad, b"\x89PNG\r\n\x1a\n not really").unwrap();
    let text = load(root.path()).unwrap_err().to_string();
    assert_mentions(&text, &[&bad.display().to_string(), "cannot decode"]);
}

#[test]
fn mixed_sizes_need_a_resize() {
    let root = tempfile::tempdir().unwrap();
    let dir = class_dir(root.path(), "a");
    grey(4, 4, 0).save(dir.join("a.png")).unwrap();
    grey(6, 5, 0).save(dir.join("b.png")).unwrap();
    let text = load(root.path()).unwrap_err().to_string();
    assert_mentions(
        &text,
        &[
            &dir.join("b.png").display().to_string(),
            "6×5 grey",
            "4×4 grey",
            "resize",
        ],
    );
    let options = FolderOptions {
        resize: Some((3, 2)),
    };
    let data = load_image_folder(root.path(), &options).unwrap();
    assert_eq!(
        (data.len(), data.channels(), data.height(), data.width()),
        (2, 1, 2, 3)
    );
}

#[test]
fn mixed_grey_and_colour_need_a_resize_and_become_rgb() {
    let root = tempfile::tempdir().unwrap();
    let dir = class_dir(root.path(), "a");
    grey(4, 4, 60).save(dir.join("a.png")).unwrap();
    rgb(4, 4, 200).save(dir.join("b.png")).unwrap();
    let text = load(root.path()).unwrap_err().to_string();
    assert_mentions(
        &text,
        &[
            &dir.join("b.png").display().to_string(),
            "4×4 RGB",
            "4×4 grey",
        ],
    );
    let options = FolderOptions {
        resize: Some((4, 4)),
    };
    let data = load_image_folder(root.path(), &options).unwrap();
    assert_eq!(data.channels(), 3);
    // The grey image is repeated in all three planes.
    let g = grey(4, 4, 60);
    let planes = data.image(0);
    assert_eq!(&planes[..16], g.as_raw().as_slice());
    assert_eq!(&planes[16..32], g.as_raw().as_slice());
    assert_eq!(&planes[32..], g.as_raw().as_slice());
}

#[test]
fn image_files_load_in_order_at_the_asked_shape_and_a_bad_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.png");
    let b = dir.path().join("b.png");
    grey(4, 4, 10).save(&a).unwrap();
    rgb(8, 8, 200).save(&b).unwrap();
    let shape = nas_data::ImageShape {
        channels: 1,
        height: 4,
        width: 4,
    };
    let set = nas_data::load_image_files(&[b.clone(), a.clone()], shape).unwrap();
    assert_eq!((set.len(), set.shape()), (2, shape));
    // Second image: the grey PNG unchanged.
    assert_eq!(set.image(1), grey(4, 4, 10).as_raw().as_slice());
    let bad = dir.path().join("bad.png");
    std::fs::write(&bad, "not a png").unwrap();
    let err = nas_data::load_image_files(&[a, bad], shape).unwrap_err();
    assert_mentions(&err.to_string(), &["bad.png"]);
}
