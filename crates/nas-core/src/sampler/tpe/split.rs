//! Splitting observations into the good set (modelled by `l`) and the bad set (`g`).
//!
//! - One objective: the best `γ(n)` completed trials, feasible ones first.
//! - Several objectives (MOTPE): whole non-dominated fronts in rank order; the front that
//!   does not fit is cut by each point's hypervolume contribution.
//! - Running trials without a report are always bad (the constant liar); those with one
//!   arrive here as pruned.
//! - Pruned trials are bad unless fewer trials completed than the good set holds; then the
//!   pruned ones that got furthest, and among those the best at their last report, fill it
//!   (as Optuna does).
//! - Each constraint gets its own split (c-TPE): satisfied (≤ 0) against violated.

use super::observations::{LastReport, Observation, Outcome};
use crate::pareto::{hypervolume_contributions, non_dominated_sort};

/// Indices into the observation list: the good and the bad set, each in trial order (the
/// recency weights of the bad set rely on it).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Split {
    /// Observations modelled by `l(x)`.
    pub below: Vec<usize>,
    /// Observations modelled by `g(x)`.
    pub above: Vec<usize>,
}

/// The size of the good set: `min(⌈γ·n⌉, cap)`, at least 1.
pub fn n_below(n: usize, gamma: f64, cap: usize) -> usize {
    ((gamma * n as f64).ceil() as usize).clamp(1, cap.max(1))
}

/// A completed observation as the objective split sees it.
#[derive(Debug, Clone, Copy)]
struct Scored<'a> {
    /// Index in the observation list.
    index: usize,
    loss: &'a [f64],
    feasible: bool,
}

/// Splits by the objectives.
pub fn split_by_objectives(items: &[&Observation], n_good: usize) -> Split {
    let complete: Vec<Scored<'_>> = items
        .iter()
        .enumerate()
        .filter_map(|(index, o)| match &o.outcome {
            Outcome::Complete(loss) => Some(Scored {
                index,
                loss,
                feasible: is_feasible(o),
            }),
            _ => None,
        })
        .collect();
    let room = n_good.saturating_sub(complete.len());
    let n_complete_good = n_good.min(complete.len());
    let mut below = if complete.first().is_some_and(|c| c.loss.len() > 1) {
        best_by_fronts(&complete, n_complete_good)
    } else {
        best_by_loss(complete, n_complete_good)
    };
    below.extend(best_pruned(items, room));
    complement(items.len(), below)
}

/// The `room` best pruned trials: the highest last step first, then (at one step) the
/// smallest first loss, or with several objectives the lowest non-dominated rank; then the
/// earlier trial. Pruned trials without a usable report are never chosen.
fn best_pruned(items: &[&Observation], room: usize) -> Vec<usize> {
    if room == 0 {
        return Vec::new();
    }
    let pruned: Vec<(usize, &LastReport)> = items
        .iter()
        .enumerate()
        .filter_map(|(i, o)| match &o.outcome {
            Outcome::Pruned(Some(last)) => Some((i, last)),
            _ => None,
        })
        .collect();
    let mut steps: Vec<u64> = pruned.iter().map(|(_, l)| l.step).collect();
    steps.sort_unstable_by(|a, b| b.cmp(a));
    steps.dedup();
    let mut chosen = Vec::with_capacity(room);
    for step in steps {
        let at_step: Vec<(usize, &LastReport)> = pruned
            .iter()
            .copied()
            .filter(|(_, l)| l.step == step)
            .collect();
        let points: Vec<Vec<f64>> = at_step.iter().map(|(_, l)| l.losses.clone()).collect();
        let ranks = non_dominated_sort(&points);
        let mut order: Vec<usize> = (0..at_step.len()).collect();
        order.sort_by(|&a, &b| {
            ranks[a]
                .cmp(&ranks[b])
                .then(points[a][0].total_cmp(&points[b][0]))
                .then(at_step[a].0.cmp(&at_step[b].0))
        });
        chosen.extend(
            order
                .iter()
                .map(|&k| at_step[k].0)
                .take(room - chosen.len()),
        );
        if chosen.len() == room {
            break;
        }
    }
    chosen
}

