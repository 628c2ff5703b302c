//! What the driver asks of whoever trains the candidates: start a trial from its
//! configuration, train it segment by segment up the fidelity ladder, report its scores.
//!
//! The driver knows nothing of burn; `nas-train` implements [`TrialRunner`] with real
//! networks, and tests implement it with cheap functions.

use nas_core::space::Config;
use serde::{Deserialize, Serialize};

use crate::halt::Halt;

/// A trial about to start.
#[derive(Debug, Clone)]
pub struct TrialStart {
    /// The trial's number in its study.
    pub number: u64,
    /// Its sampled configuration (architecture and training recipe).
    pub params: Config,
    /// Seed of everything random in its training (initialisation, batch order, subsets).
    pub seed: u64,
}

/// The part of training between two rungs: train until `until_share` of the trial's full
/// budget (its epochs over the whole training split) has been seen, on `data_fraction` of the
/// training split at `resolution`, then evaluate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Segment {
    /// The rung this segment ends at.
    pub rung: usize,
    /// Share of the full budget seen at the end of the segment, in (0, 1].
    pub until_share: f64,
    /// Share of the training split to draw batches from, in (0, 1].
    pub data_fraction: f64,
    /// Image side length; `None` = the dataset's own.
    pub resolution: Option<u32>,
}

/// What a trial's network costs, known before training.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Measurements {
    /// Trainable parameters.
    pub params: u64,
    /// Multiply-accumulates of one forward at full resolution.
    pub macs: u64,
    /// Median inference latency in milliseconds at the configured batch size.
    pub latency_ms: f64,
}

/// The outcome of one segment. Stored with the trial; a field missing from a stored one (a
/// study written by an older nas) reads as zero.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SegmentScore {
    /// Validation accuracy in [0, 1].
    pub accuracy: f64,
    /// Mean validation cross-entropy.
    pub loss: f64,
    /// Mean training loss over the segment.
    pub train_loss: f64,
    /// Training images seen in this segment.
    pub images: u64,
    /// Resolution actually trained at (a network too deep for the rung's resolution trains
    /// at the full one).
    pub resolution: u32,
    /// Compute of the segment in GMACs (10⁹ multiply-accumulates): three forward passes per
    /// training image, one per evaluated image, at the segment's resolution. The unit that
    /// budgets (`max_cost`) and scheduler comparisons count in; unlike images, it grows with
    /// the network.
    pub cost: f64,
    /// Held-out accuracy of each fold when the segment was scored by k-fold
    /// cross-validation (`accuracy` is their mean); empty otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub folds: Vec<f64>,
    /// Where the segment's time went.
    pub timings: Timings,
}

/// Seconds spent in the parts of a segment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Timings {
    /// Preparing the fidelity's data (subset, resize, normalise, upload), when not cached.
    pub data_s: f64,
    /// Training steps (batch selection, forward, backward, optimizer), device-synchronised.
    pub train_s: f64,
    /// Of `train_s`, forward and backward passes (measured only when profiling, which syncs
    /// the device twice per step; else 0).
    pub forward_backward_s: f64,
    /// Of `train_s`, optimizer updates (profiling only).
    pub optimizer_s: f64,
    /// Evaluating on the validation split.
    pub eval_s: f64,
}

/// Why a trial failed; the search records it and goes on.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TrialFailure {
    /// The configuration makes no valid network (e.g. too many stride-2 stages).
    #[error("invalid configuration: {0}")]
    Invalid(String),
    /// The loss became NaN or infinite.
    #[error("diverged: {0}")]
    Diverged(String),
    /// The device ran out of memory.
    #[error("out of memory: {0}")]
    OutOfMemory(String),
    /// The trial's code panicked.
    #[error("panicked: {0}")]
    Panicked(String),
    /// Any other error of the device or the data.
    #[error("{0}")]
    Other(String),
    /// Training stopped at a batch boundary because the search was interrupted or its
    /// wall-clock budget ended ([`Halt`]); not the configuration's fault.
    #[error("halted: the search was interrupted or its budget ended")]
    Halted,
}

/// How far a segment's training has got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Advance {
    /// Epochs over the segment's data finished so far in this segment (with
    /// cross-validation, the epochs of every fold's copy together).
    pub epochs: u64,
    /// Images trained on in this segment so far.
    pub images: u64,
    /// Images the segment trains on in all.
    pub of: u64,
}

/// Trains candidates. Shared by the worker threads of a search.
pub trait TrialRunner: Send + Sync {
    /// Builds the trial's network and measures its cost.
    fn start(&self, start: &TrialStart) -> Result<Box<dyn TrialRun>, TrialFailure>;
}

/// One trial being trained; moved between worker threads between segments.
pub trait TrialRun: Send {
    /// The network's cost.
    fn measurements(&self) -> Measurements;

    /// A JSON description of the network (its architecture spec), kept with the trial.
    fn describe(&self) -> serde_json::Value;

    /// Trains one segment and evaluates on the validation split, calling `advance` as the
    /// training goes (after each epoch over the segment's data; it may be called from the
    /// threads the runner trains on). Checks `halt` before every batch and returns
    /// [`TrialFailure::Halted`] as soon as it is set.
    fn train(
        &mut self,
        segment: &Segment,
        advance: &mut (dyn FnMut(Advance) + Send),
        halt: &Halt,
    ) -> Result<SegmentScore, TrialFailure>;

    /// The compute `segment` will cost from where this run stands, in GMACs as
    /// [`SegmentScore::cost`] counts them; `None` when unknown (then it is never refused for
    /// the budget's sake before it starts).
    fn estimate_cost(&self, segment: &Segment) -> Option<f64> {
        let _ = segment;
        None
    }
}

/// Whether an error or panic message reports exhausted device memory.
pub fn looks_like_oom(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("out of memory") || m.contains("outofmemory") || m.contains("oom")
}
