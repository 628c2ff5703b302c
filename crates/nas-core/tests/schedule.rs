//! Fidelity ladders, ranking at a rung and the schedulers' decisions, on hand-worked examples.

use std::collections::BTreeMap;

use nas_core::schedule::{
    build, cost_at, rank_at_rung, Asha, Decision, FidelityLadder, Hyperband, LadderShape, MoRank,
    Promotion, Rung, RungContext, ScheduleError, ScheduleOptions, Scheduler, SchedulerKind,
    SuccessiveHalving, RUNG_ATTR_PREFIX, RUNG_COST_FIELD,
};
use nas_core::study::{Direction, Trial, TrialState};

const MAX: [Direction; 1] = [Direction::Maximize];
const ACC_LATENCY: [Direction; 2] = [Direction::Maximize, Direction::Minimize];

/// A running trial of `bracket` with no results yet.
fn joined(number: u64, bracket: u64) -> Trial {
    let mut t = Trial::running(number, BTreeMap::new());
    t.attrs.insert("bracket".into(), bracket.into());
    t
}

/// Records `values` at `rung` on trial `number` (which must be listed).
fn report(trials: &mut [Trial], number: u64, rung: u64, values: &[f64]) {
    let t = trials.iter_mut().find(|t| t.number == number).unwrap();
    t.intermediate.insert(rung, values.to_vec());
}

fn ctx<'a>(trials: &'a [Trial], directions: &'a [Direction]) -> RungContext<'a> {
    RungContext { trials, directions }
}

fn three_rungs(eta: u32) -> FidelityLadder {
    FidelityLadder::geometric(eta, 3, true, None).unwrap()
}

// ---------------------------------------------------------------- ladder

#[test]
fn geometric_ladder_shares_and_resolutions() {
    let ladder = FidelityLadder::geometric(3, 3, true, Some((14, 32))).unwrap();
    let shares: Vec<f64> = ladder.rungs().iter().map(|r| r.budget_share).collect();
    assert_eq!(shares, vec![1.0 / 9.0, 1.0 / 3.0, 1.0]);
    let data: Vec<f64> = ladder.rungs().iter().map(|r| r.data_fraction).collect();
    assert_eq!(data, shares);
    // rung 1: 14 · (32/14)^(1/2) = √448 ≈ 21.17 → 21
    let res: Vec<Option<u32>> = ladder.rungs().iter().map(|r| r.resolution).collect();
    assert_eq!(res, vec![Some(14), Some(21), None]);
    assert_eq!((ladder.len(), ladder.top(), ladder.eta()), (3, 2, 3.0));
    assert!(!ladder.is_empty());

    let flat = FidelityLadder::geometric(2, 2, false, None).unwrap();
    assert_eq!(flat.rungs()[0], Rung::at_budget(0.5));
    assert_eq!(FidelityLadder::full().rungs(), &[Rung::at_budget(1.0)]);
}

#[test]
fn a_balanced_ladder_costs_each_promotion_eta_times_the_rung_before() {
    // The quick preset's two rungs: 14 px, then 28.
    let two = FidelityLadder::balanced(3, 2, (14, 28)).unwrap();
    let rung0 = two.rungs()[0];
    assert!((rung0.budget_share - 4.0 / 7.0).abs() < 1e-12, "{rung0:?}");
    assert_eq!(rung0.data_fraction, rung0.budget_share);
    assert_eq!(rung0.resolution, Some(14));
    assert_eq!(two.rungs()[1], Rung::at_budget(1.0));
    for (eta, rungs, range) in [(3, 2, (14, 28)), (3, 4, (14, 28)), (2, 3, (8, 32))] {
        let ladder = FidelityLadder::balanced(eta, rungs, range).unwrap();
        for r in 1..rungs {
            let first = ladder.cost(r.checked_sub(2), r - 1, range.1);
            let promotion = ladder.cost(Some(r - 1), r, range.1);
            assert!(
                (promotion / first - f64::from(eta)).abs() < 1e-9,
                "η {eta}, rung {r}: {promotion} vs {first}"
            );
        }
        // The same resolutions as the geometric ladder.
        let geometric = FidelityLadder::geometric(eta, rungs, true, Some(range)).unwrap();
        let res = |l: &FidelityLadder| l.rungs().iter().map(|r| r.resolution).collect::<Vec<_>>();
        assert_eq!(res(&ladder), res(&geometric));
    }
    // At one resolution each increment is η times the one before: 1, 3 and 9 thirteenths
    // (the geometric ladder's first promotion costs η − 1 first rungs, the later ones η).
    let flat = FidelityLadder::balanced(3, 3, (28, 28)).unwrap();
    let shares: Vec<f64> = flat.rungs().iter().map(|r| r.budget_share).collect();
    assert!((shares[0] - 1.0 / 13.0).abs() < 1e-12 && (shares[1] - 4.0 / 13.0).abs() < 1e-12);
}

