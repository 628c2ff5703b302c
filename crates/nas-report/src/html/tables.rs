//! The table sections of the page: the Pareto trials, the failures, and every trial.

use super::esc;
use crate::columns::Column;
use crate::data::TrialRow;
use crate::format;
use crate::Report;

/// The Pareto trials, one `<tr>` each in the `<tbody>`.
pub(crate) fn pareto_table(report: &Report) -> String {
    let columns = Column::for_report(report);
    let head: String = columns
        .iter()
        .map(|c| cell("th", c.is_numeric(), &c.header()))
        .collect();
    let rows: String = report
        .pareto
        .iter()
        .map(|row| {
            let cells: String = columns
                .iter()
                .map(|c| {
                    let class = if *c == Column::Arch {
                        Some("arch")
                    } else {
                        None
                    };
                    classed_cell(c.is_numeric(), class, &c.cell(row))
                })
                .collect();
            format!("<tr>{cells}</tr>\n")
        })
        .collect();
    let note = match report.pareto.is_empty() {
        true => "<p class=\"note\">No complete trials yet.</p>\n",
        false => "",
    };
    format!(
        "<section id=\"pareto-table\">\n<h2>{}</h2>\n{note}\
         <table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{rows}</tbody>\n</table>\n</section>",
        report.front_title()
    )
}

/// The trials the search recommends exporting, with their commands, when there are any.
pub(crate) fn exports(report: &Report) -> String {
    if report.exports.is_empty() {
        return String::new();
    }
    let rows: String = report
        .exports
        .iter()
        .map(|e| {
            format!(
                "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
                 <td class=\"num\">{}</td><td class=\"num\">{}</td><td><code>{}</code></td></tr>\n",
                esc(&e.label),
                e.trial,
                format::or_dash(e.accuracy, format::value),
                format::or_dash(e.params, format::count),
                format::or_dash(e.latency_ms, format::value),
                esc(&e.command)
            )
        })
        .collect();
    format!(
        "<section id=\"exports\">\n<h2>What to export</h2>\n\
         <p class=\"note\">Each command retrains the trial on the whole training split and scores \
         it once on the test split.</p>\n<table>\n<thead><tr><th>pick</th><th class=\"num\">trial</th>\
         <th class=\"num\">accuracy</th><th class=\"num\">params</th><th class=\"num\">latency ms</th>\
         <th>command</th></tr></thead>\n<tbody>\n{rows}</tbody>\n</table>\n</section>"
    )
}

/// Failed trials and why, when there are any.
pub(crate) fn failures(report: &Report) -> String {
    let failed: Vec<&TrialRow> = report
        .trials
        .iter()
        .filter(|r| r.state == nas_core::study::TrialState::Fail)
        .collect();
    if failed.is_empty() {
        return String::new();
    }
    let items: String = failed
        .iter()
        .map(|r| {
            let reason = r.fail_reason.as_deref().unwrap_or("no reason recorded");
            format!(
                "<li>trial {}: <code>{}</code></li>\n",
                r.number,
                esc(reason)
            )
        })
        .collect();
    format!(
        "<section id=\"failed\">\n<h2>Failed trials ({})</h2>\n<ul class=\"failures\">\n{items}</ul>\n</section>",
        failed.len()
    )
}

/// Every trial, folded away.
pub(crate) fn all_trials(report: &Report) -> String {
    let header = [
        "trial",
        "state",
        "accuracy",
        "latency ms",
        "params",
        "MACs",
        "rung",
        "cost GMACs",
        "time s",
    ];
    let head: String = header
        .iter()
        .enumerate()
        .map(|(i, h)| cell("th", i != 1, h))
        .chain(std::iter::once(cell("th", false, "architecture / note")))
        .collect();
    let rows: String = report.trials.iter().map(trial_row).collect();
    format!(
        "<section id=\"trials\">\n<details>\n<summary>All trials ({})</summary>\n\
         <table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{rows}</tbody>\n</table>\n</details>\n</section>",
        report.trials.len()
    )
}

/// One row of the all-trials table.
fn trial_row(r: &TrialRow) -> String {
    let state = r.state.as_str();
    let numbers = [
        format::or_dash(r.accuracy, format::value),
        format::or_dash(r.latency_ms, format::value),
        format::or_dash(r.param_count, format::count),
        format::or_dash(r.macs, format::count),
        format::or_dash(r.top_rung, |n| n.to_string()),
        format::or_dash(r.cost_gmacs, |c| format!("{c:.1}")),
        format::or_dash(r.duration_s, |d| format!("{d:.1}")),
    ];
    let numbers: String = numbers.iter().map(|n| cell("td", true, n)).collect();
    let note = [
        r.arch.as_deref(),
        r.fail_reason.as_deref(),
        r.stopped.as_deref(),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" · ");
    let class = if r.on_pareto { " class=\"front\"" } else { "" };
    format!(
        "<tr{class}>{}<td><span class=\"state {state}\">{}</span></td>{numbers}{}</tr>\n",
        cell("td", true, &r.number.to_string()),
        state.to_lowercase(),
        classed_cell(false, Some("arch"), &note),
    )
}

/// `<td class="num">text</td>` (or `th`), the text escaped.
fn cell(tag: &str, numeric: bool, text: &str) -> String {
    let class = if numeric { " class=\"num\"" } else { "" };
    format!("<{tag}{class}>{}</{tag}>", esc(text))
}

/// A `<td>` with the number class and/or another class.
fn classed_cell(numeric: bool, class: Option<&str>, text: &str) -> String {
    let classes: Vec<&str> = [numeric.then_some("num"), class]
        .into_iter()
        .flatten()
        .collect();
    match classes.is_empty() {
        true => format!("<td>{}</td>", esc(text)),
        false => format!("<td class=\"{}\">{}</td>", classes.join(" "), esc(text)),
    }
}
