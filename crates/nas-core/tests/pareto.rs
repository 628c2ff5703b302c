//! Pareto maths against hand-computed cases and exact brute force on integer grids.

use nas_core::pareto::{
    crowding_distance, dominates, hypervolume, hypervolume_contributions, non_dominated_sort,
    pareto_front_indices, ParetoFront,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn pts(rows: &[&[f64]]) -> Vec<Vec<f64>> {
    rows.iter().map(|r| r.to_vec()).collect()
}

fn assert_close(got: f64, want: f64) {
    assert!(
        (got - want).abs() <= 1e-9 * want.abs().max(1.0),
        "got {got}, want {want}"
    );
}

// ---------------------------------------------------------------- brute force references

/// Exact hypervolume of integer points: counts the unit cells `[c, c + 1)` inside `[0, r)` that
/// some point weakly dominates.
fn grid_volume(points: &[Vec<f64>], reference: &[i64]) -> f64 {
    let mut count = 0u64;
    let mut cell = vec![0i64; reference.len()];
    loop {
        let covered = points
            .iter()
            .any(|p| p.iter().zip(&cell).all(|(&x, &c)| x <= c as f64));
        count += u64::from(covered);
        // Odometer step over the grid.
        let mut d = 0;
        loop {
            if d == cell.len() {
                return count as f64;
            }
            cell[d] += 1;
            if cell[d] < reference[d] {
                break;
            }
            cell[d] = 0;
            d += 1;
        }
    }
}

/// Ranks by definition: peel off the points nothing left dominates, again and again.
fn peeled_ranks(points: &[Vec<f64>]) -> Vec<usize> {
    let mut ranks = vec![usize::MAX; points.len()];
    let mut rank = 0;
    while ranks.contains(&usize::MAX) {
        let left: Vec<usize> = (0..points.len())
            .filter(|&i| ranks[i] == usize::MAX)
            .collect();
        let front: Vec<usize> = left
            .iter()
            .copied()
            .filter(|&i| !left.iter().any(|&j| dominates(&points[j], &points[i])))
            .collect();
        for i in front {
            ranks[i] = rank;
        }
        rank += 1;
    }
    ranks
}

fn random_points(rng: &mut ChaCha8Rng, n: usize, dims: usize, max: i64) -> Vec<Vec<f64>> {
    (0..n)
        .map(|_| {
            (0..dims)
                .map(|_| rng.random_range(0..=max) as f64)
                .collect()
        })
        .collect()
}

// ---------------------------------------------------------------- dominance and sorting

#[test]
fn dominance_needs_one_strict_improvement() {
    assert!(dominates(&[1.0, 2.0], &[1.0, 3.0]));
    assert!(!dominates(&[1.0, 2.0], &[1.0, 2.0]));
    assert!(!dominates(&[1.0, 4.0], &[2.0, 3.0]));
    assert!(!dominates(&[f64::NAN, 0.0], &[1.0, 1.0]));
    assert!(!dominates(&[0.0, 0.0], &[f64::NAN, 1.0]));
}

#[test]
fn ranks_of_a_hand_example() {
    let points = pts(&[
        &[1.0, 4.0],
        &[2.0, 2.0],
        &[4.0, 1.0],
        &[3.0, 3.0],
        &[4.0, 4.0],
        &[2.0, 2.0],
    ]);
    assert_eq!(non_dominated_sort(&points), vec![0, 0, 0, 1, 2, 0]);
    assert_eq!(pareto_front_indices(&points), vec![0, 1, 2, 5]);
    let front = ParetoFront::from_points(&points);
    assert_eq!(front.indices(), &[0, 1, 2, 5]);
    assert!(front.contains(5) && !front.contains(3));
}

#[test]
fn ranks_in_three_objectives() {
    let points = pts(&[
        &[1.0, 1.0, 1.0],
        &[0.0, 2.0, 2.0],
        &[2.0, 2.0, 2.0],
        &[3.0, 3.0, 3.0],
        &[2.0, 2.0, 0.5],
    ]);
    assert_eq!(non_dominated_sort(&points), vec![0, 0, 1, 2, 0]);
}

#[test]
fn ranks_match_peeling_on_random_sets() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    for dims in 1..=4 {
        for _ in 0..200 {
            let n = rng.random_range(0..30);
            let points = random_points(&mut rng, n, dims, 6);
            assert_eq!(
                non_dominated_sort(&points),
                peeled_ranks(&points),
                "{points:?}"
            );
        }
    }
}