#[test]
fn a_ladder_shape_names_the_computed_ladder_it_builds() {
    for name in LadderShape::NAMES {
        let shape = LadderShape::parse(name).unwrap();
        assert_eq!(shape.name(), name);
    }
    assert_eq!(LadderShape::parse("steep"), None);
    assert_eq!(LadderShape::default(), LadderShape::Geometric);
    let computed = |shape| FidelityLadder::computed(shape, 3, 3, (14, 28)).unwrap();
    assert_eq!(
        computed(LadderShape::Balanced),
        FidelityLadder::balanced(3, 3, (14, 28)).unwrap()
    );
    assert_eq!(
        computed(LadderShape::Geometric),
        FidelityLadder::geometric(3, 3, true, Some((14, 28))).unwrap()
    );
    assert_ne!(
        computed(LadderShape::Balanced),
        computed(LadderShape::Geometric)
    );
}

#[test]
fn ladder_display() {
    let ladder = FidelityLadder::geometric(3, 3, true, Some((14, 32))).unwrap();
    assert_eq!(ladder.rungs()[0].to_string(), "11% budget, 11% data, 14 px");
    assert_eq!(
        ladder.to_string(),
        "rung 0: 11% budget, 11% data, 14 px\n\
         rung 1: 33% budget, 33% data, 21 px\n\
         rung 2: 100% budget, 100% data, full res"
    );
    let small = FidelityLadder::geometric(3, 4, false, None).unwrap();
    assert_eq!(
        small.rungs()[0].to_string(),
        "3.7% budget, 100% data, full res"
    );
}

#[test]
fn ladder_validation_names_rung_and_field() {
    let rung = |b, d, r| Rung {
        budget_share: b,
        data_fraction: d,
        resolution: r,
    };
    let err = |rungs: Vec<Rung>, eta| FidelityLadder::new(rungs, eta).unwrap_err();
    assert_eq!(
        err(
            vec![
                rung(0.3, 1.0, None),
                rung(0.2, 1.0, None),
                rung(1.0, 1.0, None)
            ],
            3.0
        )
        .to_string(),
        "rung 1: budget_share 0.2 is not larger than rung 0's 0.3"
    );
    assert_eq!(
        err(vec![rung(0.5, 1.0, None), rung(0.9, 1.0, None)], 3.0),
        ScheduleError::TopBudgetNotOne {
            rung: 1,
            value: 0.9
        }
    );
    assert_eq!(
        err(vec![rung(0.5, 0.5, None), rung(1.0, 0.25, None)], 3.0).to_string(),
        "rung 1: data_fraction 0.25 is smaller than rung 0's 0.5"
    );
    assert_eq!(
        err(vec![rung(0.5, 1.0, None), rung(1.0, 1.0, Some(16))], 3.0).to_string(),
        "rung 1: resolution 16 is smaller than rung 0's full"
    );
    assert_eq!(
        err(
            vec![rung(0.5, 1.0, Some(32)), rung(1.0, 1.0, Some(16))],
            3.0
        )
        .to_string(),
        "rung 1: resolution 16 is smaller than rung 0's 32"
    );
    assert_eq!(
        err(vec![rung(0.5, 0.0, None), rung(1.0, 1.0, None)], 3.0).to_string(),
        "rung 0: data_fraction 0 is not in (0, 1]"
    );
    assert_eq!(
        err(vec![rung(1.5, 1.0, None)], 3.0).to_string(),
        "rung 0: budget_share 1.5 is not in (0, 1]"
    );
    assert_eq!(
        err(vec![rung(1.0, 1.0, Some(0))], 3.0),
        ScheduleError::ZeroResolution { rung: 0 }
    );
    assert_eq!(err(vec![], 3.0), ScheduleError::NoRungs);
    assert_eq!(
        err(vec![rung(1.0, 1.0, None)], 1.5),
        ScheduleError::Eta { eta: 1.5 }
    );
    assert!(FidelityLadder::new(vec![rung(1.0, 1.0, None)], f64::NAN).is_err());
    assert_eq!(
        FidelityLadder::geometric(3, 0, false, None),
        Err(ScheduleError::NoRungs)
    );
    assert_eq!(
        FidelityLadder::geometric(1, 3, false, None),
        Err(ScheduleError::Eta { eta: 1.0 })
    );
    assert_eq!(
        FidelityLadder::geometric(3, 3, false, Some((40, 32))),
        Err(ScheduleError::ResolutionRange { min: 40, full: 32 })
    );
}

#[test]
fn ladder_cost_weighs_budget_by_pixels() {
    let plain = FidelityLadder::geometric(3, 3, true, None).unwrap();
    assert!((plain.cost(None, 2, 32) - 1.0).abs() < 1e-12);
    assert!((plain.cost(Some(0), 2, 32) - 8.0 / 9.0).abs() < 1e-12);
    assert!((plain.cost(Some(0), 1, 32) - 2.0 / 9.0).abs() < 1e-12);
    assert_eq!(plain.cost(Some(2), 2, 32), 0.0);
    // Two rungs: half the budget at 16 of 32 px (a quarter of the pixels), then full.
    let rungs = vec![
        Rung {
            budget_share: 0.5,
            data_fraction: 1.0,
            resolution: Some(16),
        },
        Rung::at_budget(1.0),
    ];
    let ladder = FidelityLadder::new(rungs, 2.0).unwrap();
    assert!((ladder.cost(None, 0, 32) - 0.125).abs() < 1e-12);
    assert!((ladder.cost(None, 1, 32) - 0.625).abs() < 1e-12);
    assert!((ladder.cost(Some(0), 1, 32) - 0.5).abs() < 1e-12);
    assert!(
        (ladder.cost(None, 7, 32) - 0.625).abs() < 1e-12,
        "clamped to the top"
    );
}

