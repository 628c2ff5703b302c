//! Stratified, seeded validation splits and subsets.
//!
//! The number of images taken from each class is its share of the total by the largest
//! remainder method: class `c` with `n_c` of the `N` images gets `⌊k·n_c/N⌋`, and the
//! classes with the largest remainders get one more until `k` are taken, so every class is
//! within one image of its exact proportion. Which images a class gives is the start of a
//! seeded permutation of that class (ChaCha8, stream = label), so for one seed a larger
//! subset contains a smaller one wherever the class counts grow.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::dataset::count_classes;
use crate::{DataError, Dataset};

/// How much of a training set to hold out for validation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Holdout {
    /// This fraction of the images, in (0, 1), rounded to the nearest whole image.
    Fraction(f64),
    /// This many images, at least 1 and fewer than the training set.
    Count(usize),
}

/// Image indices of a training set split in two, each list ascending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexSplit {
    /// Indices kept for training.
    pub train: Vec<usize>,
    /// Indices held out for validation.
    pub validation: Vec<usize>,
}

/// A training set and the validation set carved from it.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainValidation {
    /// What is left for training.
    pub train: Dataset,
    /// The held-out validation images.
    pub validation: Dataset,
}

/// Stratified, seeded validation indices for images labelled `labels` (each `< num_classes`).
pub fn validation_indices(
    labels: &[u16],
    num_classes: usize,
    holdout: Holdout,
    seed: u64,
) -> Result<IndexSplit, DataError> {
    check_labels(labels, num_classes)?;
    let count = holdout_count(holdout, labels.len())?;
    let (validation, train) = stratified_choice(labels, num_classes, count, seed);
    Ok(IndexSplit { train, validation })
}

/// `dataset` split into training and validation sets, stratified and seeded.
pub fn split_validation(
    dataset: &Dataset,
    holdout: Holdout,
    seed: u64,
) -> Result<TrainValidation, DataError> {
    let split = validation_indices(dataset.labels(), dataset.num_classes(), holdout, seed)?;
    Ok(TrainValidation {
        train: dataset.subset(&split.train),
        validation: dataset.subset(&split.validation),
    })
}

/// Ascending indices of a stratified, seeded subset of `fraction` ∈ (0, 1] of the images
/// (rounded to the nearest whole image, at least one).
pub fn subset_indices(
    labels: &[u16],
    num_classes: usize,
    fraction: f64,
    seed: u64,
) -> Result<Vec<usize>, DataError> {
    check_labels(labels, num_classes)?;
    if !(fraction > 0.0 && fraction <= 1.0) {
        return Err(DataError::split(format!(
            "subset fraction {fraction} is not in (0, 1]"
        )));
    }
    if labels.is_empty() {
        return Err(DataError::split("cannot take a subset of an empty dataset"));
    }
    let count = ((fraction * labels.len() as f64).round() as usize).clamp(1, labels.len());
    Ok(stratified_choice(labels, num_classes, count, seed).0)
}

/// A stratified, seeded subset of `fraction` ∈ (0, 1] of `dataset`, in dataset order.
pub fn stratified_subset(
    dataset: &Dataset,
    fraction: f64,
    seed: u64,
) -> Result<Dataset, DataError> {
    let indices = subset_indices(dataset.labels(), dataset.num_classes(), fraction, seed)?;
    Ok(dataset.subset(&indices))
}

/// How many of `total` items each class of `class_sizes` gets, by the largest remainder
/// method (ties to the lower class); the result sums to `total`, capped at the sum of the
/// sizes.
pub fn largest_remainder(class_sizes: &[usize], total: usize) -> Vec<usize> {
    let n: usize = class_sizes.iter().sum();
    if n == 0 {
        return vec![0; class_sizes.len()];
    }
    let total = total.min(n);
    let (n, products): (u128, Vec<u128>) = (
        n as u128,
        class_sizes
            .iter()
            .map(|&s| total as u128 * s as u128)
            .collect(),
    );
    let mut counts: Vec<usize> = products.iter().map(|&p| (p / n) as usize).collect();
    let mut by_remainder: Vec<usize> = (0..class_sizes.len()).collect();
    by_remainder.sort_by_key(|&c| std::cmp::Reverse(products[c] % n));
    let missing = total - counts.iter().sum::<usize>();
    for &c in by_remainder.iter().take(missing) {
        counts[c] += 1;
    }
    counts
}

/// `count` stratified indices and the others, both ascending.
fn stratified_choice(
    labels: &[u16],
    num_classes: usize,
    count: usize,
    seed: u64,
) -> (Vec<usize>, Vec<usize>) {
    let quotas = largest_remainder(&count_classes(labels, num_classes), count);
    let mut chosen = Vec::with_capacity(count);
    let mut rest = Vec::with_capacity(labels.len() - count);
    for (class, members) in members_by_class(labels, num_classes)
        .into_iter()
        .enumerate()
    {
        let mut order = members;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(class as u64);
        order.shuffle(&mut rng);
        let (take, keep) = order.split_at(quotas[class]);
        chosen.extend_from_slice(take);
        rest.extend_from_slice(keep);
    }
    chosen.sort_unstable();
    rest.sort_unstable();
    (chosen, rest)
}

fn members_by_class(labels: &[u16], num_classes: usize) -> Vec<Vec<usize>> {
    let mut members = vec![Vec::new(); num_classes];
    for (i, &l) in labels.iter().enumerate() {
        members[l as usize].push(i);
    }
    members
}

fn holdout_count(holdout: Holdout, n: usize) -> Result<usize, DataError> {
    let count = match holdout {
        Holdout::Fraction(f) if f > 0.0 && f < 1.0 => (f * n as f64).round() as usize,
        Holdout::Fraction(f) => {
            return Err(DataError::split(format!(
                "validation fraction {f} is not in (0, 1)"
            )))
        }
        Holdout::Count(c) => c,
    };
    if count == 0 || count >= n {
        return Err(DataError::split(format!(
            "{holdout:?} holds out {count} of {n} images; validation and training each need \
             at least one image"
        )));
    }
    Ok(count)
}

fn check_labels(labels: &[u16], num_classes: usize) -> Result<(), DataError> {
    match labels.iter().find(|&&l| l as usize >= num_classes) {
        Some(l) => Err(DataError::split(format!(
            "label {l} is out of range for {num_classes} classes"
        ))),
        None => Ok(()),
    }
}
