//! Reading search spaces from TOML, validating them, and counting their configurations.
//!
//! The schema is documented in `search_spaces/README.md`. Reading goes in three steps:
//!
//! 1. the text is parsed with byte spans ([`toml::de::DeTable`]), so every error can name a line;
//! 2. flat `[params.*]` tables and the `[stages]` template are read into declarations: parameters
//!    plus where each part was written, the template being expanded once per stage;
//! 3. the declarations are validated as a whole (unique names, known and satisfiable parents, no
//!    cycles) and ordered parents-first.
//!
//! Spaces built in code go through the same checks, with key paths made of parameter names.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::ops::Range;

use thiserror::Error;
use toml::de::{DeTable, DeValue};

use super::{on_grid, Comparison, Condition, Distribution, Param, ParamValue, SearchSpace};

/// The file name in errors about spaces built in code rather than read from a file.
const IN_MEMORY: &str = "<memory>";

/// Name of the int parameter created by `[stages] count = { low, high }`.
const NUM_STAGES: &str = "num_stages";

/// Most stages the `[stages]` template may expand to.
const MAX_STAGES: i64 = 64;

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/// Where a problem was found: file, line and dotted key path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceLocation {
    /// The file, or `<memory>` for spaces built in code.
    pub file: String,
    /// 1-based line number; `None` for spaces built in code.
    pub line: Option<usize>,
    /// Dotted key path, such as `params.lr.low` (in code: `lr.low`).
    pub key: String,
}

impl SourceLocation {
    fn in_memory(key: String) -> Self {
        SourceLocation {
            file: IN_MEMORY.to_owned(),
            line: None,
            key,
        }
    }

    /// The same place, for a key below this one.
    fn below(&self, key: &str) -> Self {
        SourceLocation {
            key: join_key(&self.key, key),
            ..self.clone()
        }
    }

    /// The key and line only, for mentioning a second place in a message.
    fn brief(&self) -> String {
        match self.line {
            Some(line) => format!("`{}` (line {line})", self.key),
            None => format!("`{}`", self.key),
        }
    }
}

/// `file:line: key `path`` (without the line for spaces built in code).
impl fmt::Display for SourceLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: key `{}`", self.file, self.key),
            None => write!(f, "{}: key `{}`", self.file, self.key),
        }
    }
}

/// Errors reading or validating a search space. Every error about the space itself names the
/// file, line and key it concerns, e.g.
/// ``search_spaces/x.toml:12: key `params.lr.low`: low (1) must be < high (0.5)``.
#[derive(Debug, Error)]
pub enum SpaceError {
    /// The file could not be read.
    #[error("{file}: {message}")]
    Io {
        /// The file.
        file: String,
        /// What went wrong.
        message: String,
    },
    /// A configuration that does not fit the space.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The text is not valid TOML.
    #[error("{file}:{line}: invalid TOML: {message}")]
    Syntax {
        /// The file.
        file: String,
        /// 1-based line of the problem.
        line: usize,
        /// The TOML parser's message.
        message: String,
    },
    /// A key that the schema does not know, usually a typo.
    #[error("{at}: unknown key (allowed here: {})", .allowed.join(", "))]
    UnknownKey {
        /// The unknown key.
        at: Box<SourceLocation>,
        /// The keys allowed in that table.
        allowed: Vec<String>,
    },
    /// A required key is missing.
    #[error("{at}: missing ({hint})")]
    MissingKey {
        /// The missing key, at the line of its table.
        at: Box<SourceLocation>,
        /// What needs it.
        hint: &'static str,
    },
    /// A value of the wrong kind, such as a float where an integer is needed.
    #[error("{at}: expected {expected}, found {found}")]
    WrongType {
        /// The value.
        at: Box<SourceLocation>,
        /// What the schema wants.
        expected: &'static str,
        /// What was written.
        found: String,
    },
    /// A `type` other than `float`, `int` and `categorical`.
    #[error(
        "{at}: unknown parameter type \"{found}\" (expected \"float\", \"int\" or \"categorical\")"
    )]
    UnknownType {
        /// The `type` key.
        at: Box<SourceLocation>,
        /// What was written.
        found: String,
    },
    /// `low >= high`.
    #[error("{at}: low ({low}) must be < high ({high})")]
    EmptyRange {
        /// The `low` key.
        at: Box<SourceLocation>,
        /// The lower bound.
        low: ParamValue,
        /// The upper bound.
        high: ParamValue,
    },
    /// A range with more values than can be counted or indexed.
    #[error("{at}: the range [{low}, {high}] holds too many values")]
    RangeTooWide {
        /// The `low` key.
        at: Box<SourceLocation>,
        /// The lower bound.
        low: ParamValue,
        /// The upper bound.
        high: ParamValue,
    },
    /// A log scale whose lower bound is not positive.
    #[error("{at}: a log scale needs low > 0, found {low}")]
    LogNotPositive {
        /// The `low` key.
        at: Box<SourceLocation>,
        /// The lower bound.
        low: ParamValue,
    },
    /// A log scale with a grid: floats on a log scale take no `step`, ints only `step = 1`.
    #[error(
        "{at}: a log scale cannot have step {step} (log floats take no step, log ints step 1)"
    )]
    LogWithStep {
        /// The `step` key.
        at: Box<SourceLocation>,
        /// The step.
        step: ParamValue,
    },
    /// A step that is zero or negative.
    #[error("{at}: step must be > 0, found {step}")]
    StepNotPositive {
        /// The `step` key.
        at: Box<SourceLocation>,
        /// The step.
        step: ParamValue,
    },
    /// A step that does not divide `high - low`.
    #[error("{at}: step {step} does not divide the range [{low}, {high}]")]
    StepNotDividing {
        /// The `step` key.
        at: Box<SourceLocation>,
        /// The step.
        step: ParamValue,
        /// The lower bound.
        low: ParamValue,
        /// The upper bound.
        high: ParamValue,
    },
    /// A categorical parameter without choices.
    #[error("{at}: a categorical parameter needs at least one choice")]
    EmptyChoices {
        /// The `choices` key.
        at: Box<SourceLocation>,
    },
    /// A choice listed twice (`3` and `3.0` count as the same).
    #[error("{at}: choice {value} is listed twice")]
    DuplicateChoice {
        /// The second occurrence.
        at: Box<SourceLocation>,
        /// The repeated choice.
        value: ParamValue,
    },
    /// Two parameters with the same name, possibly after expanding `[stages]`.
    #[error("{at}: parameter `{name}` is defined twice (first by {})", .first.brief())]
    DuplicateParam {
        /// The second definition.
        at: Box<SourceLocation>,
        /// The parameter name.
        name: String,
        /// The first definition.
        first: Box<SourceLocation>,
    },
    /// A condition on a parameter that does not exist.
    #[error("{at}: unknown parameter `{parent}`")]
    UnknownParent {
        /// The condition.
        at: Box<SourceLocation>,
        /// The name as written.
        parent: String,
    },
    /// A condition accepting a value its parent never takes.
    #[error("{at}: `{parent}` never takes the value {value}")]
    ImpossibleValue {
        /// The condition.
        at: Box<SourceLocation>,
        /// The parent parameter.
        parent: String,
        /// The value it cannot take.
        value: ParamValue,
    },
    /// A condition accepting no values at all (`when = { optimizer = [] }`).
    #[error("{at}: no accepted values for `{parent}`, so the condition never holds")]
    NoAcceptedValues {
        /// The condition.
        at: Box<SourceLocation>,
        /// The parent parameter.
        parent: String,
    },
    /// A comparison that no value of the parent satisfies.
    #[error("{at}: no value of `{parent}` is {test}")]
    ImpossibleComparison {
        /// The condition.
        at: Box<SourceLocation>,
        /// The parent parameter.
        parent: String,
        /// The comparison, such as `> 7`.
        test: String,
    },
    /// A numeric comparison on a parent with non-numeric values.
    #[error("{at}: `{parent}` is not numeric, so it cannot be compared (`{test}`)")]
    NotNumeric {
        /// The condition.
        at: Box<SourceLocation>,
        /// The parent parameter.
        parent: String,
        /// The comparison.
        test: String,
    },
    /// A string starting with `<` or `>` in `when` that is not a comparison.
    #[error("{at}: \"{text}\" is not a comparison (write \"> 2\", \">= 1\", \"< 3\" or \"<= 3\")")]
    BadComparison {
        /// The condition.
        at: Box<SourceLocation>,
        /// What was written.
        text: String,
    },
    /// Parameters whose conditions depend on each other in a loop.
    #[error("{at}: conditions form a cycle: {} (each depends on the next)", .cycle.join(" -> "))]
    Cycle {
        /// The condition of the first parameter on the second.
        at: Box<SourceLocation>,
        /// The parameter names, the first repeated at the end.
        cycle: Vec<String>,
    },
    /// A `[stages]` count outside `0..=64`.
    #[error("{at}: the number of stages must lie in 0..={max}, found {low}..={high}")]
    StageCount {
        /// The `count` key.
        at: Box<SourceLocation>,
        /// Fewest stages.
        low: i64,
        /// Most stages.
        high: i64,
        /// The largest count allowed.
        max: i64,
    },
}