#[test]
fn rungs_read_from_toml() {
    #[derive(serde::Deserialize, serde::Serialize)]
    struct Fidelity {
        rungs: Vec<Rung>,
    }
    #[derive(serde::Deserialize)]
    struct Config {
        fidelity: Fidelity,
    }
    let text = r#"
        [[fidelity.rungs]]
        budget_share = 0.25
        data_fraction = 0.5
        resolution = 16

        [[fidelity.rungs]]
        budget_share = 1.0
    "#;
    let config: Config = toml::from_str(text).unwrap();
    assert_eq!(
        config.fidelity.rungs,
        vec![
            Rung {
                budget_share: 0.25,
                data_fraction: 0.5,
                resolution: Some(16)
            },
            Rung::at_budget(1.0),
        ]
    );
    let typo = "[[fidelity.rungs]]\nbudget_share = 1.0\nresolutoin = 8\n";
    assert!(toml::from_str::<Config>(typo).is_err());
    // Written back, a full-resolution rung leaves `resolution` out (TOML has no null).
    let written = toml::to_string(&config.fidelity).unwrap();
    assert!(!written.contains("resolution = 0") && written.matches("resolution").count() == 1);
    let again: Fidelity = toml::from_str(&written).unwrap();
    assert_eq!(again.rungs, config.fidelity.rungs);
}

// ---------------------------------------------------------------- ranking

fn points(values: &[&[f64]]) -> Vec<(u64, Vec<f64>)> {
    values
        .iter()
        .enumerate()
        .map(|(i, v)| (i as u64, v.to_vec()))
        .collect()
}

#[test]
fn single_objective_rank_by_loss_then_number() {
    let p = points(&[&[0.5], &[0.7], &[0.7], &[f64::NAN], &[0.9]]);
    assert_eq!(
        rank_at_rung(&p, &MAX, MoRank::Crowding),
        vec![4, 1, 2, 0, 3]
    );
    let min = [Direction::Minimize];
    assert_eq!(
        rank_at_rung(&p, &min, MoRank::Crowding),
        vec![0, 1, 2, 4, 3]
    );
    let wrong_length = points(&[&[0.5, 1.0], &[0.1]]);
    assert_eq!(
        rank_at_rung(&wrong_length, &MAX, MoRank::Crowding),
        vec![1, 0]
    );
}

/// Accuracy (max) and latency (min): trials 0–3 form the front, 4 is dominated by 1 and 2.
fn front_of_four() -> Vec<(u64, Vec<f64>)> {
    points(&[
        &[0.9, 10.0],
        &[0.8, 5.0],
        &[0.7, 1.0],
        &[0.85, 6.0],
        &[0.6, 8.0],
    ])
}

#[test]
fn multi_objective_rank_by_front_then_crowding() {
    // Crowding in the front (a, d, b, c by accuracy): a and c are extremes (∞);
    // b: 0.15/0.2 + 5/9 ≈ 1.31, d: 0.1/0.2 + 5/9 ≈ 1.06.
    assert_eq!(
        rank_at_rung(&front_of_four(), &ACC_LATENCY, MoRank::Crowding),
        vec![0, 2, 1, 3, 4]
    );
}

#[test]
fn front_extremes_tie_on_the_first_objective() {
    // Both are extremes (infinite crowding): the more accurate one ranks first even though
    // it is the later trial, so MO-ASHA with k = 1 keeps it.
    let p = points(&[&[0.7, 1.0], &[0.9, 10.0]]);
    assert_eq!(rank_at_rung(&p, &ACC_LATENCY, MoRank::Crowding), vec![1, 0]);
}

#[test]
fn multi_objective_rank_by_hypervolume_contribution() {
    // Reference: (−0.6 + 0.03, 10 + 0.9) = (−0.57, 10.9) in losses. Exclusive boxes:
    // a 0.05 × 0.9 = 0.045, d 0.05 × 4 = 0.2, b 0.1 × 1 = 0.1, c 0.13 × 4 = 0.52.
    assert_eq!(
        rank_at_rung(&front_of_four(), &ACC_LATENCY, MoRank::Hypervolume),
        vec![2, 3, 1, 0, 4]
    );
    // A flat objective gets +1 in the reference and leaves the order to the other one.
    let flat = points(&[&[0.5, 3.0], &[0.5, 3.0], &[0.4, 3.0]]);
    assert_eq!(
        rank_at_rung(&flat, &ACC_LATENCY, MoRank::Hypervolume),
        vec![0, 1, 2]
    );
}

