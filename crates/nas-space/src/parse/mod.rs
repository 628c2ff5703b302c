//! Reading search spaces from TOML, validating them, and counting their configurations.
//!
//! The schema is documented in `search_spaces/README.md`. Reading goes in three steps:
//!
//! 1. the text is parsed with byte spans ([`toml::de::DeTable`]), so every error can name a line
//!    ([`spanned`]);
//! 2. flat `[params.*]` tables ([`reader`]) and the `[stages]` template ([`stages`]) are read into
//!    declarations ([`decl`]): parameters plus where each part was written, the template being
//!    expanded once per stage; each parameter's range is checked on its own ([`ranges`]);
//! 3. the declarations are validated as a whole (unique names, known and satisfiable parents, no
//!    cycles) and ordered parents-first ([`validate`]).
//!
//! Spaces built in code go through the same checks, with key paths made of parameter names.
//! [`count`] counts configurations without enumerating them.

mod count;
mod decl;
mod error;
mod ranges;
mod reader;
mod runs;
mod spanned;
mod stages;
mod validate;

pub(crate) use count::count_configurations;
pub use count::{count_architectures, count_configurations_of, is_architecture_param};
pub use error::{SourceLocation, SpaceError};

use toml::de::DeTable;

use self::decl::{Decl, Site};
use self::spanned::{Source, Table};
use super::{Param, SearchSpace};

/// Name of the int parameter created by `[stages] count = { low, high }`.
const NUM_STAGES: &str = "num_stages";

type Result<T, E = SpaceError> = std::result::Result<T, E>;

/// Validates parameters built in code and orders them parents-first, keeping declaration order
/// among parameters that do not depend on each other.
pub(crate) fn validate_and_order(params: Vec<Param>) -> Result<SearchSpace> {
    let decls = params
        .into_iter()
        .map(|param| {
            ranges::check_distribution(&param.distribution, &Site::in_memory(&param.name))?;
            Ok(Decl::in_memory(param))
        })
        .collect::<Result<Vec<_>>>()?;
    validate::validate(decls)
}

/// Parses and validates a TOML search space; `file` names the source in error messages.
pub(crate) fn parse_space(text: &str, file: &str) -> Result<SearchSpace> {
    let src = Source::new(file, text);
    let doc = DeTable::parse(text).map_err(|e| src.syntax_error(&e))?;
    let root = Table::read(&src, "", 1, doc.get_ref());
    root.allow_only(&["params", "stages"])?;
    let mut decls = Vec::new();
    for (key, node) in root.entries() {
        match *key {
            "params" => reader::read_params(node, "", &mut decls)?,
            // `stages`, the only other key allowed.
            _ => decls.extend(
                stages::read_stages(node)?
                    .into_iter()
                    .map(|d| (node.offset, d)),
            ),
        }
    }
    // Declaration order is file order, with `[stages]` expanded where it is first written.
    decls.sort_by_key(|(offset, _)| *offset);
    validate::validate(decls.into_iter().map(|(_, decl)| decl).collect())
}
