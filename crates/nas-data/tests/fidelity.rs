//! Fidelities, downsampling, normalisation and augmentation.

mod common;

use common::{assert_mentions, grey_dataset};
use nas_data::{
    random_crop, random_horizontal_flip, to_f32_images, Augmentation, Dataset, F32Images, Fidelity,
    FidelityView, ImageShape,
};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn one_grey_image(side: usize, pixel: impl Fn(usize, usize) -> u8) -> Dataset {
    let shape = ImageShape {
        channels: 1,
        height: side,
        width: side,
    };
    let pixels = (0..side * side)
        .map(|i| pixel(i / side, i % side))
        .collect();
    Dataset::new(pixels, vec![0], 1, shape, None).unwrap()
}

#[test]
fn fidelity_validation_and_display() {
    let f = Fidelity::new(0.25, Some(14), 3).unwrap();
    assert_eq!(f.to_string(), "fraction 0.25, 14×14, 3 epochs");
    assert_eq!(
        Fidelity::full(1).unwrap().to_string(),
        "fraction 1, native resolution, 1 epoch"
    );
    let err = |f: f64, r, e| Fidelity::new(f, r, e).unwrap_err().to_string();
    assert_mentions(&err(0.0, None, 1), &["fraction = 0", "(0, 1]"]);
    assert_mentions(&err(1.5, None, 1), &["fraction = 1.5"]);
    assert_mentions(&err(f64::NAN, None, 1), &["fraction = NaN"]);
    assert_mentions(&err(0.5, Some(0), 1), &["resolution = 0", "at least 1"]);
    assert_mentions(&err(0.5, None, 0), &["epochs = 0"]);
}

#[test]
fn a_fine_checkerboard_downsamples_to_mid_grey() {
    // 1×1 checkerboard: the highest frequency. Without anti-aliasing, halving picks one
    // colour; the triangle filter averages it to grey away from the border.
    let board = one_grey_image(28, |y, x| if (x + y) % 2 == 0 { 0 } else { 255 });
    let small = to_f32_images(&board, Some((14, 14)));
    for y in 1..13 {
        for x in 1..13 {
            let v = small.values[y * 14 + x];
            assert!((v - 0.5).abs() < 1e-3, "({y}, {x}) = {v}");
        }
    }
    let mean = small.values.iter().sum::<f32>() / 196.0;
    assert!((mean - 0.5).abs() < 0.01, "mean {mean}");
}

#[test]
fn a_checkerboard_of_2x2_blocks_averages_to_mid_grey() {
    let board = one_grey_image(28, |y, x| if (x / 2 + y / 2) % 2 == 0 { 0 } else { 255 });
    let small = to_f32_images(&board, Some((14, 14)));
    let mean = small.values.iter().sum::<f32>() / 196.0;
    assert!((mean - 0.5).abs() < 0.01, "mean {mean}");
    // The blocks survive, with the contrast the filter's blur leaves: 0.625 / 0.375 inside.
    let (lo, hi) = (small.values[14 + 1], small.values[14 + 2]);
    assert!(
        (lo - 0.375).abs() < 1e-3 && (hi - 0.625).abs() < 1e-3,
        "{lo} {hi}"
    );
}

#[test]
fn a_constant_image_stays_constant() {
    let flat = one_grey_image(28, |_, _| 200);
    for size in [(14, 14), (7, 7), (5, 9), (28, 28), (40, 40)] {
        let resized = to_f32_images(&flat, Some(size));
        assert_eq!(resized.values.len(), size.0 * size.1);
        assert!(resized
            .values
            .iter()
            .all(|&v| (v - 200.0 / 255.0).abs() < 1e-5));
    }
}

#[test]
fn a_view_subsets_resizes_and_normalises_once() {
    let train = grey_dataset(200, 8, 8, 4);
    let validation = grey_dataset(40, 8, 8, 4);
    let fidelity = Fidelity::new(0.25, Some(4), 2).unwrap();
    let view = FidelityView::new(&train, &validation, fidelity, 5).unwrap();
    let t = view.train();
    assert_eq!((t.len(), t.shape.height, t.shape.width), (50, 4, 4));
    assert_eq!(view.train_indices().len(), 50);
    let counts = train.subset(view.train_indices()).class_counts();
    assert_eq!(counts, vec![13, 13, 12, 12]);
    // The training subset is normalised to mean 0 and std 1.
    let n = t.values.len() as f64;
    let mean = t.values.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    let var = t
        .values
        .iter()
        .map(|&v| (f64::from(v) - mean).powi(2))
        .sum::<f64>()
        / n;
    assert!(
        mean.abs() < 1e-4 && (var - 1.0).abs() < 1e-3,
        "mean {mean} var {var}"
    );
    // Validation is whole, resized and normalised with the training statistics.
    let v = view.validation();
    assert_eq!((v.len(), v.shape), (40, t.shape));
    let norm = view.normalization();
    let raw = to_f32_images(&validation, Some((4, 4)));
    let expected = (raw.values[3] - norm.mean[0]) / norm.std[0];
    assert!((v.values[3] - expected).abs() < 1e-5);
    // A test set is prepared identically on demand.
    assert_eq!(view.prepare(&validation).unwrap().values, v.values);
    assert_eq!(view.fidelity(), fidelity);
}