#[test]
fn multi_objective_non_finite_ranks_last() {
    let mut p = front_of_four();
    p.push((5, vec![f64::INFINITY, 0.0]));
    p.push((6, vec![0.99, f64::NAN]));
    let ranking = rank_at_rung(&p, &ACC_LATENCY, MoRank::Crowding);
    assert_eq!(ranking, vec![0, 2, 1, 3, 4, 5, 6]);
}

// ---------------------------------------------------------------- ASHA

/// Reports `values` at rung 0 one trial at a time and collects each decision.
fn asha_sequence(scheduler: &dyn Scheduler, values: &[f64]) -> Vec<Decision> {
    let mut trials = Vec::new();
    values
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            trials.push(joined(i as u64, 0));
            report(&mut trials, i as u64, 0, &[v]);
            scheduler.decide(&ctx(&trials, &MAX), i as u64, 0)
        })
        .collect()
}

#[test]
fn asha_promotes_the_best_third_and_keeps_the_rest_waiting() {
    let asha = Asha::new(three_rungs(3), MoRank::Crowding);
    use Decision::{Continue, Pause};
    // n=1,2: nobody is promoted with fewer than eta results; n=3: k=1 and 0.6 < 0.7; n=4:
    // 0.9 best; n=5: k=1, 0.65 is not best; n=6: k=2, 0.8 is second.
    assert_eq!(
        asha_sequence(&asha, &[0.5, 0.7, 0.6, 0.9, 0.65, 0.8]),
        vec![Pause, Pause, Pause, Continue, Pause, Continue]
    );
}

#[test]
fn asha_promotes_a_waiting_trial_once_it_ranks_in_the_top_share() {
    let asha = Asha::new(three_rungs(3), MoRank::Crowding);
    let mut trials: Vec<Trial> = (0..6).map(|n| joined(n, 0)).collect();
    for (n, v) in [(0, 0.7), (1, 0.5)] {
        report(&mut trials, n, 0, &[v]);
    }
    let waiting = [(0, 0), (1, 0)];
    assert!(asha.review(&ctx(&trials, &MAX), &waiting).is_empty());
    // A third result: k = 1, and the best of the three is the first trial, still waiting.
    report(&mut trials, 2, 0, &[0.6]);
    let c = ctx(&trials, &MAX);
    assert_eq!(asha.decide(&c, 2, 0), Decision::Pause);
    assert_eq!(
        asha.review(&c, &[(0, 0), (1, 0), (2, 0)]),
        vec![(0, Decision::Continue)]
    );
    // Six results, k = 2: 0.9 and 0.7 are the top two; 0.6 keeps waiting.
    for (n, v) in [(3, 0.9), (4, 0.4), (5, 0.3)] {
        report(&mut trials, n, 0, &[v]);
    }
    let c = ctx(&trials, &MAX);
    assert_eq!(
        asha.review(&c, &[(1, 0), (2, 0), (3, 0), (4, 0), (5, 0)]),
        vec![(3, Decision::Continue)]
    );
    // A trial at chance is never promoted alone: the first at rung 1 waits too.
    report(&mut trials, 0, 1, &[0.1]);
    assert_eq!(asha.decide(&ctx(&trials, &MAX), 0, 1), Decision::Pause);
}

#[test]
fn asha_compares_only_within_a_rung() {
    let asha = Asha::new(three_rungs(3), MoRank::Crowding);
    let mut trials: Vec<Trial> = (0..4).map(|n| joined(n, 0)).collect();
    for (n, v) in [(0, 0.9), (1, 0.8), (2, 0.7)] {
        report(&mut trials, n, 0, &[v]);
    }
    // At rung 1 trial 3 competes with rung 1's results only: 0.1 against 0.2 and 0.15.
    report(&mut trials, 3, 0, &[0.95]);
    report(&mut trials, 3, 1, &[0.1]);
    report(&mut trials, 0, 1, &[0.2]);
    report(&mut trials, 1, 1, &[0.15]);
    let c = ctx(&trials, &MAX);
    assert_eq!(asha.decide(&c, 0, 1), Decision::Continue);
    assert_eq!(asha.decide(&c, 3, 1), Decision::Pause);
    assert_eq!(
        asha.decide(&c, 3, 0),
        Decision::Continue,
        "0.95 is best at rung 0"
    );
    // Failed and pruned trials' results still count; waiting trials have none. At rung 0:
    // 0.9, 0.8, 0.7 (failed), 0.95, 0.92, 0.1 (pruned) → n = 6, k = 2, and 0.92 is second.
    // Without the failed or the pruned trial k would be 1; with the waiting 0.99, 0.92 third.
    trials[2].state = TrialState::Fail;
    trials.push(joined(4, 0));
    report(&mut trials, 4, 0, &[0.92]);
    trials.push(joined(5, 0));
    trials[5].state = TrialState::Waiting;
    report(&mut trials, 5, 0, &[0.99]);
    trials.push(joined(6, 0));
    trials[6].state = TrialState::Pruned;
    report(&mut trials, 6, 0, &[0.1]);
    assert_eq!(asha.decide(&ctx(&trials, &MAX), 4, 0), Decision::Continue);
}

