//! The CSV rendering: one row per trial, then every parameter as its own column.

use std::collections::BTreeSet;

use nas_core::space::{ParamValue, SearchSpace};

use crate::data::TrialRow;
use crate::{Report, ReportError};

/// Columns after the objective values and before the parameters.
const FIXED_COLUMNS: [&str; 10] = [
    "accuracy",
    "params",
    "macs",
    "latency_ms",
    "cost_gmacs",
    "top_rung",
    "duration_s",
    "on_pareto",
    "arch",
    "fail_reason",
];

/// Writes the report's trials as CSV to `w`.
pub(crate) fn write<W: std::io::Write>(report: &Report, w: W) -> Result<(), ReportError> {
    let mut out = csv::Writer::from_writer(w);
    out.write_record(header(report))?;
    for row in &report.trials {
        out.write_record(record(row, report.objectives.len(), &report.param_names))?;
    }
    out.flush()?;
    Ok(())
}

/// `number,state,value_<objective>…,accuracy,…,fail_reason,<param>…`.
fn header(report: &Report) -> Vec<String> {
    let mut header = vec!["number".to_string(), "state".to_string()];
    header.extend(
        report
            .objectives
            .iter()
            .map(|o| format!("value_{}", o.name)),
    );
    header.extend(FIXED_COLUMNS.iter().map(|c| c.to_string()));
    header.extend(report.param_names.iter().cloned());
    header
}

/// One trial's fields; missing ones are empty.
fn record(row: &TrialRow, n_values: usize, param_names: &[String]) -> Vec<String> {
    let mut record = vec![row.number.to_string(), row.state.as_str().to_string()];
    record.extend((0..n_values).map(|i| number(row.value(i))));
    record.extend([
        number(row.accuracy),
        number(row.param_count),
        number(row.macs),
        number(row.latency_ms),
        number(row.cost_gmacs),
        number(row.top_rung),
        row.duration_s
            .map(|d| format!("{d:.1}"))
            .unwrap_or_default(),
        row.on_pareto.to_string(),
        row.arch.clone().unwrap_or_default(),
        row.fail_reason.clone().unwrap_or_default(),
    ]);
    record.extend(
        param_names
            .iter()
            .map(|name| row.config.get(name).map(param_text).unwrap_or_default()),
    );
    record
}

/// A number as a cell, empty when missing.
fn number<T: ToString>(x: Option<T>) -> String {
    x.map(|v| v.to_string()).unwrap_or_default()
}

/// A parameter value as a bare cell (`sgd`, not `"sgd"`).
fn param_text(v: &ParamValue) -> String {
    match v {
        ParamValue::Str(s) => s.clone(),
        ParamValue::Bool(b) => b.to_string(),
        ParamValue::Int(i) => i.to_string(),
        ParamValue::Float(x) => x.to_string(),
    }
}

/// The space's parameter names in order, then any other name a trial set, sorted.
pub(crate) fn param_names(rows: &[TrialRow], space: Option<&SearchSpace>) -> Vec<String> {
    let mut names: Vec<String> = space
        .map(|s| s.params().iter().map(|p| p.name.clone()).collect())
        .unwrap_or_default();
    let seen: BTreeSet<&String> = rows.iter().flat_map(|r| r.config.keys()).collect();
    let extra: Vec<String> = seen
        .into_iter()
        .filter(|n| !names.contains(n))
        .cloned()
        .collect();
    names.extend(extra);
    names
}
