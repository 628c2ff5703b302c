//! TOML values with their key paths and lines, so that every error can say where it is.

use std::ops::Range;

use toml::de::{DeTable, DeValue};

use super::{Result, SourceLocation, SpaceError};
use crate::ParamValue;

/// The file being read, with the byte offset where each line starts.
pub(super) struct Source<'a> {
    file: &'a str,
    line_starts: Vec<usize>,
}

impl<'a> Source<'a> {
    /// Indexes the lines of `text`, read from `file`.
    pub(super) fn new(file: &'a str, text: &str) -> Self {
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Source { file, line_starts }
    }

    /// 1-based line of a byte offset.
    fn line(&self, offset: usize) -> usize {
        self.line_starts.partition_point(|&start| start <= offset)
    }

    /// The error for text that is not valid TOML, at the line the parser names.
    pub(super) fn syntax_error(&self, error: &toml::de::Error) -> SpaceError {
        SpaceError::Syntax {
            file: self.file.to_owned(),
            line: error.span().map_or(1, |span| self.line(span.start)),
            message: error.message().trim().to_owned(),
        }
    }
}

/// A TOML value with its key path and the line it was written on.
#[derive(Clone)]
pub(super) struct Node<'a> {
    src: &'a Source<'a>,
    path: String,
    /// Byte offset of the key (or array element).
    pub(super) offset: usize,
    /// 1-based line of the key.
    pub(super) line: usize,
    /// The value as parsed.
    pub(super) value: &'a DeValue<'a>,
}

impl<'a> Node<'a> {
    fn new(src: &'a Source<'a>, path: String, span: Range<usize>, value: &'a DeValue<'a>) -> Self {
        Node {
            src,
            path,
            offset: span.start,
            line: src.line(span.start),
            value,
        }
    }

    /// Where the value was written.
    pub(super) fn at(&self) -> SourceLocation {
        SourceLocation {
            file: self.src.file.to_owned(),
            line: Some(self.line),
            key: self.path.clone(),
        }
    }

    /// The error for a value that is not `expected`.
    pub(super) fn wrong_type(&self, expected: &'static str) -> SpaceError {
        SpaceError::WrongType {
            at: self.at().into(),
            expected,
            found: describe(self.value),
        }
    }

    /// Whether the value is a table.
    pub(super) fn is_table(&self) -> bool {
        matches!(self.value, DeValue::Table(_))
    }

    /// The value as a table.
    pub(super) fn table(&self) -> Result<Table<'a>> {
        match self.value {
            DeValue::Table(table) => Ok(Table::read(self.src, &self.path, self.line, table)),
            _ => Err(self.wrong_type("a table")),
        }
    }

    /// The elements of an array, each at its own line.
    pub(super) fn elements(&self) -> Result<Vec<Node<'a>>> {
        match self.value {
            DeValue::Array(items) => Ok(items
                .iter()
                .map(|item| Node::new(self.src, self.path.clone(), item.span(), item.get_ref()))
                .collect()),
            _ => Err(self.wrong_type("an array")),
        }
    }

    /// The value as a 64-bit integer.
    pub(super) fn int(&self) -> Result<i64> {
        match self.value {
            DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix())
                .map_err(|_| self.wrong_type("an integer that fits in 64 bits")),
            _ => Err(self.wrong_type("an integer")),
        }
    }

    /// The value as a finite number (integers are converted).
    pub(super) fn float(&self) -> Result<f64> {
        let x = match self.value {
            DeValue::Integer(_) => self.int()? as f64,
            DeValue::Float(x) => x.as_str().parse().unwrap_or(f64::NAN),
            _ => return Err(self.wrong_type("a number")),
        };
        if x.is_finite() {
            Ok(x)
        } else {
            Err(self.wrong_type("a finite number"))
        }
    }

    /// The value as a boolean.
    pub(super) fn boolean(&self) -> Result<bool> {
        match self.value {
            DeValue::Boolean(b) => Ok(*b),
            _ => Err(self.wrong_type("a boolean")),
        }
    }

    /// The value as a string.
    pub(super) fn string(&self) -> Result<&'a str> {
        match self.value {
            DeValue::String(s) => Ok(s),
            _ => Err(self.wrong_type("a string")),
        }
    }

    /// A parameter value: a string, integer, finite float or boolean.
    pub(super) fn scalar(&self) -> Result<ParamValue> {
        match self.value {
            DeValue::String(s) => Ok(ParamValue::Str(s.to_string())),
            DeValue::Integer(_) => self.int().map(ParamValue::Int),
            DeValue::Float(_) => self.float().map(ParamValue::Float),
            DeValue::Boolean(b) => Ok(ParamValue::Bool(*b)),
            _ => Err(self.wrong_type("a string, number or boolean")),
        }
    }
}

