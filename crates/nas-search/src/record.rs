//! The trial record: what the search keeps of a trial beyond the study's own columns (number,
//! state, parameters, values, intermediate values, times, worker, failure). It is stored as
//! trial attributes, one JSON value a key; [`RecordWriter`] is the one writer (the driver
//! uses it) and [`TrialRecord::of`] the one reader (results, reports, export, status and the
//! benchmarks use it). No other module names an attribute key, but for the schedulers of
//! `nas-core`, which read the bracket under `nas_core::schedule::BRACKET_ATTR` and each rung's
//! compute under `nas_core::schedule::RUNG_ATTR_PREFIX` (cost-aware promotion).
//!
//! The reader is lenient, as studies outlive versions of nas: a key that is absent, `null` or
//! of another form reads as `None` (a rung result with missing fields reads them as zero),
//! never as an error.

use std::collections::{BTreeMap, BTreeSet};

use nas_core::study::{Study, StudyError, Trial};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::runner::{Measurements, SegmentScore};

/// The attribute keys of a trial record.
mod key {
    /// Where studies written before the seed went into the trial's own column kept it.
    pub const SEED: &str = "seed";
    /// The schedulers read it too (Hyperband, BOHB), under their own name for it.
    pub const BRACKET: &str = nas_core::schedule::BRACKET_ATTR;
    pub const ASK_S: &str = "ask_s";
    pub const BUILD_S: &str = "build_s";
    /// The runner's description of the network: `{"arch": ArchSpec, "recipe": "…", …}`.
    pub const NETWORK: &str = "arch";
    pub const MEASUREMENTS: &str = "measurements";
    pub const COST: &str = "cost";
    pub const PAUSED: &str = "paused_at";
    pub const STOPPED: &str = "stopped";
    /// `rung0`, `rung1`, …: the [`SegmentScore`](crate::SegmentScore) of each rung, whose
    /// `cost` field the schedulers read (`nas_core::schedule::RUNG_COST_FIELD`).
    pub const RUNG_PREFIX: &str = nas_core::schedule::RUNG_ATTR_PREFIX;
}

/// The attribute a trial paused at a rung carries (the rung's index; `null` once it goes on),
/// so that other workers sharing the study tell paused trials from training ones.
pub const PAUSED_ATTR: &str = key::PAUSED;

/// Everything the search recorded of one trial, read back from its attributes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TrialRecord {
    /// Seed of everything random in its training.
    pub seed: Option<u64>,
    /// The scheduler's bracket (Hyperband, BOHB); 0 for single-bracket schedulers.
    pub bracket: Option<u64>,
    /// Seconds the sampler took to propose it.
    pub ask_s: Option<f64>,
    /// Seconds building and measuring its network took.
    pub build_s: Option<f64>,
    /// Its architecture spec (`ArchSpec` JSON), when the network was built.
    pub arch: Option<Value>,
    /// Its training recipe in one line (optimizer, learning rate, batch, epochs).
    pub recipe: Option<String>,
    /// Training images its full budget amounts to.
    pub total_images: Option<u64>,
    /// Trainable parameters.
    pub params: Option<u64>,
    /// Multiply-accumulates of one forward pass at full resolution.
    pub macs: Option<u64>,
    /// Median inference latency in milliseconds.
    pub latency_ms: Option<f64>,
    /// The result of each rung it finished, by rung.
    pub rungs: BTreeMap<u64, SegmentScore>,
    /// GMACs its training and evaluation cost, all rungs together.
    pub cost: Option<f64>,
    /// The rung it waits at, while paused.
    pub paused_at: Option<u64>,
    /// Why the search stopped it early (pruned trials).
    pub stopped: Option<String>,
    /// Why it failed (the study's failure column).
    pub failure: Option<String>,
    /// Rungs with an intermediate value, which a crash may leave without a rung result.
    reported: BTreeSet<u64>,
}