/// Records `values` at `rung` on trial `number` and the compute the rung took.
fn report_costing(trials: &mut [Trial], number: u64, rung: u64, values: &[f64], cost: f64) {
    report(trials, number, rung, values);
    let t = trials.iter_mut().find(|t| t.number == number).unwrap();
    t.attrs.insert(
        format!("{RUNG_ATTR_PREFIX}{rung}"),
        serde_json::json!({ RUNG_COST_FIELD: cost, "accuracy": values[0] }),
    );
}

#[test]
fn asha_by_cost_holds_a_heavy_trial_back_until_the_rung_can_afford_it() {
    let by_cost = Asha::new(three_rungs(3), MoRank::Crowding);
    let by_count = Asha::new(three_rungs(3), MoRank::Crowding).promoting(Promotion::ByCount);
    use Decision::{Continue, Pause};
    // Three results, k = 1: the best (0.8) cost 1,654 GMACs, the median 777. By count it is
    // promoted; by cost its promotion would exceed 1 × 777 and it waits.
    let mut trials: Vec<Trial> = (0..9).map(|n| joined(n, 0)).collect();
    for (n, acc, cost) in [(0, 0.8, 1654.0), (1, 0.7, 777.0), (2, 0.4, 60.0)] {
        report_costing(&mut trials, n, 0, &[acc], cost);
    }
    assert_eq!(cost_at(&trials[0], 0), Some(1654.0));
    let c = ctx(&trials, &MAX);
    assert_eq!(by_count.decide(&c, 0, 0), Continue);
    assert_eq!(by_cost.decide(&c, 0, 0), Pause);
    // Six results, k = 2, median (300 + 777) / 2 = 538.5, allowance 1,077: the heavy best
    // still does not fit, but the second best (0.75, 200 GMACs) is promoted past it, within
    // the top two. By count the top two are 0 and 3.
    for (n, acc, cost) in [(3, 0.75, 200.0), (4, 0.5, 300.0), (5, 0.3, 900.0)] {
        report_costing(&mut trials, n, 0, &[acc], cost);
    }
    let c = ctx(&trials, &MAX);
    let waiting: Vec<(u64, usize)> = (0..6).map(|n| (n, 0)).collect();
    assert_eq!(
        by_count.review(&c, &waiting),
        vec![(0, Continue), (3, Continue)]
    );
    assert_eq!(by_cost.review(&c, &waiting), vec![(3, Continue)]);
    // Nine results, k = 3, median 250 (of the eight recorded), allowance 750: still not. A
    // trial without a recorded cost counts as the median.
    for (n, acc, cost) in [(6, 0.2, 100.0), (7, 0.1, 50.0)] {
        report_costing(&mut trials, n, 0, &[acc], cost);
    }
    report(&mut trials, 8, 0, &[0.72]);
    let c = ctx(&trials, &MAX);
    assert_eq!(cost_at(&trials[8], 0), None);
    assert_eq!(by_cost.review(&c, &waiting[..1]), vec![]);
    assert_eq!(
        by_cost.decide(&c, 8, 0),
        Continue,
        "0.72 third: 200 + 250 ≤ 750"
    );
    // Where every trial costs the same, by cost is by count.
    let mut even: Vec<Trial> = (0..6).map(|n| joined(n, 0)).collect();
    for (n, acc) in [(0, 0.5), (1, 0.7), (2, 0.6), (3, 0.9), (4, 0.65), (5, 0.8)] {
        report_costing(&mut even, n, 0, &[acc], 100.0);
    }
    let c = ctx(&even, &MAX);
    let all: Vec<(u64, usize)> = (0..6).map(|n| (n, 0)).collect();
    assert_eq!(by_cost.review(&c, &all), by_count.review(&c, &all));
    assert_eq!(by_cost.review(&c, &all), vec![(3, Continue), (5, Continue)]);
}

#[test]
fn promotion_rules_parse_and_build_picks_one() {
    assert_eq!(Promotion::parse("cost"), Some(Promotion::ByCost));
    assert_eq!(Promotion::parse("count"), Some(Promotion::ByCount));
    assert_eq!(Promotion::parse("luck"), None);
    assert_eq!(ScheduleOptions::default().promotion, Promotion::ByCost);
    // Hyperband's brackets promote by the same rule: a heavy best of three waits by cost.
    let mut trials: Vec<Trial> = (0..3).map(|n| joined(n, 0)).collect();
    for (n, acc, cost) in [(0, 0.8, 1654.0), (1, 0.7, 777.0), (2, 0.4, 60.0)] {
        report_costing(&mut trials, n, 0, &[acc], cost);
    }
    let c = ctx(&trials, &MAX);
    for (promotion, want) in [
        (Promotion::ByCost, Decision::Pause),
        (Promotion::ByCount, Decision::Continue),
    ] {
        let options = ScheduleOptions {
            promotion,
            ..Default::default()
        };
        for kind in [SchedulerKind::Asha, SchedulerKind::Hyperband] {
            let scheduler = build(kind, three_rungs(3), &options);
            assert_eq!(scheduler.decide(&c, 0, 0), want, "{kind:?} {promotion:?}");
        }
    }
}