/// Splits by constraint `j`: observations that satisfy it against those that violate it. When
/// fewer than `n_good` satisfy it, the `n_good` least violating count as good, so `l` still
/// has something to model. `None` when no observation reports the constraint.
pub fn split_by_constraint(items: &[&Observation], j: usize, n_good: usize) -> Option<Split> {
    let mut reported: Vec<(usize, f64)> = items
        .iter()
        .enumerate()
        .filter_map(|(i, o)| Some((i, *o.constraints.as_ref()?.get(j)?)))
        .collect();
    if reported.is_empty() {
        return None;
    }
    reported.sort_by(|a, b| a.1.total_cmp(&b.1));
    let satisfied = reported.iter().take_while(|(_, c)| *c <= 0.0).count();
    let n_good = satisfied.max(n_good.min(reported.len()));
    let in_order = |part: &[(usize, f64)]| {
        let mut set: Vec<usize> = part.iter().map(|(i, _)| *i).collect();
        set.sort_unstable();
        set
    };
    Some(Split {
        below: in_order(&reported[..n_good]),
        above: in_order(&reported[n_good..]),
    })
}

fn is_feasible(o: &Observation) -> bool {
    o.constraints
        .as_ref()
        .is_none_or(|c| c.iter().all(|&x| x <= 0.0))
}

/// Single objective: feasible before infeasible, then by loss.
fn best_by_loss(mut order: Vec<Scored<'_>>, n_good: usize) -> Vec<usize> {
    let better = |a: &Scored<'_>, b: &Scored<'_>| {
        b.feasible
            .cmp(&a.feasible)
            .then(a.loss[0].total_cmp(&b.loss[0]))
            .then(a.index.cmp(&b.index))
    };
    if n_good < order.len() && n_good > 0 {
        order.select_nth_unstable_by(n_good - 1, better);
    }
    order.truncate(n_good);
    order.sort_by(better);
    order.iter().map(|c| c.index).collect()
}

/// Several objectives: fronts of the feasible trials in rank order (then the infeasible ones),
/// the last front cut by hypervolume contribution.
fn best_by_fronts(complete: &[Scored<'_>], n_good: usize) -> Vec<usize> {
    let (feasible, infeasible): (Vec<Scored<'_>>, Vec<_>) =
        complete.iter().partition(|c| c.feasible);
    let mut below = Vec::with_capacity(n_good);
    for group in [feasible, infeasible] {
        if below.len() == n_good {
            break;
        }
        let points: Vec<Vec<f64>> = group.iter().map(|c| c.loss.to_vec()).collect();
        let ranks = non_dominated_sort(&points);
        let max_rank = ranks.iter().copied().max().unwrap_or(0);
        for rank in 0..=max_rank {
            let front: Vec<usize> = (0..group.len()).filter(|&k| ranks[k] == rank).collect();
            let room = n_good - below.len();
            if front.len() <= room {
                below.extend(front.iter().map(|&k| group[k].index));
            } else {
                let chosen = by_contribution(&points, &front, room);
                below.extend(chosen.iter().map(|&k| group[k].index));
            }
            if below.len() == n_good {
                break;
            }
        }
    }
    below
}

/// The `room` members of a front with the largest hypervolume contributions, against a
/// reference point just beyond the front's worst value in each objective.
fn by_contribution(points: &[Vec<f64>], front: &[usize], room: usize) -> Vec<usize> {
    let front_points: Vec<Vec<f64>> = front.iter().map(|&k| points[k].clone()).collect();
    let m = front_points[0].len();
    let reference: Vec<f64> = (0..m)
        .map(|j| {
            let (lo, hi) = front_points
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
                    (lo.min(p[j]), hi.max(p[j]))
                });
            hi + 0.1 * (hi - lo).max(1e-12)
        })
        .collect();
    let contrib = hypervolume_contributions(&front_points, &reference);
    let mut order: Vec<usize> = (0..front.len()).collect();
    order.sort_by(|&a, &b| contrib[b].total_cmp(&contrib[a]));
    order.iter().take(room).map(|&k| front[k]).collect()
}

