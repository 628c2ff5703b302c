//! Parameter declarations: a parameter together with where each of its parts was written, so
//! that validation can point at the offending line.

use super::spanned::Table;
use super::SourceLocation;
use crate::{Condition, Distribution, Param};

/// Where the parts of one parameter declaration were written.
pub(super) struct Site {
    at: SourceLocation,
    field_lines: Vec<(String, usize)>,
    choice_lines: Vec<usize>,
}

impl Site {
    /// A parameter built in code: its keys are named below its name, without lines.
    pub(super) fn in_memory(name: &str) -> Self {
        Site {
            at: SourceLocation::in_memory(name.to_owned()),
            field_lines: Vec::new(),
            choice_lines: Vec::new(),
        }
    }

    /// Where each key of a parameter's table was written.
    pub(super) fn of(table: &Table<'_>) -> Self {
        let choice_lines = table
            .get("choices")
            .and_then(|choices| choices.elements().ok())
            .map(|items| items.iter().map(|item| item.line).collect())
            .unwrap_or_default();
        Site {
            at: table.at(),
            field_lines: table
                .entries()
                .iter()
                .map(|(k, node)| (k.to_string(), node.line))
                .collect(),
            choice_lines,
        }
    }

    /// The key `key` of the declaration (at the declaration's line when it is not written).
    pub(super) fn field(&self, key: &str) -> SourceLocation {
        let line = self
            .field_lines
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, line)| *line);
        SourceLocation {
            line: line.or(self.at.line),
            ..self.at.below(key)
        }
    }

    /// The `i`-th choice, at its own line.
    pub(super) fn choice(&self, i: usize) -> SourceLocation {
        let at = self.field("choices");
        SourceLocation {
            line: self.choice_lines.get(i).copied().or(at.line),
            ..at
        }
    }
}

/// A parameter with where it and each of its conditions were declared.
pub(super) struct Decl {
    /// The parameter, with its final name and every condition.
    pub(super) param: Param,
    /// Where the parameter was declared.
    pub(super) at: SourceLocation,
    /// Where each condition was written, aligned with `param.conditions`.
    pub(super) condition_at: Vec<SourceLocation>,
}

impl Decl {
    /// A parameter built in code, located by its name.
    pub(super) fn in_memory(param: Param) -> Self {
        let condition_at = param
            .conditions
            .iter()
            .map(|c| SourceLocation::in_memory(format!("{}.when.{}", param.name, c.parent())))
            .collect();
        Decl {
            at: SourceLocation::in_memory(param.name.clone()),
            param,
            condition_at,
        }
    }
}

/// A parameter as written in a `[params.*]` table or a stage template, before it is named.
pub(super) struct Spec {
    /// The range or choices, already checked.
    pub(super) distribution: Distribution,
    /// The `when` conditions, parents as written, each with where it was written.
    pub(super) when: Vec<(Condition, SourceLocation)>,
    /// Where the table was written.
    pub(super) at: SourceLocation,
}

impl Spec {
    /// The declaration of parameter `name`: active when `gate` holds and the `when` conditions,
    /// their parents renamed by `resolve`, hold.
    pub(super) fn declare(
        &self,
        name: String,
        gate: &[(Condition, SourceLocation)],
        resolve: impl Fn(&str) -> String,
    ) -> Decl {
        let when = self
            .when
            .iter()
            .map(|(c, at)| (with_parent(c, resolve(c.parent())), at.clone()));
        let (conditions, condition_at) = gate.iter().cloned().chain(when).unzip();
        Decl {
            param: Param {
                name,
                distribution: self.distribution.clone(),
                conditions,
            },
            at: self.at.clone(),
            condition_at,
        }
    }
}

/// `condition` reading `parent` instead.
fn with_parent(condition: &Condition, parent: String) -> Condition {
    match condition {
        Condition::In { values, .. } => Condition::In {
            parent,
            values: values.clone(),
        },
        Condition::Compare { op, value, .. } => Condition::Compare {
            parent,
            op: *op,
            value: *value,
        },
    }
}
