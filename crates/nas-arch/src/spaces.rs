//! The search spaces compiled into nas (`search_spaces/*.toml` of this repository), so that
//! an installed binary runs its default from any directory; and what a `--space` value
//! names: a built-in space by name, or a TOML file.

use std::fmt;
use std::path::{Path, PathBuf};

use nas_space::{SearchSpace, SpaceError};

/// A search space compiled into the binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuiltinSpace {
    /// Its name (`--space lightweight`).
    pub name: &'static str,
    /// One line on what it holds.
    pub summary: &'static str,
    /// Its TOML text: the repository's `search_spaces/<name>.toml` at build time.
    pub toml: &'static str,
}

/// Every built-in space; the first is the default.
pub const BUILTIN_SPACES: [BuiltinSpace; 2] = [
    BuiltinSpace {
        name: "lightweight",
        summary: "1–4 stages of vanilla / bottleneck / inverted-residual blocks, widths 8–128, \
                  kernels 3–7, SE, head conv; Adam / AdamW / SGD recipes (the default)",
        toml: include_str!("../../../search_spaces/lightweight.toml"),
    },
    BuiltinSpace {
        name: "compact",
        summary: "a cheaper lightweight: at most 3 stages, 64 channels, 2 blocks a stage, \
                  kernels up to 5; the same recipes",
        toml: include_str!("../../../search_spaces/compact.toml"),
    },
];

/// The name of the default space.
pub const DEFAULT_SPACE: &str = BUILTIN_SPACES[0].name;

/// The built-in space called `name`, if any.
pub fn builtin_space(name: &str) -> Option<&'static BuiltinSpace> {
    BUILTIN_SPACES.iter().find(|s| s.name == name)
}

/// Where a search space comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpaceSource {
    /// A built-in space.
    Builtin(&'static BuiltinSpace),
    /// A TOML file.
    File(PathBuf),
}

impl SpaceSource {
    /// What `text` names: an existing file first (a path beats a name), then a built-in
    /// name. Studies saved before spaces were built in name the default as
    /// `search_spaces/<name>.toml`, relative to the repository; where that file is missing,
    /// it is the built-in space of that name (the same text). Anything else is a file, whose
    /// absence [`SpaceSource::load`] reports.
    pub fn parse(text: &str) -> SpaceSource {
        let path = Path::new(text);
        if path.is_file() {
            return SpaceSource::File(path.to_path_buf());
        }
        if let Some(builtin) = builtin_space(text) {
            return SpaceSource::Builtin(builtin);
        }
        let legacy = path
            .parent()
            .is_some_and(|p| p.file_name().is_some_and(|n| n == "search_spaces"))
            && path.extension().is_some_and(|e| e == "toml");
        let stem = path.file_stem().and_then(|s| s.to_str());
        match stem.and_then(builtin_space) {
            Some(builtin) if legacy => SpaceSource::Builtin(builtin),
            _ => SpaceSource::File(path.to_path_buf()),
        }
    }

    /// Reads and validates the space. A missing file's error names it and the built-in
    /// spaces.
    pub fn load(&self) -> Result<SearchSpace, SpaceError> {
        match self {
            SpaceSource::Builtin(b) => SearchSpace::from_toml_str(b.toml, b.name),
            SpaceSource::File(path) => SearchSpace::from_toml_file(path).map_err(|e| match e {
                SpaceError::Io { file, message } => SpaceError::Io {
                    file,
                    message: format!(
                        "{message} (not a file, nor a built-in space: {})",
                        BUILTIN_SPACES.map(|s| s.name).join(", ")
                    ),
                },
                other => other,
            }),
        }
    }
}

impl fmt::Display for SpaceSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpaceSource::Builtin(b) => write!(f, "{} (built in)", b.name),
            SpaceSource::File(path) => write!(f, "{}", path.display()),
        }
    }
}