type Result<T, E = SpaceError> = std::result::Result<T, E>;

// ---------------------------------------------------------------------------------------------
// Entry points
// ---------------------------------------------------------------------------------------------

/// Validates parameters built in code and orders them parents-first, keeping declaration order
/// among parameters that do not depend on each other.
pub(crate) fn validate_and_order(params: Vec<Param>) -> Result<SearchSpace> {
    let decls = params
        .into_iter()
        .map(|param| {
            check_distribution(&param.distribution, &Site::in_memory(&param.name))?;
            Ok(Decl::in_memory(param))
        })
        .collect::<Result<Vec<_>>>()?;
    validate(decls)
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
            "params" => read_params(node, "", &mut decls)?,
            // `stages`, the only other key allowed.
            _ => decls.extend(read_stages(node)?.into_iter().map(|d| (node.offset, d))),
        }
    }
    // Declaration order is file order, with `[stages]` expanded where it is first written.
    decls.sort_by_key(|(offset, _)| *offset);
    validate(decls.into_iter().map(|(_, decl)| decl).collect())
}

/// Number of distinct configurations of `space`, counting active parameters only; `None` when a
/// reachable continuous parameter makes it infinite.
pub(crate) fn count_configurations(space: &SearchSpace) -> Option<u128> {
    count_configurations_of(space, |_| true)
}

/// Number of distinct configurations of the parameters whose name passes `keep`, counting active
/// parameters only (saturating at `u128::MAX`); `None` when a reachable continuous parameter
/// passes `keep`.
///
/// Parameters that fail `keep` do not multiply the count, but a condition on one still splits it:
/// its values are grouped by which conditions of counted parameters they satisfy, and each group
/// is one branch. So `count_configurations_of(space, is_architecture_param)` counts distinct
/// architectures, ignoring the training recipe as long as no architecture parameter is
/// conditioned on it.
pub fn count_configurations_of(space: &SearchSpace, keep: impl Fn(&str) -> bool) -> Option<u128> {
    Counter::new(space, &keep).count()
}

/// Number of distinct architectures: [`count_configurations_of`] the parameters that pass
/// [`is_architecture_param`].
pub fn count_architectures(space: &SearchSpace) -> Option<u128> {
    count_configurations_of(space, is_architecture_param)
}

/// Whether `name` is an architecture parameter by the convention of `search_spaces/README.md`:
/// `num_stages`, a stage parameter `stage<N>.…` made by `[stages]`, or a name starting `arch.`.
pub fn is_architecture_param(name: &str) -> bool {
    name == NUM_STAGES || name.starts_with("arch.") || is_stage_param(name)
}

