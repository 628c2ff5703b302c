//! Pareto maths for multi-objective studies: dominance, non-dominated sorting, hypervolume and
//! crowding distance.
//!
//! Every function takes objective vectors in *minimisation* form: turn maximised objectives
//! around first with [`Direction::to_loss`](crate::study::Direction::to_loss). All points of one
//! call must have the same number of objectives. A point with a NaN coordinate neither dominates
//! nor is dominated by any other point, and never dominates a hypervolume reference point.

use std::cmp::Ordering;
use std::collections::BTreeMap;

/// Whether `a` Pareto-dominates `b`: no worse in every objective and strictly better in at least
/// one. Equal points do not dominate each other; NaN coordinates never compare as better.
pub fn dominates(a: &[f64], b: &[f64]) -> bool {
    debug_assert_eq!(
        a.len(),
        b.len(),
        "points with different numbers of objectives"
    );
    let mut better = false;
    for (x, y) in a.iter().zip(b) {
        match x.partial_cmp(y) {
            Some(Ordering::Less) => better = true,
            Some(Ordering::Equal) => {}
            _ => return false,
        }
    }
    better
}

/// Whether `a` is no worse than `b` in every objective (`a` equal to `b` included).
fn weakly_dominates(a: &[f64], b: &[f64]) -> bool {
    a.iter().zip(b).all(|(x, y)| x <= y)
}

/// The non-domination rank of every point: 0 for the Pareto front, 1 for the front of what is
/// left without it, and so on. Equal points share a rank.
///
/// Points are visited in lexicographic order, so none is dominated by a later one; each goes to
/// the first front with no member dominating it, found by binary search (a point dominated by a
/// member of front k + 1 is also dominated by a member of front k). That is the "efficient
/// non-dominated sort" (ENS-BS): O(N log N) for one or two objectives, where a front's last
/// member alone decides, and at worst O(M N²) for M objectives.
pub fn non_dominated_sort(points: &[Vec<f64>]) -> Vec<usize> {
    let mut ranks = vec![0; points.len()];
    let mut fronts: Vec<Vec<usize>> = Vec::new();
    for i in lexicographic_order(points) {
        let p = &points[i];
        let rank = fronts.partition_point(|front| front_dominates(points, front, p));
        match fronts.get_mut(rank) {
            Some(front) => front.push(i),
            None => fronts.push(vec![i]),
        }
        ranks[i] = rank;
    }
    ranks
}

/// Indices of the NaN-free points, sorted lexicographically by their coordinates (ties by
/// index). Points with NaN coordinates are left out: they keep rank 0 and dominate nothing.
fn lexicographic_order(points: &[Vec<f64>]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..points.len())
        .filter(|&i| !points[i].iter().any(|x| x.is_nan()))
        .collect();
    order.sort_by(|&a, &b| lexicographic_cmp(&points[a], &points[b]));
    order
}

/// Compares two points coordinate by coordinate.
fn lexicographic_cmp(a: &[f64], b: &[f64]) -> Ordering {
    a.iter()
        .zip(b)
        .map(|(x, y)| x.total_cmp(y))
        .find(|o| o.is_ne())
        .unwrap_or(Ordering::Equal)
}

/// Whether some member of `front` dominates `p`, for a front filled in lexicographic order.
/// With up to two objectives the last member has the smallest last coordinate, so it alone
/// decides.
fn front_dominates(points: &[Vec<f64>], front: &[usize], p: &[f64]) -> bool {
    if p.len() <= 2 {
        return front.last().is_some_and(|&q| dominates(&points[q], p));
    }
    front.iter().any(|&q| dominates(&points[q], p))
}

/// Indices (ascending) of the points on the Pareto front: those no other point dominates.
pub fn pareto_front_indices(points: &[Vec<f64>]) -> Vec<usize> {
    non_dominated_sort(points)
        .into_iter()
        .enumerate()
        .filter_map(|(i, rank)| (rank == 0).then_some(i))
        .collect()
}

