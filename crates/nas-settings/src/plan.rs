//! What a search's settings decide once its data is known: the preset, the scheduler and
//! sampler, the objectives and limits, the validation holdout, the fidelity ladder, how long
//! a complete trial trains and the search's stopping rules. `nas search`, `nas export` and
//! the benchmarks take these decisions from here, so each is made in one place.

use std::time::{Duration, Instant};

use nas_core::sampler::SamplerKind;
use nas_core::schedule::{FidelityLadder, LadderShape, MoRank, Promotion, SchedulerKind};
use nas_data::Holdout;
use nas_search::{Limits, MnasReward, Objective, Scoring, SearchSettings};

use crate::preset::{quick_length, Preset, TrainingLength};
use crate::{SettingsError, StudyConfig, Workers};

/// How long a complete trial trains: the share of the training split its top rung draws
/// from, and the floor and cap on its sampled epochs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrainingPlan {
    /// Share of the training split the top rung trains on, in (0, 1].
    pub top_fraction: f64,
    /// Fewest epochs a trial trains (the quick preset's length on a small dataset).
    pub min_epochs: Option<f64>,
    /// Most epochs a trial trains.
    pub max_epochs: Option<f64>,
}

/// Parses `90s`, `30m`, `2h` or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let (number, unit) = match t.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => (&t[..i], &t[i..]),
        None => (t, "s"),
    };
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a duration like 90s, 30m or 2h"))?;
    let seconds = match unit {
        "s" => value,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        _ => return Err(format!("`{text}`: unknown unit `{unit}`; use s, m or h")),
    };
    if !(seconds.is_finite() && seconds > 0.0) {
        return Err(format!("`{text}`: the budget must be positive"));
    }
    Duration::try_from_secs_f64(seconds).map_err(|_| format!("`{text}`: too long a budget"))
}

/// A value that names no known choice.
fn unknown(flag: &str, value: &str, names: &[&str]) -> SettingsError {
    SettingsError::Flag {
        flag: flag.into(),
        value: value.into(),
        why: format!("unknown; choose one of {}", names.join(", ")),
    }
}

impl StudyConfig {
    /// The preset these settings start from.
    pub fn preset_values(&self) -> Result<Preset, SettingsError> {
        Preset::named(self.preset())
    }

    /// The scheduler.
    pub fn scheduler_kind(&self) -> Result<SchedulerKind, SettingsError> {
        SchedulerKind::parse(self.scheduler())
            .ok_or_else(|| unknown("--scheduler", self.scheduler(), &SchedulerKind::NAMES))
    }

    /// The sampler and its name: BOHB's own under `--scheduler bohb`, else `--sampler`'s.
    pub fn sampler_kind(&self) -> Result<(SamplerKind, &str), SettingsError> {
        let name = match self.scheduler_kind()? {
            SchedulerKind::Bohb => "bohb",
            _ => self.sampler(),
        };
        let kind = SamplerKind::parse(name)
            .ok_or_else(|| unknown("--sampler", self.sampler(), &SamplerKind::NAMES))?;
        Ok((kind, name))
    }

    /// How a rung ranks several objectives.
    pub fn rank(&self) -> Result<MoRank, SettingsError> {
        MoRank::parse(self.mo_rank())
            .ok_or_else(|| unknown("--mo-rank", self.mo_rank(), &MoRank::NAMES))
    }

    /// How ASHA and Hyperband size the share they promote.
    pub fn promotion_rule(&self) -> Result<Promotion, SettingsError> {
        Promotion::parse(self.promotion())
            .ok_or_else(|| unknown("--promotion", self.promotion(), &Promotion::NAMES))
    }

    /// The wall-clock budget of this run.
    pub fn budget_duration(&self) -> Result<Option<Duration>, SettingsError> {
        self.budget
            .as_deref()
            .map(|text| {
                parse_duration(text).map_err(|why| SettingsError::Flag {
                    flag: "--budget".into(),
                    value: text.into(),
                    why,
                })
            })
            .transpose()
    }

