//! Stratified, seeded splits and subsets.

mod common;

use common::{assert_mentions, grey_dataset, labels_with_counts};
use nas_data::{
    largest_remainder, split_validation, stratified_subset, subset_indices, validation_indices,
    Dataset, Holdout, ImageShape,
};

/// Unbalanced classes: 0 holds 501 images, 9 only 7.
const COUNTS: [usize; 10] = [501, 300, 123, 77, 64, 50, 33, 20, 11, 7];

fn counts_of(labels: &[u16], indices: &[usize]) -> Vec<usize> {
    let mut counts = vec![0; COUNTS.len()];
    for &i in indices {
        counts[labels[i] as usize] += 1;
    }
    counts
}

/// Every class's count is within one image of its exact share, and the total is exact.
fn assert_proportional(counts: &[usize], total: usize) {
    let n: usize = COUNTS.iter().sum();
    assert_eq!(counts.iter().sum::<usize>(), total);
    for (c, (&got, &size)) in counts.iter().zip(&COUNTS).enumerate() {
        let exact = total as f64 * size as f64 / n as f64;
        assert!(
            (got as f64 - exact).abs() < 1.0,
            "class {c}: {got} vs {exact}"
        );
    }
}

#[test]
fn largest_remainder_sums_and_stays_within_one() {
    for total in [0, 1, 9, 10, 11, 99, 500, 1185, 1186] {
        let alloc = largest_remainder(&COUNTS, total);
        assert_proportional(&alloc, total.min(COUNTS.iter().sum()));
    }
    assert_eq!(largest_remainder(&[1, 1, 1], 2), vec![1, 1, 0]);
    assert_eq!(largest_remainder(&[], 5), Vec::<usize>::new());
}

#[test]
fn validation_split_keeps_class_proportions() {
    let labels = labels_with_counts(&COUNTS);
    for holdout in [
        Holdout::Fraction(0.1),
        Holdout::Fraction(0.37),
        Holdout::Count(100),
    ] {
        let split = validation_indices(&labels, 10, holdout, 7).unwrap();
        let total = split.validation.len();
        assert_proportional(&counts_of(&labels, &split.validation), total);
        assert_proportional(&counts_of(&labels, &split.train), labels.len() - total);
        let mut all: Vec<usize> = split
            .train
            .iter()
            .chain(&split.validation)
            .copied()
            .collect();
        all.sort_unstable();
        assert_eq!(
            all,
            (0..labels.len()).collect::<Vec<_>>(),
            "disjoint and complete"
        );
        assert!(
            split.validation.windows(2).all(|w| w[0] < w[1]),
            "ascending"
        );
    }
    let tenth = validation_indices(&labels, 10, Holdout::Fraction(0.1), 7).unwrap();
    assert_eq!(tenth.validation.len(), 119); // round(0.1 × 1186)
}

#[test]
fn splits_depend_on_the_seed_only() {
    let labels = labels_with_counts(&COUNTS);
    let a = validation_indices(&labels, 10, Holdout::Fraction(0.2), 1).unwrap();
    let b = validation_indices(&labels, 10, Holdout::Fraction(0.2), 1).unwrap();
    let c = validation_indices(&labels, 10, Holdout::Fraction(0.2), 2).unwrap();
    assert_eq!(a, b);
    assert_ne!(a.validation, c.validation);
}

#[test]
fn split_validation_returns_the_images() {
    let data = grey_dataset(50, 2, 2, 5);
    let split = split_validation(&data, Holdout::Count(10), 3).unwrap();
    assert_eq!((split.train.len(), split.validation.len()), (40, 10));
    assert_eq!(split.validation.class_counts(), vec![2; 5]);
    // Each validation image is one of the originals with its label.
    for i in 0..split.validation.len() {
        let image = split.validation.image(i);
        let found = (0..data.len()).find(|&j| data.image(j) == image).unwrap();
        assert_eq!(data.label(found), split.validation.label(i));
    }
}

#[test]
fn subsets_keep_proportions_and_grow_nested() {
    let labels = labels_with_counts(&COUNTS);
    let mut previous: Vec<usize> = Vec::new();
    for fraction in [0.05, 0.1, 0.25, 0.5, 1.0] {
        let subset = subset_indices(&labels, 10, fraction, 11).unwrap();
        let total = (fraction * labels.len() as f64).round() as usize;
        assert_proportional(&counts_of(&labels, &subset), total);
        let contained = previous
            .iter()
            .filter(|i| subset.binary_search(i).is_ok())
            .count();
        assert!(
            contained + 10 >= previous.len(),
            "subsets nest (up to one per class)"
        );
        previous = subset;
    }
    assert_eq!(previous, (0..labels.len()).collect::<Vec<_>>());
}

#[test]
fn a_tiny_subset_has_at_least_one_image() {
    let data = grey_dataset(20, 1, 1, 2);
    assert_eq!(stratified_subset(&data, 1e-6, 0).unwrap().len(), 1);
}

#[test]
fn impossible_splits_are_refused() {
    let labels = labels_with_counts(&[3, 3]);
    let err = |h| {
        validation_indices(&labels, 2, h, 0)
            .unwrap_err()
            .to_string()
    };
    assert_mentions(&err(Holdout::Fraction(0.0)), &["fraction 0", "(0, 1)"]);
    assert_mentions(&err(Holdout::Fraction(1.0)), &["fraction 1", "(0, 1)"]);
    assert_mentions(&err(Holdout::Fraction(f64::NAN)), &["NaN"]);
    assert_mentions(
        &err(Holdout::Count(6)),
        &["6 of 6 images", "at least one image"],
    );
    assert_mentions(
        &err(Holdout::Count(0)),
        &["0 of 6 images", "at least one image"],
    );
    assert_mentions(&err(Holdout::Fraction(0.01)), &["0 of 6 images"]);
    let text = subset_indices(&labels, 2, 1.5, 0).unwrap_err().to_string();
    assert_mentions(&text, &["1.5", "(0, 1]"]);
    let text = validation_indices(&[0, 5], 2, Holdout::Count(1), 0)
        .unwrap_err()
        .to_string();
    assert_mentions(&text, &["label 5", "2 classes"]);
}

#[test]
fn empty_datasets_have_no_subset() {
    let shape = ImageShape {
        channels: 1,
        height: 1,
        width: 1,
    };
    let empty = Dataset::new(vec![], vec![], 3, shape, None).unwrap();
    let text = stratified_subset(&empty, 0.5, 0).unwrap_err().to_string();
    assert_mentions(&text, &["empty dataset"]);
}