/// The Pareto front of a set of points, as indices into it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParetoFront {
    indices: Vec<usize>,
}

impl ParetoFront {
    /// The front of `points` (see [`pareto_front_indices`]).
    pub fn from_points(points: &[Vec<f64>]) -> Self {
        ParetoFront {
            indices: pareto_front_indices(points),
        }
    }

    /// Indices of the non-dominated points, ascending.
    pub fn indices(&self) -> &[usize] {
        &self.indices
    }

    /// How many points are on the front.
    pub fn len(&self) -> usize {
        self.indices.len()
    }

    /// Whether the front is empty (no points were given).
    pub fn is_empty(&self) -> bool {
        self.indices.is_empty()
    }

    /// Whether point `i` is on the front.
    pub fn contains(&self, i: usize) -> bool {
        self.indices.binary_search(&i).is_ok()
    }
}

/// The hypervolume (Lebesgue measure) of the region dominated by `points` and bounded by
/// `reference`: the union of the boxes `[p, reference)`.
///
/// Points that do not strictly dominate the reference in every objective add nothing. The
/// result is exact up to rounding:
/// - 1 objective: `reference - min(p)`;
/// - 2 objectives: a sweep over the first objective, O(N log N);
/// - 3 objectives: a sweep over the third objective that keeps the 2-D front of the points seen
///   so far in an ordered map, O(N log N);
/// - 4 or more: slices along the last objective, each a (d-1)-objective hypervolume, down to
///   the 3-objective sweep: O(N^(d-2) log N), slow beyond a few hundred points.
///
/// No points (or no objectives) give 0.
///
/// # Panics
/// If a point has another number of objectives than `reference`.
pub fn hypervolume(points: &[Vec<f64>], reference: &[f64]) -> f64 {
    let inside: Vec<&[f64]> = points_inside(points, reference)
        .into_iter()
        .map(|i| points[i].as_slice())
        .collect();
    volume(&inside, reference)
}

/// Indices of the points that strictly dominate `reference` in every objective.
fn points_inside(points: &[Vec<f64>], reference: &[f64]) -> Vec<usize> {
    for p in points {
        assert_eq!(
            p.len(),
            reference.len(),
            "a point has {} objectives, the reference point {}",
            p.len(),
            reference.len()
        );
    }
    (0..points.len())
        .filter(|&i| points[i].iter().zip(reference).all(|(x, r)| x < r))
        .collect()
}

/// Hypervolume of points that all strictly dominate `reference`.
fn volume(points: &[&[f64]], reference: &[f64]) -> f64 {
    match reference.len() {
        0 => 0.0,
        1 => points
            .iter()
            .map(|p| reference[0] - p[0])
            .fold(0.0, f64::max),
        2 => area_2d(points, reference[0], reference[1]),
        3 => volume_3d(points, reference),
        _ => volume_by_slices(points, reference),
    }
}

/// Area dominated by 2-D points that strictly dominate the corner `(rx, ry)`.
fn area_2d(points: &[&[f64]], rx: f64, ry: f64) -> f64 {
    let mut stairs = Staircase::new(rx, ry);
    for p in points {
        stairs.insert(p[0], p[1]);
    }
    stairs.area
}

/// 3-D hypervolume: sweeping the third objective upwards, the slab between two consecutive
/// points is dominated exactly by the 2-D front of the points below it.
fn volume_3d(points: &[&[f64]], reference: &[f64]) -> f64 {
    let mut sorted = points.to_vec();
    sorted.sort_by(|a, b| a[2].total_cmp(&b[2]));
    let mut stairs = Staircase::new(reference[0], reference[1]);
    let mut total = 0.0;
    for (i, p) in sorted.iter().enumerate() {
        stairs.insert(p[0], p[1]);
        let next_z = sorted.get(i + 1).map_or(reference[2], |q| q[2]);
        total += stairs.area * (next_z - p[2]);
    }
    total
}

