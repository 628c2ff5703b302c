//! Errors of rendering a report.

/// Why a report could not be written or drawn.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A CSV record could not be written.
    #[error("cannot write the CSV report: {0}")]
    Csv(#[from] csv::Error),
    /// The output could not be written or flushed.
    #[error("cannot write the report: {0}")]
    Io(#[from] std::io::Error),
    /// A chart could not be drawn (plotters reported an error).
    #[error("cannot draw the {chart} chart: {message}")]
    Chart {
        /// Which chart.
        chart: &'static str,
        /// What plotters said.
        message: String,
    },
}
