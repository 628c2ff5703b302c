//! [`Pick`]: which trial of a study `nas export` retrains.
//!
//! It picks among the rows of the study's [`Report`] (`nas-report`'s [`TrialRow`]s, read from
//! each trial's `nas_search::TrialRecord`), on purpose: `--pick knee` or `--pick
//! best-accuracy` then names exactly the trial the report shows as such, by the same Pareto
//! front, feasibility and accuracy rules.

use nas_core::pareto::pareto_front_indices;
use nas_core::study::TrialState;
use nas_report::{Objective, Report, TrialRow};

/// How to choose the trial to export.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pick {
    /// The complete trial with the highest validation accuracy.
    BestAccuracy,
    /// The knee of the Pareto front: the front member farthest from the line between its two
    /// extremes, objectives scaled to [0, 1] (two objectives); the member nearest the ideal
    /// point otherwise.
    Knee,
    /// The most accurate complete trial with at most this many trainable parameters.
    MaxParams(u64),
    /// The most accurate complete trial with a measured latency of at most this many ms.
    MaxLatencyMs(f64),
    /// Trial number `k`, whatever its state, as long as it has an architecture.
    Trial(u64),
}

/// Why no trial could be picked.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PickError {
    /// `--pick` was not understood.
    #[error(
        "unknown --pick `{0}`: use best-accuracy, knee, max-params N, max-latency-ms T or trial K"
    )]
    Unknown(String),
    /// The pick's number is missing or not a number.
    #[error("--pick {what} needs a number, got `{got}`")]
    BadNumber {
        /// The pick.
        what: &'static str,
        /// What was given.
        got: String,
    },
    /// No trial meets the pick.
    #[error("no trial of the study meets --pick {0}")]
    NoneFits(String),
}

impl Pick {
    /// Parses `best-accuracy`, `knee`, `max-params N`, `max-latency-ms T` or `trial K` (the
    /// words as separate arguments or joined by `=`).
    pub fn parse(words: &[String]) -> Result<Pick, PickError> {
        let joined = words.join(" ");
        let mut parts = joined.split([' ', '=']).filter(|s| !s.is_empty());
        let kind = parts.next().unwrap_or("best-accuracy");
        let number = parts.next().unwrap_or("");
        let bad = |what: &'static str| PickError::BadNumber {
            what,
            got: number.to_owned(),
        };
        let pick = match kind {
            "best-accuracy" => Pick::BestAccuracy,
            "knee" => Pick::Knee,
            "max-params" => Pick::MaxParams(number.parse().map_err(|_| bad("max-params"))?),
            "max-latency-ms" => {
                let t: f64 = number.parse().map_err(|_| bad("max-latency-ms"))?;
                if t.is_nan() || t <= 0.0 {
                    return Err(bad("max-latency-ms"));
                }
                Pick::MaxLatencyMs(t)
            }
            "trial" => Pick::Trial(number.parse().map_err(|_| bad("trial"))?),
            _ => return Err(PickError::Unknown(joined)),
        };
        let takes_number = !matches!(pick, Pick::BestAccuracy | Pick::Knee);
        if parts.next().is_some() || (!takes_number && !number.is_empty()) {
            return Err(PickError::Unknown(joined));
        }
        Ok(pick)
    }

    /// The trial this pick chooses among the rows of a study's report (see
    /// [`nas_report::Report`]): only trials that recorded a valid architecture qualify.
    pub fn choose<'r>(&self, report: &'r Report) -> Result<&'r TrialRow, PickError> {
        let exportable = |r: &&TrialRow| r.arch.is_some();
        let complete = || {
            report
                .trials
                .iter()
                .filter(|r| r.state == TrialState::Complete)
                .filter(exportable)
        };
        let accuracy = |r: &TrialRow| r.accuracy.unwrap_or(f64::NEG_INFINITY);
        let most_accurate = |fits: &dyn Fn(&TrialRow) -> bool| {
            complete().filter(|r| fits(r)).max_by(|a, b| {
                accuracy(a)
                    .total_cmp(&accuracy(b))
                    .then(b.number.cmp(&a.number))
            })
        };
        let chosen = match *self {
            Pick::BestAccuracy => most_accurate(&|_| true),
            Pick::MaxParams(n) => most_accurate(&|r| r.param_count.is_some_and(|p| p <= n)),
            Pick::MaxLatencyMs(ms) => most_accurate(&|r| r.latency_ms.is_some_and(|l| l <= ms)),
            Pick::Knee => {
                // Feasible trials only, unless none is (as the report's front).
                let mut candidates: Vec<&TrialRow> = complete().filter(|r| r.feasible).collect();
                if candidates.is_empty() {
                    candidates = complete().collect();
                }
                knee(&candidates, &report.objectives)
            }
            Pick::Trial(k) => report
                .trials
                .iter()
                .filter(exportable)
                .find(|r| r.number == k),
        };
        chosen.ok_or_else(|| PickError::NoneFits(self.to_string()))
    }
}

