//! Study settings of nas, burn-free: one type, [`StudyConfig`], holding every setting of a
//! study with its default, merged from four places (flags, a `--config` file, the study's
//! `config.toml`, the settings stored with the study for workers on other machines),
//! validated by the [`rules`] of each flag, and turned into the search's decisions
//! ([`Preset`], scheduler, sampler, [`nas_search::Scoring`], validation holdout, fidelity
//! ladder, [`TrainingPlan`], [`nas_search::SearchSettings`]).
//!
//! Commands and benchmarks build a `StudyConfig` (from clap, which parses it directly, or by
//! hand) and ask it; no default lives anywhere else.

#![warn(missing_docs)]

mod concurrency;
mod config;
mod error;
mod plan;
mod preset;
pub mod rules;

pub use concurrency::{Concurrency, Workers, AUTO_MAX_TRIALS, AUTO_THREADS_PER_TRIAL};
pub use config::{StudyConfig, CONFIG_ATTR};
pub use error::SettingsError;
pub use plan::{parse_duration, TrainingPlan};
pub use preset::{quick_length, Preset, TrainingLength, PRESET_NAMES, QUICK_TOP_RUNG_IMAGES};
