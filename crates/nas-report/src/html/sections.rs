//! The chart sections of the page, each an SVG (or a placeholder saying why there is none)
//! with a legend and a note.

use nas_core::study::TrialState;

use super::esc;
use crate::charts::{self, Scale, XAxis};
use crate::data::TrialRow;
use crate::{format, Report};

/// Size of each scatter plot and progress chart.
const HALF: (u32, u32) = (600, 420);
/// Height of the note that stands in for a chart with nothing to plot.
const PLACEHOLDER_HEIGHT: u32 = 120;
/// Size of the learning curves chart.
const WIDE: (u32, u32) = (1200, 440);

/// The two accuracy scatters, side by side.
pub(crate) fn pareto_pair(report: &Report) -> String {
    let latency = XAxis {
        label: "latency in ms",
        scale: Scale::Auto,
        value: |r| r.latency_ms,
        objective: "latency_ms",
        tick: format::tick,
    };
    let params = XAxis {
        label: "parameters",
        scale: Scale::Log,
        value: |r| r.param_count.map(|p| p as f64),
        objective: "params",
        tick: format::suffixed,
    };
    format!(
        "<div class=\"pair\">\n{}\n{}\n</div>",
        scatter_section(report, "pareto-latency", "Accuracy vs latency", &latency),
        scatter_section(report, "pareto-params", "Accuracy vs parameters", &params),
    )
}

/// One scatter with its legend.
fn scatter_section(report: &Report, id: &str, title: &str, axis: &XAxis) -> String {
    let svg = chart_or_note(
        HALF,
        charts::accuracy_scatter(&report.trials, axis, front_line(report, axis), HALF),
        "no finished trial has this measurement yet",
    );
    let finished = |r: &TrialRow| r.state.is_finished();
    let legend = legend(&state_entries(report, finished, "pruned, last rung"));
    format!("<section id=\"{id}\">\n<h2>{title}</h2>\n{svg}\n{legend}\n</section>")
}

/// Whether the Pareto trials make a staircase in this scatter: when the study's objectives
/// are accuracy and the scatter's x quantity (in a projection of more objectives, or onto
/// another quantity, the front is no staircase).
fn front_line(report: &Report, axis: &XAxis) -> bool {
    let mut names: Vec<&str> = report.objectives.iter().map(|o| o.name.as_str()).collect();
    names.sort_unstable();
    let mut wanted = vec!["accuracy", axis.objective];
    wanted.sort_unstable();
    names == wanted
}

/// Best so far and hypervolume over finished trials.
pub(crate) fn history(report: &Report) -> String {
    let Some(first) = report.objectives.first() else {
        return section(
            "history",
            "Search progress",
            &charts::placeholder((HALF.0, PLACEHOLDER_HEIGHT), "no objective"),
            "",
        );
    };
    let best = chart_or_note(
        HALF,
        charts::best_so_far(&report.history, first, HALF),
        "no complete trials yet",
    );
    let mut body = format!("<div class=\"pair\">\n<div>{best}</div>\n");
    let mut note = format!(
        "Grey dots: each complete trial's {}; red: the best so far, after each finished trial.",
        esc(&first.name)
    );
    if let Some(reference) = &report.history.reference_point {
        let svg = chart_or_note(
            HALF,
            charts::hypervolume(&report.history, HALF),
            "no complete trials yet",
        );
        body.push_str(&format!("<div id=\"hypervolume\">{svg}</div>\n"));
        note.push_str(&format!(
            " Hypervolume of the complete feasible trials, reference point ({}): each \
             objective's worst value made 10% of its range worse.",
            esc(&reference_text(report, reference))
        ));
    }
    body.push_str("</div>");
    section("history", "Search progress", &body, &note)
}

/// `accuracy 0.21, latency_ms 2.05`.
fn reference_text(report: &Report, reference: &[f64]) -> String {
    let parts: Vec<String> = report
        .objectives
        .iter()
        .zip(reference)
        .map(|(o, v)| format!("{} {}", o.name, format::value(*v)))
        .collect();
    parts.join(", ")
}

