//! The BOHB sampler: which rung its model uses, that the model follows that rung's results,
//! and the share of random proposals.

use std::collections::BTreeMap;

use nas_core::sampler::{BohbChoice, BohbConfig, BohbSampler, SampleContext, Sampler, SamplerKind};
use nas_core::space::{Distribution, Param, ParamValue, SearchSpace};
use nas_core::study::{Direction, Trial, TrialState};

const MAX: [Direction; 1] = [Direction::Maximize];

fn unit_space() -> SearchSpace {
    SearchSpace::new(vec![Param {
        name: "x".into(),
        distribution: Distribution::Float {
            low: 0.0,
            high: 1.0,
            log: false,
            step: None,
        },
        conditions: vec![],
    }])
    .unwrap()
}

fn trial_at(number: u64, x: f64) -> Trial {
    Trial::running(
        number,
        BTreeMap::from([("x".to_string(), ParamValue::Float(x))]),
    )
}

/// `n` trials spread over [0, 1] in golden-ratio order (not sorted: TPE weighs old bad trials
/// down, so a history sorted by x would bias it); rung 0 peaks at x = 0.2. The first `promoted` of every
/// other trial also reached rung 1, which peaks at x = 0.8, and completed there.
fn history(n: u64, promoted: usize) -> Vec<Trial> {
    let mut reached_top = 0;
    (0..n)
        .map(|i| {
            let x = (0.5 + i as f64 * 0.618_033_988_75).fract();
            let mut t = trial_at(i, x);
            t.intermediate.insert(0, vec![-(x - 0.2).powi(2)]);
            t.state = TrialState::Pruned;
            if i % 2 == 0 && reached_top < promoted {
                reached_top += 1;
                let top = vec![-(x - 0.8).powi(2)];
                t.intermediate.insert(1, top.clone());
                t.values = Some(top);
                t.state = TrialState::Complete;
            }
            t
        })
        .collect()
}

fn x_of(config: &nas_core::space::Config) -> f64 {
    config["x"].as_f64().unwrap()
}

fn model_only() -> BohbConfig {
    BohbConfig {
        random_fraction: 0.0,
        ..BohbConfig::default()
    }
}

/// Share of `draws` proposals (numbers from `first`) within 0.15 of `target`.
fn share_near(sampler: &mut BohbSampler, trials: &[Trial], first: u64, target: f64) -> f64 {
    let space = unit_space();
    let draws = 60;
    let near = (first..first + draws)
        .filter(|&number| {
            let ctx = SampleContext {
                space: &space,
                directions: &MAX,
                trials,
                number,
            };
            (x_of(&sampler.sample(&ctx).unwrap()) - target).abs() < 0.15
        })
        .count();
    near as f64 / draws as f64
}

#[test]
fn model_follows_the_highest_rung_with_enough_points() {
    let space = unit_space();
    let trials = history(60, 25);
    let mut sampler = BohbSampler::new(model_only(), 7);
    let ctx = SampleContext {
        space: &space,
        directions: &MAX,
        trials: &trials,
        number: 60,
    };
    assert_eq!(sampler.min_points(&space), 2, "one parameter + 1");
    assert_eq!(sampler.choice(&ctx), BohbChoice::Model { rung: 1 });
    let near_top_peak = share_near(&mut sampler, &trials, 60, 0.8);
    assert!(near_top_peak > 0.7, "{near_top_peak} of proposals near 0.8");
}

#[test]
fn model_uses_rung_zero_while_rung_one_is_thin() {
    let space = unit_space();
    let trials = history(40, 0);
    let config = BohbConfig {
        min_points: Some(5),
        ..model_only()
    };
    let mut sampler = BohbSampler::new(config.clone(), 7);
    let ctx = SampleContext {
        space: &space,
        directions: &MAX,
        trials: &trials,
        number: 40,
    };
    assert_eq!(sampler.choice(&ctx), BohbChoice::Model { rung: 0 });
    let near_rung0_peak = share_near(&mut sampler, &trials, 40, 0.2);
    assert!(
        near_rung0_peak > 0.7,
        "{near_rung0_peak} of proposals near 0.2"
    );

    // Four results at rung 1 are fewer than 5: still rung 0; five switch the model.
    let four = history(40, 4);
    let ctx4 = SampleContext {
        trials: &four,
        ..ctx
    };
    assert_eq!(sampler.choice(&ctx4), BohbChoice::Model { rung: 0 });
    let five = history(40, 5);
    let ctx5 = SampleContext {
        trials: &five,
        ..ctx
    };
    assert_eq!(sampler.choice(&ctx5), BohbChoice::Model { rung: 1 });
    // Non-finite results do not count.
    let mut broken = history(40, 5);
    broken[0].intermediate.insert(1, vec![f64::NAN]);
    let ctx_broken = SampleContext {
        trials: &broken,
        ..ctx
    };
    assert_eq!(sampler.choice(&ctx_broken), BohbChoice::Model { rung: 0 });
}

#[test]
fn no_rung_with_enough_points_means_random() {
    let space = unit_space();
    let trials = vec![trial_at(0, 0.5)];
    let sampler = BohbSampler::new(model_only(), 1);
    let ctx = SampleContext {
        space: &space,
        directions: &MAX,
        trials: &trials,
        number: 1,
    };
    assert_eq!(sampler.choice(&ctx), BohbChoice::Random);
    let mut one = trials.clone();
    one[0].intermediate.insert(0, vec![1.0]);
    assert_eq!(
        sampler.choice(&SampleContext {
            trials: &one,
            ..ctx
        }),
        BohbChoice::Random
    );
}

#[test]
fn random_fraction_is_respected() {
    let space = unit_space();
    let trials = history(40, 15);
    for (fraction, seed) in [(1.0 / 3.0, 3), (0.1, 4)] {
        let config = BohbConfig {
            random_fraction: fraction,
            ..BohbConfig::default()
        };
        let sampler = BohbSampler::new(config, seed);
        let draws = 3000;
        let random = (0..draws)
            .filter(|&number| {
                let ctx = SampleContext {
                    space: &space,
                    directions: &MAX,
                    trials: &trials,
                    number,
                };
                sampler.choice(&ctx) == BohbChoice::Random
            })
            .count();
        let share = random as f64 / draws as f64;
        assert!(
            (share - fraction).abs() < 0.03,
            "{share} random, wanted {fraction}"
        );
    }
}

#[test]
fn proposals_are_reproducible_and_built_by_name() {
    let space = unit_space();
    let trials = history(40, 15);
    let ctx = SampleContext {
        space: &space,
        directions: &MAX,
        trials: &trials,
        number: 41,
    };
    let mut a = SamplerKind::parse("bohb").unwrap().build(5);
    let mut b = SamplerKind::Bohb.build(5);
    assert_eq!(a.name(), "bohb");
    assert_eq!(a.sample(&ctx).unwrap(), b.sample(&ctx).unwrap());
    assert!(SamplerKind::NAMES.contains(&"bohb"));
}