    /// The objectives, limits and reward a trial is scored by.
    pub fn scoring(&self) -> Result<Scoring, SettingsError> {
        let objectives = self
            .objectives()
            .iter()
            .map(|o| {
                Objective::parse(o).ok_or_else(|| SettingsError::Flag {
                    flag: "--objectives".into(),
                    value: o.clone(),
                    why: "unknown objective; choose from accuracy, latency, params, macs".into(),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if objectives.is_empty() {
            return Err(SettingsError::Flag {
                flag: "--objectives".into(),
                value: "[]".into(),
                why: "needs at least one objective".into(),
            });
        }
        Ok(Scoring {
            objectives,
            limits: Limits {
                max_params: self.max_params,
                max_latency_ms: self.max_latency_ms,
                max_macs: self.max_macs,
            },
            reward: self.reward_target_ms.map(|target_ms| MnasReward {
                target_ms,
                exponent: self.reward_exponent(),
            }),
        })
    }

    /// The validation split carved from `train_images` training images: `--validation`
    /// (else the preset's count) when the split holds at least four times as many, else a
    /// fifth of it.
    pub fn holdout(&self, preset: &Preset, train_images: usize) -> Holdout {
        let held_out = self.validation.unwrap_or(preset.validation);
        if held_out.saturating_mul(4) <= train_images {
            Holdout::Count(held_out)
        } else {
            Holdout::Fraction(0.2)
        }
    }

    /// How long a complete trial trains on `train_images` images: the preset's length, with
    /// `--top-fraction` and `--max-epochs` taking precedence (a floor never exceeds the cap).
    pub fn training_plan(&self, preset: &Preset, train_images: usize) -> TrainingPlan {
        let (top_fraction, epochs) = match preset.length {
            TrainingLength::Quick => {
                let (fraction, epochs) = quick_length(train_images);
                (fraction, Some(epochs))
            }
            TrainingLength::Sampled => (1.0, None),
        };
        let max_epochs = self.max_epochs.or(epochs);
        let min_epochs = epochs.map(|e| max_epochs.map_or(e, |m| e.min(m)));
        TrainingPlan {
            top_fraction: self.top_fraction.unwrap_or(top_fraction),
            min_epochs,
            max_epochs,
        }
    }

    /// The fidelity ladder for images of side `full`: the full fidelity alone without a
    /// scheduler, the study config's `[[rung]]` tables when given, else a `--ladder` of
    /// `--rungs` (the preset's) from `--min-resolution` (half the side, at least
    /// `nas_data::MIN_IMAGE_SIZE`) to `full`: balanced ([`FidelityLadder::balanced`]) or
    /// geometric.
    pub fn ladder(&self, preset: &Preset, full: u32) -> Result<FidelityLadder, SettingsError> {
        if self.scheduler_kind()? == SchedulerKind::None {
            return Ok(FidelityLadder::full());
        }
        if let Some(rungs) = &self.rung {
            return FidelityLadder::new(rungs.clone(), f64::from(self.eta())).map_err(|source| {
                SettingsError::Ladder {
                    what: "the [[rung]] ladder of the study config",
                    source,
                }
            });
        }
        let floor = full.min(nas_data::MIN_IMAGE_SIZE);
        let min = self
            .min_resolution
            .unwrap_or(full.div_ceil(2).max(floor))
            .min(full);
        let rungs = self.rungs.unwrap_or(preset.rungs);
        let shape = LadderShape::parse(self.ladder_shape())
            .ok_or_else(|| unknown("--ladder", self.ladder_shape(), &LadderShape::NAMES))?;
        let what = match shape {
            LadderShape::Geometric => "the geometric fidelity ladder",
            LadderShape::Balanced => "the balanced fidelity ladder",
        };
        let ladder = FidelityLadder::computed(shape, self.eta(), rungs, (min, full));
        ladder.map_err(|source| SettingsError::Ladder { what, source })
    }

    /// When the search stops and how it runs: `--trials`, else the preset's trials unless a
    /// budget or `--max-cost` is given; the budget counts from `clock_start`; `workers`'
    /// trials at once ([`crate::Concurrency::workers`] on the chosen backend).
    pub fn search_settings(
        &self,
        preset: &Preset,
        clock_start: Instant,
        workers: Workers,
    ) -> Result<SearchSettings, SettingsError> {
        let budget = self.budget_duration()?;
        Ok(SearchSettings {
            trials: match (self.trials, budget.is_some() || self.max_cost.is_some()) {
                (Some(n), _) => Some(n),
                (None, true) => None,
                (None, false) => Some(preset.trials),
            },
            budget,
            clock_start: Some(clock_start),
            max_cost: self.max_cost,
            concurrency: workers.trials,
            seed: self.seed(),
            ..SearchSettings::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_the_preset_s_training_length() {
        let quick = Preset::named("quick").unwrap();
        let none = StudyConfig::default();
        let plan = |top_fraction, min_epochs, max_epochs| TrainingPlan {
            top_fraction,
            min_epochs,
            max_epochs,
        };
        assert_eq!(
            none.training_plan(&quick, 6_400),
            plan(1.0, Some(5.625), Some(5.625))
        );
        // --max-epochs caps the floor too; --top-fraction replaces the preset's.
        let flags = StudyConfig {
            max_epochs: Some(2.0),
            top_fraction: Some(0.5),
            ..StudyConfig::default()
        };
        assert_eq!(
            flags.training_plan(&quick, 6_400),
            plan(0.5, Some(2.0), Some(2.0))
        );
        let full = Preset::named("full").unwrap();
        assert_eq!(none.training_plan(&full, 6_400), plan(1.0, None, None));
    }

    #[test]
    fn the_holdout_is_the_count_when_the_split_is_large_enough() {
        let quick = Preset::named("quick").unwrap();
        let none = StudyConfig::default();
        assert_eq!(none.holdout(&quick, 55_000), Holdout::Count(5_000));
        assert_eq!(none.holdout(&quick, 8_000), Holdout::Fraction(0.2));
        let flags = StudyConfig {
            validation: Some(100),
            ..StudyConfig::default()
        };
        assert_eq!(flags.holdout(&quick, 600), Holdout::Count(100));
    }

    #[test]
    fn the_ladder_setting_picks_the_shape_of_the_computed_ladder() {
        let quick = Preset::named("quick").unwrap();
        let rung0 = |ladder: Option<&str>| {
            let config = StudyConfig {
                ladder: ladder.map(str::to_string),
                ..StudyConfig::default()
            };
            config.ladder(&quick, 28).unwrap().rungs()[0]
        };
        assert_eq!(rung0(None).budget_share, 1.0 / 3.0);
        assert_eq!(rung0(Some("geometric")), rung0(None));
        let balanced = rung0(Some("balanced"));
        assert!(
            (balanced.budget_share - 4.0 / 7.0).abs() < 1e-12,
            "{balanced:?}"
        );
        assert_eq!(balanced.resolution, Some(14));
    }

    #[test]
    fn bohb_brings_its_own_sampler_and_a_budget_lifts_the_trial_cap() {
        let bohb = StudyConfig {
            scheduler: Some("bohb".into()),
            sampler: Some("random".into()),
            ..StudyConfig::default()
        };
        assert_eq!(bohb.sampler_kind().unwrap().1, "bohb");
        let quick = Preset::named("quick").unwrap();
        let now = Instant::now();
        let two = StudyConfig::default().concurrency().workers(Some(2));
        let plain = StudyConfig::default()
            .search_settings(&quick, now, two)
            .unwrap();
        assert_eq!(plain.trials, Some(20));
        assert_eq!(plain.concurrency, 2, "auto: a trial per core on the CPU");
        let budgeted = StudyConfig {
            budget: Some("90s".into()),
            ..StudyConfig::default()
        };
        let settings = budgeted.search_settings(&quick, now, two).unwrap();
        assert_eq!(settings.trials, None);
        assert_eq!(settings.budget, Some(Duration::from_secs(90)));
        assert!(parse_duration("2x").is_err() && parse_duration("-1m").is_err());
        // 10^300 hours: finite, but more than a `Duration` holds.
        let too_long = parse_duration(&format!("1{}h", "0".repeat(300))).unwrap_err();
        assert!(too_long.contains("too long a budget"), "{too_long}");
        let empty = StudyConfig {
            objectives: Some(vec![]),
            ..StudyConfig::default()
        };
        let why = empty.validate(|_| Ok(())).unwrap_err().to_string();
        assert_eq!(why, "--objectives []: needs at least one objective");
        let why = empty.scoring().unwrap_err().to_string();
        assert_eq!(why, "--objectives []: needs at least one objective");
    }
}
