//! Counting the distinct configurations (or architectures) of a space without enumerating them.

use std::collections::{BTreeMap, HashMap};

use super::runs::runs;
use super::NUM_STAGES;
use crate::{Condition, Distribution, Param, SearchSpace};

/// Number of distinct configurations of `space`, counting active parameters only; `None` when a
/// reachable continuous parameter makes it infinite.
pub(crate) fn count_configurations(space: &SearchSpace) -> Option<u128> {
    count_configurations_of(space, |_| true)
}

/// Number of distinct configurations of the parameters whose name passes `keep`, counting active
/// parameters only (saturating at `u128::MAX`); `None` when a reachable continuous parameter
/// passes `keep`.
///
/// Parameters that fail `keep` do not multiply the count, but a condition on one still splits it:
/// its values are grouped by which conditions of counted parameters they satisfy, and each group
/// is one branch. So `count_configurations_of(space, is_architecture_param)` counts distinct
/// architectures, ignoring the training recipe as long as no architecture parameter is
/// conditioned on it.
pub fn count_configurations_of(space: &SearchSpace, keep: impl Fn(&str) -> bool) -> Option<u128> {
    Counter::new(space, &keep).count()
}

/// Number of distinct architectures: [`count_configurations_of`] the parameters that pass
/// [`is_architecture_param`].
pub fn count_architectures(space: &SearchSpace) -> Option<u128> {
    count_configurations_of(space, is_architecture_param)
}

/// Whether `name` is an architecture parameter by the convention of `search_spaces/README.md`:
/// `num_stages`, a stage parameter `stage<N>.…` made by `[stages]`, or a name starting `arch.`.
pub fn is_architecture_param(name: &str) -> bool {
    name == NUM_STAGES || name.starts_with("arch.") || is_stage_param(name)
}

/// `stage<digits>.<anything>`.
fn is_stage_param(name: &str) -> bool {
    name.strip_prefix("stage")
        .and_then(|rest| rest.split_once('.'))
        .is_some_and(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// Values of a condition parent that no condition tells apart.
struct Class {
    /// Whether each watched condition (see [`Counter::classes`]) holds for these values.
    holds: Vec<bool>,
    /// How many values; `None` for a continuous range.
    size: Option<u128>,
}

/// Counts configurations in one sweep over the parameters, parents first. It keeps a running
/// total per combination of value classes of the condition parents that still have children
/// ahead, so a stage-structured space costs (classes of `num_stages`) × (block types) states
/// rather than one per combination of all stages.
struct Counter<'s> {
    params: &'s [Param],
    /// Whether a parameter passes the filter.
    kept: Vec<bool>,
    /// Kept, or the parent of a relevant parameter.
    relevant: Vec<bool>,
    /// Per parameter, where each of its conditions reads.
    reads: Vec<Vec<Read>>,
    /// Per parameter, its values grouped by the conditions of relevant children on it; empty
    /// when no relevant parameter is conditioned on it.
    classes: Vec<Vec<Class>>,
    /// Per parameter, the parents whose last relevant child it is (forgotten after it).
    retire: Vec<Vec<usize>>,
}

/// Where a condition reads: (parent, slot among the conditions watching that parent); `None` for a
/// parent missing from the space, which makes the condition never hold.
type Read = Option<(usize, usize)>;

/// The class of each active condition parent that still has readers ahead, as
/// (parameter, class) by increasing parameter; inactive parents are left out.
type State = Vec<(usize, usize)>;

impl<'s> Counter<'s> {
    /// Prepares to count the parameters of `space` that pass `keep`.
    fn new(space: &'s SearchSpace, keep: &dyn Fn(&str) -> bool) -> Self {
        let params = space.params();
        let kept: Vec<bool> = params.iter().map(|p| keep(&p.name)).collect();
        let parents: Vec<Vec<Option<usize>>> = params
            .iter()
            .map(|p| {
                p.conditions
                    .iter()
                    .map(|c| space.index_of(c.parent()))
                    .collect()
            })
            .collect();
        let relevant = relevance(&kept, &parents);
        let (reads, watched) = wire(params, &parents, &relevant);
        let classes = params
            .iter()
            .zip(&watched)
            .map(|(p, w)| {
                if w.is_empty() {
                    Vec::new()
                } else {
                    classes_of(&p.distribution, w)
                }
            })
            .collect();
        Counter {
            params,
            kept,
            relevant,
            retire: retirements(&reads),
            reads,
            classes,
        }
    }

    /// The count, saturating; `None` when a kept continuous parameter can be active.
    fn count(&self) -> Option<u128> {
        let mut totals: HashMap<State, u128> = HashMap::from([(State::new(), 1)]);
        for i in (0..self.params.len()).filter(|&i| self.relevant[i]) {
            let mut next = HashMap::with_capacity(totals.len());
            for (state, total) in totals {
                self.extend(i, state, total, &mut next)?;
            }
            totals = self.forget(i, next);
        }
        Some(totals.into_values().fold(0, u128::saturating_add))
    }

    /// Adds parameter `i` to one state: a branch per class if others depend on it, else a factor.
    fn extend(
        &self,
        i: usize,
        state: State,
        total: u128,
        next: &mut HashMap<State, u128>,
    ) -> Option<()> {
        if !self.is_active(i, &state) {
            accumulate(next, state, total);
        } else if self.classes[i].is_empty() {
            let size = if self.kept[i] {
                self.params[i].distribution.cardinality()?
            } else {
                1
            };
            accumulate(next, state, total.saturating_mul(size));
        } else {
            for (c, class) in self.classes[i].iter().enumerate() {
                let size = if self.kept[i] { class.size? } else { 1 };
                let mut branch = state.clone();
                branch.push((i, c));
                accumulate(next, branch, total.saturating_mul(size));
            }
        }
        Some(())
    }

    /// Whether parameter `i` is active in every configuration that `state` stands for.
    fn is_active(&self, i: usize, state: &State) -> bool {
        self.reads[i].iter().all(|read| {
            read.is_some_and(|(p, slot)| {
                state
                    .iter()
                    .find(|&&(q, _)| q == p)
                    .is_some_and(|&(_, c)| self.classes[p][c].holds[slot])
            })
        })
    }

    /// Drops the parents whose last reader is `i` from every state, merging equal states.
    fn forget(&self, i: usize, totals: HashMap<State, u128>) -> HashMap<State, u128> {
        if self.retire[i].is_empty() {
            return totals;
        }
        let mut merged = HashMap::with_capacity(totals.len());
        for (mut state, total) in totals {
            state.retain(|(p, _)| !self.retire[i].contains(p));
            accumulate(&mut merged, state, total);
        }
        merged
    }
}

/// Which parameters matter to the count: the kept ones and, transitively, their parents.
fn relevance(kept: &[bool], parents: &[Vec<Option<usize>>]) -> Vec<bool> {
    let mut relevant = kept.to_vec();
    // Children come after their parents, so one backward pass reaches every ancestor.
    for i in (0..relevant.len()).rev() {
        if relevant[i] {
            for &p in parents[i].iter().flatten() {
                relevant[p] = true;
            }
        }
    }
    relevant
}

/// Numbers the conditions of relevant parameters: for each parameter, its conditions as
/// (parent, slot); for each parent, the conditions that read it, in slot order.
fn wire<'p>(
    params: &'p [Param],
    parents: &[Vec<Option<usize>>],
    relevant: &[bool],
) -> (Vec<Vec<Read>>, Vec<Vec<&'p Condition>>) {
    let mut reads = vec![Vec::new(); params.len()];
    let mut watched: Vec<Vec<&Condition>> = vec![Vec::new(); params.len()];
    for i in (0..params.len()).filter(|&i| relevant[i]) {
        for (condition, parent) in params[i].conditions.iter().zip(&parents[i]) {
            reads[i].push(parent.map(|p| {
                watched[p].push(condition);
                (p, watched[p].len() - 1)
            }));
        }
    }
    (reads, watched)
}

