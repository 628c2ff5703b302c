//! Errors of building and running networks.

/// Why a network could not be built or run.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// `--backend` named no backend.
    #[error("unknown backend `{name}`: expected wgpu, vulkan, cuda, flex or cpu")]
    UnknownBackend {
        /// What was asked for.
        name: String,
    },
    /// The backend exists but this build does not include it.
    #[error(
        "backend `{backend}` is not in this build: rebuild with `--features nas-model/{backend}`"
    )]
    BackendNotCompiled {
        /// The backend's name.
        backend: &'static str,
    },
    /// The spec cannot be built.
    #[error(transparent)]
    Spec(#[from] nas_arch::SpecError),
    /// The device failed while running (lost device, out of memory, …).
    #[error("device error: {0}")]
    Device(String),
    /// A saved network could not be written or read.
    #[error("{path}: {message}")]
    Record {
        /// The burn record file.
        path: std::path::PathBuf,
        /// Why.
        message: String,
    },
    /// A benchmark or test was given impossible settings.
    #[error("{0}")]
    Settings(String),
}