/// `stage<digits>.<anything>`.
fn is_stage_param(name: &str) -> bool {
    name.strip_prefix("stage")
        .and_then(|rest| rest.split_once('.'))
        .is_some_and(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

// ---------------------------------------------------------------------------------------------
// Reading TOML with locations
// ---------------------------------------------------------------------------------------------

/// The file being read, with the byte offset where each line starts.
struct Source<'a> {
    file: &'a str,
    line_starts: Vec<usize>,
}

impl<'a> Source<'a> {
    fn new(file: &'a str, text: &str) -> Self {
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Source { file, line_starts }
    }

    /// 1-based line of a byte offset.
    fn line(&self, offset: usize) -> usize {
        self.line_starts.partition_point(|&start| start <= offset)
    }

    fn syntax_error(&self, error: &toml::de::Error) -> SpaceError {
        SpaceError::Syntax {
            file: self.file.to_owned(),
            line: error.span().map_or(1, |span| self.line(span.start)),
            message: error.message().trim().to_owned(),
        }
    }
}

/// A TOML value with its key path and the line it was written on.
#[derive(Clone)]
struct Node<'a> {
    src: &'a Source<'a>,
    path: String,
    /// Byte offset of the key (or array element).
    offset: usize,
    line: usize,
    value: &'a DeValue<'a>,
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

    fn at(&self) -> SourceLocation {
        SourceLocation {
            file: self.src.file.to_owned(),
            line: Some(self.line),
            key: self.path.clone(),
        }
    }

    fn wrong_type(&self, expected: &'static str) -> SpaceError {
        SpaceError::WrongType {
            at: self.at().into(),
            expected,
            found: describe(self.value),
        }
    }

    fn is_table(&self) -> bool {
        matches!(self.value, DeValue::Table(_))
    }

    fn table(&self) -> Result<Table<'a>> {
        match self.value {
            DeValue::Table(table) => Ok(Table::read(self.src, &self.path, self.line, table)),
            _ => Err(self.wrong_type("a table")),
        }
    }

    /// The elements of an array, each at its own line.
    fn elements(&self) -> Result<Vec<Node<'a>>> {
        match self.value {
            DeValue::Array(items) => Ok(items
                .iter()
                .map(|item| Node::new(self.src, self.path.clone(), item.span(), item.get_ref()))
                .collect()),
            _ => Err(self.wrong_type("an array")),
        }
    }

    fn int(&self) -> Result<i64> {
        match self.value {
            DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix())
                .map_err(|_| self.wrong_type("an integer that fits in 64 bits")),
            _ => Err(self.wrong_type("an integer")),
        }
    }

    fn float(&self) -> Result<f64> {
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

    fn boolean(&self) -> Result<bool> {
        match self.value {
            DeValue::Boolean(b) => Ok(*b),
            _ => Err(self.wrong_type("a boolean")),
        }
    }

    fn string(&self) -> Result<&'a str> {
        match self.value {
            DeValue::String(s) => Ok(s),
            _ => Err(self.wrong_type("a string")),
        }
    }

    /// A parameter value: a string, integer, finite float or boolean.
    fn scalar(&self) -> Result<ParamValue> {
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
struct Table<'a> {
    src: &'a Source<'a>,
    path: String,
    line: usize,
    entries: Vec<(&'a str, Node<'a>)>,
}

