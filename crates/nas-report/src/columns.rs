//! The columns of the Pareto table, shared by the terminal and HTML renderings.

use crate::data::TrialRow;
use crate::format;
use crate::Report;

/// Measurements every Pareto table shows; an objective of the same name adds no column.
const MEASURED: [&str; 4] = ["accuracy", "latency_ms", "params", "macs"];

/// One column of the Pareto table.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Column {
    /// The trial number.
    Trial,
    /// Validation accuracy.
    Accuracy,
    /// Measured latency.
    LatencyMs,
    /// Weight count.
    Params,
    /// MACs per image.
    Macs,
    /// An objective the measurements do not cover: its index and name.
    Objective(usize, String),
    /// The architecture summary.
    Arch,
}

impl Column {
    /// The columns for `report`: trial, the measurements, other objectives, architecture.
    pub(crate) fn for_report(report: &Report) -> Vec<Column> {
        let mut columns = vec![
            Column::Trial,
            Column::Accuracy,
            Column::LatencyMs,
            Column::Params,
            Column::Macs,
        ];
        columns.extend(
            report
                .objectives
                .iter()
                .enumerate()
                .filter(|(_, o)| !MEASURED.contains(&o.name.as_str()))
                .map(|(i, o)| Column::Objective(i, o.name.clone())),
        );
        columns.push(Column::Arch);
        columns
    }

    /// The header text.
    pub(crate) fn header(&self) -> String {
        match self {
            Column::Trial => "trial".to_string(),
            Column::Accuracy => "accuracy".to_string(),
            Column::LatencyMs => "latency ms".to_string(),
            Column::Params => "params".to_string(),
            Column::Macs => "MACs".to_string(),
            Column::Objective(_, name) => name.clone(),
            Column::Arch => "architecture".to_string(),
        }
    }

    /// Whether the column holds numbers (right-aligned).
    pub(crate) fn is_numeric(&self) -> bool {
        !matches!(self, Column::Arch)
    }

    /// The cell of `row`, `–` when missing.
    pub(crate) fn cell(&self, row: &TrialRow) -> String {
        match self {
            Column::Trial => row.number.to_string(),
            Column::Accuracy => format::or_dash(row.accuracy, format::value),
            Column::LatencyMs => format::or_dash(row.latency_ms, format::value),
            Column::Params => format::or_dash(row.param_count, format::count),
            Column::Macs => format::or_dash(row.macs, format::count),
            Column::Objective(i, _) => format::or_dash(row.value(*i), format::value),
            Column::Arch => row.arch.clone().unwrap_or_else(|| "–".to_string()),
        }
    }
}
