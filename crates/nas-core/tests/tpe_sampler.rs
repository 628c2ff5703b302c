//! Behaviour of the TPE sampler: validity on conditional spaces, reproducibility, the
//! constant liar, and that it beats random search (its bandwidth does not collapse).

use nas_core::pareto::hypervolume;
use nas_core::sampler::{
    RandomSampler, SampleContext, Sampler, SamplerKind, TpeConfig, TpeSampler, WarmStart,
};
use nas_core::space::{Comparison, Condition, Config, Distribution, Param, SearchSpace};
use nas_core::study::{Direction, Trial, TrialState};

fn float(name: &str, low: f64, high: f64, log: bool) -> Param {
    Param {
        name: name.into(),
        distribution: Distribution::Float {
            low,
            high,
            log,
            step: None,
        },
        conditions: vec![],
    }
}

fn when(mut p: Param, parent: &str, values: &[&str]) -> Param {
    p.conditions.push(Condition::In {
        parent: parent.into(),
        values: values.iter().map(|&v| v.into()).collect(),
    });
    p
}

/// optimizer → {sgd: momentum, adam/adamw: beta1}; adamw/sgd: decay; layers → width2 when > 1.
fn conditional_space() -> SearchSpace {
    SearchSpace::new(vec![
        Param {
            name: "optimizer".into(),
            distribution: Distribution::Categorical {
                choices: vec!["sgd".into(), "adam".into(), "adamw".into()],
            },
            conditions: vec![],
        },
        float("lr", 1e-5, 1.0, true),
        when(float("momentum", 0.0, 0.99, false), "optimizer", &["sgd"]),
        when(
            float("beta1", 0.5, 0.999, false),
            "optimizer",
            &["adam", "adamw"],
        ),
        when(
            float("decay", 1e-6, 1e-1, true),
            "optimizer",
            &["sgd", "adamw"],
        ),
        Param {
            name: "layers".into(),
            distribution: Distribution::Int {
                low: 1,
                high: 4,
                log: false,
                step: 1,
            },
            conditions: vec![],
        },
        Param {
            name: "width2".into(),
            distribution: Distribution::Int {
                low: 8,
                high: 64,
                log: false,
                step: 8,
            },
            conditions: vec![Condition::Compare {
                parent: "layers".into(),
                op: Comparison::Gt,
                value: 1.0,
            }],
        },
    ])
    .unwrap()
}

fn num(c: &Config, k: &str) -> f64 {
    c.get(k).and_then(|v| v.as_f64()).unwrap_or(f64::NAN)
}

/// Best branch adamw at lr 1e-3, beta1 0.9, decay 1e-2; extra layers help.
fn conditional_loss(c: &Config) -> f64 {
    let lr = (num(c, "lr").log10() + 3.0).powi(2) / 4.0;
    let layers = (4.0 - num(c, "layers")) / 8.0;
    match c["optimizer"].as_str() {
        Some("sgd") => 0.5 + lr + (num(c, "momentum") - 0.9).powi(2) + layers,
        Some("adam") => 0.3 + lr + (num(c, "beta1") - 0.9).powi(2) + layers,
        _ => {
            lr + (num(c, "beta1") - 0.9).powi(2)
                + (num(c, "decay").log10() + 2.0).powi(2) / 9.0
                + layers
        }
    }
}

fn complete(number: u64, params: Config, values: Vec<f64>) -> Trial {
    let mut t = Trial::running(number, params);
    t.state = TrialState::Complete;
    t.values = Some(values);
    t
}

/// Runs `n` sequential trials and returns them.
fn run(
    sampler: &mut dyn Sampler,
    space: &SearchSpace,
    directions: &[Direction],
    n: usize,
    f: &dyn Fn(&Config) -> Vec<f64>,
) -> Vec<Trial> {
    let mut trials = Vec::new();
    for number in 0..n as u64 {
        let ctx = SampleContext {
            space,
            directions,
            trials: &trials,
            number,
        };
        let params = sampler.sample(&ctx).unwrap();
        space.check_config(&params).unwrap();
        let values = f(&params);
        trials.push(complete(number, params, values));
    }
    trials
}

