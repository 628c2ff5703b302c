//! Parameter importance by PED-ANOVA (Watanabe et al., 2023, "PED-ANOVA: Efficiently
//! Quantifying Hyperparameter Importance in Arbitrary Subspaces"), as Optuna's
//! `PedAnovaImportanceEvaluator` computes it for the first objective: a parameter matters as
//! much as its distribution among the top [`TOP_QUANTILE`] of complete trials differs from its
//! distribution among all complete trials (the region quantile is 1), measured by the Pearson
//! χ² divergence of the two densities on a grid (see `density`).
//!
//! A conditional parameter is judged on the trials where it is active, with its own top
//! quantile. Importances are normalised to sum to 1 and listed from most to least important.

use std::collections::BTreeSet;

use nas_core::space::{Distribution, ParamValue, SearchSpace};
use nas_core::study::{Direction, TrialState};
use serde::Serialize;

use crate::data::TrialRow;
use crate::density::{categorical_density, pearson_divergence, NumericGrid, GRID_POINTS};

/// Fraction of the active complete trials that make up the top set (γ).
pub const TOP_QUANTILE: f64 = 0.1;

/// Fewest complete trials (overall, and with a parameter active) to judge importance on.
pub const MIN_TRIALS: usize = 4;

/// Fewest trials in a top set.
const MIN_TOP: usize = 2;

/// How much one parameter matters.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ParamImportance {
    /// The parameter.
    pub name: String,
    /// Its share of the total divergence (all importances sum to 1).
    pub importance: f64,
    /// Complete trials in which it was active.
    pub trials: usize,
}

/// Parameter importances for the first objective.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Importance {
    /// `PED-ANOVA`.
    pub method: &'static str,
    /// The objective judged (the study's first), when the study has one.
    pub objective: Option<String>,
    /// γ: the top fraction of trials compared with all.
    pub top_quantile: f64,
    /// Complete trials with a finite value for that objective.
    pub complete_trials: usize,
    /// Importances, most important first; empty when unavailable.
    pub params: Vec<ParamImportance>,
    /// Why there are no importances, when there are none.
    pub unavailable: Option<String>,
}

impl Importance {
    /// Importances over `rows` for the first of `directions` (named `value_names[0]`), with
    /// the parameters and ranges of `space` when known (else those the trials show).
    pub fn evaluate(
        rows: &[TrialRow],
        directions: &[Direction],
        value_names: &[String],
        space: Option<&SearchSpace>,
    ) -> Self {
        let scored = scored_trials(rows, directions.first().copied());
        let mut report = Importance {
            method: "PED-ANOVA",
            objective: value_names.first().cloned(),
            top_quantile: TOP_QUANTILE,
            complete_trials: scored.len(),
            params: Vec::new(),
            unavailable: None,
        };
        report.unavailable = unavailable_reason(directions, scored.len());
        if report.unavailable.is_none() {
            report.params = normalised(param_divergences(&scored, space));
            if report.params.is_empty() {
                report.unavailable = Some(
                    "no parameter's distribution among the top trials differs from all trials"
                        .to_string(),
                );
            }
        }
        report
    }
}

/// Why importance cannot be judged, before trying.
fn unavailable_reason(directions: &[Direction], complete: usize) -> Option<String> {
    if directions.is_empty() {
        return Some("the study has no objective".to_string());
    }
    (complete < MIN_TRIALS)
        .then(|| format!("needs at least {MIN_TRIALS} complete trials, the study has {complete}"))
}

/// Complete trials with a finite first objective, as (loss, row).
fn scored_trials(rows: &[TrialRow], direction: Option<Direction>) -> Vec<(f64, &TrialRow)> {
    let Some(direction) = direction else {
        return Vec::new();
    };
    rows.iter()
        .filter(|r| r.state == TrialState::Complete)
        .filter_map(|r| {
            let v = r.value(0).filter(|v| v.is_finite())?;
            Some((direction.to_loss(v), r))
        })
        .collect()
}

/// The divergence of every parameter that was active often enough.
fn param_divergences(
    scored: &[(f64, &TrialRow)],
    space: Option<&SearchSpace>,
) -> Vec<ParamImportance> {
    param_names(scored, space)
        .into_iter()
        .filter_map(|name| {
            let mut active: Vec<(f64, &ParamValue)> = scored
                .iter()
                .filter_map(|(loss, r)| Some((*loss, r.config.get(&name)?)))
                .collect();
            if active.len() < MIN_TRIALS {
                return None;
            }
            active.sort_by(|a, b| a.0.total_cmp(&b.0));
            let values: Vec<&ParamValue> = active.iter().map(|(_, v)| *v).collect();
            let domain = Domain::of(&name, space, &values)?;
            let n_top = ((TOP_QUANTILE * values.len() as f64).ceil() as usize).max(MIN_TOP);
            let top = &values[..n_top.min(values.len())];
            Some(ParamImportance {
                importance: pearson_divergence(&domain.density(top), &domain.density(&values)),
                trials: values.len(),
                name,
            })
        })
        .collect()
}