impl Pick {
    /// What the pick chooses, in words: `most accurate`, `knee of the front`,
    /// `most accurate ≤ 50000 params`, `most accurate ≤ 2 ms`, `trial 7`.
    pub fn label(&self) -> String {
        match self {
            Pick::BestAccuracy => "most accurate".into(),
            Pick::Knee => "knee of the front".into(),
            Pick::MaxParams(n) => format!("most accurate ≤ {n} params"),
            Pick::MaxLatencyMs(t) => format!("most accurate ≤ {t} ms"),
            Pick::Trial(k) => format!("trial {k}"),
        }
    }
}

/// What a search ends with: the most accurate complete trial, the knee of the front (with
/// several objectives) and the most accurate trial under each of `limits` (`max-params`,
/// `max-latency-ms` picks), each with the trial it chooses; a pick that chooses none is left
/// out.
pub fn answers<'r>(report: &'r Report, limits: &[Pick]) -> Vec<(Pick, &'r TrialRow)> {
    let mut picks = vec![Pick::BestAccuracy];
    if report.objectives.len() > 1 {
        picks.push(Pick::Knee);
    }
    picks.extend_from_slice(limits);
    picks
        .into_iter()
        .filter_map(|pick| Some((pick, pick.choose(report).ok()?)))
        .collect()
}

impl std::fmt::Display for Pick {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Pick::BestAccuracy => write!(f, "best-accuracy"),
            Pick::Knee => write!(f, "knee"),
            Pick::MaxParams(n) => write!(f, "max-params {n}"),
            Pick::MaxLatencyMs(t) => write!(f, "max-latency-ms {t}"),
            Pick::Trial(k) => write!(f, "trial {k}"),
        }
    }
}

/// The knee of the Pareto front of `rows` (see [`Pick::Knee`]).
fn knee<'r>(rows: &[&'r TrialRow], objectives: &[Objective]) -> Option<&'r TrialRow> {
    let losses: Vec<Vec<f64>> = rows
        .iter()
        .map(|r| {
            let values = r.values.as_deref().unwrap_or(&[]);
            objectives
                .iter()
                .zip(values)
                .map(|(o, &v)| o.direction.to_loss(v))
                .collect()
        })
        .collect();
    let front = pareto_front_indices(&losses);
    let scaled = scale_to_unit(&front.iter().map(|&i| losses[i].clone()).collect::<Vec<_>>());
    let best = match objectives.len() {
        2 => farthest_from_extremes_line(&scaled),
        _ => nearest_to_ideal(&scaled),
    }?;
    Some(rows[front[best]])
}

/// Each coordinate mapped to [0, 1] over the points (0 when all are equal).
fn scale_to_unit(points: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let dims = points.first().map_or(0, Vec::len);
    let range = |d: usize| {
        let values = points.iter().map(|p| p[d]);
        let lo = values.clone().fold(f64::INFINITY, f64::min);
        let hi = values.fold(f64::NEG_INFINITY, f64::max);
        (lo, hi - lo)
    };
    let ranges: Vec<(f64, f64)> = (0..dims).map(range).collect();
    points
        .iter()
        .map(|p| {
            p.iter()
                .zip(&ranges)
                .map(|(v, (lo, span))| if *span > 0.0 { (v - lo) / span } else { 0.0 })
                .collect()
        })
        .collect()
}

/// Index of the point farthest below the line through the two extremes of a 2-D front
/// (losses scaled to [0, 1]); with fewer than three points, the one nearest the ideal.
fn farthest_from_extremes_line(points: &[Vec<f64>]) -> Option<usize> {
    if points.len() < 3 {
        return nearest_to_ideal(points);
    }
    let first = points.iter().min_by(|a, b| a[0].total_cmp(&b[0]))?;
    let last = points.iter().max_by(|a, b| a[0].total_cmp(&b[0]))?;
    let (dx, dy) = (last[0] - first[0], last[1] - first[1]);
    let norm = dx.hypot(dy).max(f64::MIN_POSITIVE);
    // Signed distance; the knee bulges towards the ideal point (0, 0), below the line.
    let below = |p: &Vec<f64>| (dx * (p[1] - first[1]) - dy * (p[0] - first[0])) / norm;
    (0..points.len()).min_by(|&a, &b| below(&points[a]).total_cmp(&below(&points[b])))
}