/// Accuracy per rung, one line per trial.
pub(crate) fn curves(report: &Report) -> String {
    let svg = chart_or_note(
        WIDE,
        charts::learning_curves(&report.trials, WIDE),
        "no trial has reported a rung yet",
    );
    let legend = legend(&state_entries(report, |r| !r.curve.is_empty(), "pruned"));
    let mut note = String::from(
        "Validation accuracy at each rung of the fidelity ladder; pruned trials stop where the scheduler stopped them.",
    );
    let agreement = report.agreement_text();
    if !agreement.is_empty() {
        note = format!("{note} {}", esc(agreement.trim_end()));
    }
    section(
        "curves",
        "Learning curves",
        &format!("{svg}\n{legend}"),
        &note,
    )
}

/// PED-ANOVA importance bars, or why there are none.
pub(crate) fn importance(report: &Report) -> String {
    let imp = &report.importance;
    let width = WIDE.0;
    let svg = match (&imp.unavailable, charts::importance_bars(imp, width)) {
        (None, Some(chart)) => charts::or_placeholder((width, 200), chart),
        (reason, _) => charts::placeholder(
            (width, PLACEHOLDER_HEIGHT),
            &format!(
                "importance not available: {}",
                reason.as_deref().unwrap_or("no parameters")
            ),
        ),
    };
    let note = format!(
        "PED-ANOVA on {}: how differently each parameter is distributed among the top {:.0}% of \
         the {} complete trials than among all of them (Pearson χ² divergence, normalised to \
         100%). Conditional parameters are judged where active.",
        esc(imp.objective.as_deref().unwrap_or("the first objective")),
        imp.top_quantile * 100.0,
        imp.complete_trials,
    );
    section("importance", "Parameter importance", &svg, &note)
}

/// A chart, a placeholder saying `empty` when there was nothing to plot, or one saying why
/// drawing failed.
fn chart_or_note(
    size: (u32, u32),
    chart: Option<Result<String, crate::ReportError>>,
    empty: &str,
) -> String {
    match chart {
        Some(chart) => charts::or_placeholder(size, chart),
        None => charts::placeholder((size.0, PLACEHOLDER_HEIGHT), empty),
    }
}

/// `<section id=…><h2>…</h2>body<p class="note">…</p></section>`.
fn section(id: &str, title: &str, body: &str, note: &str) -> String {
    let note = match note.is_empty() {
        true => String::new(),
        false => format!("\n<p class=\"note\">{note}</p>"),
    };
    format!("<section id=\"{id}\">\n<h2>{title}</h2>\n{body}{note}\n</section>")
}

/// A legend entry: swatch class, label and how many trials it stands for.
type Entry<'a> = (&'static str, &'a str, usize);

/// The legend entries of the trials `shown` in a chart by how they ended: front, other
/// complete, pruned (labelled `pruned`), failed and running (entries without trials are
/// left out of the legend).
fn state_entries<'a>(
    report: &'a Report,
    shown: impl Fn(&TrialRow) -> bool,
    pruned: &'a str,
) -> [Entry<'a>; 5] {
    let count =
        |f: fn(&TrialRow) -> bool| report.trials.iter().filter(|r| shown(r) && f(r)).count();
    [
        ("front", report.front_name(), count(|r| r.on_pareto)),
        (
            "dominated",
            "other complete",
            count(|r| r.state == TrialState::Complete && !r.on_pareto),
        ),
        ("pruned", pruned, count(|r| r.state == TrialState::Pruned)),
        ("failed", "failed", count(|r| r.state == TrialState::Fail)),
        ("running", "running", count(|r| !r.state.is_finished())),
    ]
}

/// A legend line: per `(class, label, count)` entry with trials, a swatch of class `class`
/// and `label (count)`.
fn legend(entries: &[Entry]) -> String {
    let items: String = entries
        .iter()
        .filter(|(_, _, count)| *count > 0)
        .map(|(class, label, count)| {
            let mark = if *class == "failed" { "×" } else { "" };
            format!("<li><span class=\"swatch {class}\">{mark}</span>{label} ({count})</li>")
        })
        .collect();
    format!("<ul class=\"legend\">{items}</ul>")
}