#[test]
fn mo_asha_stops_dominated_and_keeps_extremes() {
    let asha = Asha::new(three_rungs(2), MoRank::Crowding);
    let mut trials = Vec::new();
    for (n, v) in front_of_four() {
        trials.push(joined(n, 0));
        report(&mut trials, n, 0, &v);
    }
    let c = ctx(&trials, &ACC_LATENCY);
    // n=5, eta 2 → k=2: the ranking is 0, 2, 1, 3, 4.
    assert_eq!(asha.decide(&c, 4, 0), Decision::Pause, "dominated");
    assert_eq!(
        asha.decide(&c, 2, 0),
        Decision::Continue,
        "extreme, infinite crowding"
    );
    assert_eq!(
        asha.decide(&c, 3, 0),
        Decision::Pause,
        "front member, crowded"
    );
    let by_hv = Asha::new(three_rungs(2), MoRank::Hypervolume);
    assert_eq!(
        by_hv.decide(&c, 3, 0),
        Decision::Continue,
        "second largest contribution"
    );
    assert_eq!(
        by_hv.decide(&c, 0, 0),
        Decision::Pause,
        "smallest contribution"
    );
}

// ---------------------------------------------------------------- successive halving

/// Trials 0..9 of bracket 0 with these rung-0 accuracies.
const RUNG0: [f64; 9] = [0.3, 0.9, 0.5, 0.1, 0.8, 0.2, 0.7, 0.4, 0.6];

#[test]
fn sha_waits_for_the_whole_rung_then_keeps_a_third() {
    let sha = SuccessiveHalving::new(three_rungs(3), 9, MoRank::Crowding);
    assert_eq!(
        (sha.kept_at(0, 0), sha.kept_at(0, 1), sha.kept_at(0, 2)),
        (9, 3, 1)
    );
    assert_eq!(
        (sha.bracket_size(0), sha.bracket_size(5), sha.first_rung(5)),
        (9, 9, 0)
    );
    let mut trials: Vec<Trial> = (0..9).map(|n| joined(n, 0)).collect();
    let order = [4, 0, 7, 2, 8, 5, 1, 3, 6];
    let mut paused = Vec::new();
    for &n in &order[..8] {
        report(&mut trials, n, 0, &[RUNG0[n as usize]]);
        assert_eq!(sha.decide(&ctx(&trials, &MAX), n, 0), Decision::Pause);
        paused.push((n, 0));
        assert!(sha.review(&ctx(&trials, &MAX), &paused).is_empty());
    }
    report(&mut trials, 6, 0, &[0.7]);
    let c = ctx(&trials, &MAX);
    assert_eq!(
        sha.decide(&c, 6, 0),
        Decision::Continue,
        "0.7 is third best"
    );
    let mut released = sha.review(&c, &paused);
    released.sort_by_key(|(n, _)| *n);
    let expected: Vec<(u64, Decision)> = [0, 1, 2, 3, 4, 5, 7, 8]
        .iter()
        .map(|&n| {
            (
                n,
                if n == 1 || n == 4 {
                    Decision::Continue
                } else {
                    Decision::Stop
                },
            )
        })
        .collect();
    assert_eq!(released, expected);

    // Rung 1: the three promoted trials; the best one continues to the top.
    for (n, _) in released.iter().filter(|(_, d)| *d == Decision::Stop) {
        trials[*n as usize].state = TrialState::Pruned;
    }
    report(&mut trials, 1, 1, &[0.95]);
    assert_eq!(sha.decide(&ctx(&trials, &MAX), 1, 1), Decision::Pause);
    report(&mut trials, 4, 1, &[0.85]);
    assert_eq!(sha.decide(&ctx(&trials, &MAX), 4, 1), Decision::Pause);
    report(&mut trials, 6, 1, &[0.97]);
    let c = ctx(&trials, &MAX);
    assert_eq!(sha.decide(&c, 6, 1), Decision::Continue);
    let released = sha.review(&c, &[(1, 1), (4, 1)]);
    assert_eq!(released, vec![(1, Decision::Stop), (4, Decision::Stop)]);
}

#[test]
fn sha_decides_a_rung_with_a_failed_trial() {
    let sha = SuccessiveHalving::new(three_rungs(3), 9, MoRank::Crowding);
    let mut trials: Vec<Trial> = (0..9).map(|n| joined(n, 0)).collect();
    for n in (0..9).filter(|&n| n != 1 && n != 6) {
        report(&mut trials, n, 0, &[RUNG0[n as usize]]);
    }
    assert_eq!(
        sha.decide(&ctx(&trials, &MAX), 8, 0),
        Decision::Pause,
        "1 and 6 still running"
    );
    trials[1].state = TrialState::Fail; // the best one, had it finished
    assert_eq!(
        sha.decide(&ctx(&trials, &MAX), 8, 0),
        Decision::Pause,
        "6 still running"
    );
    report(&mut trials, 6, 0, &[0.7]);
    let c = ctx(&trials, &MAX);
    let decisions: Vec<Decision> = (0..9).map(|n| sha.decide(&c, n, 0)).collect();
    let promoted: Vec<u64> = (0..9)
        .filter(|&n| decisions[n as usize] == Decision::Continue)
        .collect();
    assert_eq!(
        promoted,
        vec![4, 6, 8],
        "0.8, 0.7, 0.6 without the failed 0.9"
    );
}

