//! Maximisation of the acquisition over the encoded input space.
//!
//! 1. Score `n_candidates` points: three quarters uniform over the space, one quarter
//!    perturbations of the best observed points (Gaussian steps of log-uniform width in
//!    `[0.003, 0.1]` on numeric inputs, a re-drawn choice with probability ¼ on categoricals).
//! 2. Refine the `n_refine` best distinct candidates by compass (pattern) search: try `±step` on
//!    each numeric input and every other choice of each categorical, move on improvement, halve
//!    the step when a sweep fails, stop below [`MIN_STEP`] or after `max_refine_evals` scores.
//!
//! Every point scored is first snapped onto the space ([`InputSpace::snap`]), so grid and
//! categorical inputs are scored where they can actually be proposed. The search is
//! gradient-free: the acquisition only needs to be evaluable.

use rand::Rng;
use rand_distr::{Distribution, StandardNormal};

use super::data::{Dim, InputSpace};

/// First step of the compass search, in encoded units.
const FIRST_STEP: f64 = 0.05;
/// The compass search stops once its step is below this.
const MIN_STEP: f64 = 1e-4;
/// Probability that a perturbation re-draws a categorical input.
const CATEGORICAL_FLIP: f64 = 0.25;

/// How hard the acquisition search works.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SearchBudget {
    /// Candidates scored in the global phase.
    pub(crate) n_candidates: usize,
    /// Best candidates refined by compass search.
    pub(crate) n_refine: usize,
    /// Scores allowed per refinement.
    pub(crate) max_refine_evals: usize,
}

/// The encoded point with the largest `score` found; `anchors` are observed points worth
/// searching around (best first).
pub(crate) fn maximise<R: Rng>(
    score: &dyn Fn(&[f64]) -> f64,
    inputs: &InputSpace,
    anchors: &[Vec<f64>],
    budget: SearchBudget,
    rng: &mut R,
) -> Vec<f64> {
    let safe = |u: &[f64]| {
        let s = score(u);
        if s.is_nan() {
            f64::NEG_INFINITY
        } else {
            s
        }
    };
    let mut scored: Vec<(f64, Vec<f64>)> = candidates(inputs, anchors, budget.n_candidates, rng)
        .into_iter()
        .map(|u| (safe(&u), u))
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    scored.dedup_by(|a, b| a.1 == b.1);
    scored
        .into_iter()
        .take(budget.n_refine.max(1))
        .map(|(s, u)| compass_search(&safe, inputs, u, s, budget.max_refine_evals))
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map_or_else(|| inputs.random_point(rng), |(u, _)| u)
}

/// Uniform points and perturbations of the anchors, all snapped onto the space.
fn candidates<R: Rng>(
    inputs: &InputSpace,
    anchors: &[Vec<f64>],
    n: usize,
    rng: &mut R,
) -> Vec<Vec<f64>> {
    let n_local = if anchors.is_empty() { 0 } else { n / 4 };
    let mut out: Vec<Vec<f64>> = (0..n - n_local).map(|_| inputs.random_point(rng)).collect();
    for k in 0..n_local {
        out.push(perturb(inputs, &anchors[k % anchors.len()], rng));
    }
    out
}

/// A random neighbour of `anchor`.
fn perturb<R: Rng>(inputs: &InputSpace, anchor: &[f64], rng: &mut R) -> Vec<f64> {
    let width = 0.1 * 10f64.powf(-1.5 * rng.random::<f64>());
    let mut u: Vec<f64> = anchor
        .iter()
        .zip(inputs.dims())
        .map(|(&a, d)| match d {
            Dim::Categorical(n) if rng.random::<f64>() < CATEGORICAL_FLIP => {
                rng.random_range(0..*n) as f64
            }
            Dim::Categorical(_) => a,
            _ => {
                let z: f64 = StandardNormal.sample(rng);
                a + width * z
            }
        })
        .collect();
    inputs.snap(&mut u);
    u
}

/// Compass search from `u` (score `s`); returns the best point and its score.
fn compass_search(
    score: &dyn Fn(&[f64]) -> f64,
    inputs: &InputSpace,
    mut u: Vec<f64>,
    mut s: f64,
    max_evals: usize,
) -> (Vec<f64>, f64) {
    let mut step = FIRST_STEP;
    let mut evals = 0;
    while step >= MIN_STEP && evals < max_evals {
        let mut improved = false;
        for i in 0..u.len() {
            for v in moves(inputs.dims()[i], u[i], step) {
                let mut trial = u.clone();
                trial[i] = v;
                inputs.snap(&mut trial);
                if trial[i] == u[i] {
                    continue;
                }
                let st = score(&trial);
                evals += 1;
                if st > s {
                    (u, s, improved) = (trial, st, true);
                }
            }
        }
        if !improved {
            step *= 0.5;
        }
    }
    (u, s)
}

/// The values coordinate `v` of kind `dim` is moved to in one sweep.
fn moves(dim: Dim, v: f64, step: f64) -> Vec<f64> {
    match dim {
        Dim::Categorical(n) => (0..n).map(|c| c as f64).filter(|&c| c != v).collect(),
        Dim::Continuous | Dim::Discrete => vec![v + step, v - step],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sampler::trial_rng;
    use crate::space::{Distribution as D, Param, SearchSpace};

    fn space(dists: Vec<D>) -> InputSpace {
        let params = dists
            .into_iter()
            .enumerate()
            .map(|(i, distribution)| Param {
                name: format!("p{i}"),
                distribution,
                conditions: vec![],
            })
            .collect();
        InputSpace::new(&SearchSpace::new(params).unwrap()).unwrap()
    }

    fn budget() -> SearchBudget {
        SearchBudget {
            n_candidates: 500,
            n_refine: 3,
            max_refine_evals: 300,
        }
    }

    #[test]
    fn finds_a_continuous_maximum_precisely() {
        let inputs = space(vec![
            D::Float {
                low: 0.0,
                high: 1.0,
                log: false,
                step: None,
            },
            D::Float {
                low: 0.0,
                high: 1.0,
                log: false,
                step: None,
            },
        ]);
        let f = |u: &[f64]| -(u[0] - 0.123).powi(2) - 4.0 * (u[1] - 0.777).powi(2);
        let u = maximise(&f, &inputs, &[], budget(), &mut trial_rng(1, 0));
        assert!(
            (u[0] - 0.123).abs() < 1e-3 && (u[1] - 0.777).abs() < 1e-3,
            "{u:?}"
        );
    }

    #[test]
    fn respects_grids_and_choices() {
        let inputs = space(vec![
            D::Int {
                low: 0,
                high: 9,
                log: false,
                step: 1,
            },
            D::Categorical {
                choices: vec!["a".into(), "b".into(), "c".into()],
            },
        ]);
        // Best at int 7 (encoded 0.75) and choice 2.
        let f = |u: &[f64]| -(u[0] - 0.75).abs() + if u[1] == 2.0 { 1.0 } else { 0.0 };
        let u = maximise(
            &f,
            &inputs,
            &[vec![0.05, 0.0]],
            budget(),
            &mut trial_rng(2, 0),
        );
        assert_eq!(u, vec![0.75, 2.0]);
    }

    #[test]
    fn survives_nan_scores() {
        let inputs = space(vec![D::Float {
            low: 0.0,
            high: 1.0,
            log: false,
            step: None,
        }]);
        let f = |u: &[f64]| if u[0] < 0.5 { f64::NAN } else { u[0] };
        let u = maximise(&f, &inputs, &[], budget(), &mut trial_rng(3, 0));
        assert!(u[0] > 0.999, "{u:?}");
    }
}
