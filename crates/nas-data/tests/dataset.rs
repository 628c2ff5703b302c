//! `Dataset`: construction checks and accessors.

mod common;

use common::{assert_mentions, grey_dataset};
use nas_data::{Dataset, ImageShape};

const SHAPE: ImageShape = ImageShape {
    channels: 3,
    height: 2,
    width: 2,
};

#[test]
fn accessors_see_planar_images_and_labels() {
    let pixels: Vec<u8> = (0..24).collect();
    let names = vec!["a".to_string(), "b".to_string(), "c".to_string()];
    let data = Dataset::new(pixels, vec![2, 0], 3, SHAPE, Some(names)).unwrap();
    assert_eq!(
        (data.len(), data.channels(), data.height(), data.width()),
        (2, 3, 2, 2)
    );
    assert_eq!(data.image(1), &(12..24).collect::<Vec<u8>>()[..]);
    assert_eq!((data.label(0), data.label(1)), (2, 0));
    assert_eq!(data.class_counts(), vec![1, 0, 1]);
    assert_eq!(data.class_names().unwrap()[2], "c");
    assert_eq!(data.shape().to_string(), "3×2×2");
}

#[test]
fn subset_and_concat_keep_images_with_their_labels() {
    let data = grey_dataset(6, 3, 3, 3);
    let picked = data.subset(&[4, 1, 4]);
    assert_eq!(picked.labels(), [1, 1, 1]);
    assert_eq!(picked.image(0), data.image(4));
    assert_eq!(picked.image(1), data.image(1));
    let joined = picked.clone().concat(&data).unwrap();
    assert_eq!(joined.len(), 9);
    assert_eq!(joined.image(3), data.image(0));
    let other = grey_dataset(2, 4, 4, 3);
    let text = picked.concat(&other).unwrap_err().to_string();
    assert_mentions(&text, &["1×3×3", "1×4×4"]);
}

#[test]
fn inconsistent_datasets_are_refused() {
    let err = |pixels: usize, labels: Vec<u16>, classes: usize, shape: ImageShape| {
        Dataset::new(vec![0; pixels], labels, classes, shape, None)
            .unwrap_err()
            .to_string()
    };
    assert_mentions(
        &err(23, vec![0, 1], 3, SHAPE),
        &["2 labels", "24 pixel bytes", "got 23"],
    );
    assert_mentions(
        &err(24, vec![0, 3], 3, SHAPE),
        &["label of image 1 is 3", "3 classes"],
    );
    assert_mentions(&err(0, vec![], 0, SHAPE), &["0 classes"]);
    let flat = ImageShape {
        channels: 1,
        height: 0,
        width: 5,
    };
    assert_mentions(&err(0, vec![], 2, flat), &["empty image shape 1×0×5"]);
    let names = vec!["only".to_string()];
    let text = grey_dataset(2, 1, 1, 2)
        .with_class_names(names)
        .unwrap_err()
        .to_string();
    assert_mentions(&text, &["1 class names for 2 classes"]);
}
