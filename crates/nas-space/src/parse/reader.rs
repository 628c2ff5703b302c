//! Reading parameter tables into declarations: the flat `[params.*]` tables, and the parameter
//! specs shared with the `[stages]` template (type, range or choices, and `when` conditions).

use toml::de::DeValue;

use super::decl::{Decl, Site, Spec};
use super::ranges::check_distribution;
use super::spanned::{join_name, Node, Table};
use super::{Result, SourceLocation, SpaceError};
use crate::{Comparison, Condition, Distribution};

/// The three kinds of parameter.
#[derive(Clone, Copy)]
enum Kind {
    Float,
    Int,
    Categorical,
}

/// Every key a parameter may have.
const PARAM_KEYS: &[&str] = &["type", "low", "high", "log", "step", "choices", "when"];

impl Kind {
    /// The keys a parameter of this kind may have.
    fn keys(self) -> &'static [&'static str] {
        match self {
            Kind::Float | Kind::Int => &["type", "low", "high", "log", "step", "when"],
            Kind::Categorical => &["type", "choices", "when"],
        }
    }

    /// From `type`, or `categorical` when only `choices` is given.
    fn of(table: &Table<'_>) -> Result<Self> {
        let Some(node) = table.get("type") else {
            return match table.get("choices") {
                Some(_) => Ok(Kind::Categorical),
                None => Err(table.missing("type", TYPE_HINT)),
            };
        };
        match node.string()? {
            "float" => Ok(Kind::Float),
            "int" => Ok(Kind::Int),
            "categorical" => Ok(Kind::Categorical),
            other => Err(SpaceError::UnknownType {
                at: node.at().into(),
                found: other.to_owned(),
            }),
        }
    }
}

const TYPE_HINT: &str = "every parameter needs a `type`, unless it has `choices`";
const RANGE_HINT: &str = "float and int parameters need `low` and `high`";
const CHOICES_HINT: &str = "categorical parameters need `choices`";

/// Reads one parameter table (flat or template) and checks its range.
pub(super) fn read_spec(node: &Node<'_>) -> Result<Spec> {
    let table = node.table()?;
    let kind = match Kind::of(&table) {
        Ok(kind) => kind,
        // A typo such as `tpye` explains a missing `type` better than the missing key does.
        Err(error) => return Err(table.allow_only(PARAM_KEYS).err().unwrap_or(error)),
    };
    table.allow_only(kind.keys())?;
    let distribution = match kind {
        Kind::Float => read_float(&table)?,
        Kind::Int => read_int(&table)?,
        Kind::Categorical => read_categorical(&table)?,
    };
    check_distribution(&distribution, &Site::of(&table))?;
    let when = table.optional("when", read_when)?.unwrap_or_default();
    Ok(Spec {
        distribution,
        when,
        at: node.at(),
    })
}

/// A float parameter's `low`, `high`, `log` and `step`.
fn read_float(table: &Table<'_>) -> Result<Distribution> {
    Ok(Distribution::Float {
        low: table.require("low", RANGE_HINT)?.float()?,
        high: table.require("high", RANGE_HINT)?.float()?,
        log: table.optional("log", Node::boolean)?.unwrap_or(false),
        step: table.optional("step", Node::float)?,
    })
}

/// An int parameter's `low`, `high`, `log` and `step` (1 when not given).
fn read_int(table: &Table<'_>) -> Result<Distribution> {
    Ok(Distribution::Int {
        low: table.require("low", RANGE_HINT)?.int()?,
        high: table.require("high", RANGE_HINT)?.int()?,
        log: table.optional("log", Node::boolean)?.unwrap_or(false),
        step: table.optional("step", Node::int)?.unwrap_or(1),
    })
}

/// A categorical parameter's `choices`.
fn read_categorical(table: &Table<'_>) -> Result<Distribution> {
    let choices = table
        .require("choices", CHOICES_HINT)?
        .elements()?
        .iter()
        .map(Node::scalar)
        .collect::<Result<_>>()?;
    Ok(Distribution::Categorical { choices })
}

