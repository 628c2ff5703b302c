//! The report's contents and renderings on a realistic study, a study still running and an
//! empty one.

mod common;

use common::{report_of, space, trials, DIRECTIONS};
use nas_core::space::Config;
use nas_core::study::{best_of, Trial, TrialState};
use serde_json::Value;

#[test]
fn pareto_numbers_are_those_of_best_of() {
    let trials = trials();
    let report = report_of(&trials, Some(&space()));
    let complete: Vec<Trial> = trials
        .iter()
        .filter(|t| t.state == TrialState::Complete)
        .cloned()
        .collect();
    let mut expected: Vec<u64> = best_of(complete, &DIRECTIONS)
        .iter()
        .map(|t| t.number)
        .collect();
    expected.sort_unstable();
    assert!(
        expected.len() >= 2,
        "the fixture has a real front: {expected:?}"
    );
    assert_eq!(report.pareto_numbers(), expected);
    let flagged: Vec<u64> = report
        .trials
        .iter()
        .filter(|r| r.on_pareto)
        .map(|r| r.number)
        .collect();
    assert_eq!(flagged, expected);
}

#[test]
fn counts_and_best_follow_the_trials() {
    let report = report_of(&trials(), None);
    let c = report.counts;
    assert_eq!(
        (c.total, c.complete, c.pruned, c.fail, c.running, c.waiting),
        (25, 12, 7, 3, 2, 1)
    );
    let best = report.best.as_ref().expect("a best trial");
    let top_accuracy = report
        .pareto
        .iter()
        .filter_map(|r| r.value(0))
        .fold(f64::NEG_INFINITY, f64::max);
    assert_eq!(best.value(0), Some(top_accuracy));
}

#[test]
fn hypervolume_history_never_decreases_and_grows() {
    let report = report_of(&trials(), None);
    let points = &report.history.points;
    assert_eq!(points.len(), 22, "one point per finished trial");
    let volumes: Vec<f64> = points
        .iter()
        .map(|p| p.hypervolume.expect("two objectives"))
        .collect();
    assert!(volumes.windows(2).all(|w| w[1] >= w[0]), "{volumes:?}");
    assert!(volumes.last() > volumes.first());
    let best: Vec<f64> = points.iter().filter_map(|p| p.best).collect();
    assert!(
        best.windows(2).all(|w| w[1] >= w[0]),
        "accuracy is maximised: {best:?}"
    );
    let reference = report
        .history
        .reference_point
        .as_ref()
        .expect("a reference point");
    let worst_accuracy = report
        .pareto
        .iter()
        .chain(&report.trials)
        .filter(|r| r.state == TrialState::Complete)
        .filter_map(|r| r.value(0))
        .fold(f64::INFINITY, f64::min);
    assert!(
        reference[0] < worst_accuracy,
        "reference accuracy below every trial's"
    );
}

#[test]
fn rows_survive_trials_without_attributes() {
    let report = report_of(&trials(), None);
    let built_never = report
        .trials
        .iter()
        .find(|r| r.number == 11)
        .expect("trial 11");
    assert_eq!(built_never.state, TrialState::Fail);
    assert_eq!(
        (built_never.accuracy, built_never.arch.as_ref()),
        (None, None)
    );
    let waiting = report
        .trials
        .iter()
        .find(|r| r.number == 24)
        .expect("trial 24");
    assert!(waiting.curve.is_empty() && waiting.latency_ms.is_none());
    let pruned = report
        .trials
        .iter()
        .find(|r| r.number == 1)
        .expect("trial 1");
    assert_eq!(pruned.top_rung, Some(0));
    assert!(
        pruned.accuracy.is_some()
            && pruned
                .arch
                .as_deref()
                .is_some_and(|a| a.starts_with("stem "))
    );
}