/// The split with `below` good and every other index bad.
fn complement(n: usize, below: Vec<usize>) -> Split {
    let mut is_below = vec![false; n];
    below.iter().for_each(|&i| is_below[i] = true);
    let above = (0..n).filter(|&i| !is_below[i]).collect();
    Split { below, above }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refs(items: &[Observation]) -> Vec<&Observation> {
        items.iter().collect()
    }

    fn done(loss: &[f64]) -> Observation {
        observed(Outcome::Complete(loss.to_vec()))
    }

    fn observed(outcome: Outcome) -> Observation {
        Observation {
            row: 0,
            outcome,
            constraints: None,
            weight: 1.0,
        }
    }

    fn pruned_at(step: u64, loss: &[f64]) -> Observation {
        observed(Outcome::Pruned(Some(LastReport {
            step,
            losses: loss.to_vec(),
        })))
    }

    #[test]
    fn single_objective_takes_the_lowest_losses() {
        let items = vec![done(&[3.0]), done(&[1.0]), done(&[2.0]), done(&[0.5])];
        let s = split_by_objectives(&refs(&items), 2);
        assert_eq!(s.below, vec![3, 1]);
        assert_eq!(s.above, vec![0, 2]);
    }

    #[test]
    fn running_and_unreported_pruned_trials_are_bad() {
        let mut items = vec![done(&[3.0]), done(&[1.0])];
        items.push(observed(Outcome::Running));
        items.push(observed(Outcome::Pruned(None)));
        let s = split_by_objectives(&refs(&items), 3);
        assert_eq!(s.below, vec![1, 0]);
        assert_eq!(s.above, vec![2, 3]);
    }

    #[test]
    fn pruned_trials_fill_the_good_set_by_step_then_loss() {
        // One complete trial, room for three more: the rung-1 trial first (it got furthest),
        // then the better of the rung-0 ones; a complete trial always ranks first.
        let items = vec![
            pruned_at(0, &[0.5]),
            pruned_at(0, &[0.2]),
            done(&[0.9]),
            pruned_at(1, &[0.8]),
            pruned_at(0, &[0.3]),
        ];
        let s = split_by_objectives(&refs(&items), 4);
        assert_eq!(s.below, vec![2, 3, 1, 4]);
        assert_eq!(s.above, vec![0]);
        // Enough complete trials: no pruned trial is good.
        assert_eq!(split_by_objectives(&refs(&items), 1).below, vec![2]);
    }

    #[test]
    fn pruned_trials_with_several_objectives_rank_by_front() {
        // At one step: (0.2, 5) and (0.5, 1) are the front, (0.6, 6) is dominated.
        let items = vec![
            pruned_at(0, &[0.6, 6.0]),
            pruned_at(0, &[0.5, 1.0]),
            pruned_at(0, &[0.2, 5.0]),
        ];
        assert_eq!(split_by_objectives(&refs(&items), 2).below, vec![2, 1]);
    }

    #[test]
    fn infeasible_trials_rank_after_feasible_ones() {
        let mut bad = done(&[0.0]);
        bad.constraints = Some(vec![1.0]);
        let items = vec![bad, done(&[5.0])];
        assert_eq!(split_by_objectives(&refs(&items), 1).below, vec![1]);
    }

    #[test]
    fn multi_objective_fills_by_fronts_then_contribution() {
        // Front 0: (1,4) (2,2) (4,1); front 1: (3,3). Room for 2 of front 0: the middle point
        // (2,2) has the largest exclusive box, then an extreme.
        let items = vec![
            done(&[1.0, 4.0]),
            done(&[2.0, 2.0]),
            done(&[4.0, 1.0]),
            done(&[3.0, 3.0]),
        ];
        let s = split_by_objectives(&refs(&items), 2);
        assert_eq!(s.below.len(), 2);
        assert!(s.below.contains(&1));
        assert!(!s.below.contains(&3));
        let all = split_by_objectives(&refs(&items), 3);
        assert_eq!(all.above, vec![3]);
    }

    #[test]
    fn constraint_split_separates_satisfied_from_violated() {
        let mut items = vec![done(&[0.0]), done(&[0.0]), done(&[0.0])];
        items[0].constraints = Some(vec![-1.0]);
        items[1].constraints = Some(vec![2.0]);
        items[2].constraints = Some(vec![0.5]);
        let s = split_by_constraint(&refs(&items), 0, 1).unwrap();
        assert_eq!(s.below, vec![0]);
        assert_eq!(s.above, vec![1, 2], "trial order, not constraint order");
        assert!(split_by_constraint(&refs(&items), 1, 1).is_none());
    }
}