/// The space's parameters in order, else every parameter a scored trial set.
fn param_names(scored: &[(f64, &TrialRow)], space: Option<&SearchSpace>) -> Vec<String> {
    match space {
        Some(space) => space.params().iter().map(|p| p.name.clone()).collect(),
        None => {
            let names: BTreeSet<&String> =
                scored.iter().flat_map(|(_, r)| r.config.keys()).collect();
            names.into_iter().cloned().collect()
        }
    }
}

/// Divergences scaled to sum to 1, most important first; none when they sum to 0.
fn normalised(mut params: Vec<ParamImportance>) -> Vec<ParamImportance> {
    let total: f64 = params.iter().map(|p| p.importance).sum();
    if total <= 0.0 || !total.is_finite() {
        return Vec::new();
    }
    for p in &mut params {
        p.importance /= total;
    }
    params.sort_by(|a, b| {
        b.importance
            .total_cmp(&a.importance)
            .then_with(|| a.name.cmp(&b.name))
    });
    params
}

/// The values a parameter can take, as PED-ANOVA discretises them.
enum Domain {
    /// Numbers, on a grid in linear or log scale.
    Numeric { grid: NumericGrid, log: bool },
    /// Categories.
    Categorical { choices: Vec<ParamValue> },
}

impl Domain {
    /// From the space's distribution for `name`, else from the observed values.
    fn of(name: &str, space: Option<&SearchSpace>, values: &[&ParamValue]) -> Option<Self> {
        let declared = space
            .and_then(|s| s.index_of(name).map(|i| &s.params()[i].distribution))
            .and_then(Domain::from_distribution);
        declared.or_else(|| Domain::from_values(values))
    }

    fn from_distribution(distribution: &Distribution) -> Option<Self> {
        match distribution {
            Distribution::Float { low, high, log, .. } => numeric(*low, *high, *log),
            Distribution::Int {
                low,
                high,
                log,
                step,
            } => integer(*low, *high, *step, *log),
            Distribution::Categorical { choices } => Some(Domain::Categorical {
                choices: choices.clone(),
            }),
        }
    }

    /// Numbers when every value is one (integers on their own grid), else categories.
    fn from_values(values: &[&ParamValue]) -> Option<Self> {
        let numbers: Option<Vec<f64>> = values
            .iter()
            .map(|v| {
                (!matches!(v, ParamValue::Bool(_)))
                    .then(|| v.as_f64())
                    .flatten()
            })
            .collect();
        match numbers {
            Some(xs) => {
                let low = xs.iter().copied().fold(f64::INFINITY, f64::min);
                let high = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let all_int = values.iter().all(|v| matches!(v, ParamValue::Int(_)));
                match all_int {
                    true => integer(low as i64, high as i64, 1, false),
                    false => numeric(low, high, false),
                }
            }
            None => {
                let mut choices: Vec<ParamValue> = Vec::new();
                for v in values {
                    if !choices.contains(v) {
                        choices.push((*v).clone());
                    }
                }
                (choices.len() >= 2).then_some(Domain::Categorical { choices })
            }
        }
    }

    /// The density of `values` over this domain (values outside it are left out).
    fn density(&self, values: &[&ParamValue]) -> Vec<f64> {
        match self {
            Domain::Numeric { grid, log } => {
                let xs: Vec<f64> = values.iter().filter_map(|v| scaled(v, *log)).collect();
                grid.density(&xs)
            }
            Domain::Categorical { choices } => {
                let indices: Vec<usize> = values
                    .iter()
                    .filter_map(|v| choices.iter().position(|c| c.approx_eq(v)))
                    .collect();
                categorical_density(&indices, choices.len())
            }
        }
    }
}

/// A value on the grid's scale (its logarithm for log parameters).
fn scaled(v: &ParamValue, log: bool) -> Option<f64> {
    let x = v.as_f64().filter(|_| !matches!(v, ParamValue::Bool(_)))?;
    match log {
        true => (x > 0.0).then(|| x.ln()),
        false => Some(x),
    }
}

/// A continuous range, evenly gridded in its scale.
fn numeric(low: f64, high: f64, log: bool) -> Option<Domain> {
    let (lo, hi) = match log {
        true if low > 0.0 => (low.ln(), high.ln()),
        true => return None,
        false => (low, high),
    };
    let grid = NumericGrid::even(lo, hi)?;
    Some(Domain::Numeric { grid, log })
}

/// An integer range: its own values when there are at most [`GRID_POINTS`], else a grid.
fn integer(low: i64, high: i64, step: i64, log: bool) -> Option<Domain> {
    let step = step.max(1);
    let count = high.checked_sub(low)?.checked_div(step)?.checked_add(1)?;
    if count > GRID_POINTS as i64 || (log && low <= 0) {
        return numeric(low as f64, high as f64, log);
    }
    let points = (0..count)
        .map(|k| {
            let x = (low + k * step) as f64;
            if log {
                x.ln()
            } else {
                x
            }
        })
        .collect();
    let grid = NumericGrid::at(points)?;
    Some(Domain::Numeric { grid, log })
}