#[test]
fn sha_brackets_fill_in_start_order_and_stay_apart() {
    let sha = SuccessiveHalving::new(three_rungs(3), 3, MoRank::Crowding);
    let mut trials: Vec<Trial> = Vec::new();
    for number in 0..7 {
        let bracket = sha.bracket_for(&ctx(&trials, &MAX), number);
        assert_eq!(bracket, number as usize / 3);
        trials.push(joined(number, bracket as u64));
    }
    // Later trials do not change an earlier trial's answer; trials without the attribute
    // do not take a place.
    assert_eq!(sha.bracket_for(&ctx(&trials, &MAX), 4), 1);
    trials.push(Trial::running(7, BTreeMap::new()));
    assert_eq!(sha.bracket_for(&ctx(&trials, &MAX), 8), 2);

    // Bracket 1 (trials 3, 4, 5) decides on its own, whatever bracket 0 reports.
    for (n, v) in [(3, 0.2), (4, 0.6), (0, 0.99), (1, 0.98)] {
        report(&mut trials, n, 0, &[v]);
    }
    assert_eq!(sha.decide(&ctx(&trials, &MAX), 4, 0), Decision::Pause);
    report(&mut trials, 5, 0, &[0.4]);
    let c = ctx(&trials, &MAX);
    assert_eq!(
        sha.decide(&c, 4, 0),
        Decision::Continue,
        "m_1 = 1 of bracket 1"
    );
    assert_eq!(sha.decide(&c, 5, 0), Decision::Stop);
    assert_eq!(
        sha.decide(&c, 0, 0),
        Decision::Pause,
        "bracket 0 waits for trial 2"
    );
}

#[test]
fn sha_waits_until_the_bracket_is_full_and_stops_extra_members() {
    let sha = SuccessiveHalving::new(three_rungs(3), 3, MoRank::Crowding);
    let mut trials: Vec<Trial> = (0..2).map(|n| joined(n, 0)).collect();
    report(&mut trials, 0, 0, &[0.5]);
    report(&mut trials, 1, 0, &[0.4]);
    assert_eq!(
        sha.decide(&ctx(&trials, &MAX), 1, 0),
        Decision::Pause,
        "only 2 of 3 joined"
    );
    // A race puts four trials into the bracket: the fourth only waits, then stops.
    trials.push(joined(2, 0));
    trials.push(joined(3, 0));
    report(&mut trials, 3, 0, &[0.99]);
    assert_eq!(sha.decide(&ctx(&trials, &MAX), 3, 0), Decision::Pause);
    report(&mut trials, 2, 0, &[0.1]);
    let c = ctx(&trials, &MAX);
    assert_eq!(sha.decide(&c, 0, 0), Decision::Continue);
    assert_eq!(
        sha.review(&c, &[(1, 0), (3, 0)]),
        vec![(1, Decision::Stop), (3, Decision::Stop)]
    );
}

// ---------------------------------------------------------------- Hyperband

#[test]
fn hyperband_bracket_weights_follow_li_et_al() {
    let hb = Hyperband::new(three_rungs(3), MoRank::Crowding);
    // ⌈3·9/3⌉, ⌈3·3/2⌉, ⌈3·1/1⌉
    assert_eq!(hb.bracket_weights(), &[9, 5, 3]);
    let five = FidelityLadder::geometric(3, 5, false, None).unwrap();
    // Table 1 of Li et al. 2018 (R = 81, eta = 3): n = 81, 34, 15, 8, 5.
    let hb5 = Hyperband::new(five, MoRank::Crowding);
    assert_eq!(hb5.bracket_weights(), &[81, 34, 15, 8, 5]);
    assert_eq!(
        (0..5).map(|b| hb5.first_rung(b)).collect::<Vec<_>>(),
        vec![0, 1, 2, 3, 4]
    );
}

#[test]
fn hyperband_bracket_shares_match_the_weights() {
    let hb = Hyperband::new(three_rungs(3), MoRank::Crowding);
    // Total 17, stride 11: numbers 0, 1, 2, 3 land at positions 0, 11, 5, 16.
    let first: Vec<usize> = (0..4).map(|n| hb.bracket_of_number(n)).collect();
    assert_eq!(first, vec![0, 1, 0, 2]);
    let trials: Vec<Trial> = Vec::new();
    for start in [0, 5, 1000] {
        let mut counts = [0; 3];
        for n in start..start + 17 * 20 {
            counts[hb.bracket_for(&ctx(&trials, &MAX), n)] += 1;
        }
        assert_eq!(counts, [180, 100, 60], "window from {start}");
    }
    let mut counts = [0usize; 5];
    let five = Hyperband::new(
        FidelityLadder::geometric(3, 5, false, None).unwrap(),
        MoRank::Crowding,
    );
    for n in 0..10_000 {
        counts[five.bracket_of_number(n)] += 1;
    }
    for (b, &w) in five.bracket_weights().iter().enumerate() {
        let expected = 10_000.0 * w as f64 / 143.0;
        assert!(
            (counts[b] as f64 - expected).abs() <= w as f64,
            "bracket {b}: {counts:?}"
        );
    }
}

