//! Errors of training a candidate.

use nas_search::{looks_like_oom, TrialFailure};

/// Why a candidate could not be trained.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// A recipe parameter of the configuration is missing its meaning (wrong type, range).
    #[error("recipe: {0}")]
    Recipe(String),
    /// The configuration's architecture is invalid.
    #[error(transparent)]
    Spec(#[from] nas_arch::SpecError),
    /// Building or running the network failed.
    #[error(transparent)]
    Model(#[from] nas_model::ModelError),
    /// Preparing the data failed.
    #[error(transparent)]
    Data(#[from] nas_data::DataError),
    /// The training loss became NaN or infinite.
    #[error("training loss is {loss} after {images} images (step {step})")]
    Diverged {
        /// The non-finite mean loss.
        loss: f64,
        /// Optimizer steps done.
        step: u64,
        /// Images seen.
        images: u64,
    },
    /// Training stopped at a batch boundary: the search was interrupted or its budget ended.
    #[error("training halted: the search was interrupted or its budget ended")]
    Halted,
}

impl From<TrainError> for TrialFailure {
    fn from(e: TrainError) -> TrialFailure {
        match e {
            TrainError::Recipe(_) | TrainError::Spec(_) => TrialFailure::Invalid(e.to_string()),
            TrainError::Diverged { .. } => TrialFailure::Diverged(e.to_string()),
            TrainError::Halted => TrialFailure::Halted,
            TrainError::Model(nas_model::ModelError::Spec(_)) => {
                TrialFailure::Invalid(e.to_string())
            }
            TrainError::Model(_) | TrainError::Data(_) => {
                let text = e.to_string();
                if looks_like_oom(&text) {
                    TrialFailure::OutOfMemory(text)
                } else {
                    TrialFailure::Other(text)
                }
            }
        }
    }
}
