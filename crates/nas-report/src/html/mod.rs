//! The HTML rendering: one self-contained page (inline CSS and SVG, no scripts, nothing
//! fetched) with a section per chart and table. Section ids are stable: `exports` (when the
//! search named trials to export), `pareto-latency`,
//! `pareto-params`, `history` (with `hypervolume` inside for two or more objectives),
//! `curves`, `importance`, `pareto-table`, then `failed` and `trials`.
//!
//! Every text that comes from the study (names, parameters, architecture summaries, failure
//! reasons) is escaped.

mod sections;
mod tables;

use std::borrow::Cow;

use crate::table::{best_line, objectives_line};
use crate::Report;

/// The stylesheet, inlined into the page.
const STYLE: &str = include_str!("style.css");

/// The page of `report`.
pub(crate) fn render(report: &Report) -> String {
    let body = [
        header(report),
        "<main>".to_string(),
        tables::exports(report),
        sections::pareto_pair(report),
        sections::history(report),
        sections::curves(report),
        sections::importance(report),
        tables::pareto_table(report),
        tables::failures(report),
        tables::all_trials(report),
        "</main>".to_string(),
        format!(
            "<footer>nas report · generated {}</footer>",
            esc(&report.generated_at)
        ),
    ];
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>nas report · {}</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n{}\n</body>\n</html>\n",
        esc(&report.study),
        body.join("\n")
    )
}

/// The page header: study, objectives, counts by state, best trial.
fn header(report: &Report) -> String {
    let counts = &report.counts;
    let chips: String = [
        ("total", counts.total, "trials"),
        ("complete", counts.complete, "complete"),
        ("pruned", counts.pruned, "pruned"),
        ("fail", counts.fail, "failed"),
        ("running", counts.running, "running"),
        ("waiting", counts.waiting, "waiting"),
    ]
    .iter()
    .filter(|(class, n, _)| *n > 0 || *class == "total")
    .map(|(class, n, what)| format!("<li class=\"{class}\"><b>{n}</b> {what}</li>"))
    .collect();
    let best = match &report.best {
        Some(best) => format!("<b>Best:</b> {}", esc(&best_line(report, best))),
        None => "<b>Best:</b> no complete trial yet".to_string(),
    };
    format!(
        "<header>\n<h1>nas study <span class=\"study\">{}</span></h1>\n\
         <p class=\"meta\">Objectives: {} · generated {}</p>\n\
         <ul class=\"counts\">{chips}</ul>\n<p class=\"best\">{best}</p>\n</header>",
        esc(&report.study),
        esc(&objectives_line(report)),
        esc(&report.generated_at),
    )
}

/// `text` escaped for HTML text and quoted attribute values.
pub(crate) fn esc(text: &str) -> Cow<'_, str> {
    html_escape::encode_safe(text)
}