#[test]
fn hyperband_brackets_compete_only_among_themselves() {
    let hb = Hyperband::new(three_rungs(3), MoRank::Crowding);
    let mut trials = vec![joined(0, 0), joined(1, 1), joined(2, 1)];
    report(&mut trials, 0, 0, &[0.9]);
    report(&mut trials, 0, 1, &[0.9]);
    report(&mut trials, 1, 1, &[0.5]);
    report(&mut trials, 2, 1, &[0.4]);
    assert_eq!(
        hb.decide(&ctx(&trials, &MAX), 2, 1),
        Decision::Pause,
        "two results in bracket 1: nobody promoted yet"
    );
    trials.push(joined(3, 1));
    report(&mut trials, 3, 1, &[0.3]);
    let c = ctx(&trials, &MAX);
    assert_eq!(
        hb.review(&c, &[(1, 1), (2, 1), (3, 1)]),
        vec![(1, Decision::Continue)],
        "bracket 1 has three results; bracket 0's 0.9 is not among them"
    );
    // A trial without the attribute belongs to bracket 0, with trial 0.
    let mut plain = Trial::running(4, BTreeMap::new());
    plain.intermediate.insert(1, vec![0.6]);
    trials.push(plain);
    assert_eq!(hb.decide(&ctx(&trials, &MAX), 4, 1), Decision::Pause);
}

// ---------------------------------------------------------------- by name

#[test]
fn every_scheduler_builds_by_name() {
    let options = ScheduleOptions::default();
    assert_eq!((options.rank, options.bracket_size), (MoRank::Crowding, 9));
    for name in SchedulerKind::NAMES {
        let kind = SchedulerKind::parse(name).unwrap();
        let scheduler = build(kind, three_rungs(3), &options);
        assert_eq!(scheduler.name(), name);
        assert_eq!(scheduler.ladder().len(), 3);
        assert_eq!(scheduler.review(&ctx(&[], &MAX), &[]), vec![]);
    }
    assert_eq!(SchedulerKind::parse("halving"), None);
    let none = build(SchedulerKind::None, FidelityLadder::full(), &options);
    let trials = [joined(0, 0)];
    assert_eq!(none.decide(&ctx(&trials, &MAX), 0, 0), Decision::Continue);
    assert_eq!(
        (none.bracket_for(&ctx(&trials, &MAX), 1), none.first_rung(0)),
        (0, 0)
    );
    assert_eq!(MoRank::parse("hypervolume"), Some(MoRank::Hypervolume));
    assert!(MoRank::NAMES.iter().all(|n| MoRank::parse(n).is_some()));
}

#[test]
fn synchronous_hyperband_cycles_through_the_brackets() {
    let hb = Hyperband::synchronous(three_rungs(3), MoRank::Crowding);
    assert_eq!(hb.name(), "hyperband");
    // Brackets of 9 (from rung 0), 5 (from rung 1), 3 (from rung 2), then again.
    let mut trials: Vec<Trial> = Vec::new();
    let mut brackets = Vec::new();
    for number in 0..19 {
        let bracket = hb.bracket_for(&ctx(&trials, &MAX), number);
        brackets.push(bracket);
        trials.push(joined(number, bracket as u64));
    }
    let expected: Vec<usize> = [vec![0; 9], vec![1; 5], vec![2; 3], vec![3; 2]].concat();
    assert_eq!(brackets, expected);
    assert_eq!(
        (0..4).map(|b| hb.first_rung(b)).collect::<Vec<_>>(),
        vec![0, 1, 2, 0]
    );
    // Bracket 1: 5 trials at rung 1 keep ⌊5/3⌋ = 1 for rung 2.
    assert_eq!((hb.kept_at(1, 1), hb.kept_at(1, 2)), (5, 1));
    let bracket1: Vec<u64> = (9..14).collect();
    for &n in &bracket1[..4] {
        report(&mut trials, n, 1, &[n as f64 / 100.0]);
        assert_eq!(hb.decide(&ctx(&trials, &MAX), n, 1), Decision::Pause);
    }
    report(&mut trials, 13, 1, &[0.05]);
    let c = ctx(&trials, &MAX);
    assert_eq!(hb.decide(&c, 13, 1), Decision::Stop);
    let paused: Vec<(u64, usize)> = bracket1[..4].iter().map(|&n| (n, 1)).collect();
    let released = hb.review(&c, &paused);
    use Decision::{Continue, Stop};
    assert_eq!(
        released,
        vec![(9, Stop), (10, Stop), (11, Stop), (12, Continue)]
    );
}