#[test]
fn views_are_reproducible_and_full_fidelity_keeps_everything() {
    let train = grey_dataset(30, 6, 6, 3);
    let fidelity = Fidelity::new(0.5, None, 1).unwrap();
    let a = FidelityView::new(&train, &train, fidelity, 9).unwrap();
    let b = FidelityView::new(&train, &train, fidelity, 9).unwrap();
    assert_eq!(a.train(), b.train());
    let full = FidelityView::new(&train, &train, Fidelity::full(1).unwrap(), 0).unwrap();
    assert_eq!(full.train_indices(), (0..30).collect::<Vec<_>>());
    assert_eq!(full.train().shape, train.shape());
}

#[test]
fn views_refuse_other_channel_counts() {
    let train = grey_dataset(10, 4, 4, 2);
    let shape = ImageShape {
        channels: 3,
        height: 4,
        width: 4,
    };
    let rgb = Dataset::new(vec![0; 48], vec![0], 2, shape, None).unwrap();
    let text = FidelityView::new(&train, &rgb, Fidelity::full(1).unwrap(), 0)
        .unwrap_err()
        .to_string();
    assert_mentions(&text, &["3×4×4", "1-channel"]);
}

fn numbered_batch(images: usize, shape: ImageShape) -> Vec<f32> {
    (0..images * shape.len()).map(|i| i as f32 + 1.0).collect()
}

const SHAPE: ImageShape = ImageShape {
    channels: 2,
    height: 5,
    width: 6,
};

#[test]
fn crops_shift_every_channel_alike_and_fill_zeros() {
    let original = numbered_batch(8, SHAPE);
    let mut batch = original.clone();
    random_crop(&mut batch, SHAPE, 2, &mut ChaCha8Rng::seed_from_u64(1));
    let (h, w) = (SHAPE.height as isize, SHAPE.width as isize);
    for (img, orig) in batch.chunks(SHAPE.len()).zip(original.chunks(SHAPE.len())) {
        // Find the shift from the position of the original value of pixel (0,0) or its zeros.
        let shift = (-2..=2)
            .flat_map(|dy| (-2..=2).map(move |dx| (dy, dx)))
            .find(|&(dy, dx)| {
                (0..h).all(|y| {
                    (0..w).all(|x| {
                        let (sy, sx) = (y + dy, x + dx);
                        let inside = (0..h).contains(&sy) && (0..w).contains(&sx);
                        (0..2).all(|c| {
                            let at = |yy: isize, xx: isize| (c * h * w + yy * w + xx) as usize;
                            let want = if inside { orig[at(sy, sx)] } else { 0.0 };
                            img[at(y, x)] == want
                        })
                    })
                })
            });
        assert!(shift.is_some(), "each image is a shifted, zero-filled copy");
    }
    assert_ne!(batch, original, "some image moved");
}

#[test]
fn flips_mirror_rows_and_twice_is_identity() {
    let original = numbered_batch(16, SHAPE);
    let mut batch = original.clone();
    random_horizontal_flip(&mut batch, SHAPE, &mut ChaCha8Rng::seed_from_u64(3));
    let mut flipped = 0;
    for (img, orig) in batch.chunks(SHAPE.len()).zip(original.chunks(SHAPE.len())) {
        let mut mirrored = orig.to_vec();
        mirrored
            .chunks_mut(SHAPE.width)
            .for_each(|row| row.reverse());
        assert!(img == orig || img == mirrored.as_slice());
        flipped += usize::from(img == mirrored.as_slice());
    }
    assert!(flipped > 0 && flipped < 16, "{flipped} of 16 flipped");
    random_horizontal_flip(&mut batch, SHAPE, &mut ChaCha8Rng::seed_from_u64(3));
    assert_eq!(batch, original);
}

#[test]
fn augmentation_is_seeded() {
    let aug = Augmentation {
        crop_padding: 1,
        horizontal_flip: true,
    };
    let run = |seed| {
        let mut batch = numbered_batch(4, SHAPE);
        aug.apply(&mut batch, SHAPE, &mut ChaCha8Rng::seed_from_u64(seed));
        batch
    };
    assert_eq!(run(4), run(4));
    assert_ne!(run(4), run(5));
    let mut batch = numbered_batch(4, SHAPE);
    Augmentation::default().apply(&mut batch, SHAPE, &mut ChaCha8Rng::seed_from_u64(0));
    assert_eq!(batch, numbered_batch(4, SHAPE));
}

#[test]
fn folds_partition_the_images_round_robin() {
    let shape = ImageShape {
        channels: 1,
        height: 1,
        width: 2,
    };
    let set = F32Images {
        values: (0..14).map(|v| v as f32).collect(),
        labels: (0..7).collect(),
        shape,
    };
    let mut held_out = Vec::new();
    for k in 0..3 {
        let (kept, held) = set.fold(k, 3);
        assert_eq!(kept.len() + held.len(), 7);
        assert!(held.labels.iter().all(|&l| l as usize % 3 == k), "{k}");
        assert!(kept.labels.iter().all(|&l| l as usize % 3 != k), "{k}");
        // Each image keeps its own values.
        for (i, &l) in held.labels.iter().enumerate() {
            assert_eq!(held.image(i), &[2.0 * l as f32, 2.0 * l as f32 + 1.0]);
        }
        held_out.extend(held.labels);
    }
    held_out.sort_unstable();
    assert_eq!(
        held_out,
        (0..7).collect::<Vec<u16>>(),
        "every image held out once"
    );
}
