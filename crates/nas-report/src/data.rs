//! One row per trial: what the report shows of it, read from its values, intermediate values
//! and the attributes the search writes (`arch`, `measurements`, `rungN`, `cost`, `stopped`).
//! Every attribute is optional: a running trial or one that failed while building has none.

use std::collections::BTreeSet;

use nas_core::space::Config;
use nas_core::study::{Trial, TrialState};
use serde::Serialize;
use serde_json::Value;

use crate::arch;

/// The validation accuracy a trial reached at one rung of the fidelity ladder.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CurvePoint {
    /// The rung (0 is the cheapest).
    pub rung: u64,
    /// Validation accuracy at that rung.
    pub accuracy: f64,
}

/// One trial as the report shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrialRow {
    /// Trial number.
    pub number: u64,
    /// Its state.
    pub state: TrialState,
    /// Objective values (complete trials), in the study's objective order.
    pub values: Option<Vec<f64>>,
    /// Whether every constraint holds (no constraints means feasible).
    pub feasible: bool,
    /// Validation accuracy: the objective named `accuracy` when there is one, else the top
    /// rung's `rungN.accuracy`, else the intermediate `accuracy` value of the top rung.
    pub accuracy: Option<f64>,
    /// Number of weights (`measurements.params`, else an objective named `params`).
    pub param_count: Option<u64>,
    /// Multiply-accumulates per image (`measurements.macs`, else an objective named `macs`).
    pub macs: Option<u64>,
    /// Measured latency (`measurements.latency_ms`, else an objective named `latency_ms`).
    pub latency_ms: Option<f64>,
    /// Training compute spent, in GMACs (the `cost` attribute).
    pub cost_gmacs: Option<f64>,
    /// The highest rung the trial reported.
    pub top_rung: Option<u64>,
    /// Seconds from start to finish.
    pub duration_s: Option<f64>,
    /// Unix time the trial finished.
    pub finished_at: Option<f64>,
    /// One-line architecture summary (see the `arch` attribute).
    pub arch: Option<String>,
    /// The training recipe line the search recorded.
    pub recipe: Option<String>,
    /// Why the trial failed.
    pub fail_reason: Option<String>,
    /// Why the scheduler stopped it (the `stopped` attribute).
    pub stopped: Option<String>,
    /// Accuracy by rung, ascending.
    pub curve: Vec<CurvePoint>,
    /// Whether the trial is on the study's Pareto front (the best trial with one objective).
    pub on_pareto: bool,
    /// Its active parameters.
    pub config: Config,
}

impl TrialRow {
    /// The row of `trial`, whose objective values are named `value_names`. `on_pareto` starts
    /// false; the report sets it.
    pub fn from_trial(trial: &Trial, value_names: &[String]) -> Self {
        let read = Reader { trial, value_names };
        let curve = read.curve();
        TrialRow {
            number: trial.number,
            state: trial.state,
            values: trial.values.clone(),
            feasible: trial.is_feasible(),
            accuracy: read
                .objective("accuracy")
                .or(curve.last().map(|p| p.accuracy)),
            param_count: read.count("params"),
            macs: read.count("macs"),
            latency_ms: read.metric("latency_ms"),
            cost_gmacs: trial.attrs.get("cost").and_then(Value::as_f64),
            top_rung: read.rungs().last().copied(),
            duration_s: trial.duration_s(),
            finished_at: trial.finished_at,
            arch: trial.attrs.get("arch").and_then(arch_summary),
            recipe: text(trial.attrs.get("arch").and_then(|a| a.get("recipe"))),
            fail_reason: trial.fail_reason.clone(),
            stopped: text(trial.attrs.get("stopped")),
            curve,
            on_pareto: false,
            config: trial.params.clone(),
        }
    }

    /// The value of the objective at `index`, when the trial has it.
    pub fn value(&self, index: usize) -> Option<f64> {
        self.values.as_ref()?.get(index).copied()
    }
}

/// Summary of the `arch` attribute's ArchSpec (`{"arch": {...}, "recipe": ...}`).
fn arch_summary(attr: &Value) -> Option<String> {
    arch::summary(attr.get("arch")?)
}

/// A JSON string's text.
fn text(value: Option<&Value>) -> Option<String> {
    value.and_then(Value::as_str).map(str::to_string)
}

/// Reads one trial's values and attributes.
struct Reader<'a> {
    trial: &'a Trial,
    value_names: &'a [String],
}