#[test]
fn nan_points_are_incomparable() {
    let points = pts(&[&[1.0, 1.0], &[f64::NAN, 0.0], &[2.0, 2.0]]);
    assert_eq!(non_dominated_sort(&points), vec![0, 0, 1]);
    assert_eq!(hypervolume(&points, &[3.0, 3.0]), 4.0);
}

#[test]
fn empty_inputs() {
    let none: Vec<Vec<f64>> = Vec::new();
    assert!(non_dominated_sort(&none).is_empty());
    assert!(ParetoFront::from_points(&none).is_empty());
    assert_eq!(hypervolume(&none, &[1.0, 1.0]), 0.0);
    assert_eq!(hypervolume(&none, &[1.0, 1.0, 1.0]), 0.0);
    assert!(hypervolume_contributions(&none, &[1.0, 1.0]).is_empty());
    assert!(crowding_distance(&none).is_empty());
}

// ---------------------------------------------------------------- hypervolume

#[test]
fn hypervolume_2d_staircase() {
    let points = pts(&[&[1.0, 3.0], &[2.0, 2.0], &[3.0, 1.0]]);
    assert_eq!(hypervolume(&points, &[4.0, 4.0]), 6.0);
}

#[test]
fn hypervolume_1d_is_a_length() {
    assert_eq!(hypervolume(&pts(&[&[5.0], &[2.0], &[12.0]]), &[10.0]), 8.0);
}

#[test]
fn hypervolume_3d_hand_cases() {
    // One box: 3 × 2 × 1.
    assert_eq!(
        hypervolume(&pts(&[&[1.0, 2.0, 3.0]]), &[4.0, 4.0, 4.0]),
        6.0
    );
    // Two overlapping boxes: 4 + 2 − the shared box [2, 3)³ of volume 1.
    let two = pts(&[&[1.0, 1.0, 2.0], &[2.0, 2.0, 1.0]]);
    assert_eq!(hypervolume(&two, &[3.0, 3.0, 3.0]), 5.0);
    // Points on or beyond the reference add nothing.
    let mut more = two.clone();
    more.push(vec![0.0, 0.0, 3.0]);
    more.push(vec![0.0, 5.0, 0.0]);
    assert_eq!(hypervolume(&more, &[3.0, 3.0, 3.0]), 5.0);
    // A dominated point and a duplicate add nothing either.
    more.push(vec![2.5, 2.5, 2.5]);
    more.push(vec![1.0, 1.0, 2.0]);
    assert_eq!(hypervolume(&more, &[3.0, 3.0, 3.0]), 5.0);
}

#[test]
fn hypervolume_4d_hand_case() {
    // Boxes of volume 2·2·2·1 = 8 and 1·1·1·2 = 2 sharing [2, 3)^4 of volume 1.
    let points = pts(&[&[1.0, 1.0, 1.0, 2.0], &[2.0, 2.0, 2.0, 1.0]]);
    assert_eq!(hypervolume(&points, &[3.0, 3.0, 3.0, 3.0]), 9.0);
}

#[test]
fn hypervolume_matches_grid_counting() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    for dims in 1..=4 {
        for _ in 0..150 {
            let n = rng.random_range(0..12);
            let points = random_points(&mut rng, n, dims, 7);
            let reference: Vec<i64> = (0..dims).map(|_| rng.random_range(1..=8)).collect();
            let r: Vec<f64> = reference.iter().map(|&x| x as f64).collect();
            assert_close(hypervolume(&points, &r), grid_volume(&points, &reference));
        }
    }
}

