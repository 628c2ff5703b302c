//! Errors reading or validating a search space, and the source locations they name.

use std::fmt;

use thiserror::Error;

use super::spanned::join_key;
use crate::ParamValue;

/// The file name in errors about spaces built in code rather than read from a file.
const IN_MEMORY: &str = "<memory>";

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
    /// A key of a space built in code, which has no file or line.
    pub(super) fn in_memory(key: String) -> Self {
        SourceLocation {
            file: IN_MEMORY.to_owned(),
            line: None,
            key,
        }
    }

    /// The same place, for a key below this one.
    pub(super) fn below(&self, key: &str) -> Self {
        SourceLocation {
            key: join_key(&self.key, key),
            ..self.clone()
        }
    }

    /// The key and line only, for mentioning a second place in a message.
    pub(super) fn brief(&self) -> String {
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
    /// A range the samplers cannot model: more values than can be indexed, ints beyond ±2^53
    /// (not exact as floats), or a float range whose width overflows.
    #[error(
        "{at}: the range [{low}, {high}] is too wide (ints must lie within ±2^53, \
         float ranges must have a finite width)"
    )]
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
    /// A condition on equal values of a continuous parent, which holds with probability zero.
    #[error(
        "{at}: `{parent}` is continuous, so it almost never equals a listed value; \
         compare it instead (`\"> 0.5\"`) or give it a `step`"
    )]
    EqualityOnContinuous {
        /// The condition.
        at: Box<SourceLocation>,
        /// The parent parameter.
        parent: String,
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
