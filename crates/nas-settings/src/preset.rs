//! Presets: the trial budget, ladder depth, validation holdout and training length that
//! `--preset quick` and `--preset full` stand for before flags override them.

use crate::SettingsError;

/// The budget and fidelity a preset stands for, before flags override it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Preset {
    /// Trials of a search given no `--trials`, `--budget` or `--max-cost`.
    pub trials: u64,
    /// Rungs of the geometric fidelity ladder.
    pub rungs: usize,
    /// How long a complete trial trains, from the size of the training split.
    pub length: TrainingLength,
    /// Images held out of the training split for validation (when the split has at least
    /// four times as many; else a fifth of it).
    pub validation: usize,
}

/// How much of the training split a complete trial trains on, and for how long.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TrainingLength {
    /// Every trial trains on a share of the split for a number of epochs that together come
    /// to at least [`QUICK_TOP_RUNG_IMAGES`] images, whatever the dataset's size.
    Quick,
    /// The sampled epochs on the whole split.
    Sampled,
}

/// Images that a complete trial of the quick preset trains on, at least: what 2 epochs on a
/// third of Fashion-MNIST's 55,000 training images come to. A smaller dataset gets more
/// epochs instead of fewer optimizer steps, so that its trials learn.
pub const QUICK_TOP_RUNG_IMAGES: f64 = 36_000.0;

/// The names [`Preset::named`] knows.
pub const PRESET_NAMES: [&str; 2] = ["quick", "full"];

impl Preset {
    /// The preset called `name`: `quick` or `full`.
    pub fn named(name: &str) -> Result<Preset, SettingsError> {
        Ok(match name {
            "quick" => Preset {
                trials: 20,
                rungs: 2,
                length: TrainingLength::Quick,
                validation: 5_000,
            },
            "full" => Preset {
                trials: 200,
                rungs: 4,
                length: TrainingLength::Sampled,
                validation: 10_000,
            },
            other => {
                return Err(SettingsError::Flag {
                    flag: "--preset".into(),
                    value: other.into(),
                    why: format!("unknown preset; choose {}", PRESET_NAMES.join(" or ")),
                })
            }
        })
    }

    /// Epochs a final training of `train_images` images needs so that it sees no fewer
    /// images than a complete trial of this preset did (`None`: the sampled epochs).
    pub fn export_epochs_floor(&self, train_images: usize) -> Option<f64> {
        match self.length {
            TrainingLength::Quick => Some(QUICK_TOP_RUNG_IMAGES / train_images.max(1) as f64),
            TrainingLength::Sampled => None,
        }
    }
}

/// `(top_fraction, epochs)` of the quick preset for `train_images` training images: 2 epochs
/// on a third of a large split, and on a small one `QUICK_TOP_RUNG_IMAGES` images: first a
/// larger share of the split (up to all of it), then more epochs.
pub fn quick_length(train_images: usize) -> (f64, f64) {
    let n = train_images.max(1) as f64;
    let images = QUICK_TOP_RUNG_IMAGES.max(2.0 * n / 3.0);
    let top_fraction = (images / (2.0 * n)).min(1.0);
    (top_fraction, images / (top_fraction * n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quick_trials_see_36000_images_whatever_the_dataset_size() {
        // Fashion-MNIST's 55,000 training images: 2 epochs on a third, as always.
        let (fraction, epochs) = quick_length(55_000);
        assert!((fraction - 1.0 / 3.0).abs() < 1e-12 && epochs == 2.0);
        // CIFAR's 45,000: a larger share, still 2 epochs.
        assert_eq!(quick_length(45_000), (0.4, 2.0));
        // 6,400 (an 8,000-image dataset less its validation split): all of it, 5.6 epochs.
        assert_eq!(quick_length(6_400), (1.0, 5.625));
        // 300 images: 120 epochs, not a dozen optimizer steps.
        assert_eq!(quick_length(300), (1.0, 120.0));
        for n in [10, 999, 18_000, 30_000, 54_000, 200_000] {
            let (fraction, epochs) = quick_length(n);
            let images = fraction * epochs * n as f64;
            assert!(images >= QUICK_TOP_RUNG_IMAGES - 1e-6, "{n}: {images}");
            assert!(fraction <= 1.0 && epochs >= 2.0, "{n}");
        }
    }

    #[test]
    fn an_unknown_preset_is_named() {
        let err = Preset::named("slow").unwrap_err().to_string();
        assert!(
            err.contains("--preset slow") && err.contains("quick or full"),
            "{err}"
        );
    }
}
