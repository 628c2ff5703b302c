//! Cost-aware promotion: a rung promotes no more compute than ⌊n / η⌋ typical trials would.
//!
//! Successive halving assumes every trial costs the same, so that promoting the best ⌊n / η⌋
//! of n gives each rung about the same compute. Networks differ in cost a hundredfold: at a
//! rung of a few results, one heavy network in the top share can take most of a budget's
//! compute for its promotion alone (on 2 cores, a 158 M-MAC network at 0.50 accuracy was
//! promoted from the first three results of a 20-minute search and trained for 226 s). Under
//! [`Promotion::ByCost`] the promoted share is bounded by compute instead of by count: the rung
//! allows ⌊n / η⌋ times the median cost of its n results, and its ranking is walked best
//! first, each trial of the top ⌊n / η⌋ promoted while what the promoted ones cost at this
//! rung stays within the allowance. A heavy trial that does not fit waits for more results
//! (which raise the allowance) instead of being stopped; where every trial costs the same this
//! is plain ASHA.

use std::collections::HashMap;

use super::find_trial;
use crate::study::Trial;

/// The attribute holding a trial's result at rung r (`rung0`, `rung1`, …): a JSON object
/// whose [`RUNG_COST_FIELD`] is the compute the rung took.
pub const RUNG_ATTR_PREFIX: &str = "rung";

/// The field of a rung's result holding its compute in GMACs (any unit works: only ratios
/// between trials matter).
pub const RUNG_COST_FIELD: &str = "cost";

/// How many of a rung's top-ranked trials ASHA and Hyperband promote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Promotion {
    /// The best ⌊n / η⌋ of n results (Li et al. 2020; Optuna's and Ray Tune's rule).
    ByCount,
    /// The best of those ⌊n / η⌋ whose rung costs add up to at most ⌊n / η⌋ times the
    /// rung's median cost (see the module's documentation).
    #[default]
    ByCost,
}

impl Promotion {
    /// Parses `count` or `cost`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "count" => Some(Promotion::ByCount),
            "cost" => Some(Promotion::ByCost),
            _ => None,
        }
    }

    /// The names [`Promotion::parse`] accepts.
    pub const NAMES: [&'static str; 2] = ["count", "cost"];
}

/// The compute `trial` recorded for `rung`, when it recorded a finite, non-negative one.
pub fn cost_at(trial: &Trial, rung: usize) -> Option<f64> {
    trial
        .attrs
        .get(&format!("{RUNG_ATTR_PREFIX}{rung}"))?
        .get(RUNG_COST_FIELD)?
        .as_f64()
        .filter(|c| c.is_finite() && *c >= 0.0)
}

/// Of `top` (the best `top.len()` = ⌊n / η⌋ of the rung's `competitors`, best first), the
/// ones promoted by cost: walked in order, each is kept while the kept ones' costs at `rung`
/// stay within `top.len()` times the median cost of the competitors. A trial without a
/// recorded cost counts as the median. When no competitor recorded a positive median cost,
/// `top` is returned unchanged.
pub(crate) fn within_allowance(
    trials: &[Trial],
    competitors: &[u64],
    top: Vec<u64>,
    rung: usize,
) -> Vec<u64> {
    let costs: HashMap<u64, f64> = competitors
        .iter()
        .filter_map(|&n| Some((n, cost_at(find_trial(trials, n)?, rung)?)))
        .collect();
    let Some(median) = median(costs.values().copied().collect()) else {
        return top;
    };
    if median <= 0.0 {
        return top;
    }
    let allowance = top.len() as f64 * median;
    let mut spent = 0.0;
    top.into_iter()
        .filter(|n| {
            let cost = costs.get(n).copied().unwrap_or(median);
            // A relative tolerance, so that k trials of exactly the median cost all fit.
            let fits = spent + cost <= allowance * (1.0 + 1e-9);
            if fits {
                spent += cost;
            }
            fits
        })
        .collect()
}

/// The median of `values` (the mean of the middle two for an even count); `None` when empty.
fn median(mut values: Vec<f64>) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(match values.len() % 2 {
        1 => values[mid],
        _ => (values[mid - 1] + values[mid]) / 2.0,
    })
}
