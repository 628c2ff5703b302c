//! A realistic study for the tests: two objectives (accuracy ↑, latency_ms ↓), trials in
//! every state with the attributes the search writes (`arch`, `measurements`, `rungN`, `cost`,
//! `stopped`), built deterministically.

#![allow(dead_code)]

use nas_core::space::{Condition, Config, Distribution, Param, ParamValue, SearchSpace};
use nas_core::study::{Direction, Trial, TrialState};
use nas_report::{Report, ReportInput};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::json;

/// The study's directions.
pub const DIRECTIONS: [Direction; 2] = [Direction::Maximize, Direction::Minimize];

/// The study's objective names.
pub fn value_names() -> Vec<String> {
    vec!["accuracy".to_string(), "latency_ms".to_string()]
}

/// An unconditional integer parameter.
pub fn int_param(name: &str, low: i64, high: i64, step: i64) -> Param {
    Param {
        name: name.to_string(),
        distribution: Distribution::Int {
            low,
            high,
            log: false,
            step,
        },
        conditions: vec![],
    }
}

/// An unconditional float parameter, log-scaled when `log`.
pub fn float_param(name: &str, low: f64, high: f64, log: bool) -> Param {
    Param {
        name: name.to_string(),
        distribution: Distribution::Float {
            low,
            high,
            log,
            step: None,
        },
        conditions: vec![],
    }
}

/// An unconditional categorical parameter of strings.
pub fn choice_param(name: &str, choices: &[&str]) -> Param {
    Param {
        name: name.to_string(),
        distribution: Distribution::Categorical {
            choices: choices
                .iter()
                .map(|c| ParamValue::Str(c.to_string()))
                .collect(),
        },
        conditions: vec![],
    }
}

/// A small conditional space like the default one.
pub fn space() -> SearchSpace {
    let params = vec![
        int_param("arch.stem_width", 8, 64, 8),
        int_param("stage1.width", 8, 128, 8),
        int_param("stage1.depth", 1, 3, 1),
        choice_param(
            "stage1.block",
            &["vanilla", "bottleneck", "inverted_residual"],
        ),
        float_param("lr", 1e-4, 1e-1, true),
        choice_param("optimizer", &["sgd", "adamw"]),
        Param {
            conditions: vec![Condition::In {
                parent: "optimizer".to_string(),
                values: vec![ParamValue::Str("sgd".to_string())],
            }],
            ..float_param("sgd.momentum", 0.8, 0.99, false)
        },
    ];
    SearchSpace::new(params).expect("a valid space")
}

/// What a trial's configuration makes of it.
struct Outcome {
    accuracy: f64,
    latency_ms: f64,
    params: u64,
    macs: u64,
}

/// A configuration drawn from the space.
fn config(rng: &mut ChaCha8Rng) -> Config {
    let mut c = Config::new();
    let blocks = ["vanilla", "bottleneck", "inverted_residual"];
    c.insert(
        "arch.stem_width".into(),
        ParamValue::Int(8 * rng.random_range(1..=8)),
    );
    c.insert(
        "stage1.width".into(),
        ParamValue::Int(8 * rng.random_range(1..=16)),
    );
    c.insert(
        "stage1.depth".into(),
        ParamValue::Int(rng.random_range(1..=3)),
    );
    let block = blocks[rng.random_range(0..3)];
    c.insert("stage1.block".into(), ParamValue::Str(block.into()));
    c.insert(
        "lr".into(),
        ParamValue::Float(10f64.powf(rng.random_range(-4.0..-1.0))),
    );
    if rng.random_bool(0.5) {
        c.insert("optimizer".into(), ParamValue::Str("sgd".into()));
        c.insert(
            "sgd.momentum".into(),
            ParamValue::Float(rng.random_range(0.8..0.99)),
        );
    } else {
        c.insert("optimizer".into(), ParamValue::Str("adamw".into()));
    }
    c
}

fn int(c: &Config, name: &str) -> i64 {
    c.get(name).and_then(ParamValue::as_i64).unwrap_or(1)
}

/// Wider, deeper networks are more accurate and slower; a learning rate near 3e-3 helps.
fn outcome(c: &Config) -> Outcome {
    let width = int(c, "stage1.width") as f64;
    let depth = int(c, "stage1.depth") as f64;
    let stem = int(c, "arch.stem_width") as f64;
    let lr = c.get("lr").and_then(ParamValue::as_f64).unwrap_or(1e-3);
    let capacity = (width * depth).ln();
    let lr_penalty = 0.05 * (lr.log10() + 2.5).powi(2);
    Outcome {
        accuracy: (0.45 + 0.07 * capacity - lr_penalty).clamp(0.1, 0.97),
        latency_ms: 0.1 + 0.004 * width * depth + 0.002 * stem,
        params: (stem * 9.0 + width * width * 9.0 * depth + width * 1290.0) as u64,
        macs: (stem * 9.0 * 784.0 + width * width * 9.0 * depth * 196.0) as u64,
    }
}

