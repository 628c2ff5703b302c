//! Errors of spec building and validation.

use std::path::PathBuf;

/// Why a spec cannot be made or built.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// The spec was written by another version of the format.
    #[error("ArchSpec version {found} is not supported (this build reads version {expected})")]
    Version {
        /// Version in the spec.
        found: u32,
        /// Version this crate reads.
        expected: u32,
    },
    /// A part of the spec has an impossible value.
    #[error("{part}: {reason}")]
    Invalid {
        /// Which part (`stage 2 width`, `head.dropout`, …).
        part: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A size or count beyond what nas builds (see [`crate::MAX_SIZE`], [`crate::MAX_BLOCKS`]).
    #[error("{part}: {value} is more than the largest allowed, {max}")]
    TooLarge {
        /// Which part (`stage 2 width`, `stages`: the number of blocks, …).
        part: String,
        /// The value given.
        value: u64,
        /// The largest value allowed.
        max: u64,
    },
    /// A network whose parameter or MAC count does not fit in 64 bits.
    #[error(
        "the network's {what} overflow a 64-bit count; use smaller widths, kernels, \
         expansions or input resolution"
    )]
    Overflow {
        /// `parameters` or `MACs per image`.
        what: &'static str,
    },
    /// A strided layer would see a feature map smaller than its stride.
    #[error(
        "{part}: stride {stride} on a {height}×{width} feature map; the input resolution is \
         too small for this many strides"
    )]
    ResolutionTooSmall {
        /// The layer (`stem`, `stage 4 block 1`).
        part: String,
        /// Its stride.
        stride: usize,
        /// Height of the feature map it receives.
        height: usize,
        /// Width of the feature map it receives.
        width: usize,
    },
    /// A configuration lacks a parameter the spec needs.
    #[error("configuration has no `{key}`")]
    MissingParam {
        /// The parameter name.
        key: String,
    },
    /// A configuration value has the wrong type or an unknown value.
    #[error("configuration `{key}` = {value}: {reason}")]
    BadParam {
        /// The parameter name.
        key: String,
        /// The value, as JSON.
        value: String,
        /// What was expected.
        reason: String,
    },
    /// JSON that is not an ArchSpec.
    #[error("line {line} column {column}: {message}")]
    Json {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// serde_json's message.
        message: String,
    },
    /// A file could not be read.
    #[error("{0}")]
    Io(String),
    /// An error inside a file.
    #[error("{}: {source}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// The error inside it.
        source: Box<SpecError>,
    },
}