/// Hypervolume for 4 or more objectives: the slab between two consecutive values of the last
/// objective is dominated by the projections of the points below it.
fn volume_by_slices(points: &[&[f64]], reference: &[f64]) -> f64 {
    let last = reference.len() - 1;
    let mut sorted = points.to_vec();
    sorted.sort_by(|a, b| a[last].total_cmp(&b[last]));
    let mut total = 0.0;
    for (i, p) in sorted.iter().enumerate() {
        let depth = sorted.get(i + 1).map_or(reference[last], |q| q[last]) - p[last];
        if depth > 0.0 {
            let projected: Vec<&[f64]> = sorted[..=i].iter().map(|q| &q[..last]).collect();
            total += depth * volume(&projected, &reference[..last]);
        }
    }
    total
}

/// A 2-D front kept as a staircase (x ascending, y descending) together with the area it
/// dominates up to a corner. Inserting a point updates the area in O(log N) amortised.
struct Staircase {
    /// x → y of the mutually non-dominated points.
    steps: BTreeMap<Key, f64>,
    /// Area dominated by the steps and bounded by the corner.
    area: f64,
    /// The reference corner `(x, y)`.
    corner: (f64, f64),
}

impl Staircase {
    /// An empty staircase bounded by the corner `(x, y)`.
    fn new(x: f64, y: f64) -> Self {
        Staircase {
            steps: BTreeMap::new(),
            area: 0.0,
            corner: (x, y),
        }
    }

    /// Adds the point `(x, y)`, which must strictly dominate the corner: drops the steps it
    /// dominates and adds the area it dominates alone.
    fn insert(&mut self, x: f64, y: f64) {
        let left = self.steps.range(..=Key(x)).next_back().map(|(_, &ly)| ly);
        if left.is_some_and(|ly| ly <= y) {
            return; // weakly dominated: no new area
        }
        // Walk right over the steps the point covers, adding the strip between the old height
        // and `y` under each.
        let mut height = left.unwrap_or(self.corner.1);
        let mut from = x;
        let covered: Vec<(Key, f64)> = self
            .steps
            .range(Key(x)..)
            .take_while(|(_, &sy)| sy >= y)
            .map(|(&k, &sy)| (k, sy))
            .collect();
        for (key, sy) in covered {
            self.area += (key.0 - from) * (height - y);
            height = sy;
            from = key.0;
            self.steps.remove(&key);
        }
        let until = self
            .steps
            .range(Key(x)..)
            .next()
            .map_or(self.corner.0, |(k, _)| k.0);
        self.area += (until - from) * (height - y);
        self.steps.insert(Key(x), y);
    }
}

