//! `nas report STUDY`: the study's report as a self-contained HTML page (written beside the
//! study, with a terminal summary), or as JSON or CSV on stdout. Works while the search runs.

use std::path::PathBuf;

use anyhow::Context;

use crate::study_read::{export_hints, read_study};

/// Arguments of `nas report`.
#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// The study (a folder under --results).
    pub study: String,
    /// Folder of the studies.
    #[arg(long, default_value = "results", value_parser = crate::flags::results_folder)]
    pub results: PathBuf,
    /// The study's storage, when not `<results>/<study>/study.db`: `postgres://USER@HOST/DB`
    /// or `sqlite://PATH`.
    #[arg(long, value_parser = crate::flags::storage_url)]
    pub storage: Option<String>,
    /// html (the page, plus a summary table on stdout), json, csv or table (the summary only).
    #[arg(long, default_value = "html", value_parser = ["html", "json", "csv", "table"])]
    pub format: String,
    /// Where to write it (default: results/<study>/report.html for html, stdout otherwise).
    #[arg(long, short, value_parser = crate::flags::output_file)]
    pub output: Option<PathBuf>,
}

/// Runs `nas report`.
pub fn run(args: ReportArgs) -> anyhow::Result<()> {
    let study = read_study(&args.results, &args.study, args.storage.as_deref())?;
    let mut report = study.report(&args.study);
    report.exports = export_hints(
        &report,
        &args.results,
        args.storage.as_deref(),
        study.config.max_params,
        study.config.max_latency_ms,
    );
    let text = match args.format.as_str() {
        "html" => report.to_html(),
        "json" => report.to_json(),
        "csv" => {
            let mut bytes = Vec::new();
            report.write_csv(&mut bytes)?;
            String::from_utf8(bytes).context("the CSV is UTF-8")?
        }
        _ => report.terminal_table(),
    };
    let output = match (&args.output, args.format.as_str()) {
        (Some(path), _) => Some(path.clone()),
        (None, "html") => Some(args.results.join(&args.study).join("report.html")),
        (None, _) => None,
    };
    match output {
        Some(path) => {
            std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
            if args.format == "html" {
                print!("{}", report.terminal_table());
            }
            eprintln!("nas: report written to {}", path.display());
        }
        None => print!("{text}"),
    }
    Ok(())
}