/// For each parameter, the parents whose last reader it is.
fn retirements(reads: &[Vec<Read>]) -> Vec<Vec<usize>> {
    let mut last_reader = vec![None; reads.len()];
    for (i, conditions) in reads.iter().enumerate() {
        for &(p, _) in conditions.iter().flatten() {
            last_reader[p] = Some(i);
        }
    }
    let mut retire = vec![Vec::new(); reads.len()];
    for (p, reader) in last_reader.into_iter().enumerate() {
        if let Some(i) = reader {
            retire[i].push(p);
        }
    }
    retire
}

/// Adds `total` to the running total of `state`, saturating.
fn accumulate(totals: &mut HashMap<State, u128>, state: State, total: u128) {
    let entry = totals.entry(state).or_insert(0);
    *entry = entry.saturating_add(total);
}

/// Groups the values of `distribution` by which of the `watched` conditions they satisfy.
fn classes_of(distribution: &Distribution, watched: &[&Condition]) -> Vec<Class> {
    let mut groups: BTreeMap<Vec<bool>, Option<u128>> = BTreeMap::new();
    for (value, size) in runs(distribution, watched) {
        let holds = watched.iter().map(|c| c.holds(&value)).collect();
        let group = groups.entry(holds).or_insert(Some(0));
        *group = group.zip(size).map(|(a, b)| a.saturating_add(b));
    }
    groups
        .into_iter()
        .map(|(holds, size)| Class { holds, size })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn architecture_convention() {
        assert!(is_architecture_param("num_stages"));
        assert!(is_architecture_param("stage3.inverted_residual.kernel"));
        assert!(is_architecture_param("arch.stem_width"));
        assert!(!is_architecture_param("stages.lr"));
        assert!(!is_architecture_param("stage.x"));
        assert!(!is_architecture_param("optimizer"));
    }
}