impl<'a> Table<'a> {
    fn read(src: &'a Source<'a>, path: &str, line: usize, table: &'a DeTable<'a>) -> Self {
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

    fn at(&self) -> SourceLocation {
        SourceLocation {
            file: self.src.file.to_owned(),
            line: Some(self.line),
            key: self.path.clone(),
        }
    }

    fn entries(&self) -> &[(&'a str, Node<'a>)] {
        &self.entries
    }

    fn get(&self, key: &str) -> Option<&Node<'a>> {
        self.entries
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, node)| node)
    }

    /// The error for a missing `key`, at the table's line.
    fn missing(&self, key: &str, hint: &'static str) -> SpaceError {
        SpaceError::MissingKey {
            at: self.at().below(key).into(),
            hint,
        }
    }

    fn require(&self, key: &str, hint: &'static str) -> Result<&Node<'a>> {
        self.get(key).ok_or_else(|| self.missing(key, hint))
    }

    /// Reads an optional key with `read`.
    fn optional<T>(&self, key: &str, read: impl Fn(&Node<'a>) -> Result<T>) -> Result<Option<T>> {
        self.get(key).map(read).transpose()
    }

    /// Fails on the first key (in file order) that is not in `allowed`.
    fn allow_only(&self, allowed: &[&str]) -> Result<()> {
        match self.entries.iter().find(|(key, _)| !allowed.contains(key)) {
            Some((_, node)) => Err(SpaceError::UnknownKey {
                at: node.at().into(),
                allowed: allowed.iter().map(|k| k.to_string()).collect(),
            }),
            None => Ok(()),
        }
    }

    /// Where each key of this table was written.
    fn site(&self) -> Site {
        let choice_lines = self
            .get("choices")
            .and_then(|choices| choices.elements().ok())
            .map(|items| items.iter().map(|item| item.line).collect())
            .unwrap_or_default();
        Site {
            at: self.at(),
            field_lines: self
                .entries
                .iter()
                .map(|(k, node)| (k.to_string(), node.line))
                .collect(),
            choice_lines,
        }
    }
}

/// Appends `key` to a dotted path, quoting it when it is not a bare TOML key.
fn join_key(path: &str, key: &str) -> String {
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
fn join_name(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_owned()
    } else {
        format!("{prefix}.{key}")
    }
}

// ---------------------------------------------------------------------------------------------
// Parameter declarations
// ---------------------------------------------------------------------------------------------

/// Where the parts of one parameter declaration were written.
struct Site {
    at: SourceLocation,
    field_lines: Vec<(String, usize)>,
    choice_lines: Vec<usize>,
}

impl Site {
    fn in_memory(name: &str) -> Self {
        Site {
            at: SourceLocation::in_memory(name.to_owned()),
            field_lines: Vec::new(),
            choice_lines: Vec::new(),
        }
    }

    /// The key `key` of the declaration (at the declaration's line when it is not written).
    fn field(&self, key: &str) -> SourceLocation {
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
    fn choice(&self, i: usize) -> SourceLocation {
        let at = self.field("choices");
        SourceLocation {
            line: self.choice_lines.get(i).copied().or(at.line),
            ..at
        }
    }
}

/// A parameter with where it and each of its conditions were declared.
struct Decl {
    param: Param,
    at: SourceLocation,
    condition_at: Vec<SourceLocation>,
}

impl Decl {
    fn in_memory(param: Param) -> Self {
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
struct Spec {
    distribution: Distribution,
    when: Vec<(Condition, SourceLocation)>,
    at: SourceLocation,
}

impl Spec {
    /// The declaration of parameter `name`: active when `gate` holds and the `when` conditions,
    /// their parents renamed by `resolve`, hold.
    fn declare(
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
fn read_spec(node: &Node<'_>) -> Result<Spec> {
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
    check_distribution(&distribution, &table.site())?;
    let when = table.optional("when", read_when)?.unwrap_or_default();
    Ok(Spec {
        distribution,
        when,
        at: node.at(),
    })
}

fn read_float(table: &Table<'_>) -> Result<Distribution> {
    Ok(Distribution::Float {
        low: table.require("low", RANGE_HINT)?.float()?,
        high: table.require("high", RANGE_HINT)?.float()?,
        log: table.optional("log", Node::boolean)?.unwrap_or(false),
        step: table.optional("step", Node::float)?,
    })
}

fn read_int(table: &Table<'_>) -> Result<Distribution> {
    Ok(Distribution::Int {
        low: table.require("low", RANGE_HINT)?.int()?,
        high: table.require("high", RANGE_HINT)?.int()?,
        log: table.optional("log", Node::boolean)?.unwrap_or(false),
        step: table.optional("step", Node::int)?.unwrap_or(1),
    })
}

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

fn symbol(op: Comparison) -> &'static str {
    match op {
        Comparison::Gt => ">",
        Comparison::Ge => ">=",
        Comparison::Lt => "<",
        Comparison::Le => "<=",
    }
}

// ---------------------------------------------------------------------------------------------
// Flat parameters: [params.*]
// ---------------------------------------------------------------------------------------------

/// Reads `[params]` into `out` with the offset of each declaration: each entry is a parameter,
/// or a group of parameters whose names it prefixes (`[params.arch.stem_width]` declares
/// `arch.stem_width`).
fn read_params(node: &Node<'_>, prefix: &str, out: &mut Vec<(usize, Decl)>) -> Result<()> {
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

// ---------------------------------------------------------------------------------------------
// Stage template: [stages]
// ---------------------------------------------------------------------------------------------

/// The `[stages]` table: per-stage parameters repeated for each stage, plus per-block-type
/// parameters active when the stage uses that block.
struct Stages {
    count: StageCount,
    template: Vec<(String, Spec)>,
    blocks: Vec<Block>,
}

/// `count`: a fixed number of stages, or `{ low, high }` making the `num_stages` parameter.
struct StageCount {
    low: i64,
    high: i64,
    at: SourceLocation,
}

/// `[stages.blocks.<name>]`: the parameters of one block type.
struct Block {
    name: String,
    params: Vec<(String, Spec)>,
    at: SourceLocation,
}

const COUNT_HINT: &str = "`[stages]` needs `count`: an integer or `{ low, high }`";
const BLOCK_HINT: &str = "`[stages.blocks]` needs a `block` template choosing each stage's block";

fn read_stages(node: &Node<'_>) -> Result<Vec<Decl>> {
    let table = node.table()?;
    table.allow_only(&["count", "template", "blocks"])?;
    let count = StageCount::read(table.require("count", COUNT_HINT)?)?;
    let template = match table.get("template") {
        Some(node) => read_specs(node)?,
        None => Vec::new(),
    };
    let blocks = match table.get("blocks") {
        Some(node) => read_blocks(node, &template)?,
        None => Vec::new(),
    };
    Ok(Stages {
        count,
        template,
        blocks,
    }
    .expand())
}

/// A table of parameter specs, in file order.
fn read_specs(node: &Node<'_>) -> Result<Vec<(String, Spec)>> {
    node.table()?
        .entries()
        .iter()
        .map(|(key, node)| Ok((key.to_string(), read_spec(node)?)))
        .collect()
}

fn read_blocks(node: &Node<'_>, template: &[(String, Spec)]) -> Result<Vec<Block>> {
    let table = node.table()?;
    let names = block_names(node, template)?;
    let unknown = table
        .entries()
        .iter()
        .find(|(key, _)| !names.iter().any(|n| n == key));
    if let Some((_, node)) = unknown {
        return Err(SpaceError::UnknownKey {
            at: node.at().into(),
            allowed: names,
        });
    }
    table
        .entries()
        .iter()
        .map(|(name, node)| {
            Ok(Block {
                name: name.to_string(),
                params: read_specs(node)?,
                at: node.at(),
            })
        })
        .collect()
}

/// The string choices of the `block` template, which `[stages.blocks]` is keyed by.
fn block_names(blocks: &Node<'_>, template: &[(String, Spec)]) -> Result<Vec<String>> {
    let Some((_, spec)) = template.iter().find(|(key, _)| key == "block") else {
        return Err(SpaceError::MissingKey {
            at: SourceLocation {
                key: "stages.template.block".to_owned(),
                ..blocks.at()
            }
            .into(),
            hint: BLOCK_HINT,
        });
    };
    let not_strings = |found: String| SpaceError::WrongType {
        at: spec.at.clone().into(),
        expected: "a categorical parameter with string choices",
        found,
    };
    match &spec.distribution {
        Distribution::Categorical { choices } => choices
            .iter()
            .map(|c| {
                c.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| not_strings(format!("choice {c}")))
            })
            .collect(),
        _ => Err(not_strings("a numeric parameter".to_owned())),
    }
}

impl StageCount {
    fn read(node: &Node<'_>) -> Result<Self> {
        let (low, high) = if node.is_table() {
            Self::read_range(&node.table()?)?
        } else {
            let n = node.int()?;
            (n, n)
        };
        if low < 0 || high > MAX_STAGES {
            return Err(SpaceError::StageCount {
                at: node.at().into(),
                low,
                high,
                max: MAX_STAGES,
            });
        }
        Ok(StageCount {
            low,
            high,
            at: node.at(),
        })
    }

    fn read_range(table: &Table<'_>) -> Result<(i64, i64)> {
        const HINT: &str = "a range of stages needs `low` and `high`";
        table.allow_only(&["low", "high"])?;
        let low = table.require("low", HINT)?.int()?;
        let high = table.require("high", HINT)?.int()?;
        check_int(low, high, false, 1, &table.site())?;
        Ok((low, high))
    }

    /// The `num_stages` parameter, unless the count is fixed.
    fn param(&self) -> Option<Decl> {
        (self.low < self.high).then(|| Decl {
            param: Param {
                name: NUM_STAGES.to_owned(),
                distribution: Distribution::Int {
                    low: self.low,
                    high: self.high,
                    log: false,
                    step: 1,
                },
                conditions: Vec::new(),
            },
            at: self.at.clone(),
            condition_at: Vec::new(),
        })
    }

    /// The condition for stage `stage` to exist: `num_stages >= stage`, or none if it always does.
    fn gate(&self, stage: i64) -> Vec<(Condition, SourceLocation)> {
        let condition = Condition::Compare {
            parent: NUM_STAGES.to_owned(),
            op: Comparison::Ge,
            value: stage as f64,
        };
        (stage > self.low)
            .then(|| (condition, self.at.clone()))
            .into_iter()
            .collect()
    }
}

impl Stages {
    /// One declaration per stage and template entry: `num_stages`, then stage by stage its
    /// template parameters followed by its block parameters.
    fn expand(&self) -> Vec<Decl> {
        let mut out: Vec<Decl> = self.count.param().into_iter().collect();
        for stage in 1..=self.count.high {
            self.expand_stage(stage, &mut out);
        }
        out
    }

    fn expand_stage(&self, stage: i64, out: &mut Vec<Decl>) {
        let gate = self.count.gate(stage);
        for (key, spec) in &self.template {
            let name = format!("stage{stage}.{key}");
            out.push(spec.declare(name, &gate, |p| self.resolve(p, stage, None)));
        }
        for block in &self.blocks {
            let gate = [(
                Condition::In {
                    parent: format!("stage{stage}.block"),
                    values: vec![ParamValue::Str(block.name.clone())],
                },
                block.at.clone(),
            )];
            for (key, spec) in &block.params {
                let name = format!("stage{stage}.{}.{key}", block.name);
                out.push(spec.declare(name, &gate, |p| self.resolve(p, stage, Some(block))));
            }
        }
    }

    /// The parameter a template's `when` key names: a parameter of the same block, then of the
    /// same stage (`width`, `inverted_residual.se`), else a global parameter.
    fn resolve(&self, key: &str, stage: i64, block: Option<&Block>) -> String {
        let has = |params: &[(String, Spec)], key: &str| params.iter().any(|(k, _)| k == key);
        if let Some(block) = block.filter(|b| has(&b.params, key)) {
            return format!("stage{stage}.{}.{key}", block.name);
        }
        let in_block = |b: &Block| {
            key.strip_prefix(b.name.as_str())
                .and_then(|rest| rest.strip_prefix('.'))
                .is_some_and(|rest| has(&b.params, rest))
        };
        if has(&self.template, key) || self.blocks.iter().any(in_block) {
            format!("stage{stage}.{key}")
        } else {
            key.to_owned()
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------------------

/// Checks one parameter's range or choices.
fn check_distribution(distribution: &Distribution, site: &Site) -> Result<()> {
    match *distribution {
        Distribution::Float {
            low,
            high,
            log,
            step,
        } => check_float(low, high, log, step, site),
        Distribution::Int {
            low,
            high,
            log,
            step,
        } => check_int(low, high, log, step, site),
        Distribution::Categorical { ref choices } => check_choices(choices, site),
    }
}

fn check_float(low: f64, high: f64, log: bool, step: Option<f64>, site: &Site) -> Result<()> {
    for (key, x) in [("low", low), ("high", high)]
        .into_iter()
        .chain(step.map(|s| ("step", s)))
    {
        if !x.is_finite() {
            return Err(SpaceError::WrongType {
                at: site.field(key).into(),
                expected: "a finite number",
                found: x.to_string(),
            });
        }
    }
    let range = || (ParamValue::Float(low), ParamValue::Float(high));
    check_bounds(low < high, log && low <= 0.0, range, site)?;
    let Some(step) = step else { return Ok(()) };
    let at = || site.field("step").into();
    if step <= 0.0 {
        Err(SpaceError::StepNotPositive {
            at: at(),
            step: step.into(),
        })
    } else if log {
        Err(SpaceError::LogWithStep {
            at: at(),
            step: step.into(),
        })
    } else if !on_grid(high - low, step) {
        let (low, high) = range();
        Err(SpaceError::StepNotDividing {
            at: at(),
            step: step.into(),
            low,
            high,
        })
    } else if (high - low) / step >= i64::MAX as f64 {
        let (low, high) = range();
        Err(SpaceError::RangeTooWide {
            at: site.field("low").into(),
            low,
            high,
        })
    } else {
        Ok(())
    }
}

fn check_int(low: i64, high: i64, log: bool, step: i64, site: &Site) -> Result<()> {
    let range = || (ParamValue::Int(low), ParamValue::Int(high));
    check_bounds(low < high, log && low <= 0, range, site)?;
    let Some(width) = high.checked_sub(low) else {
        let (low, high) = range();
        return Err(SpaceError::RangeTooWide {
            at: site.field("low").into(),
            low,
            high,
        });
    };
    let at = || site.field("step").into();
    if step <= 0 {
        Err(SpaceError::StepNotPositive {
            at: at(),
            step: step.into(),
        })
    } else if log && step != 1 {
        Err(SpaceError::LogWithStep {
            at: at(),
            step: step.into(),
        })
    } else if width % step != 0 {
        let (low, high) = range();
        Err(SpaceError::StepNotDividing {
            at: at(),
            step: step.into(),
            low,
            high,
        })
    } else {
        Ok(())
    }
}

/// `low < high`, and `low > 0` on a log scale (`bad_log`).
fn check_bounds(
    ordered: bool,
    bad_log: bool,
    range: impl Fn() -> (ParamValue, ParamValue),
    site: &Site,
) -> Result<()> {
    let at = site.field("low").into();
    let (low, high) = range();
    if !ordered {
        Err(SpaceError::EmptyRange { at, low, high })
    } else if bad_log {
        Err(SpaceError::LogNotPositive { at, low })
    } else {
        Ok(())
    }
}

fn check_choices(choices: &[ParamValue], site: &Site) -> Result<()> {
    if choices.is_empty() {
        return Err(SpaceError::EmptyChoices {
            at: site.field("choices").into(),
        });
    }
    for (i, value) in choices.iter().enumerate() {
        if matches!(value, ParamValue::Float(x) if !x.is_finite()) {
            return Err(SpaceError::WrongType {
                at: site.choice(i).into(),
                expected: "a finite number",
                found: value.to_string(),
            });
        }
        if choices[..i].contains(value) {
            return Err(SpaceError::DuplicateChoice {
                at: site.choice(i).into(),
                value: value.clone(),
            });
        }
    }
    Ok(())
}

/// Checks the declarations as a whole and orders them parents-first.
fn validate(decls: Vec<Decl>) -> Result<SearchSpace> {
    let index = unique_names(&decls)?;
    for decl in &decls {
        check_parents(decl, &decls, &index)?;
    }
    let order = parents_first(&decls, &index)?;
    let mut params: Vec<Option<Param>> = decls.into_iter().map(|d| Some(d.param)).collect();
    let ordered = order.into_iter().filter_map(|i| params[i].take()).collect();
    Ok(SearchSpace::from_ordered(ordered))
}

/// Position of each parameter by name; fails on the second declaration of a name.
fn unique_names(decls: &[Decl]) -> Result<HashMap<&str, usize>> {
    let mut index = HashMap::with_capacity(decls.len());
    for (i, decl) in decls.iter().enumerate() {
        if let Some(&first) = index.get(decl.param.name.as_str()) {
            let first: &Decl = &decls[first];
            return Err(SpaceError::DuplicateParam {
                at: decl.at.clone().into(),
                name: decl.param.name.clone(),
                first: first.at.clone().into(),
            });
        }
        index.insert(decl.param.name.as_str(), i);
    }
    Ok(index)
}

/// Every condition of `decl` reads an existing parameter and can hold.
fn check_parents(decl: &Decl, decls: &[Decl], index: &HashMap<&str, usize>) -> Result<()> {
    for (condition, at) in decl.param.conditions.iter().zip(&decl.condition_at) {
        let parent = condition.parent();
        let Some(&p) = index.get(parent) else {
            return Err(SpaceError::UnknownParent {
                at: at.clone().into(),
                parent: parent.to_owned(),
            });
        };
        check_condition(condition, &decls[p].param.distribution, at)?;
    }
    Ok(())
}

/// A condition can hold for some value of its parent, and every accepted value is possible.
fn check_condition(
    condition: &Condition,
    parent: &Distribution,
    at: &SourceLocation,
) -> Result<()> {
    let name = condition.parent().to_owned();
    match condition {
        Condition::In { values, .. } if values.is_empty() => Err(SpaceError::NoAcceptedValues {
            at: at.clone().into(),
            parent: name,
        }),
        Condition::In { values, .. } => match values.iter().find(|v| !can_take(parent, v)) {
            Some(value) => Err(SpaceError::ImpossibleValue {
                at: at.clone().into(),
                parent: name,
                value: value.clone(),
            }),
            None => Ok(()),
        },
        Condition::Compare { op, value, .. } => {
            let test = format!("{} {value}", symbol(*op));
            match extremes(parent) {
                None => Err(SpaceError::NotNumeric {
                    at: at.clone().into(),
                    parent: name,
                    test,
                }),
                Some(xs) if !xs.iter().any(|x| condition.holds(x)) => {
                    Err(SpaceError::ImpossibleComparison {
                        at: at.clone().into(),
                        parent: name,
                        test,
                    })
                }
                Some(_) => Ok(()),
            }
        }
    }
}

/// Whether `parent` takes a value equal to `value`; conditions compare numbers by value, so `2.0`
/// matches an int parameter's `2`.
fn can_take(parent: &Distribution, value: &ParamValue) -> bool {
    let whole = match value {
        ParamValue::Float(_) => value.as_i64().map(ParamValue::Int),
        _ => None,
    };
    parent.contains(value) || whole.is_some_and(|int| parent.contains(&int))
}

/// Values among which any satisfiable comparison finds a match: the smallest and largest value of
/// a numeric range, or all choices; `None` when a choice is not a number.
fn extremes(distribution: &Distribution) -> Option<Vec<ParamValue>> {
    match *distribution {
        Distribution::Float {
            low, high, step, ..
        } => {
            let top = step.map_or(high, |s| low + ((high - low) / s).round() * s);
            Some(vec![low.into(), top.into()])
        }
        Distribution::Int {
            low, high, step, ..
        } => {
            let top = low + (high - low) / step * step;
            Some(vec![low.into(), top.into()])
        }
        Distribution::Categorical { ref choices } => choices
            .iter()
            .all(|c| c.as_f64().is_some())
            .then(|| choices.clone()),
    }
}

/// A parents-first order, taking the earliest declared ready parameter at each step (so an
/// already ordered list is kept as is); fails naming a cycle when there is one.
fn parents_first(decls: &[Decl], index: &HashMap<&str, usize>) -> Result<Vec<usize>> {
    let parents: Vec<Vec<usize>> = decls
        .iter()
        .map(|d| {
            d.param
                .conditions
                .iter()
                .filter_map(|c| index.get(c.parent()).copied())
                .collect()
        })
        .collect();
    let mut children = vec![Vec::new(); decls.len()];
    for (child, ps) in parents.iter().enumerate() {
        for &p in ps {
            children[p].push(child);
        }
    }
    let mut waiting: Vec<usize> = parents.iter().map(Vec::len).collect();
    let mut ready: BTreeSet<usize> = (0..decls.len()).filter(|&i| waiting[i] == 0).collect();
    let mut order = Vec::with_capacity(decls.len());
    while let Some(i) = ready.pop_first() {
        order.push(i);
        for &child in &children[i] {
            waiting[child] -= 1;
            if waiting[child] == 0 {
                ready.insert(child);
            }
        }
    }
    if order.len() < decls.len() {
        return Err(cycle_error(decls, &parents, &waiting));
    }
    Ok(order)
}

/// Names a cycle among the parameters still `waiting` for a parent: each of them has a parent
/// that is waiting too, so following those parents from any of them must loop.
fn cycle_error(decls: &[Decl], parents: &[Vec<usize>], waiting: &[usize]) -> SpaceError {
    let stuck = |i: &usize| waiting[*i] > 0;
    let mut path = Vec::new();
    let mut next = (0..decls.len()).find(stuck).unwrap_or_default();
    while !path.contains(&next) {
        path.push(next);
        next = parents[next].iter().copied().find(stuck).unwrap_or(next);
    }
    // `path` ends in a loop back to `next`; report it from its earliest declared parameter.
    let start = path.iter().position(|&i| i == next).unwrap_or_default();
    let mut cycle = path.split_off(start);
    let earliest = (0..cycle.len())
        .min_by_key(|&k| cycle[k])
        .unwrap_or_default();
    cycle.rotate_left(earliest);
    cycle.push(cycle[0]);
    let (head, second) = (&decls[cycle[0]], &decls[cycle[1]].param.name);
    let at = head
        .param
        .conditions
        .iter()
        .position(|c| c.parent() == second)
        .and_then(|k| head.condition_at.get(k))
        .unwrap_or(&head.at);
    SpaceError::Cycle {
        at: at.clone().into(),
        cycle: cycle.iter().map(|&i| decls[i].param.name.clone()).collect(),
    }
}

// ---------------------------------------------------------------------------------------------
// Counting configurations
// ---------------------------------------------------------------------------------------------

/// Values of a condition parent that no condition tells apart.
struct Class {
    /// Whether each watched condition (see [`Counter::classes`]) holds for these values.
    holds: Vec<bool>,
    /// How many values; `None` for a continuous range.
    size: Option<u128>,
}

/// Counts configurations in one sweep over the parameters, parents first. It keeps a running
/// total per combination of value classes of the condition parents that still have children
/// ahead, so a stage-structured space costs (classes of `num_stages`) × (block types) states
/// rather than one per combination of all stages.
struct Counter<'s> {
    params: &'s [Param],
    /// Whether a parameter passes the filter.
    kept: Vec<bool>,
    /// Kept, or the parent of a relevant parameter.
    relevant: Vec<bool>,
    /// Per parameter, where each of its conditions reads.
    reads: Vec<Vec<Read>>,
    /// Per parameter, its values grouped by the conditions of relevant children on it; empty
    /// when no relevant parameter is conditioned on it.
    classes: Vec<Vec<Class>>,
    /// Per parameter, the parents whose last relevant child it is (forgotten after it).
    retire: Vec<Vec<usize>>,
}

/// Where a condition reads: (parent, slot among the conditions watching that parent); `None` for a
/// parent missing from the space, which makes the condition never hold.
type Read = Option<(usize, usize)>;

/// The class of each active condition parent that still has readers ahead, as
/// (parameter, class) by increasing parameter; inactive parents are left out.
type State = Vec<(usize, usize)>;

impl<'s> Counter<'s> {
    fn new(space: &'s SearchSpace, keep: &dyn Fn(&str) -> bool) -> Self {
        let params = space.params();
        let kept: Vec<bool> = params.iter().map(|p| keep(&p.name)).collect();
        let parents: Vec<Vec<Option<usize>>> = params
            .iter()
            .map(|p| {
                p.conditions
                    .iter()
                    .map(|c| space.index_of(c.parent()))
                    .collect()
            })
            .collect();
        let relevant = relevance(&kept, &parents);
        let (reads, watched) = wire(params, &parents, &relevant);
        let classes = params
            .iter()
            .zip(&watched)
            .map(|(p, w)| {
                if w.is_empty() {
                    Vec::new()
                } else {
                    classes_of(&p.distribution, w)
                }
            })
            .collect();
        Counter {
            params,
            kept,
            relevant,
            retire: retirements(&reads),
            reads,
            classes,
        }
    }

    fn count(&self) -> Option<u128> {
        let mut totals: HashMap<State, u128> = HashMap::from([(State::new(), 1)]);
        for i in (0..self.params.len()).filter(|&i| self.relevant[i]) {
            let mut next = HashMap::with_capacity(totals.len());
            for (state, total) in totals {
                self.extend(i, state, total, &mut next)?;
            }
            totals = self.forget(i, next);
        }
        Some(totals.into_values().fold(0, u128::saturating_add))
    }

    /// Adds parameter `i` to one state: a branch per class if others depend on it, else a factor.
    fn extend(
        &self,
        i: usize,
        state: State,
        total: u128,
        next: &mut HashMap<State, u128>,
    ) -> Option<()> {
        if !self.is_active(i, &state) {
            accumulate(next, state, total);
        } else if self.classes[i].is_empty() {
            let size = if self.kept[i] {
                self.params[i].distribution.cardinality()?
            } else {
                1
            };
            accumulate(next, state, total.saturating_mul(size));
        } else {
            for (c, class) in self.classes[i].iter().enumerate() {
                let size = if self.kept[i] { class.size? } else { 1 };
                let mut branch = state.clone();
                branch.push((i, c));
                accumulate(next, branch, total.saturating_mul(size));
            }
        }
        Some(())
    }

    fn is_active(&self, i: usize, state: &State) -> bool {
        self.reads[i].iter().all(|read| {
            read.is_some_and(|(p, slot)| {
                state
                    .iter()
                    .find(|&&(q, _)| q == p)
                    .is_some_and(|&(_, c)| self.classes[p][c].holds[slot])
            })
        })
    }

    /// Drops the parents whose last reader is `i` from every state, merging equal states.
    fn forget(&self, i: usize, totals: HashMap<State, u128>) -> HashMap<State, u128> {
        if self.retire[i].is_empty() {
            return totals;
        }
        let mut merged = HashMap::with_capacity(totals.len());
        for (mut state, total) in totals {
            state.retain(|(p, _)| !self.retire[i].contains(p));
            accumulate(&mut merged, state, total);
        }
        merged
    }
}

/// Which parameters matter to the count: the kept ones and, transitively, their parents.
fn relevance(kept: &[bool], parents: &[Vec<Option<usize>>]) -> Vec<bool> {
    let mut relevant = kept.to_vec();
    // Children come after their parents, so one backward pass reaches every ancestor.
    for i in (0..relevant.len()).rev() {
        if relevant[i] {
            for &p in parents[i].iter().flatten() {
                relevant[p] = true;
            }
        }
    }
    relevant
}

/// Numbers the conditions of relevant parameters: for each parameter, its conditions as
/// (parent, slot); for each parent, the conditions that read it, in slot order.
fn wire<'p>(
    params: &'p [Param],
    parents: &[Vec<Option<usize>>],
    relevant: &[bool],
) -> (Vec<Vec<Read>>, Vec<Vec<&'p Condition>>) {
    let mut reads = vec![Vec::new(); params.len()];
    let mut watched: Vec<Vec<&Condition>> = vec![Vec::new(); params.len()];
    for i in (0..params.len()).filter(|&i| relevant[i]) {
        for (condition, parent) in params[i].conditions.iter().zip(&parents[i]) {
            reads[i].push(parent.map(|p| {
                watched[p].push(condition);
                (p, watched[p].len() - 1)
            }));
        }
    }
    (reads, watched)
}

/// For each parameter, the parents whose last reader it is.
fn retirements(reads: &[Vec<Read>]) -> Vec<Vec<usize>> {
    let mut last_reader = vec![None; reads.len()];
    for (i, conditions) in reads.iter().enumerate() {
        for &(p, _) in conditions.iter().flatten() {
            last_reader[p] = Some(i);
        }
    }
    let mut retire = vec![Vec::new(); reads.len()];
    for (p, reader) in last_reader.into_iter().enumerate() {
        if let Some(i) = reader {
            retire[i].push(p);
        }
    }
    retire
}

fn accumulate(totals: &mut HashMap<State, u128>, state: State, total: u128) {
    let entry = totals.entry(state).or_insert(0);
    *entry = entry.saturating_add(total);
}

/// Groups the values of `distribution` by which of the `watched` conditions they satisfy.
fn classes_of(distribution: &Distribution, watched: &[&Condition]) -> Vec<Class> {
    let mut groups: BTreeMap<Vec<bool>, Option<u128>> = BTreeMap::new();
    for (value, size) in runs(distribution, watched) {
        let holds = watched.iter().map(|c| c.holds(&value)).collect();
        let group = groups.entry(holds).or_insert(Some(0));
        *group = group.zip(size).map(|(a, b)| a.saturating_add(b));
    }
    groups
        .into_iter()
        .map(|(holds, size)| Class { holds, size })
        .collect()
}

/// Runs of values that satisfy the same `watched` conditions, each as a representative value and
/// the run's length (`None` for stretches of a continuous range).
fn runs(distribution: &Distribution, watched: &[&Condition]) -> Vec<(ParamValue, Option<u128>)> {
    match distribution {
        Distribution::Categorical { choices } => {
            choices.iter().map(|c| (c.clone(), Some(1))).collect()
        }
        Distribution::Float {
            low,
            high,
            step: None,
            ..
        } => continuous_runs(*low, *high, watched),
        _ => Grid::of(distribution)
            .map(|grid| grid.runs(watched))
            .unwrap_or_default(),
    }
}

/// Representatives of a continuous range: each point where a condition may change, and a point
/// between each two such points.
fn continuous_runs(low: f64, high: f64, watched: &[&Condition]) -> Vec<(ParamValue, Option<u128>)> {
    let mut cuts = vec![low, high];
    for condition in watched {
        match condition {
            Condition::In { values, .. } => {
                cuts.extend(values.iter().filter_map(ParamValue::as_f64))
            }
            Condition::Compare { value, .. } => cuts.push(*value),
        }
    }
    cuts.retain(|x| (low..=high).contains(x));
    cuts.sort_by(f64::total_cmp);
    cuts.dedup();
    let middles: Vec<f64> = cuts.windows(2).map(|w| (w[0] + w[1]) / 2.0).collect();
    cuts.into_iter()
        .chain(middles)
        .map(|x| (ParamValue::Float(x), None))
        .collect()
}

/// The values `low + k * step`, `k < len`, of an int or stepped float parameter.
enum Grid {
    Int { low: i64, step: i64, len: u128 },
    Float { low: f64, step: f64, len: u128 },
}

impl Grid {
    fn of(distribution: &Distribution) -> Option<Self> {
        let len = distribution.cardinality()?;
        match *distribution {
            Distribution::Int { low, step, .. } => Some(Grid::Int { low, step, len }),
            Distribution::Float {
                low,
                step: Some(step),
                ..
            } => Some(Grid::Float { low, step, len }),
            _ => None,
        }
    }

    fn len(&self) -> u128 {
        match *self {
            Grid::Int { len, .. } | Grid::Float { len, .. } => len,
        }
    }

    /// The `k`-th value, computed as the samplers do.
    fn value(&self, k: u128) -> ParamValue {
        match *self {
            Grid::Int { low, step, .. } => {
                let x = i128::from(low) + k as i128 * i128::from(step);
                ParamValue::Int(i64::try_from(x).unwrap_or(i64::MAX))
            }
            Grid::Float { low, step, .. } => ParamValue::Float(low + k as f64 * step),
        }
    }

    /// The position of `value` on the grid, if it is there.
    fn index(&self, value: &ParamValue) -> Option<u128> {
        let x = value.as_f64()?;
        let (low, step) = match *self {
            Grid::Int { low, step, .. } => (low as f64, step as f64),
            Grid::Float { low, step, .. } => (low, step),
        };
        let k = ((x - low) / step).round();
        (k >= 0.0 && (k as u128) < self.len() && self.value(k as u128) == *value)
            .then_some(k as u128)
    }

    /// Splits the grid where a watched condition may change: around each accepted value and at
    /// the first index where a comparison flips (comparisons are monotone along the grid).
    fn runs(&self, watched: &[&Condition]) -> Vec<(ParamValue, Option<u128>)> {
        let mut cuts = vec![0, self.len()];
        for condition in watched {
            match condition {
                Condition::In { values, .. } => {
                    for k in values.iter().filter_map(|v| self.index(v)) {
                        cuts.extend([k, k + 1]);
                    }
                }
                Condition::Compare { .. } => cuts.extend(self.first_flip(condition)),
            }
        }
        cuts.sort_unstable();
        cuts.dedup();
        cuts.windows(2)
            .map(|w| (self.value(w[0]), Some(w[1] - w[0])))
            .collect()
    }

    /// The first index where `condition` differs from its value at index 0 (binary search).
    fn first_flip(&self, condition: &Condition) -> Option<u128> {
        let start = condition.holds(&self.value(0));
        let (mut lo, mut hi) = (1, self.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if condition.holds(&self.value(mid)) == start {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        (lo < self.len()).then_some(lo)
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

    #[test]
    fn keys_are_quoted_when_not_bare() {
        assert_eq!(join_key("params", "lr"), "params.lr");
        assert_eq!(join_key("params", "arch.stem"), "params.\"arch.stem\"");
        assert_eq!(join_key("", "stages"), "stages");
    }

    #[test]
    fn architecture_convention() {
        assert!(is_architecture_param("num_stages"));
        assert!(is_architecture_param("stage3.inverted_residual.kernel"));
        assert!(is_architecture_param("arch.stem_width"));
        assert!(!is_architecture_param("stages.lr"));
        assert!(!is_architecture_param("stage.x"));
        assert!(!is_architecture_param("optimizer"));
    }

    #[test]
    fn lines_are_one_based() {
        let src = Source::new("f", "a\nb\n\nc");
        assert_eq!([0, 1, 2, 4, 5, 6].map(|o| src.line(o)), [1, 1, 2, 3, 4, 4]);
    }
}