#[test]
fn csv_has_a_header_and_one_row_per_trial() {
    let report = report_of(&trials(), Some(&space()));
    let mut out = Vec::new();
    report.write_csv(&mut out).expect("CSV written");
    let mut reader = csv::Reader::from_reader(out.as_slice());
    let header: Vec<String> = reader
        .headers()
        .expect("a header")
        .iter()
        .map(String::from)
        .collect();
    assert_eq!(
        header.join(","),
        "number,state,value_accuracy,value_latency_ms,accuracy,params,macs,latency_ms,\
         cost_gmacs,top_rung,duration_s,on_pareto,arch,fail_reason,arch.stem_width,\
         stage1.width,stage1.depth,stage1.block,lr,optimizer,sgd.momentum",
        "fixed columns, then the space's parameters in order"
    );
    let records: Vec<csv::StringRecord> = reader.records().collect::<Result<_, _>>().expect("rows");
    assert_eq!(records.len(), 25);
    assert!(records.iter().all(|r| r.len() == header.len()));
    let params = header.iter().position(|h| h == "params").expect("params");
    let counts: Vec<&str> = records
        .iter()
        .map(|r| &r[params])
        .filter(|p| !p.is_empty())
        .collect();
    assert!(
        counts.len() >= 12 && counts.iter().all(|p| p.parse::<u64>().is_ok()),
        "weight counts are whole numbers: {counts:?}"
    );
    let optimizer = header
        .iter()
        .position(|h| h == "optimizer")
        .expect("optimizer column");
    assert!(
        records
            .iter()
            .all(|r| ["sgd", "adamw"].contains(&&r[optimizer])),
        "bare strings"
    );
}

#[test]
fn json_parses_back_with_every_part() {
    let report = report_of(&trials(), Some(&space()));
    let json: Value = serde_json::from_str(&report.to_json()).expect("valid JSON");
    for key in [
        "study",
        "objectives",
        "counts",
        "best",
        "pareto",
        "trials",
        "history",
        "agreement",
        "importance",
    ] {
        assert!(json.get(key).is_some(), "no key {key}");
    }
    // The fixture's 12 complete trials gain 0.04 from rung 0 to rung 1: the same order.
    let agreement = &json["agreement"][0];
    assert_eq!(
        (
            &agreement["rung"],
            &agreement["top_rung"],
            &agreement["trials"]
        ),
        (&Value::from(0), &Value::from(1), &Value::from(12))
    );
    let rho = agreement["rho"].as_f64().expect("a ρ");
    assert!((rho - 1.0).abs() < 1e-12, "{rho}");
    assert_eq!(json["trials"].as_array().map(Vec::len), Some(25));
    assert_eq!(json["counts"]["complete"], 12);
    assert_eq!(json["objectives"][1]["direction"], "minimize");
    assert_eq!(
        json["pareto"].as_array().map(Vec::len),
        Some(report.pareto.len())
    );
    assert!(json["history"]["points"][0]["hypervolume"].is_number());
    let first = &json["trials"][0];
    assert!(
        first["param_count"].is_u64() && first["macs"].is_u64(),
        "counts are JSON integers: {first}"
    );
    assert!(!json["importance"]["params"]
        .as_array()
        .expect("params")
        .is_empty());
}

#[test]
fn terminal_table_lists_every_pareto_trial() {
    let report = report_of(&trials(), None);
    let table = report.terminal_table();
    assert!(table.contains("25 trials: 12 complete, 7 pruned, 3 failed, 2 running, 1 waiting"));
    assert!(table.contains("Best: trial"));
    assert!(
        table.contains("Rung agreement with the top rung 1")
            && table.contains("rung 0 ρ 1.00 over 12 trials"),
        "{table}"
    );
    for row in &report.pareto {
        let arch = row.arch.as_deref().expect("an architecture");
        let line = table
            .lines()
            .find(|l| l.contains(arch))
            .unwrap_or_else(|| panic!("no row for {arch}"));
        assert!(line.contains(&row.number.to_string()), "{line}");
    }
}

