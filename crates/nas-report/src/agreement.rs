//! Rung agreement: how closely each rung of the fidelity ladder ranks trials as the top rung
//! does — Spearman's ρ between the validation accuracies at rung r and at the highest rung
//! over the trials that reported both. A cheap rung is worth trusting only as far as its
//! ranking agrees with the top rung's; this is the measure a fidelity ladder is calibrated by.
//!
//! Only trials promoted to the top rung count, so the ρ is that of the survivors of rung r (a
//! narrower range of accuracies than rung r saw, which lowers ρ): read it as a lower bound on
//! how well rung r ranks the whole population.

use serde::Serialize;

use crate::data::TrialRow;

/// Fewest trials with both accuracies that a ρ is given for.
pub const MIN_AGREEMENT_TRIALS: usize = 3;

/// How rung `rung` ranks the trials that also reached `top_rung`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RungAgreement {
    /// The lower rung.
    pub rung: u64,
    /// The highest rung any trial reported.
    pub top_rung: u64,
    /// Trials with an accuracy at both rungs.
    pub trials: usize,
    /// Spearman's ρ of the two accuracies (ties share their mean rank); `None` with fewer than
    /// [`MIN_AGREEMENT_TRIALS`] trials or when every trial scored the same at one of the rungs.
    pub rho: Option<f64>,
}

/// The agreement of every rung below the top one that some trial reached at the top too, in
/// rung order; empty when no trial reported more than one rung.
pub(crate) fn measure(rows: &[TrialRow]) -> Vec<RungAgreement> {
    let Some(top_rung) = rows
        .iter()
        .filter_map(|r| r.curve.last())
        .map(|p| p.rung)
        .max()
    else {
        return Vec::new();
    };
    let at = |row: &TrialRow, rung: u64| {
        row.curve
            .iter()
            .find(|p| p.rung == rung)
            .map(|p| p.accuracy)
    };
    (0..top_rung)
        .filter_map(|rung| {
            let (low, top): (Vec<f64>, Vec<f64>) = rows
                .iter()
                .filter_map(|row| Some((at(row, rung)?, at(row, top_rung)?)))
                .unzip();
            (!low.is_empty()).then(|| RungAgreement {
                rung,
                top_rung,
                trials: low.len(),
                rho: (low.len() >= MIN_AGREEMENT_TRIALS)
                    .then(|| spearman(&low, &top))
                    .flatten(),
            })
        })
        .collect()
}

/// Spearman's rank correlation of two equally long samples: Pearson's correlation of their
/// mean ranks; `None` when either sample has no spread.
pub fn spearman(a: &[f64], b: &[f64]) -> Option<f64> {
    assert_eq!(a.len(), b.len(), "spearman needs paired samples");
    pearson(&mean_ranks(a), &mean_ranks(b))
}

/// The rank of each value, 1 for the smallest; tied values share the mean of their ranks.
fn mean_ranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&i, &j| values[i].total_cmp(&values[j]));
    let mut ranks = vec![0.0; values.len()];
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && values[order[end]] == values[order[start]] {
            end += 1;
        }
        // Positions start..end (0-based) hold ranks start+1..=end: their mean.
        let rank = (start + 1 + end) as f64 / 2.0;
        for &i in &order[start..end] {
            ranks[i] = rank;
        }
        start = end;
    }
    ranks
}

/// Pearson's correlation; `None` when either sample is constant.
fn pearson(a: &[f64], b: &[f64]) -> Option<f64> {
    let n = a.len() as f64;
    let (mean_a, mean_b) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let (mut cov, mut var_a, mut var_b) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        let (dx, dy) = (x - mean_a, y - mean_b);
        cov += dx * dy;
        var_a += dx * dx;
        var_b += dy * dy;
    }
    (var_a > 0.0 && var_b > 0.0).then(|| (cov / (var_a * var_b).sqrt()).clamp(-1.0, 1.0))
}