impl Reader<'_> {
    /// Position of the objective called `name`.
    fn objective_index(&self, name: &str) -> Option<usize> {
        self.value_names.iter().position(|n| n == name)
    }

    /// The final value of the objective called `name`.
    fn objective(&self, name: &str) -> Option<f64> {
        let values = self.trial.values.as_ref()?;
        values.get(self.objective_index(name)?).copied()
    }

    /// A measurement (`measurements.<name>`), else the objective of that name.
    fn metric(&self, name: &str) -> Option<f64> {
        let measured = self.trial.attrs.get("measurements");
        measured
            .and_then(|m| m.get(name))
            .and_then(Value::as_f64)
            .or_else(|| self.objective(name))
    }

    /// A count measurement (`measurements.<name>`, a JSON integer), else a measurement or
    /// objective of that name that is a non-negative number, rounded.
    fn count(&self, name: &str) -> Option<u64> {
        let measured = self.trial.attrs.get("measurements");
        measured
            .and_then(|m| m.get(name))
            .and_then(Value::as_u64)
            .or_else(|| whole(self.metric(name)?))
    }

    /// Rungs the trial reported, from intermediate values and `rungN` attributes, ascending.
    fn rungs(&self) -> Vec<u64> {
        let from_attrs = self.trial.attrs.keys().filter_map(|k| rung_of_key(k));
        let rungs: BTreeSet<u64> = self
            .trial
            .intermediate
            .keys()
            .copied()
            .chain(from_attrs)
            .collect();
        rungs.into_iter().collect()
    }

    /// Accuracy at every rung that has one.
    fn curve(&self) -> Vec<CurvePoint> {
        self.rungs()
            .into_iter()
            .filter_map(|rung| {
                let accuracy = self.rung_accuracy(rung)?;
                accuracy
                    .is_finite()
                    .then_some(CurvePoint { rung, accuracy })
            })
            .collect()
    }

    /// `rungN.accuracy`, else the intermediate value of the objective named `accuracy`.
    fn rung_accuracy(&self, rung: u64) -> Option<f64> {
        let attr = self.trial.attrs.get(&format!("rung{rung}"));
        attr.and_then(|a| a.get("accuracy"))
            .and_then(Value::as_f64)
            .or_else(|| {
                let values = self.trial.intermediate.get(&rung)?;
                values.get(self.objective_index("accuracy")?).copied()
            })
    }
}

/// `x` rounded to a count, when it is a finite non-negative number.
fn whole(x: f64) -> Option<u64> {
    (x.is_finite() && x >= 0.0).then(|| x.round() as u64)
}

/// The rung of an attribute key `rung3`.
fn rung_of_key(key: &str) -> Option<u64> {
    key.strip_prefix("rung")?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn names() -> Vec<String> {
        vec!["accuracy".to_string(), "latency_ms".to_string()]
    }

    #[test]
    fn a_trial_without_attrs_gives_an_empty_row() {
        let trial = Trial::running(4, Config::new());
        let row = TrialRow::from_trial(&trial, &names());
        assert_eq!(row.number, 4);
        assert_eq!(row.state, TrialState::Running);
        assert_eq!(row.accuracy, None);
        assert_eq!(row.latency_ms, None);
        assert_eq!(row.arch, None);
        assert_eq!(row.top_rung, None);
        assert!(row.curve.is_empty());
    }

    #[test]
    fn a_pruned_trial_reads_its_rung_attributes() {
        let mut trial = Trial::running(1, Config::new());
        trial.state = TrialState::Pruned;
        trial.intermediate.insert(0, vec![0.7, 1.93]);
        trial
            .attrs
            .insert("rung0".into(), json!({"accuracy": 0.71}));
        trial.attrs.insert(
            "measurements".into(),
            json!({"latency_ms": 1.93, "params": 130792}),
        );
        trial
            .attrs
            .insert("stopped".into(), json!("stopped by the scheduler"));
        trial.attrs.insert("cost".into(), json!(377.3));
        let row = TrialRow::from_trial(&trial, &names());
        assert_eq!(row.accuracy, Some(0.71));
        assert_eq!(row.param_count, Some(130_792));
        assert_eq!(row.cost_gmacs, Some(377.3));
        assert_eq!(row.top_rung, Some(0));
        assert_eq!(row.stopped.as_deref(), Some("stopped by the scheduler"));
        assert_eq!(
            row.curve,
            vec![CurvePoint {
                rung: 0,
                accuracy: 0.71
            }]
        );
    }

    #[test]
    fn counts_are_whole_numbers_from_integers_floats_or_objectives() {
        let mut trial = Trial::running(3, Config::new());
        trial.state = TrialState::Complete;
        trial.values = Some(vec![0.8, 4096.0]);
        trial
            .attrs
            .insert("measurements".into(), json!({"macs": 6.9e6}));
        let names = vec!["accuracy".to_string(), "params".to_string()];
        let row = TrialRow::from_trial(&trial, &names);
        assert_eq!(row.param_count, Some(4096), "from the objective");
        assert_eq!(row.macs, Some(6_900_000), "from a float measurement");
    }

    #[test]
    fn intermediate_values_fill_the_curve_without_rung_attributes() {
        let mut trial = Trial::running(2, Config::new());
        trial.state = TrialState::Complete;
        trial.values = Some(vec![0.81, 0.68]);
        trial.intermediate.insert(0, vec![0.75, 0.68]);
        trial.intermediate.insert(1, vec![0.81, 0.68]);
        let row = TrialRow::from_trial(&trial, &names());
        assert_eq!(row.accuracy, Some(0.81));
        assert_eq!(row.latency_ms, Some(0.68), "from the objective");
        assert_eq!(row.top_rung, Some(1));
        assert_eq!(row.curve.len(), 2);
    }
}
