//! Study reports of nas, burn-free: a [`Report`] is built once from a study's trials and
//! rendered as JSON, CSV, a terminal summary or one self-contained HTML page with SVG charts
//! (Pareto scatter plots, search progress with hypervolume, learning curves with how well each
//! rung's ranking agrees with the top rung's, and PED-ANOVA parameter importance).
//!
//! Every trial attribute the search writes (`arch`, `measurements`, `rungN`, `cost`,
//! `stopped`) is optional, so a report works on an empty study, on a search still running and
//! on trials that failed before measuring anything.

#![warn(missing_docs)]

mod agreement;
mod arch;
mod charts;
mod columns;
mod csv_rows;
mod data;
mod density;
mod error;
mod format;
mod front;
mod history;
mod html;
mod importance;
mod summary;
mod table;

use nas_core::space::SearchSpace;
use nas_core::study::{Direction, Trial};
use serde::Serialize;

pub use agreement::{spearman, RungAgreement, MIN_AGREEMENT_TRIALS};
pub use data::{CurvePoint, TrialRow};
pub use error::ReportError;
pub use history::{History, HistoryPoint};
pub use importance::{Importance, ParamImportance, MIN_TRIALS, TOP_QUANTILE};
pub use summary::{Objective, StateCounts};

/// What a report is built from.
#[derive(Debug, Clone, Copy)]
pub struct ReportInput<'a> {
    /// The study's name.
    pub study: &'a str,
    /// Its objective directions.
    pub directions: &'a [Direction],
    /// Names of its objective values, in the order of `directions`.
    pub value_names: &'a [String],
    /// Its trials, in any order and any state.
    pub trials: &'a [Trial],
    /// Its search space, when known (parameter order and ranges for importance and CSV).
    pub space: Option<&'a SearchSpace>,
}

/// A study's report: built once by [`Report::build`], rendered many ways.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// The study's name.
    pub study: String,
    /// When the report was built (RFC 3339, UTC).
    pub generated_at: String,
    /// The objectives.
    pub objectives: Vec<Objective>,
    /// Trials per state.
    pub counts: StateCounts,
    /// The Pareto trial best in the first objective.
    pub best: Option<TrialRow>,
    /// The Pareto-best complete trials (feasible-aware), by number.
    pub pareto: Vec<TrialRow>,
    /// Every trial, by number.
    pub trials: Vec<TrialRow>,
    /// Best value and hypervolume after each finished trial.
    pub history: History,
    /// Spearman's ρ between each lower rung's accuracies and the top rung's, over the trials
    /// that reported both.
    pub agreement: Vec<RungAgreement>,
    /// PED-ANOVA parameter importance for the first objective.
    pub importance: Importance,
    /// Every parameter name: the space's in order, then any others the trials set, sorted.
    pub param_names: Vec<String>,
    /// The trials the search recommends exporting, each with its `nas export` command (empty
    /// until the caller sets them: choosing them is `nas-export`'s `--pick`).
    pub exports: Vec<ExportHint>,
}

/// A trial worth exporting and the command that exports it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExportHint {
    /// What the trial is: `most accurate`, `knee of the front`, `most accurate ≤ 50000 params`.
    pub label: String,
    /// The trial.
    pub trial: u64,
    /// Its validation accuracy.
    pub accuracy: Option<f64>,
    /// Its parameter count.
    pub params: Option<u64>,
    /// Its measured latency, in milliseconds.
    pub latency_ms: Option<f64>,
    /// The `nas export …` command line.
    pub command: String,
}

impl Report {
    /// Builds the report of a study.
    pub fn build(input: &ReportInput) -> Report {
        let on_front = front::pareto_numbers(input.trials, input.directions);
        let mut trials: Vec<TrialRow> = input
            .trials
            .iter()
            .map(|t| TrialRow::from_trial(t, input.value_names))
            .collect();
        trials.sort_by_key(|r| r.number);
        for row in &mut trials {
            row.on_pareto = on_front.binary_search(&row.number).is_ok();
        }
        let pareto: Vec<TrialRow> = trials.iter().filter(|r| r.on_pareto).cloned().collect();
        Report {
            study: input.study.to_string(),
            generated_at: humantime::format_rfc3339_seconds(std::time::SystemTime::now())
                .to_string(),
            objectives: Objective::list(input.directions, input.value_names),
            counts: StateCounts::of(&trials),
            best: front::best(&pareto, input.directions).cloned(),
            history: History::build(&trials, input.directions),
            agreement: agreement::measure(&trials),
            importance: Importance::evaluate(
                &trials,
                input.directions,
                input.value_names,
                input.space,
            ),
            param_names: csv_rows::param_names(&trials, input.space),
            pareto,
            trials,
            exports: Vec::new(),
        }
    }

    /// The whole report as pretty-printed JSON: study, objectives, counts, best trial, Pareto
    /// trials, every trial row, history and importance.
    pub fn to_json(&self) -> String {
        // Every map in a report has string keys, the only way serde_json can fail here.
        serde_json::to_string_pretty(self).expect("a report serialises to JSON")
    }

    /// Writes one CSV row per trial (see the header for the columns).
    pub fn write_csv<W: std::io::Write>(&self, w: W) -> Result<(), ReportError> {
        csv_rows::write(self, w)
    }

    /// A short terminal summary: counts by state, the best trial, a table of the Pareto
    /// trials, the rung agreement and what to export.
    pub fn terminal_table(&self) -> String {
        table::render(self)
    }

    /// The trials to export and their commands ([`Report::exports`]), as terminal lines;
    /// empty when there are none.
    pub fn exports_text(&self) -> String {
        table::exports(self)
    }

    /// How each rung's ranking agrees with the top rung's ([`Report::agreement`]), as one
    /// terminal line; empty when no trial reported two rungs.
    pub fn agreement_text(&self) -> String {
        agreement::text(&self.agreement)
    }

    /// The self-contained HTML page (inline CSS and SVG, no scripts, no external resources).
    pub fn to_html(&self) -> String {
        html::render(self)
    }

    /// What the Pareto trials are called: `Pareto front`, or `best trial` with one objective.
    pub(crate) fn front_name(&self) -> &'static str {
        match self.objectives.len() {
            1 => "best trial",
            _ => "Pareto front",
        }
    }

    /// `Pareto front (4 trials)`, `Pareto front (1 trial)` or `Best trial`.
    pub(crate) fn front_title(&self) -> String {
        match (self.objectives.len(), self.pareto.len()) {
            (1, _) => "Best trial".to_string(),
            (_, 1) => "Pareto front (1 trial)".to_string(),
            (_, n) => format!("Pareto front ({n} trials)"),
        }
    }

    /// Numbers of the trials on the Pareto front, ascending.
    pub fn pareto_numbers(&self) -> Vec<u64> {
        self.pareto.iter().map(|r| r.number).collect()
    }
}
