//! `nas-train`: trains candidate networks on burn with the training recipe of their
//! configuration, and runs them for the search.
//!
//! - [`Recipe`]: optimizer (Adam, AdamW, SGD) and its parameters, batch size, epochs,
//!   warm-up, label smoothing, read from a configuration.
//! - [`LrSchedule`]: linear warm-up, then cosine decay.
//! - [`CandidateTrainer`]: trains a network on device-resident data and evaluates it; a
//!   non-finite loss stops it with [`TrainError::Diverged`].
//! - [`retrain`]: a searched network trained again on the whole training split and scored
//!   once on the test split, for export.
//! - [`BurnRunner`]: the search's [`nas_search::TrialRunner`], sharing one device copy of
//!   each fidelity's data between all trials; each trial computes on its worker's own
//!   threads, and a latency is measured with no other trial computing ([`Quiet`]).
#![warn(missing_docs)]

mod error;
mod lr;
mod recipe;
mod retrain;
mod runner;
mod sharing;
mod trainer;

pub use error::TrainError;
pub use lr::LrSchedule;
pub use recipe::{Optimizer, Recipe};
pub use retrain::{retrain, Retrained};
pub use runner::{BurnRunner, BurnTrialRun, RunnerSettings};
pub use sharing::Quiet;
pub use trainer::{evaluate, CandidateTrainer, Evaluation, StepProfile, TrainStats};
