//! `nas-search`: the search driver, burn-free.
//!
//! - [`Search`]: asks the study for configurations, trains them rung by rung through a
//!   [`TrialRunner`] on worker threads, and lets the scheduler continue, pause or stop each.
//! - [`Scoring`]: objectives (accuracy, latency, params, MACs), limits, MnasNet's reward.
//! - [`TrialRecord`]: what the search keeps of a trial (rung results, network, measurements,
//!   cost, seed), written by [`RecordWriter`] and read back by everything that reports.
//! - [`write_results`]: `trials.csv`, `pareto.json` and the Pareto trials' architectures.
//!
//! It knows nothing of burn: `nas-train` implements [`TrialRunner`] with real networks, and
//! the tests here use cheap functions, so the driver is tested in seconds.
#![warn(missing_docs)]

mod driver;
mod halt;
mod pace;
mod record;
mod results;
mod runner;
mod scoring;
mod settings;

pub use driver::{Progress, RungSpend, Search, SearchError, SearchSummary, Silent};
pub use halt::{signal_name, Halt, HaltCause, Interrupt};
pub use record::{RecordWriter, TrialRecord, PAUSED_ATTR};
pub use results::{write_results, ResultsError};
pub use runner::{
    looks_like_oom, Advance, Measurements, Segment, SegmentScore, Timings, TrialFailure, TrialRun,
    TrialRunner, TrialStart,
};
pub use scoring::{Limits, MnasReward, Objective, Scoring};
pub use settings::{SearchSettings, MAX_FIRST_RUNG_SHARE, MAX_PROMOTION_SHARE};