/// The `arch` attribute, as the search writes it.
fn arch_attr(c: &Config) -> serde_json::Value {
    let block = match c.get("stage1.block").and_then(ParamValue::as_str) {
        Some("bottleneck") => json!({"kernel": 5, "reduction": 4, "type": "bottleneck"}),
        Some("inverted_residual") => json!({"activation": "relu", "expansion": 6, "kernel": 3,
                                            "se_ratio": 0.25, "type": "inverted_residual"}),
        _ => json!({"kernel": 3, "type": "vanilla"}),
    };
    json!({
        "arch": {
            "head": {"conv_width": 128, "dropout": 0.2},
            "input": {"channels": 1, "height": 28, "width": 28},
            "num_classes": 10,
            "stages": [{"block": block, "depth": int(c, "stage1.depth"), "stride": 2,
                        "width": int(c, "stage1.width")}],
            "stem": {"kernel": 3, "stride": 1, "width": int(c, "arch.stem_width")},
            "version": 1
        },
        "recipe": "sgd(m=0.895, wd=2.4e-4) lr=6.64e-3 batch=64 epochs=2 warmup=0 smoothing=0.1",
        "total_images": 36667
    })
}

/// A trial that trained through `rungs` rungs, reaching `accuracy` at the last.
fn trained(number: u64, c: Config, o: &Outcome, rungs: u64, start: f64) -> Trial {
    let mut t = Trial::running(number, c.clone());
    t.started_at = Some(start);
    t.finished_at = Some(start + 30.0 * rungs as f64);
    t.attrs.insert("arch".into(), arch_attr(&c));
    t.attrs.insert(
        "measurements".into(),
        json!({"latency_ms": o.latency_ms, "macs": o.macs, "params": o.params}),
    );
    t.attrs.insert("bracket".into(), json!(0));
    t.attrs.insert("seed".into(), json!(number));
    let mut cost = 0.0;
    for rung in 0..rungs {
        let left = (rungs - 1 - rung) as f64;
        let accuracy = o.accuracy - 0.04 * left;
        cost += 20.0 * (rung + 1) as f64;
        t.intermediate.insert(rung, vec![accuracy, o.latency_ms]);
        t.attrs.insert(
            format!("rung{rung}"),
            json!({"accuracy": accuracy, "cost": cost, "images": 12224 * (rung + 1),
                   "loss": 1.0 - accuracy, "resolution": 14 * (rung + 1),
                   "timings": {"train_s": 1.5}, "train_loss": 1.2}),
        );
    }
    t.attrs.insert("cost".into(), json!(cost));
    t
}

/// 25 trials: 12 complete (2 rungs), 7 pruned (1 rung), 3 failed (one after a rung, one
/// before building, one with markup in its reason), 2 running, 1 waiting.
pub fn trials() -> Vec<Trial> {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut trials = Vec::new();
    let mut clock = 1_795_923_180.0;
    for number in 0..25u64 {
        let c = config(&mut rng);
        let o = outcome(&c);
        let trial = match number {
            21 | 22 => running(number, c, &o, clock, number == 21),
            24 => waiting(number, c),
            5 | 11 | 17 => failed(number, c, &o, clock),
            n if n % 3 == 1 => pruned(number, c, &o, clock),
            _ => complete(number, c, &o, clock),
        };
        clock += 45.0;
        trials.push(trial);
    }
    trials
}

fn complete(number: u64, c: Config, o: &Outcome, start: f64) -> Trial {
    let mut t = trained(number, c, o, 2, start);
    t.state = TrialState::Complete;
    t.values = Some(vec![o.accuracy, o.latency_ms]);
    t
}

fn pruned(number: u64, c: Config, o: &Outcome, start: f64) -> Trial {
    let mut t = trained(number, c, o, 1, start);
    t.state = TrialState::Pruned;
    t.attrs
        .insert("stopped".into(), json!("stopped by the scheduler"));
    t
}

fn failed(number: u64, c: Config, o: &Outcome, start: f64) -> Trial {
    let mut t = match number {
        5 => trained(number, c, o, 1, start),
        _ => Trial::running(number, c),
    };
    t.state = TrialState::Fail;
    t.started_at = Some(start);
    t.finished_at = Some(start + 3.0);
    t.fail_reason = Some(match number {
        5 => "diverged: loss is NaN at rung 1".to_string(),
        11 => "cannot build the model: stage 1 width 0".to_string(),
        _ => "odd <b>markup</b> & \"quotes\" in a reason".to_string(),
    });
    t
}

fn running(number: u64, c: Config, o: &Outcome, start: f64, with_rung: bool) -> Trial {
    let mut t = match with_rung {
        true => trained(number, c, o, 1, start),
        false => Trial::running(number, c),
    };
    t.state = TrialState::Running;
    t.started_at = Some(start);
    t.finished_at = None;
    t
}

fn waiting(number: u64, c: Config) -> Trial {
    let mut t = Trial::running(number, c);
    t.state = TrialState::Waiting;
    t
}

/// The report of `trials` in the two-objective study `demo`.
pub fn report_of(trials: &[Trial], space: Option<&SearchSpace>) -> Report {
    let names = value_names();
    Report::build(&ReportInput {
        study: "demo",
        directions: &DIRECTIONS,
        value_names: &names,
        trials,
        space,
    })
}