#[test]
#[should_panic(expected = "objectives")]
fn hypervolume_rejects_mismatched_dimensions() {
    hypervolume(&pts(&[&[1.0, 2.0]]), &[3.0, 3.0, 3.0]);
}

// ---------------------------------------------------------------- contributions

#[test]
fn contributions_of_a_staircase() {
    // Each point owns a unit square; the other 3 units are shared, so the sum is 6 − 3.
    let points = pts(&[&[1.0, 3.0], &[2.0, 2.0], &[3.0, 1.0]]);
    assert_eq!(
        hypervolume_contributions(&points, &[4.0, 4.0]),
        vec![1.0, 1.0, 1.0]
    );
}

#[test]
fn contributions_sum_rule_3d() {
    // Two boxes: HV 5 = contributions (4 − 1) + (2 − 1) + the shared unit box.
    let points = pts(&[&[1.0, 1.0, 2.0], &[2.0, 2.0, 1.0]]);
    let c = hypervolume_contributions(&points, &[3.0, 3.0, 3.0]);
    assert_eq!(c, vec![3.0, 1.0]);
    assert_eq!(
        c.iter().sum::<f64>() + 1.0,
        hypervolume(&points, &[3.0, 3.0, 3.0])
    );
}

#[test]
fn contribution_of_a_lone_point_is_its_box() {
    let c = hypervolume_contributions(&pts(&[&[1.0, 2.0]]), &[4.0, 4.0]);
    assert_eq!(c, vec![6.0]);
}

#[test]
fn duplicates_and_dominated_points_contribute_nothing() {
    let points = pts(&[&[1.0, 2.0], &[1.0, 2.0], &[2.0, 3.0], &[5.0, 0.0]]);
    assert_eq!(
        hypervolume_contributions(&points, &[4.0, 4.0]),
        vec![0.0, 0.0, 0.0, 0.0]
    );
    // Removing (1, 2) uncovers part of (2, 2): only [1, 2) × [2, 4) is its own.
    let points = pts(&[&[1.0, 2.0], &[2.0, 2.0]]);
    assert_eq!(
        hypervolume_contributions(&points, &[4.0, 4.0]),
        vec![2.0, 0.0]
    );
}

#[test]
fn contributions_match_grid_counting() {
    let mut rng = ChaCha8Rng::seed_from_u64(13);
    for dims in 1..=4 {
        for _ in 0..100 {
            let n = rng.random_range(0..10);
            let points = random_points(&mut rng, n, dims, 6);
            let reference: Vec<i64> = vec![7; dims];
            let r: Vec<f64> = vec![7.0; dims];
            let total = grid_volume(&points, &reference);
            let got = hypervolume_contributions(&points, &r);
            for (i, &c) in got.iter().enumerate() {
                let mut rest = points.clone();
                rest.remove(i);
                assert_close(c, total - grid_volume(&rest, &reference));
            }
        }
    }
}

// ---------------------------------------------------------------- crowding distance

#[test]
fn crowding_distance_of_a_hand_example() {
    let points = pts(&[&[1.0, 5.0], &[2.0, 3.0], &[4.0, 2.0], &[6.0, 1.0]]);
    let d = crowding_distance(&points);
    assert_eq!(d[0], f64::INFINITY);
    assert_eq!(d[3], f64::INFINITY);
    // (2, 3): (4 − 1)/5 + (5 − 2)/4; (4, 2): (6 − 2)/5 + (3 − 1)/4.
    assert_close(d[1], 0.6 + 0.75);
    assert_close(d[2], 0.8 + 0.5);
}

#[test]
fn crowding_distance_of_tiny_and_flat_sets() {
    assert_eq!(crowding_distance(&pts(&[&[1.0, 2.0]])), vec![f64::INFINITY]);
    let flat = crowding_distance(&pts(&[&[1.0, 1.0], &[1.0, 1.0], &[1.0, 1.0]]));
    assert_eq!(flat.iter().filter(|d| d.is_infinite()).count(), 2);
    assert!(flat.contains(&0.0));
}