impl TrialRecord {
    /// Reads the record of `trial`.
    pub fn of(trial: &Trial) -> TrialRecord {
        let attr = |k: &str| trial.attrs.get(k).filter(|v| !v.is_null());
        let float = |k: &str| attr(k).and_then(Value::as_f64);
        let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
        let network = attr(key::NETWORK);
        let measured = |k: &str| attr(key::MEASUREMENTS).and_then(|m| m.get(k));
        let rungs = trial
            .attrs
            .iter()
            .filter_map(|(k, v)| {
                let rung = k.strip_prefix(key::RUNG_PREFIX)?.parse().ok()?;
                // Only an object: serde would also read a struct from an array.
                let score = v.is_object().then(|| SegmentScore::deserialize(v).ok())??;
                Some((rung, score))
            })
            .collect();
        TrialRecord {
            seed: trial
                .seed
                .or_else(|| attr(key::SEED).and_then(Value::as_u64)),
            bracket: attr(key::BRACKET).and_then(Value::as_u64),
            ask_s: float(key::ASK_S),
            build_s: float(key::BUILD_S),
            arch: network
                .and_then(|n| n.get("arch"))
                .filter(|a| !a.is_null())
                .cloned(),
            recipe: text(network.and_then(|n| n.get("recipe"))),
            total_images: network.and_then(|n| n.get("total_images")?.as_u64()),
            params: measured("params").and_then(count),
            macs: measured("macs").and_then(count),
            latency_ms: measured("latency_ms").and_then(Value::as_f64),
            rungs,
            cost: float(key::COST),
            paused_at: TrialRecord::paused_at(trial),
            stopped: text(attr(key::STOPPED)),
            failure: trial.fail_reason.clone(),
            reported: trial.intermediate.keys().copied().collect(),
        }
    }

    /// The rung `trial` waits at, while paused: the one part of a record that the driver
    /// reads of every running trial, on its own.
    pub fn paused_at(trial: &Trial) -> Option<u64> {
        trial.attrs.get(key::PAUSED).and_then(Value::as_u64)
    }

    /// The highest rung the trial reached: the highest with a rung result or an intermediate
    /// value (the two are written one after the other; a crash between them leaves one).
    pub fn top_rung(&self) -> Option<u64> {
        let results = self.rungs.keys().next_back().copied();
        let reported = self.reported.iter().next_back().copied();
        results.max(reported)
    }

    /// Every rung the trial reached, ascending (see [`TrialRecord::top_rung`]).
    pub fn rungs_reached(&self) -> Vec<u64> {
        let all: BTreeSet<u64> = self.rungs.keys().chain(&self.reported).copied().collect();
        all.into_iter().collect()
    }

    /// Validation accuracy at the top rung, when that rung has a result.
    pub fn top_accuracy(&self) -> Option<f64> {
        self.rungs.get(&self.top_rung()?).map(|s| s.accuracy)
    }

    /// Its network's cost, when all three measurements are there.
    pub fn measurements(&self) -> Option<Measurements> {
        Some(Measurements {
            params: self.params?,
            macs: self.macs?,
            latency_ms: self.latency_ms?,
        })
    }
}

/// A JSON number as a count: an integer, or a finite non-negative float rounded.
fn count(value: &Value) -> Option<u64> {
    value.as_u64().or_else(|| {
        let x = value.as_f64()?;
        (x.is_finite() && x >= 0.0).then(|| x.round() as u64)
    })
}

/// Writes the record of trial `number` of `study`, one part at a time as the search learns it.
pub struct RecordWriter<'a> {
    study: &'a mut Study,
    number: u64,
}

impl<'a> RecordWriter<'a> {
    /// The writer of trial `number`'s record.
    pub fn new(study: &'a mut Study, number: u64) -> Self {
        RecordWriter { study, number }
    }

    fn set(&mut self, key: &str, value: Value) -> Result<(), StudyError> {
        self.study.set_trial_attr(self.number, key, &value)
    }

    /// What is known when the trial starts: its bracket and how long its proposal took (its
    /// seed is stored with the trial itself, [`Trial::seed`]).
    pub fn started(&mut self, bracket: usize, ask_s: f64) -> Result<(), StudyError> {
        self.set(key::ASK_S, json!(ask_s))?;
        self.set(key::BRACKET, json!(bracket))
    }

