//! One row per trial: what the report shows of it, read from its values, intermediate values
//! and the search's [`TrialRecord`]. Every part of a record is optional: a running trial or
//! one that failed while building has none.

use nas_core::space::Config;
use nas_core::study::{Trial, TrialState};
use nas_search::TrialRecord;
use serde::Serialize;

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
        let record = TrialRecord::of(trial);
        let read = Reader {
            trial,
            record: &record,
            value_names,
        };
        let curve = read.curve();
        TrialRow {
            number: trial.number,
            state: trial.state,
            values: trial.values.clone(),
            feasible: trial.is_feasible(),
            accuracy: read
                .objective("accuracy")
                .or(curve.last().map(|p| p.accuracy)),
            param_count: record.params.or_else(|| whole(read.objective("params")?)),
            macs: record.macs.or_else(|| whole(read.objective("macs")?)),
            latency_ms: record.latency_ms.or_else(|| read.objective("latency_ms")),
            cost_gmacs: record.cost,
            top_rung: record.top_rung(),
            duration_s: trial.duration_s(),
            finished_at: trial.finished_at,
            arch: record.arch.as_ref().and_then(arch::summary),
            recipe: record.recipe.clone(),
            fail_reason: record.failure.clone(),
            stopped: record.stopped.clone(),
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

/// Reads one trial's objective values beside its record.
struct Reader<'a> {
    trial: &'a Trial,
    record: &'a TrialRecord,
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

    /// Accuracy at every rung that has one.
    fn curve(&self) -> Vec<CurvePoint> {
        self.record
            .rungs_reached()
            .into_iter()
            .filter_map(|rung| {
                let accuracy = self.rung_accuracy(rung)?;
                accuracy
                    .is_finite()
                    .then_some(CurvePoint { rung, accuracy })
            })
            .collect()
    }

    /// The rung's recorded accuracy, else the intermediate value of the objective named
    /// `accuracy`.
    fn rung_accuracy(&self, rung: u64) -> Option<f64> {
        self.record
            .rungs
            .get(&rung)
            .map(|score| score.accuracy)
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
