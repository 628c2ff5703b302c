//! Ranking the trials that reached a rung, with one objective or several.

use super::MoRank;
use crate::pareto::{crowding_distance, hypervolume_contributions, non_dominated_sort};
use crate::study::Direction;

/// The trial numbers of `points` (`(number, values)` in the raw orientation of `directions`),
/// best first.
///
/// One objective: by loss ([`Direction::to_loss`]). Several: by non-dominated rank, then within
/// a front by `rule` — crowding distance (larger first, infinite for the extremes) or exclusive
/// hypervolume contribution (larger first; the reference point is each objective's worst loss
/// among the points plus 10% of its range, plus 1 where the range is 0). Ties go to the earlier
/// trial number. Points with a non-finite loss, or with another number of values than
/// directions, rank last (by number).
pub fn rank_at_rung(
    points: &[(u64, Vec<f64>)],
    directions: &[Direction],
    rule: MoRank,
) -> Vec<u64> {
    let (finite, mut broken): (Vec<Scored>, Vec<Scored>) = points
        .iter()
        .map(|(number, values)| Scored::new(*number, values, directions))
        .partition(|s| s.is_valid(directions.len()));
    let mut ranked = if directions.len() == 1 {
        by_loss(finite)
    } else {
        by_front(finite, rule)
    };
    broken.sort_by_key(|s| s.number);
    ranked.extend(broken.iter().map(|s| s.number));
    ranked
}

/// A trial's losses and the keys it is sorted by.
struct Scored {
    number: u64,
    losses: Vec<f64>,
    front: usize,
    score: f64,
}

impl Scored {
    /// The losses of `values`; a single NaN when there is not one value per direction.
    fn new(number: u64, values: &[f64], directions: &[Direction]) -> Self {
        let losses = if values.len() == directions.len() {
            values
                .iter()
                .zip(directions)
                .map(|(&v, d)| d.to_loss(v))
                .collect()
        } else {
            vec![f64::NAN]
        };
        Scored {
            number,
            losses,
            front: 0,
            score: 0.0,
        }
    }

    /// One finite loss per objective.
    fn is_valid(&self, n_objectives: usize) -> bool {
        self.losses.len() == n_objectives && self.losses.iter().all(|x| x.is_finite())
    }
}

/// One objective: smallest loss first, ties by number.
fn by_loss(mut points: Vec<Scored>) -> Vec<u64> {
    points.sort_by(|a, b| {
        a.losses[0]
            .total_cmp(&b.losses[0])
            .then(a.number.cmp(&b.number))
    });
    points.iter().map(|s| s.number).collect()
}

/// Several objectives: front first, then the larger within-front score, then the better
/// first objective (so the two extremes of a front, both of infinite crowding distance, are
/// told apart by the objective the study lists first), then number.
fn by_front(mut points: Vec<Scored>, rule: MoRank) -> Vec<u64> {
    let losses: Vec<Vec<f64>> = points.iter().map(|s| s.losses.clone()).collect();
    let fronts = non_dominated_sort(&losses);
    let reference = reference_point(&losses);
    let n_fronts = fronts.iter().max().map_or(0, |m| m + 1);
    for front in 0..n_fronts {
        let members: Vec<usize> = (0..points.len()).filter(|&i| fronts[i] == front).collect();
        let member_losses: Vec<Vec<f64>> = members.iter().map(|&i| losses[i].clone()).collect();
        let scores = match rule {
            MoRank::Crowding => crowding_distance(&member_losses),
            MoRank::Hypervolume => hypervolume_contributions(&member_losses, &reference),
        };
        for (&i, score) in members.iter().zip(scores) {
            points[i].front = front;
            points[i].score = score;
        }
    }
    points.sort_by(|a, b| {
        a.front
            .cmp(&b.front)
            .then(b.score.total_cmp(&a.score))
            .then(a.losses[0].total_cmp(&b.losses[0]))
            .then(a.number.cmp(&b.number))
    });
    points.iter().map(|s| s.number).collect()
}

/// Each objective's worst loss plus 10% of its range (plus 1 where the range is 0).
fn reference_point(losses: &[Vec<f64>]) -> Vec<f64> {
    let n_objectives = losses.first().map_or(0, Vec::len);
    (0..n_objectives)
        .map(|m| {
            let column = losses.iter().map(|l| l[m]);
            let worst = column.clone().fold(f64::NEG_INFINITY, f64::max);
            let best = column.fold(f64::INFINITY, f64::min);
            let range = worst - best;
            if range > 0.0 {
                worst + 0.1 * range
            } else {
                worst + 1.0
            }
        })
        .collect()
}