    /// Its network: the runner's description (`{"arch": …, "recipe": …}`), its measurements
    /// and how long building it took.
    pub fn built(
        &mut self,
        network: &Value,
        measurements: &Measurements,
        build_s: f64,
    ) -> Result<(), StudyError> {
        self.set(key::NETWORK, network.clone())?;
        self.set(key::BUILD_S, json!(build_s))?;
        self.set(key::MEASUREMENTS, json!(measurements))
    }

    /// The result of `rung` and the trial's cost so far.
    pub fn rung(&mut self, rung: usize, score: &SegmentScore, cost: f64) -> Result<(), StudyError> {
        self.set(&format!("{}{rung}", key::RUNG_PREFIX), json!(score))?;
        self.set(key::COST, json!(cost))
    }

    /// Paused at `rung` (`None`: no longer paused).
    pub fn paused(&mut self, rung: Option<usize>) -> Result<(), StudyError> {
        self.set(key::PAUSED, json!(rung))
    }

    /// Why the search stopped it early.
    pub fn stopped(&mut self, why: &str) -> Result<(), StudyError> {
        self.set(key::STOPPED, json!(why))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nas_core::space::Config;

    #[test]
    fn a_trial_without_attributes_has_an_empty_record() {
        let record = TrialRecord::of(&Trial::running(4, Config::new()));
        assert_eq!(record, TrialRecord::default());
        assert_eq!(record.top_rung(), None);
        assert_eq!(record.measurements(), None);
    }

    #[test]
    fn the_top_rung_counts_rung_results_and_intermediate_values() {
        let mut trial = Trial::running(1, Config::new());
        trial
            .attrs
            .insert("rung0".into(), json!({"accuracy": 0.5, "loss": 1.0}));
        trial.intermediate.insert(0, vec![0.5]);
        // A crash after the intermediate value of rung 1, before its result.
        trial.intermediate.insert(1, vec![0.6]);
        let record = TrialRecord::of(&trial);
        assert_eq!(record.top_rung(), Some(1));
        assert_eq!(record.rungs_reached(), vec![0, 1]);
        assert_eq!(record.top_accuracy(), None, "rung 1 has no result");
        assert_eq!(record.rungs[&0].accuracy, 0.5);
    }

    #[test]
    fn the_schedulers_read_the_cost_of_a_stored_rung() {
        // Cost-aware promotion (nas-core) reads what the writer stores, by its own key names.
        let score = SegmentScore {
            accuracy: 0.8,
            cost: 1654.5,
            ..SegmentScore::default()
        };
        let mut trial = Trial::running(3, Config::new());
        trial
            .attrs
            .insert(format!("{}{}", key::RUNG_PREFIX, 2), json!(score));
        assert_eq!(nas_core::schedule::cost_at(&trial, 2), Some(1654.5));
        assert_eq!(nas_core::schedule::cost_at(&trial, 0), None);
        assert_eq!(TrialRecord::of(&trial).rungs[&2].cost, 1654.5);
    }

    #[test]
    fn odd_or_null_attributes_read_as_absent() {
        let mut trial = Trial::running(2, Config::new());
        trial.attrs.insert("paused_at".into(), Value::Null);
        trial.attrs.insert("cost".into(), json!("a lot"));
        trial.attrs.insert("rung0".into(), json!([1, 2]));
        trial.attrs.insert("rungx".into(), json!({"accuracy": 0.9}));
        trial
            .attrs
            .insert("measurements".into(), json!({"macs": 6.9e6, "params": -3}));
        let record = TrialRecord::of(&trial);
        assert_eq!(record.paused_at, None);
        assert_eq!(record.cost, None);
        assert!(record.rungs.is_empty());
        assert_eq!(record.macs, Some(6_900_000), "a float count is rounded");
        assert_eq!(record.params, None, "a negative count is not one");
    }
}
