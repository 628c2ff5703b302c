//! [`SettingsError`]: why a study's settings cannot be read, written or used; each names the
//! flag, file, attribute or value at fault.

use std::path::PathBuf;

use nas_core::study::StorageError;
use nas_data::DataError;

/// Errors of study settings.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// A value refused by its flag's rule.
    #[error("{flag} {value}: {why}")]
    Flag {
        /// The flag, e.g. `--eta`.
        flag: String,
        /// The value as given.
        value: String,
        /// Why it cannot work.
        why: String,
    },
    /// A settings file that cannot be read.
    #[error("reading study config {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A settings file with an unknown key or a value of the wrong type.
    #[error("study config {}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// Where and why.
        source: Box<toml::de::Error>,
    },
    /// Settings that cannot be written.
    #[error("writing {}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Settings that cannot be turned into TOML.
    #[error("writing the study config as TOML")]
    Serialize(#[from] toml::ser::Error),
    /// Settings stored with a study that this `nas` cannot read.
    #[error("the `{attr}` attribute of study `{study}`")]
    Stored {
        /// The study attribute.
        attr: &'static str,
        /// The study.
        study: String,
        /// Why it does not parse.
        source: serde_json::Error,
    },
    /// The storage could not be read.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// A dataset that cannot be named or loaded.
    #[error("dataset {name}")]
    Data {
        /// The dataset as given.
        name: String,
        /// The cause (boxed: it is large, and every settings result carries it).
        source: Box<DataError>,
    },
    /// A path given by a flag that cannot be made absolute.
    #[error("{flag} {}", path.display())]
    Path {
        /// The flag.
        flag: &'static str,
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A fidelity ladder that cannot be built.
    #[error("{what}")]
    Ladder {
        /// Which ladder.
        what: &'static str,
        /// Why.
        source: nas_core::schedule::ScheduleError,
    },
}
