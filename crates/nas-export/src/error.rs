//! Errors of exporting a model.

use std::path::PathBuf;

/// Why an export or an exported model failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// A file could not be written or read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A JSON file of an exported model is not what nas writes.
    #[error("{path}: line {line}, column {column}: {message}")]
    Json {
        /// The file.
        path: PathBuf,
        /// Line of the error.
        line: usize,
        /// Column of the error.
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// The architecture in an exported model is invalid.
    #[error("{path}: {source}")]
    Spec {
        /// The file.
        path: PathBuf,
        /// Why.
        source: nas_arch::SpecError,
    },
    /// An exported model's preprocessing that does not fit its architecture's input.
    #[error(
        "{path}: preprocessing.{field} is {found}, but the architecture's input needs {expected}"
    )]
    Preprocessing {
        /// The file.
        path: PathBuf,
        /// `height`, `width`, `mean` or `std`.
        field: &'static str,
        /// What the file says (a size, or the number of values).
        found: String,
        /// What the architecture's input needs.
        expected: String,
    },
    /// The weights could not be written as safetensors.
    #[error("safetensors: {0}")]
    Safetensors(String),
}
