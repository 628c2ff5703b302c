//! PED-ANOVA importance: a parameter that decides the objective outranks noise.

mod common;

use common::{choice_param, float_param};
use nas_core::space::{Config, ParamValue, SearchSpace};
use nas_core::study::{Direction, Trial, TrialState};
use nas_report::{Importance, Report, ReportInput};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn space() -> SearchSpace {
    SearchSpace::new(vec![
        float_param("signal", 0.0, 1.0, false),
        float_param("noise", 0.0, 1.0, false),
        float_param("lr", 1e-4, 1e-1, true),
        choice_param("colour", &["red", "green", "blue"]),
    ])
    .expect("a valid space")
}

/// `n` complete trials whose accuracy is `signal` (plus a little of `lr`), the rest random.
fn trials(n: u64, seed: u64) -> Vec<Trial> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|number| {
            let signal: f64 = rng.random_range(0.0..1.0);
            let lr = 10f64.powf(rng.random_range(-4.0..-1.0));
            let mut c = Config::new();
            c.insert("signal".into(), ParamValue::Float(signal));
            c.insert(
                "noise".into(),
                ParamValue::Float(rng.random_range(0.0..1.0)),
            );
            c.insert("lr".into(), ParamValue::Float(lr));
            let colour = ["red", "green", "blue"][rng.random_range(0..3)];
            c.insert("colour".into(), ParamValue::Str(colour.into()));
            let mut t = Trial::running(number, c);
            t.state = TrialState::Complete;
            t.values = Some(vec![signal + 0.01 * lr.log10()]);
            t
        })
        .collect()
}

fn importance(trials: &[Trial], space: Option<&SearchSpace>) -> Importance {
    let names = vec!["accuracy".to_string()];
    Report::build(&ReportInput {
        study: "importance",
        directions: &[Direction::Maximize],
        value_names: &names,
        trials,
        space,
    })
    .importance
}

fn share(imp: &Importance, name: &str) -> f64 {
    imp.params
        .iter()
        .find(|p| p.name == name)
        .map_or(0.0, |p| p.importance)
}

#[test]
fn the_deciding_parameter_outranks_noise() {
    for seed in [1, 2, 3] {
        let space = space();
        let imp = importance(&trials(200, seed), Some(&space));
        assert_eq!(imp.unavailable, None);
        assert_eq!(
            imp.params[0].name, "signal",
            "seed {seed}: {:?}",
            imp.params
        );
        let signal = share(&imp, "signal");
        assert!(signal > 0.6, "seed {seed}: {:?}", imp.params);
        for noise in ["noise", "colour"] {
            assert!(
                signal > 5.0 * share(&imp, noise),
                "seed {seed}: {:?}",
                imp.params
            );
        }
        let total: f64 = imp.params.iter().map(|p| p.importance).sum();
        assert!((total - 1.0).abs() < 1e-9);
    }
}

#[test]
fn without_a_space_the_observed_ranges_serve() {
    let imp = importance(&trials(120, 9), None);
    assert_eq!(imp.params[0].name, "signal", "{:?}", imp.params);
    assert_eq!(imp.params.len(), 4);
}

#[test]
fn the_result_is_deterministic() {
    let space = space();
    let trials = trials(80, 4);
    assert_eq!(
        importance(&trials, Some(&space)),
        importance(&trials, Some(&space))
    );
}

#[test]
fn too_few_trials_give_a_reason_instead() {
    let imp = importance(&trials(3, 5), None);
    assert!(imp.params.is_empty());
    let reason = imp.unavailable.expect("a reason");
    assert!(reason.contains("at least 4"), "{reason}");
}

#[test]
fn a_conditional_parameter_is_judged_where_active() {
    let mut trials = trials(100, 6);
    for t in trials.iter_mut().filter(|t| t.number % 2 == 1) {
        t.params.remove("signal");
    }
    let imp = importance(&trials, None);
    let signal = imp
        .params
        .iter()
        .find(|p| p.name == "signal")
        .expect("signal judged");
    assert_eq!(signal.trials, 50);
}