/// Reads a `when` table; nested tables (`when = { arch.head = true }`) name dotted parents.
fn read_when(node: &Node<'_>) -> Result<Vec<(Condition, SourceLocation)>> {
    let mut out = Vec::new();
    collect_when(node, "", &mut out)?;
    Ok(out)
}

/// Appends the conditions of a `when` table whose keys are prefixed by `prefix`.
fn collect_when(
    node: &Node<'_>,
    prefix: &str,
    out: &mut Vec<(Condition, SourceLocation)>,
) -> Result<()> {
    for (key, child) in node.table()?.entries() {
        let parent = join_name(prefix, key);
        if child.is_table() {
            collect_when(child, &parent, out)?;
        } else {
            out.push((read_test(child, parent)?, child.at()));
        }
    }
    Ok(())
}

/// One `when` entry: a list of accepted values, one value, or a comparison string like `">= 2"`.
fn read_test(node: &Node<'_>, parent: String) -> Result<Condition> {
    match node.value {
        DeValue::Array(_) => {
            let values = node
                .elements()?
                .iter()
                .map(Node::scalar)
                .collect::<Result<_>>()?;
            Ok(Condition::In { parent, values })
        }
        DeValue::String(text) if text.trim_start().starts_with(['<', '>']) => {
            let (op, value) = parse_comparison(text).ok_or_else(|| SpaceError::BadComparison {
                at: node.at().into(),
                text: text.to_string(),
            })?;
            Ok(Condition::Compare { parent, op, value })
        }
        _ => Ok(Condition::In {
            parent,
            values: vec![node.scalar()?],
        }),
    }
}

/// `"> 2"`, `">= 1.5"`, `"<3"`, `"<= 3"`.
fn parse_comparison(text: &str) -> Option<(Comparison, f64)> {
    const OPS: [(&str, Comparison); 4] = [
        (">=", Comparison::Ge),
        ("<=", Comparison::Le),
        (">", Comparison::Gt),
        ("<", Comparison::Lt),
    ];
    let text = text.trim();
    let (op, rest) = OPS
        .iter()
        .find_map(|(symbol, op)| text.strip_prefix(symbol).map(|rest| (*op, rest)))?;
    let value: f64 = rest.trim().parse().ok()?;
    value.is_finite().then_some((op, value))
}

// ---------------------------------------------------------------------------------------------
// Flat parameters: [params.*]
// ---------------------------------------------------------------------------------------------

/// Reads `[params]` into `out` with the offset of each declaration: each entry is a parameter,
/// or a group of parameters whose names it prefixes (`[params.arch.stem_width]` declares
/// `arch.stem_width`).
pub(super) fn read_params(
    node: &Node<'_>,
    prefix: &str,
    out: &mut Vec<(usize, Decl)>,
) -> Result<()> {
    for (key, child) in node.table()?.entries() {
        let name = join_name(prefix, key);
        if is_group(child) {
            read_params(child, &name, out)?;
        } else {
            let decl = read_spec(child)?.declare(name, &[], str::to_owned);
            out.push((child.offset, decl));
        }
    }
    Ok(())
}

/// A group is a non-empty table of tables that is not a parameter (it has no `when`).
fn is_group(node: &Node<'_>) -> bool {
    match node.value {
        DeValue::Table(table) => {
            !table.is_empty()
                && table.keys().all(|key| key.get_ref() != "when")
                && table
                    .values()
                    .all(|v| matches!(v.get_ref(), DeValue::Table(_)))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comparisons_parse() {
        assert_eq!(parse_comparison(">= 2"), Some((Comparison::Ge, 2.0)));
        assert_eq!(parse_comparison(" <0.5 "), Some((Comparison::Lt, 0.5)));
        assert_eq!(parse_comparison("> two"), None);
        assert_eq!(parse_comparison("=> 2"), None);
        assert_eq!(parse_comparison("> inf"), None);
    }
}
