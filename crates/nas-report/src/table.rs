//! The terminal rendering: counts by state, the best trial and the Pareto trials.

use comfy_table::{presets, CellAlignment, Table};

use crate::columns::Column;
use crate::data::TrialRow;
use crate::{format, Report};

/// The terminal summary of `report`.
pub(crate) fn render(report: &Report) -> String {
    let mut out = format!("Study {}: {}\n", report.study, objectives_line(report));
    out.push_str(&report.counts.sentence());
    out.push('\n');
    match &report.best {
        Some(best) => out.push_str(&format!("Best: {}\n", best_line(report, best))),
        None => out.push_str("Best: no complete trial yet\n"),
    }
    if !report.pareto.is_empty() {
        out.push_str(&format!("{}:\n", report.front_title()));
        out.push_str(&pareto_table(report).to_string());
        out.push('\n');
    }
    out.push_str(&report.agreement_text());
    out.push_str(&exports(report));
    out
}

/// `What to export:` and a line per [`crate::ExportHint`]: what the trial is, its accuracy,
/// size and latency, and the command; empty when there is none.
pub(crate) fn exports(report: &Report) -> String {
    if report.exports.is_empty() {
        return String::new();
    }
    let width = report
        .exports
        .iter()
        .map(|e| e.label.chars().count())
        .max()
        .unwrap_or(0);
    let mut out = String::from(
        "What to export (retrained on the whole training split, scored once on the test split):\n",
    );
    for e in &report.exports {
        let pad = " ".repeat(width - e.label.chars().count());
        out.push_str(&format!(
            "  {}{pad}  trial {} · accuracy {} · {} params · {} ms\n      {}\n",
            e.label,
            e.trial,
            format::or_dash(e.accuracy, format::value),
            format::or_dash(e.params, format::count),
            format::or_dash(e.latency_ms, format::value),
            e.command
        ));
    }
    out
}

/// `accuracy ↑, latency_ms ↓`.
pub(crate) fn objectives_line(report: &Report) -> String {
    let labels: Vec<String> = report.objectives.iter().map(|o| o.label()).collect();
    match labels.is_empty() {
        true => "no objectives".to_string(),
        false => labels.join(", "),
    }
}

/// `trial 16 · accuracy 0.8412 · latency_ms 0.7100 · stem 8 · …`.
pub(crate) fn best_line(report: &Report, best: &TrialRow) -> String {
    let mut parts = vec![format!("trial {}", best.number)];
    for (i, objective) in report.objectives.iter().enumerate() {
        let value = format::or_dash(best.value(i), format::value);
        parts.push(format!("{} {value}", objective.name));
    }
    parts.extend(best.arch.clone());
    parts.join(" · ")
}

/// The Pareto trials, one per row, numbers right-aligned.
fn pareto_table(report: &Report) -> Table {
    let columns = Column::for_report(report);
    let mut table = Table::new();
    table.load_preset(presets::UTF8_FULL_CONDENSED);
    table.set_header(columns.iter().map(Column::header));
    for row in &report.pareto {
        table.add_row(columns.iter().map(|c| c.cell(row)));
    }
    for (i, column) in columns.iter().enumerate() {
        if let (true, Some(c)) = (column.is_numeric(), table.column_mut(i)) {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
    table
}