/// `rung agreement with the top rung (Spearman ρ): rung 0 0.61 over 11 trials; …`, or empty
/// when no rung below the top has a trial that reached the top too.
pub(crate) fn text(agreement: &[RungAgreement]) -> String {
    let Some(first) = agreement.first() else {
        return String::new();
    };
    let parts: Vec<String> = agreement
        .iter()
        .map(|a| match a.rho {
            Some(rho) => format!("rung {} ρ {rho:.2} over {} trials", a.rung, a.trials),
            None => format!(
                "rung {} ρ — ({} trial(s) with both, or no spread)",
                a.rung, a.trials
            ),
        })
        .collect();
    format!(
        "Rung agreement with the top rung {} (Spearman ρ of validation accuracy over the trials that reached both): {}\n",
        first.top_rung,
        parts.join("; ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use nas_core::space::Config;
    use nas_core::study::{Trial, TrialState};

    /// A row whose accuracy at rung k is `curve[k]` (NaN: no report at that rung).
    fn row(number: u64, curve: &[f64]) -> TrialRow {
        let mut trial = Trial::running(number, Config::new());
        trial.state = TrialState::Pruned;
        for (rung, &accuracy) in curve.iter().enumerate() {
            if accuracy.is_finite() {
                trial.intermediate.insert(rung as u64, vec![accuracy]);
            }
        }
        TrialRow::from_trial(&trial, &["accuracy".to_string()])
    }

    #[test]
    fn ranks_share_their_mean_when_tied() {
        assert_eq!(mean_ranks(&[0.3, 0.1, 0.3, 0.2]), [3.5, 1.0, 3.5, 2.0]);
        assert_eq!(mean_ranks(&[]), Vec::<f64>::new());
    }

    #[test]
    fn spearman_reads_order_not_scale() {
        let low = [0.50, 0.60, 0.70, 0.80];
        assert_eq!(spearman(&low, &[0.81, 0.82, 0.90, 0.99]), Some(1.0));
        assert_eq!(spearman(&low, &[0.9, 0.8, 0.7, 0.1]), Some(-1.0));
        // One swap among four: 1 - 6·(1 + 1)/(4·15) = 0.8.
        let rho = spearman(&low, &[0.82, 0.81, 0.90, 0.99]).unwrap();
        assert!((rho - 0.8).abs() < 1e-12, "{rho}");
        assert_eq!(spearman(&low, &[0.5; 4]), None, "no spread at the top");
    }

    #[test]
    fn each_lower_rung_is_compared_with_the_top_over_the_trials_that_reached_both() {
        let nan = f64::NAN;
        let rows = vec![
            row(0, &[0.60, 0.70, 0.80]),
            row(1, &[0.65, 0.72, 0.85]),
            row(2, &[0.70, 0.69, 0.90]),
            row(3, &[0.90, nan, nan]),  // pruned at rung 0: not in any pair
            row(4, &[0.55, 0.80, nan]), // pruned at rung 1
        ];
        let agreement = measure(&rows);
        assert_eq!(agreement.len(), 2);
        assert_eq!((agreement[0].rung, agreement[0].top_rung), (0, 2));
        assert_eq!(agreement[0].trials, 3);
        assert_eq!(agreement[0].rho, Some(1.0));
        assert_eq!((agreement[1].rung, agreement[1].trials), (1, 3));
        // Rung 1 puts trial 2 last, the top rung first: ρ = 1 - 6·(4 + 1 + 1)/(3·8) = -0.5.
        let rho = agreement[1].rho.unwrap();
        assert!((rho + 0.5).abs() < 1e-12, "{rho}");
        let line = text(&agreement);
        assert!(
            line.contains("top rung 2") && line.contains("rung 0 ρ 1.00 over 3 trials"),
            "{line}"
        );
    }

    #[test]
    fn too_few_trials_at_the_top_give_no_rho() {
        let rows = vec![row(0, &[0.6, 0.7]), row(1, &[0.5, 0.8]), row(2, &[0.4])];
        let agreement = measure(&rows);
        assert_eq!(agreement.len(), 1);
        assert_eq!((agreement[0].trials, agreement[0].rho), (2, None));
        assert!(text(&agreement).contains("rung 0 ρ —"));
        assert!(measure(&[row(0, &[0.6]), row(1, &[0.7])]).is_empty());
        assert_eq!(text(&[]), "");
    }
}