fn best(trials: &[Trial]) -> f64 {
    trials
        .iter()
        .map(|t| t.values.as_ref().unwrap()[0])
        .fold(f64::INFINITY, f64::min)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn tpe(seed: u64, multivariate: bool) -> TpeSampler {
    TpeSampler::new(
        TpeConfig {
            multivariate,
            ..TpeConfig::default()
        },
        seed,
    )
}

#[test]
fn proposals_hold_exactly_the_active_parameters() {
    let space = conditional_space();
    for multivariate in [false, true] {
        let mut s = tpe(1, multivariate);
        let trials = run(&mut s, &space, &[Direction::Minimize], 60, &|c| {
            vec![conditional_loss(c)]
        });
        let sgd = trials
            .iter()
            .filter(|t| t.params["optimizer"].as_str() == Some("sgd"));
        assert!(sgd.clone().all(|t| t.params.contains_key("momentum")));
        assert!(trials.iter().any(|t| t.params.contains_key("width2")));
    }
}

/// What a multivariate sampler keeps between proposals (the encoded history sorted by
/// value, kernel constants, buffers) changes how fast it proposes, never what: at every ask
/// it proposes what a sampler seeing the history for the first time does. Trial 5 waits
/// until trial 60 is told, so the sampler that kept its history encodes it after trial 20,
/// which holds the same configuration (a queued copy): every value of theirs ties, in the
/// other order than their numbers.
#[test]
fn a_sampler_that_keeps_its_history_proposes_what_a_fresh_one_would() {
    let space = conditional_space();
    let directions = [Direction::Minimize];
    let sampler = || TpeSampler::new(TpeConfig::multivariate(), 3);
    let mut kept = sampler();
    let mut trials: Vec<Trial> = Vec::new();
    for number in 0..140u64 {
        let ctx = SampleContext {
            space: &space,
            directions: &directions,
            trials: &trials,
            number,
        };
        let params = kept.sample(&ctx).unwrap();
        assert_eq!(params, sampler().sample(&ctx).unwrap(), "trial {number}");
        let params = match number {
            20 => trials[5].params.clone(),
            _ => params,
        };
        let loss = conditional_loss(&params);
        let mut trial = complete(number, params, vec![loss]);
        if number == 5 {
            trial.state = TrialState::Waiting;
            trial.values = None;
        }
        trials.push(trial);
        if number == 60 {
            let waited = &mut trials[5];
            waited.state = TrialState::Complete;
            waited.values = Some(vec![conditional_loss(&waited.params) + 0.01]);
        }
    }
}

#[test]
fn same_seed_same_proposals_other_seed_other_proposals() {
    let space = conditional_space();
    let f = |c: &Config| vec![conditional_loss(c)];
    for multivariate in [false, true] {
        let a = run(
            &mut tpe(7, multivariate),
            &space,
            &[Direction::Minimize],
            40,
            &f,
        );
        let b = run(
            &mut tpe(7, multivariate),
            &space,
            &[Direction::Minimize],
            40,
            &f,
        );
        let c = run(
            &mut tpe(8, multivariate),
            &space,
            &[Direction::Minimize],
            40,
            &f,
        );
        let params = |ts: &[Trial]| ts.iter().map(|t| t.params.clone()).collect::<Vec<_>>();
        assert_eq!(params(&a), params(&b));
        assert_ne!(params(&a), params(&c));
    }
}

#[test]
fn tpe_beats_random_search_on_a_conditional_space() {
    let space = conditional_space();
    let f = |c: &Config| vec![conditional_loss(c)];
    let seeds = 0..9u64;
    let random = median(
        seeds
            .clone()
            .map(|s| {
                best(&run(
                    &mut RandomSampler::new(s),
                    &space,
                    &[Direction::Minimize],
                    80,
                    &f,
                ))
            })
            .collect(),
    );
    for multivariate in [false, true] {
        let ours = median(
            seeds
                .clone()
                .map(|s| {
                    best(&run(
                        &mut tpe(s, multivariate),
                        &space,
                        &[Direction::Minimize],
                        80,
                        &f,
                    ))
                })
                .collect(),
        );
        assert!(
            ours < random,
            "multivariate={multivariate}: tpe {ours} vs random {random}"
        );
    }
}

/// A narrow global basin far from a broad local one: a sampler whose kernels collapse onto the
/// first good region never finds the global basin and loses to random search.
#[test]
fn bandwidth_floor_keeps_tpe_ahead_of_random_on_a_deceptive_function() {
    let space = SearchSpace::new(vec![
        float("x", 0.0, 1.0, false),
        float("y", 0.0, 1.0, false),
    ])
    .unwrap();
    let f = |c: &Config| {
        let (x, y) = (num(c, "x"), num(c, "y"));
        let broad = 0.5 + ((x - 0.25).powi(2) + (y - 0.25).powi(2));
        let narrow = 2.0 * ((x - 0.85).powi(2) + (y - 0.8).powi(2)).sqrt();
        vec![broad.min(narrow)]
    };
    let seeds = 0..11u64;
    let random = median(
        seeds
            .clone()
            .map(|s| {
                best(&run(
                    &mut RandomSampler::new(s),
                    &space,
                    &[Direction::Minimize],
                    100,
                    &f,
                ))
            })
            .collect(),
    );
    let ours = median(
        seeds
            .map(|s| {
                best(&run(
                    &mut tpe(s, false),
                    &space,
                    &[Direction::Minimize],
                    100,
                    &f,
                ))
            })
            .collect(),
    );
    assert!(ours <= random, "tpe {ours} vs random {random}");
}

#[test]
fn constant_liar_spreads_concurrent_proposals() {
    let space = SearchSpace::new(vec![float("x", 0.0, 1.0, false)]).unwrap();
    let spread = |liar: bool, seed: u64| {
        let mut s = TpeSampler::new(
            // Many candidates make each proposal close to the argmax of l/g, so without the
            // liar every worker would propose nearly the same point.
            TpeConfig {
                constant_liar: liar,
                n_ei_candidates: 1000,
                ..TpeConfig::default()
            },
            seed,
        );
        let mut trials = run(&mut s, &space, &[Direction::Minimize], 30, &|c| {
            vec![(num(c, "x") - 0.5).powi(2)]
        });
        // Eight workers ask one after another; nobody has told yet.
        let mut xs = Vec::new();
        for number in 30..38 {
            let ctx = SampleContext {
                space: &space,
                directions: &[Direction::Minimize],
                trials: &trials,
                number,
            };
            let params = s.sample(&ctx).unwrap();
            xs.push(num(&params, "x"));
            trials.push(Trial::running(number, params));
        }
        let mut gaps = Vec::new();
        for i in 0..xs.len() {
            for j in 0..i {
                gaps.push((xs[i] - xs[j]).abs());
            }
        }
        median(gaps)
    };
    let with: f64 = (0..6).map(|s| spread(true, s)).sum();
    let without: f64 = (0..6).map(|s| spread(false, s)).sum();
    assert!(
        with > 1.5 * without,
        "median gap with liar {with}, without {without}"
    );
}

#[test]
fn constraints_steer_proposals_into_the_feasible_region() {
    let space = SearchSpace::new(vec![
        float("x", 0.0, 1.0, false),
        float("y", 0.0, 1.0, false),
    ])
    .unwrap();
    let feasible_share = |sampler: &mut dyn Sampler| {
        let mut trials = Vec::new();
        let mut feasible = 0;
        for number in 0..80u64 {
            let ctx = SampleContext {
                space: &space,
                directions: &[Direction::Minimize],
                trials: &trials,
                number,
            };
            let p = sampler.sample(&ctx).unwrap();
            // Objective prefers large x; the constraint forbids x + y > 0.6.
            let (x, y) = (num(&p, "x"), num(&p, "y"));
            let mut t = complete(number, p, vec![-x]);
            t.constraints = Some(vec![x + y - 0.6]);
            if number >= 20 && x + y <= 0.6 {
                feasible += 1;
            }
            trials.push(t);
        }
        feasible as f64 / 60.0
    };
    let ours: f64 = (0..5)
        .map(|s| feasible_share(&mut tpe(s, false)))
        .sum::<f64>()
        / 5.0;
    let random: f64 = (0..5)
        .map(|s| feasible_share(&mut RandomSampler::new(s)))
        .sum::<f64>()
        / 5.0;
    assert!(
        ours > random + 0.2,
        "feasible share tpe {ours}, random {random}"
    );
}

#[test]
fn multi_objective_tpe_finds_a_larger_hypervolume_than_random() {
    let space = SearchSpace::new(vec![
        float("x", 0.0, 1.0, false),
        float("y", 0.0, 1.0, false),
    ])
    .unwrap();
    // ZDT1-like front f2 = 1 - sqrt(f1) with a penalty g(y).
    let f = |c: &Config| {
        let (x, y) = (num(c, "x"), num(c, "y"));
        let g = 1.0 + 9.0 * y;
        vec![x, g * (1.0 - (x / g).sqrt())]
    };
    let directions = [Direction::Minimize, Direction::Minimize];
    let hv = |trials: Vec<Trial>| {
        let points: Vec<Vec<f64>> = trials.into_iter().map(|t| t.values.unwrap()).collect();
        hypervolume(&points, &[1.1, 11.0])
    };
    let seeds = 0..7u64;
    let random = median(
        seeds
            .clone()
            .map(|s| hv(run(&mut RandomSampler::new(s), &space, &directions, 60, &f)))
            .collect(),
    );
    let ours = median(
        seeds
            .map(|s| hv(run(&mut tpe(s, false), &space, &directions, 60, &f)))
            .collect(),
    );
    assert!(ours > random, "hypervolume tpe {ours}, random {random}");
}

/// The sampler caches encoded trials between proposals; a warm sampler must propose exactly
/// what a fresh one with the same seed proposes for the same history, also after trials it
/// saw running have finished.
#[test]
fn a_proposal_depends_only_on_seed_number_and_history() {
    let space = conditional_space();
    let f = |c: &Config| vec![conditional_loss(c)];
    for multivariate in [false, true] {
        let mut warm = tpe(5, multivariate);
        let mut trials = run(&mut warm, &space, &[Direction::Minimize], 30, &f);
        for number in 30..32 {
            let ctx = SampleContext {
                space: &space,
                directions: &[Direction::Minimize],
                trials: &trials,
                number,
            };
            let params = warm.sample(&ctx).unwrap();
            trials.push(Trial::running(number, params));
        }
        let propose = |s: &mut TpeSampler, trials: &[Trial]| {
            s.sample(&SampleContext {
                space: &space,
                directions: &[Direction::Minimize],
                trials,
                number: 32,
            })
            .unwrap()
        };
        assert_eq!(
            propose(&mut warm, &trials),
            propose(&mut tpe(5, multivariate), &trials)
        );
        for t in &mut trials[30..] {
            t.state = TrialState::Complete;
            t.values = Some(vec![conditional_loss(&t.params)]);
        }
        assert_eq!(
            propose(&mut warm, &trials),
            propose(&mut tpe(5, multivariate), &trials)
        );
    }
}

/// Median loss of `n` proposals made from the same `history` (nothing told in between).
fn median_proposal_loss(sampler: &mut dyn Sampler, history: &[Trial], n: u64) -> f64 {
    let space = conditional_space();
    let losses = (0..n)
        .map(|k| {
            let ctx = SampleContext {
                space: &space,
                directions: &[Direction::Minimize],
                trials: history,
                number: history.len() as u64 + k,
            };
            conditional_loss(&sampler.sample(&ctx).unwrap())
        })
        .collect();
    median(losses)
}

/// 40 random trials on the conditional space, complete with their loss.
fn earlier_study(seed: u64) -> Vec<Trial> {
    run(
        &mut RandomSampler::new(seed),
        &conditional_space(),
        &[Direction::Minimize],
        40,
        &|c| vec![conditional_loss(c)],
    )
}

#[test]
fn warm_start_steers_the_first_proposals_to_the_earlier_optimum() {
    // A new study with no trials of its own: cold TPE draws at random, warm TPE models the
    // earlier study's trials at once.
    for seed in 0..3 {
        let warm = WarmStart {
            trials: earlier_study(100 + seed),
            weight: 0.5,
        };
        let cold = median_proposal_loss(&mut tpe(seed, false), &[], 40);
        let warmed = median_proposal_loss(&mut tpe(seed, false).with_warm_start(warm), &[], 40);
        assert!(
            warmed < 0.7 * cold,
            "seed {seed}: warm-started median loss {warmed:.3} vs cold {cold:.3}"
        );
    }
}

#[test]
fn warm_start_needs_a_tpe_sampler() {
    let warm = || Some(WarmStart::default());
    assert!(SamplerKind::Random.build_warm(0, warm()).is_err());
    assert!(SamplerKind::Gp.build_warm(0, warm()).is_err());
    for kind in [
        SamplerKind::Tpe,
        SamplerKind::TpeMultivariate,
        SamplerKind::Bohb,
    ] {
        assert!(kind.build_warm(0, warm()).is_ok());
    }
}

#[test]
fn pruned_trials_with_reports_end_the_random_start_up() {
    // Every trial pruned at rung 0 with its loss reported there: no complete trial at all,
    // yet TPE models the reports (as Optuna does) and beats random proposals.
    let history: Vec<Trial> = earlier_study(7)
        .into_iter()
        .map(|mut t| {
            let loss = t.values.take().unwrap();
            t.state = TrialState::Pruned;
            t.intermediate.insert(0, loss);
            t
        })
        .collect();
    let tpe_median = median_proposal_loss(&mut tpe(1, false), &history, 40);
    let random_median = median_proposal_loss(&mut RandomSampler::new(1), &history, 40);
    assert!(
        tpe_median < 0.7 * random_median,
        "TPE median {tpe_median:.3} vs random {random_median:.3}"
    );
}
