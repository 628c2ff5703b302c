//! How a trial is scored: which objectives the study optimises, which constraints it must
//! meet, or one scalarised reward (MnasNet's).

use nas_core::study::Direction;
use serde::{Deserialize, Serialize};

use crate::runner::{Measurements, SegmentScore};

/// One objective of a study.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Objective {
    /// Validation accuracy, maximised.
    Accuracy,
    /// Inference latency in milliseconds, minimised.
    Latency,
    /// Trainable parameters, minimised.
    Params,
    /// Multiply-accumulates of one forward, minimised.
    Macs,
}

impl Objective {
    /// Parses `accuracy`, `latency`, `params` or `macs`.
    pub fn parse(s: &str) -> Option<Objective> {
        match s.trim() {
            "accuracy" | "acc" => Some(Objective::Accuracy),
            "latency" | "latency_ms" => Some(Objective::Latency),
            "params" | "parameters" => Some(Objective::Params),
            "macs" => Some(Objective::Macs),
            _ => None,
        }
    }

    /// The name in reports and CSV headers.
    pub fn name(self) -> &'static str {
        match self {
            Objective::Accuracy => "accuracy",
            Objective::Latency => "latency_ms",
            Objective::Params => "params",
            Objective::Macs => "macs",
        }
    }

    /// Maximise accuracy, minimise the rest.
    pub fn direction(self) -> Direction {
        match self {
            Objective::Accuracy => Direction::Maximize,
            _ => Direction::Minimize,
        }
    }

    fn value(self, score: &SegmentScore, m: &Measurements) -> f64 {
        match self {
            Objective::Accuracy => score.accuracy,
            Objective::Latency => m.latency_ms,
            Objective::Params => m.params as f64,
            Objective::Macs => m.macs as f64,
        }
    }
}

/// Hard limits on a network's cost; a trial over a limit is infeasible (c-TPE learns them,
/// and infeasible trials never enter the Pareto front while a feasible one exists).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Limits {
    /// Most trainable parameters.
    pub max_params: Option<u64>,
    /// Most milliseconds of latency.
    pub max_latency_ms: Option<f64>,
    /// Most multiply-accumulates.
    pub max_macs: Option<u64>,
}

impl Limits {
    /// Whether no limit is set.
    pub fn is_empty(&self) -> bool {
        self.max_params.is_none() && self.max_latency_ms.is_none() && self.max_macs.is_none()
    }

    /// One value per set limit, ≤ 0 when met: the excess relative to the limit.
    pub fn constraint_values(&self, m: &Measurements) -> Vec<f64> {
        let mut out = Vec::new();
        if let Some(max) = self.max_params {
            out.push(m.params as f64 / max as f64 - 1.0);
        }
        if let Some(max) = self.max_latency_ms {
            out.push(m.latency_ms / max - 1.0);
        }
        if let Some(max) = self.max_macs {
            out.push(m.macs as f64 / max as f64 - 1.0);
        }
        out
    }
}

/// MnasNet's reward `ACC × (LAT / T)^w` (Tan et al. 2019): one objective that trades
/// accuracy for latency around a target; `w` = −0.07 is their soft constraint.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MnasReward {
    /// The target latency T in milliseconds.
    pub target_ms: f64,
    /// The exponent w (negative).
    pub exponent: f64,
}

impl MnasReward {
    /// The reward of an accuracy at a latency.
    pub fn of(&self, accuracy: f64, latency_ms: f64) -> f64 {
        accuracy * (latency_ms / self.target_ms).powf(self.exponent)
    }
}

/// A study's scoring: the objectives (or the reward) and the limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scoring {
    /// The objectives, in the study's direction order (ignored under a reward).
    pub objectives: Vec<Objective>,
    /// Hard limits.
    pub limits: Limits,
    /// Scalarise accuracy and latency into MnasNet's reward instead.
    pub reward: Option<MnasReward>,
}

impl Default for Scoring {
    /// Accuracy against latency, no limits.
    fn default() -> Self {
        Scoring {
            objectives: vec![Objective::Accuracy, Objective::Latency],
            limits: Limits::default(),
            reward: None,
        }
    }
}

impl Scoring {
    /// The study's directions.
    pub fn directions(&self) -> Vec<Direction> {
        match self.reward {
            Some(_) => vec![Direction::Maximize],
            None => self.objectives.iter().map(|o| o.direction()).collect(),
        }
    }

    /// The names of the values, in order.
    pub fn value_names(&self) -> Vec<&'static str> {
        match self.reward {
            Some(_) => vec!["mnas_reward"],
            None => self.objectives.iter().map(|o| o.name()).collect(),
        }
    }

    /// The objective values of a segment's score.
    pub fn values(&self, score: &SegmentScore, m: &Measurements) -> Vec<f64> {
        match self.reward {
            Some(r) => vec![r.of(score.accuracy, m.latency_ms)],
            None => self.objectives.iter().map(|o| o.value(score, m)).collect(),
        }
    }

    /// The constraint values, `None` without limits.
    pub fn constraints(&self, m: &Measurements) -> Option<Vec<f64>> {
        (!self.limits.is_empty()).then(|| self.limits.constraint_values(m))
    }
}