#[test]
fn html_escapes_what_trials_carry() {
    let mut trials = trials();
    trials[5].fail_reason = Some("<script>alert('x')</script>".to_string());
    let report = report_of(&trials, None);
    let html = report.to_html();
    assert!(!html.contains("<script"), "a script got through");
    assert!(
        html.contains("&lt;script&gt;alert("),
        "the reason is shown escaped"
    );
    assert!(!html.contains("<b>markup</b>"));
    for id in [
        "pareto-latency",
        "pareto-params",
        "history",
        "hypervolume",
        "curves",
        "importance",
        "pareto-table",
    ] {
        assert!(html.contains(&format!("id=\"{id}\"")), "no #{id}");
    }
    assert!(
        !html.contains("src=") && !html.contains("href=") && !html.contains("url("),
        "fetches nothing"
    );
    assert!(html.contains("<title>trial "), "hover titles on the points");
}

#[test]
fn an_empty_study_renders_everywhere() {
    let report = report_of(&[], None);
    assert_eq!(report.counts.total, 0);
    assert!(report.pareto_numbers().is_empty() && report.best.is_none());
    assert!(report.history.points.is_empty());
    assert!(report.importance.unavailable.is_some());
    let html = report.to_html();
    assert!(html.contains("no complete trials yet") || html.contains("no finished trial"));
    assert!(html.contains("importance not available"));
    assert!(report.terminal_table().contains("no complete trial yet"));
    let mut out = Vec::new();
    report.write_csv(&mut out).expect("CSV written");
    assert_eq!(
        String::from_utf8_lossy(&out).lines().count(),
        1,
        "header only"
    );
    let json: Value = serde_json::from_str(&report.to_json()).expect("valid JSON");
    assert_eq!(json["trials"], Value::Array(vec![]));
}

#[test]
fn a_study_with_only_running_trials_renders() {
    let trials: Vec<Trial> = (0..3).map(|n| Trial::running(n, Config::new())).collect();
    let report = report_of(&trials, None);
    assert_eq!(report.counts.running, 3);
    assert!(report.history.points.is_empty());
    let html = report.to_html();
    assert!(html.contains("id=\"pareto-table\"") && html.contains("No complete trials yet"));
}

#[test]
fn a_single_objective_study_has_a_best_trial_and_no_hypervolume() {
    let mut trials = trials();
    for t in &mut trials {
        t.values = t.values.as_ref().map(|v| vec![v[0]]);
    }
    let names = vec!["accuracy".to_string()];
    let report = nas_report::Report::build(&nas_report::ReportInput {
        study: "single",
        directions: &[nas_core::study::Direction::Maximize],
        value_names: &names,
        trials: &trials,
        space: None,
    });
    assert_eq!(report.pareto.len(), 1);
    assert_eq!(
        report.best.as_ref().map(|b| b.number),
        Some(report.pareto_numbers()[0])
    );
    assert!(report.history.reference_point.is_none());
    assert!(report
        .history
        .points
        .iter()
        .all(|p| p.hypervolume.is_none()));
    let html = report.to_html();
    assert!(!html.contains("id=\"hypervolume\""));
    assert!(html.contains("<h2>Best trial</h2>"));
}

#[test]
fn infeasible_trials_leave_the_front_and_the_hypervolume() {
    let trials = trials();
    let feasible = report_of(&trials, None);
    let best = feasible.best.as_ref().expect("a best trial").number;
    let mut constrained = trials.clone();
    for t in constrained
        .iter_mut()
        .filter(|t| t.state == TrialState::Complete)
    {
        t.constraints = Some(vec![if t.number == best { 1.0 } else { -1.0 }]);
    }
    let report = report_of(&constrained, None);
    assert!(!report.pareto_numbers().contains(&best));
    let last = |r: &nas_report::Report| r.history.points.last().and_then(|p| p.hypervolume);
    assert!(
        last(&report) < last(&feasible),
        "the best trial's volume is gone"
    );
}