fn nearest_to_ideal(points: &[Vec<f64>]) -> Option<usize> {
    let distance = |p: &Vec<f64>| p.iter().map(|v| v * v).sum::<f64>();
    (0..points.len()).min_by(|&a, &b| distance(&points[a]).total_cmp(&distance(&points[b])))
}

#[cfg(test)]
mod tests {
    use super::*;
    use nas_core::study::{Direction, Trial};
    use nas_report::ReportInput;
    use serde_json::json;

    fn trial(number: u64, accuracy: f64, latency: f64, params: u64) -> Trial {
        let mut t = Trial::running(number, Default::default());
        t.state = TrialState::Complete;
        t.values = Some(vec![accuracy, latency]);
        let arch = nas_arch::preset("tiny").expect("a preset");
        t.attrs.insert("arch".into(), json!({ "arch": arch }));
        t.attrs.insert(
            "measurements".into(),
            json!({"latency_ms": latency, "params": params, "macs": 1}),
        );
        t
    }

    fn report(trials: &[Trial]) -> Report {
        Report::build(&ReportInput {
            study: "s",
            directions: &[Direction::Maximize, Direction::Minimize],
            value_names: &["accuracy".into(), "latency_ms".into()],
            trials,
            space: None,
        })
    }

    fn study() -> Report {
        let mut no_arch = trial(5, 0.99, 0.05, 10);
        no_arch.attrs.remove("arch");
        report(&[
            trial(0, 0.70, 0.2, 1_000),
            trial(1, 0.86, 0.5, 20_000), // the knee: nearly the best accuracy, fast
            trial(2, 0.88, 3.0, 90_000),
            trial(3, 0.60, 0.1, 500),
            trial(4, 0.80, 1.0, 30_000), // dominated by 1
            no_arch,                     // best everywhere, but nothing to export
        ])
    }

    fn pick(words: &str) -> u64 {
        let words: Vec<String> = words.split(' ').map(String::from).collect();
        let report = study();
        let p = Pick::parse(&words).expect("parses");
        p.choose(&report).expect("a trial").number
    }

    #[test]
    fn each_pick_chooses_its_trial() {
        assert_eq!(pick("best-accuracy"), 2);
        assert_eq!(pick("knee"), 1);
        assert_eq!(pick("max-params 25000"), 1);
        assert_eq!(pick("max-params=999"), 3);
        assert_eq!(pick("max-latency-ms 0.3"), 0);
        assert_eq!(pick("trial 4"), 4);
    }

    #[test]
    fn a_search_ends_with_the_best_the_knee_and_the_best_under_each_limit() {
        let report = study();
        let found: Vec<(String, u64)> =
            answers(&report, &[Pick::MaxParams(25_000), Pick::MaxParams(10)])
                .into_iter()
                .map(|(pick, row)| (pick.label(), row.number))
                .collect();
        // No trial has at most 10 parameters: that limit has no answer.
        assert_eq!(
            found,
            vec![
                ("most accurate".to_string(), 2),
                ("knee of the front".to_string(), 1),
                ("most accurate ≤ 25000 params".to_string(), 1),
            ]
        );
    }

    #[test]
    fn impossible_or_malformed_picks_say_what_is_wrong() {
        let report = study();
        let none = Pick::MaxParams(10).choose(&report);
        assert_eq!(none, Err(PickError::NoneFits("max-params 10".into())));
        assert!(Pick::Trial(99).choose(&report).is_err());
        assert!(
            Pick::Trial(5).choose(&report).is_err(),
            "no architecture to export"
        );
        let words = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
        assert!(matches!(
            Pick::parse(&words("max-params lots")),
            Err(PickError::BadNumber { .. })
        ));
        assert!(matches!(
            Pick::parse(&words("max-latency-ms -1")),
            Err(PickError::BadNumber { .. })
        ));
        assert!(matches!(
            Pick::parse(&words("fastest")),
            Err(PickError::Unknown(_))
        ));
        assert!(matches!(
            Pick::parse(&words("knee 3")),
            Err(PickError::Unknown(_))
        ));
    }
}
