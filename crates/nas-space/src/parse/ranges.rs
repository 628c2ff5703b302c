//! Checks of one parameter on its own: float and int ranges, steps, log scales and choices.

use super::decl::Site;
use super::{Result, SpaceError};
use crate::{on_grid, Distribution, ParamValue};

/// The error for a range the samplers cannot model, reported at `low`.
fn too_wide(range: impl Fn() -> (ParamValue, ParamValue), site: &Site) -> SpaceError {
    let (low, high) = range();
    SpaceError::RangeTooWide {
        at: site.field("low").into(),
        low,
        high,
    }
}

/// Checks one parameter's range or choices.
pub(super) fn check_distribution(distribution: &Distribution, site: &Site) -> Result<()> {
    match *distribution {
        Distribution::Float {
            low,
            high,
            log,
            step,
        } => check_float(low, high, log, step, site),
        Distribution::Int {
            low,
            high,
            log,
            step,
        } => check_int(low, high, log, step, site),
        Distribution::Categorical { ref choices } => check_choices(choices, site),
    }
}

/// A float range: finite bounds and step, `low < high` with a finite width, `low > 0` on a log
/// scale, and a positive step dividing the range into a countable grid (no step on a log
/// scale).
fn check_float(low: f64, high: f64, log: bool, step: Option<f64>, site: &Site) -> Result<()> {
    for (key, x) in [("low", low), ("high", high)]
        .into_iter()
        .chain(step.map(|s| ("step", s)))
    {
        if !x.is_finite() {
            return Err(SpaceError::WrongType {
                at: site.field(key).into(),
                expected: "a finite number",
                found: x.to_string(),
            });
        }
    }
    let range = || (ParamValue::Float(low), ParamValue::Float(high));
    check_bounds(low < high, log && low <= 0.0, range, site)?;
    let padding = step.unwrap_or(0.0);
    if !(high - low + padding).is_finite() {
        return Err(too_wide(range, site));
    }
    let Some(step) = step else { return Ok(()) };
    let at = || site.field("step").into();
    if step <= 0.0 {
        Err(SpaceError::StepNotPositive {
            at: at(),
            step: step.into(),
        })
    } else if log {
        Err(SpaceError::LogWithStep {
            at: at(),
            step: step.into(),
        })
    } else if !on_grid(high - low, step) {
        let (low, high) = range();
        Err(SpaceError::StepNotDividing {
            at: at(),
            step: step.into(),
            low,
            high,
        })
    } else if (high - low) / step >= i64::MAX as f64 {
        Err(too_wide(range, site))
    } else {
        Ok(())
    }
}

/// An int range: `low < high` within ±2^53 (exact as the samplers' floats), `low > 0` on a log
/// scale, and a positive step dividing the range (only 1 on a log scale).
pub(super) fn check_int(low: i64, high: i64, log: bool, step: i64, site: &Site) -> Result<()> {
    let range = || (ParamValue::Int(low), ParamValue::Int(high));
    check_bounds(low < high, log && low <= 0, range, site)?;
    const EXACT: i64 = 1 << 53; // beyond this, ints are not exact as the samplers' floats
    let exact = (-EXACT..=EXACT).contains(&low) && (-EXACT..=EXACT).contains(&high);
    let Some(width) = high.checked_sub(low).filter(|_| exact) else {
        return Err(too_wide(range, site));
    };
    let at = || site.field("step").into();
    if step <= 0 {
        Err(SpaceError::StepNotPositive {
            at: at(),
            step: step.into(),
        })
    } else if log && step != 1 {
        Err(SpaceError::LogWithStep {
            at: at(),
            step: step.into(),
        })
    } else if width % step != 0 {
        let (low, high) = range();
        Err(SpaceError::StepNotDividing {
            at: at(),
            step: step.into(),
            low,
            high,
        })
    } else {
        Ok(())
    }
}

/// `low < high`, and `low > 0` on a log scale (`bad_log`).
fn check_bounds(
    ordered: bool,
    bad_log: bool,
    range: impl Fn() -> (ParamValue, ParamValue),
    site: &Site,
) -> Result<()> {
    let at = site.field("low").into();
    let (low, high) = range();
    if !ordered {
        Err(SpaceError::EmptyRange { at, low, high })
    } else if bad_log {
        Err(SpaceError::LogNotPositive { at, low })
    } else {
        Ok(())
    }
}

/// Choices: at least one, finite numbers, none listed twice.
fn check_choices(choices: &[ParamValue], site: &Site) -> Result<()> {
    if choices.is_empty() {
        return Err(SpaceError::EmptyChoices {
            at: site.field("choices").into(),
        });
    }
    for (i, value) in choices.iter().enumerate() {
        if matches!(value, ParamValue::Float(x) if !x.is_finite()) {
            return Err(SpaceError::WrongType {
                at: site.choice(i).into(),
                expected: "a finite number",
                found: value.to_string(),
            });
        }
        if choices[..i].contains(value) {
            return Err(SpaceError::DuplicateChoice {
                at: site.choice(i).into(),
                value: value.clone(),
            });
        }
    }
    Ok(())
}