/// How a TOML value reads in an error message.
fn describe(value: &DeValue<'_>) -> String {
    match value {
        DeValue::String(s) => format!("the string \"{s}\""),
        DeValue::Integer(i) => format!("the integer {i}"),
        DeValue::Float(x) => format!("the float {x}"),
        DeValue::Boolean(b) => format!("the boolean {b}"),
        DeValue::Datetime(_) => "a date-time".to_owned(),
        DeValue::Array(_) => "an array".to_owned(),
        DeValue::Table(_) => "a table".to_owned(),
    }
}

/// A TOML table: where it was written and its entries, in the order they were written.
pub(super) struct Table<'a> {
    src: &'a Source<'a>,
    path: String,
    line: usize,
    entries: Vec<(&'a str, Node<'a>)>,
}

impl<'a> Table<'a> {
    /// Reads `table`, written at `line` under the key path `path`.
    pub(super) fn read(
        src: &'a Source<'a>,
        path: &str,
        line: usize,
        table: &'a DeTable<'a>,
    ) -> Self {
        let mut entries: Vec<_> = table.iter().collect();
        entries.sort_by_key(|(key, _)| key.span().start);
        let entries = entries
            .into_iter()
            .map(|(key, value)| {
                let node = Node::new(
                    src,
                    join_key(path, key.get_ref()),
                    key.span(),
                    value.get_ref(),
                );
                (key.get_ref().as_ref(), node)
            })
            .collect();
        Table {
            src,
            path: path.to_owned(),
            line,
            entries,
        }
    }

    /// Where the table was written.
    pub(super) fn at(&self) -> SourceLocation {
        SourceLocation {
            file: self.src.file.to_owned(),
            line: Some(self.line),
            key: self.path.clone(),
        }
    }

    /// The entries, in file order.
    pub(super) fn entries(&self) -> &[(&'a str, Node<'a>)] {
        &self.entries
    }

    /// The value of `key`, if written.
    pub(super) fn get(&self, key: &str) -> Option<&Node<'a>> {
        self.entries
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, node)| node)
    }

    /// The error for a missing `key`, at the table's line.
    pub(super) fn missing(&self, key: &str, hint: &'static str) -> SpaceError {
        SpaceError::MissingKey {
            at: self.at().below(key).into(),
            hint,
        }
    }

    /// The value of `key`, or the error for a missing key explained by `hint`.
    pub(super) fn require(&self, key: &str, hint: &'static str) -> Result<&Node<'a>> {
        self.get(key).ok_or_else(|| self.missing(key, hint))
    }

    /// Reads an optional key with `read`.
    pub(super) fn optional<T>(
        &self,
        key: &str,
        read: impl Fn(&Node<'a>) -> Result<T>,
    ) -> Result<Option<T>> {
        self.get(key).map(read).transpose()
    }

    /// Fails on the first key (in file order) that is not in `allowed`.
    pub(super) fn allow_only(&self, allowed: &[&str]) -> Result<()> {
        match self.entries.iter().find(|(key, _)| !allowed.contains(key)) {
            Some((_, node)) => Err(SpaceError::UnknownKey {
                at: node.at().into(),
                allowed: allowed.iter().map(|k| k.to_string()).collect(),
            }),
            None => Ok(()),
        }
    }
}

/// Appends `key` to a dotted path, quoting it when it is not a bare TOML key.
pub(super) fn join_key(path: &str, key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    let key = if bare {
        key.to_owned()
    } else {
        format!("{key:?}")
    };
    if path.is_empty() {
        key
    } else {
        format!("{path}.{key}")
    }
}

/// Appends `key` to a dotted parameter name.
pub(super) fn join_name(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_owned()
    } else {
        format!("{prefix}.{key}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_quoted_when_not_bare() {
        assert_eq!(join_key("params", "lr"), "params.lr");
        assert_eq!(join_key("params", "arch.stem"), "params.\"arch.stem\"");
        assert_eq!(join_key("", "stages"), "stages");
    }

    #[test]
    fn lines_are_one_based() {
        let src = Source::new("f", "a\nb\n\nc");
        assert_eq!([0, 1, 2, 4, 5, 6].map(|o| src.line(o)), [1, 1, 2, 3, 4, 4]);
    }
}