/// An `f64` map key ordered by [`f64::total_cmp`].
#[derive(Debug, Clone, Copy)]
struct Key(f64);

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for Key {}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Key {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// The exclusive hypervolume contribution of every point: how much the hypervolume shrinks when
/// that point alone is removed. Dominated points, duplicated points and points that do not
/// strictly dominate the reference contribute 0.
///
/// Two objectives take O(N log N): each point of the front owns the rectangle up to its
/// neighbours, less what the points it dominates cover inside it. Other dimensions compute, for
/// each front point `p`, the volume of its box less the hypervolume of `{max(p, q)}`: N
/// hypervolume computations (the WFG "exclusive hypervolume").
///
/// # Panics
/// If a point has another number of objectives than `reference`.
pub fn hypervolume_contributions(points: &[Vec<f64>], reference: &[f64]) -> Vec<f64> {
    let inside = points_inside(points, reference);
    let mut contributions = vec![0.0; points.len()];
    match reference.len() {
        0 => {}
        2 => contributions_2d(points, &inside, reference, &mut contributions),
        _ => contributions_by_limit_sets(points, &inside, reference, &mut contributions),
    }
    contributions
}

/// 2-D contributions. Sorted lexicographically, the points split into the strict staircase and
/// the rest; every other point lies in the slot of the last stair at or left of it.
fn contributions_2d(points: &[Vec<f64>], inside: &[usize], r: &[f64], out: &mut [f64]) {
    let mut order = inside.to_vec();
    order.sort_by(|&a, &b| lexicographic_cmp(&points[a], &points[b]));
    let mut stairs: Vec<usize> = Vec::new();
    let mut slots: Vec<Vec<usize>> = Vec::new();
    for i in order {
        match (stairs.last(), slots.last_mut()) {
            (Some(&s), Some(slot)) if points[s][1] <= points[i][1] => slot.push(i),
            _ => {
                stairs.push(i);
                slots.push(Vec::new());
            }
        }
    }
    for (k, (&s, slot)) in stairs.iter().zip(&slots).enumerate() {
        let right = stairs.get(k + 1).map_or(r[0], |&n| points[n][0]);
        let top = k
            .checked_sub(1)
            .map_or(r[1], |prev| points[stairs[prev]][1]);
        let p = &points[s];
        // The points in this slot below `top` are dominated by `p` and would take over part of
        // its rectangle if it were gone (a duplicate of `p` takes all of it).
        let mut covered = Staircase::new(right, top);
        for q in slot.iter().map(|&q| &points[q]).filter(|q| q[1] < top) {
            covered.insert(q[0], q[1]);
        }
        out[s] = ((right - p[0]) * (top - p[1]) - covered.area).max(0.0);
    }
}

/// Contributions in any dimension: box volume of `p` less the hypervolume of the other points
/// clipped to that box.
fn contributions_by_limit_sets(points: &[Vec<f64>], inside: &[usize], r: &[f64], out: &mut [f64]) {
    for &i in inside {
        let p = &points[i];
        let others = inside.iter().filter(|&&j| j != i).map(|&j| &points[j]);
        if others.clone().any(|q| weakly_dominates(q, p)) {
            continue; // dominated or duplicated: contributes nothing alone
        }
        let limited: Vec<Vec<f64>> = others
            .map(|q| p.iter().zip(q).map(|(a, b)| a.max(*b)).collect())
            .collect();
        let limited: Vec<&[f64]> = limited.iter().map(Vec::as_slice).collect();
        let own_box: f64 = p.iter().zip(r).map(|(x, r)| r - x).product();
        out[i] = (own_box - volume(&limited, r)).max(0.0);
    }
}

/// NSGA-II crowding distance of every point, usually the members of one front: for each
/// objective, the gap between a point's two neighbours divided by the objective's range, summed
/// over objectives. The two extreme points of each objective get `f64::INFINITY`, as do all
/// points when there are at most two. Objectives whose values are all equal add nothing.
pub fn crowding_distance(points: &[Vec<f64>]) -> Vec<f64> {
    let n = points.len();
    if n <= 2 {
        return vec![f64::INFINITY; n];
    }
    let mut distance = vec![0.0; n];
    for objective in 0..points[0].len() {
        add_crowding(points, objective, &mut distance);
    }
    distance
}

/// Adds one objective's share of the crowding distance (at least three points).
fn add_crowding(points: &[Vec<f64>], m: usize, distance: &mut [f64]) {
    let mut order: Vec<usize> = (0..points.len()).collect();
    order.sort_by(|&a, &b| points[a][m].total_cmp(&points[b][m]));
    let (first, last) = (order[0], order[order.len() - 1]);
    distance[first] = f64::INFINITY;
    distance[last] = f64::INFINITY;
    let range = points[last][m] - points[first][m];
    if range > 0.0 && range.is_finite() {
        for w in order.windows(3) {
            distance[w[1]] += (points[w[2]][m] - points[w[0]][m]) / range;
        }
    }
}
