//! The `[stages]` template: stage-structured architectures written once and expanded into one
//! set of parameters per stage (`stage1.width`, `stage2.block`, …), gated on `num_stages`.

use super::decl::{Decl, Site, Spec};
use super::ranges::check_int;
use super::reader::read_spec;
use super::spanned::{Node, Table};
use super::{Result, SourceLocation, SpaceError, NUM_STAGES};
use crate::{Comparison, Condition, Distribution, Param, ParamValue};

/// Most stages the `[stages]` template may expand to.
const MAX_STAGES: i64 = 64;

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

/// Reads `[stages]` and expands it into declarations.
pub(super) fn read_stages(node: &Node<'_>) -> Result<Vec<Decl>> {
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

/// Reads `[stages.blocks]`, whose keys must be choices of the `block` template.
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
    /// Reads `count`, an integer or `{ low, high }`, within `0..=MAX_STAGES`.
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

    /// Reads `count = { low, high }`.
    fn read_range(table: &Table<'_>) -> Result<(i64, i64)> {
        const HINT: &str = "a range of stages needs `low` and `high`";
        table.allow_only(&["low", "high"])?;
        let low = table.require("low", HINT)?.int()?;
        let high = table.require("high", HINT)?.int()?;
        check_int(low, high, false, 1, &Site::of(table))?;
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

    /// Appends the declarations of stage `stage` (1-based).
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
