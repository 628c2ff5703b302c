//! Checks of a space as a whole: unique names, conditions on existing parents that can hold, no
//! cycles; and the parents-first order.

use std::collections::{BTreeSet, HashMap};

use super::decl::Decl;
use super::{Result, SourceLocation, SpaceError};
use crate::{Comparison, Condition, Distribution, Param, ParamValue, SearchSpace};

/// Checks the declarations as a whole and orders them parents-first.
pub(super) fn validate(decls: Vec<Decl>) -> Result<SearchSpace> {
    let index = unique_names(&decls)?;
    for decl in &decls {
        check_parents(decl, &decls, &index)?;
    }
    let order = parents_first(&decls, &index)?;
    let mut params: Vec<Option<Param>> = decls.into_iter().map(|d| Some(d.param)).collect();
    let ordered = order.into_iter().filter_map(|i| params[i].take()).collect();
    Ok(SearchSpace::from_ordered(ordered))
}

/// Position of each parameter by name; fails on the second declaration of a name.
fn unique_names(decls: &[Decl]) -> Result<HashMap<&str, usize>> {
    let mut index = HashMap::with_capacity(decls.len());
    for (i, decl) in decls.iter().enumerate() {
        if let Some(&first) = index.get(decl.param.name.as_str()) {
            let first: &Decl = &decls[first];
            return Err(SpaceError::DuplicateParam {
                at: decl.at.clone().into(),
                name: decl.param.name.clone(),
                first: first.at.clone().into(),
            });
        }
        index.insert(decl.param.name.as_str(), i);
    }
    Ok(index)
}

/// Every condition of `decl` reads an existing parameter and can hold.
fn check_parents(decl: &Decl, decls: &[Decl], index: &HashMap<&str, usize>) -> Result<()> {
    for (condition, at) in decl.param.conditions.iter().zip(&decl.condition_at) {
        let parent = condition.parent();
        let Some(&p) = index.get(parent) else {
            return Err(SpaceError::UnknownParent {
                at: at.clone().into(),
                parent: parent.to_owned(),
            });
        };
        check_condition(condition, &decls[p].param.distribution, at)?;
    }
    Ok(())
}

/// A condition can hold for some value of its parent, and every accepted value is possible.
fn check_condition(
    condition: &Condition,
    parent: &Distribution,
    at: &SourceLocation,
) -> Result<()> {
    let name = condition.parent().to_owned();
    match condition {
        Condition::In { values, .. } if values.is_empty() => Err(SpaceError::NoAcceptedValues {
            at: at.clone().into(),
            parent: name,
        }),
        Condition::In { .. } if matches!(parent, Distribution::Float { step: None, .. }) => {
            Err(SpaceError::EqualityOnContinuous {
                at: at.clone().into(),
                parent: name,
            })
        }
        Condition::In { values, .. } => match values.iter().find(|v| !can_take(parent, v)) {
            Some(value) => Err(SpaceError::ImpossibleValue {
                at: at.clone().into(),
                parent: name,
                value: value.clone(),
            }),
            None => Ok(()),
        },
        Condition::Compare { op, value, .. } => {
            let test = format!("{} {value}", symbol(*op));
            match extremes(parent) {
                None => Err(SpaceError::NotNumeric {
                    at: at.clone().into(),
                    parent: name,
                    test,
                }),
                Some(xs) if !xs.iter().any(|x| condition.holds(x)) => {
                    Err(SpaceError::ImpossibleComparison {
                        at: at.clone().into(),
                        parent: name,
                        test,
                    })
                }
                Some(_) => Ok(()),
            }
        }
    }
}

/// Whether `parent` takes a value equal to `value`; conditions compare numbers by value, so `2.0`
/// matches an int parameter's `2`.
fn can_take(parent: &Distribution, value: &ParamValue) -> bool {
    let whole = match value {
        ParamValue::Float(_) => value.as_i64().map(ParamValue::Int),
        _ => None,
    };
    parent.contains(value) || whole.is_some_and(|int| parent.contains(&int))
}

/// Values among which any satisfiable comparison finds a match: the smallest and largest value of
/// a numeric range, or all choices; `None` when a choice is not a number.
fn extremes(distribution: &Distribution) -> Option<Vec<ParamValue>> {
    match *distribution {
        Distribution::Float {
            low, high, step, ..
        } => {
            let top = step.map_or(high, |s| low + ((high - low) / s).round() * s);
            Some(vec![low.into(), top.into()])
        }
        Distribution::Int {
            low, high, step, ..
        } => {
            let top = low + (high - low) / step * step;
            Some(vec![low.into(), top.into()])
        }
        Distribution::Categorical { ref choices } => choices
            .iter()
            .all(|c| c.as_f64().is_some())
            .then(|| choices.clone()),
    }
}

/// A parents-first order, taking the earliest declared ready parameter at each step (so an
/// already ordered list is kept as is); fails naming a cycle when there is one.
fn parents_first(decls: &[Decl], index: &HashMap<&str, usize>) -> Result<Vec<usize>> {
    let parents: Vec<Vec<usize>> = decls
        .iter()
        .map(|d| {
            d.param
                .conditions
                .iter()
                .filter_map(|c| index.get(c.parent()).copied())
                .collect()
        })
        .collect();
    let mut children = vec![Vec::new(); decls.len()];
    for (child, ps) in parents.iter().enumerate() {
        for &p in ps {
            children[p].push(child);
        }
    }
    let mut waiting: Vec<usize> = parents.iter().map(Vec::len).collect();
    let mut ready: BTreeSet<usize> = (0..decls.len()).filter(|&i| waiting[i] == 0).collect();
    let mut order = Vec::with_capacity(decls.len());
    while let Some(i) = ready.pop_first() {
        order.push(i);
        for &child in &children[i] {
            waiting[child] -= 1;
            if waiting[child] == 0 {
                ready.insert(child);
            }
        }
    }
    if order.len() < decls.len() {
        return Err(cycle_error(decls, &parents, &waiting));
    }
    Ok(order)
}

/// Names a cycle among the parameters still `waiting` for a parent: each of them has a parent
/// that is waiting too, so following those parents from any of them must loop.
fn cycle_error(decls: &[Decl], parents: &[Vec<usize>], waiting: &[usize]) -> SpaceError {
    let stuck = |i: &usize| waiting[*i] > 0;
    let mut path = Vec::new();
    let mut next = (0..decls.len()).find(stuck).unwrap_or_default();
    while !path.contains(&next) {
        path.push(next);
        next = parents[next].iter().copied().find(stuck).unwrap_or(next);
    }
    // `path` ends in a loop back to `next`; report it from its earliest declared parameter.
    let start = path.iter().position(|&i| i == next).unwrap_or_default();
    let mut cycle = path.split_off(start);
    let earliest = (0..cycle.len())
        .min_by_key(|&k| cycle[k])
        .unwrap_or_default();
    cycle.rotate_left(earliest);
    cycle.push(cycle[0]);
    let (head, second) = (&decls[cycle[0]], &decls[cycle[1]].param.name);
    let at = head
        .param
        .conditions
        .iter()
        .position(|c| c.parent() == second)
        .and_then(|k| head.condition_at.get(k))
        .unwrap_or(&head.at);
    SpaceError::Cycle {
        at: at.clone().into(),
        cycle: cycle.iter().map(|&i| decls[i].param.name.clone()).collect(),
    }
}

/// How a comparison reads in an error message.
fn symbol(op: Comparison) -> &'static str {
    match op {
        Comparison::Gt => ">",
        Comparison::Ge => ">=",
        Comparison::Lt => "<",
        Comparison::Le => "<=",
    }
}
