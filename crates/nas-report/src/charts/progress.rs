//! Search progress over finished trials: each complete trial's first objective with the best
//! so far as a staircase, and the hypervolume of the front so far.

use plotters::prelude::*;

use super::frame::{plot, Axes};
use super::{
    draw, extent, padded, short_number, staircase, whole_number, Hover, DOMINATED, FRONT, LINE,
};
use crate::format;
use crate::history::History;
use crate::summary::Objective;
use crate::ReportError;

/// The first objective after each finished trial, or `None` before any trial completed.
pub(crate) fn best_so_far(
    history: &History,
    objective: &Objective,
    size: (u32, u32),
) -> Option<Result<String, ReportError>> {
    let best: Vec<(f64, f64)> = history
        .points
        .iter()
        .filter_map(|p| Some((p.index as f64, p.best?)))
        .collect();
    let values: Vec<(f64, f64, u64)> = history
        .points
        .iter()
        .filter_map(|p| Some((p.index as f64, p.value.filter(|v| v.is_finite())?, p.trial)))
        .collect();
    let ys = best.iter().map(|b| b.1).chain(values.iter().map(|v| v.1));
    let y_range = padded(extent(ys)?, 0.06);
    let x_range = 0.5..history.points.len() as f64 + 0.5;
    Some(draw("best so far", size, |root| {
        let mut chart = plot(root, x_range, y_range, &over_trials(&objective.name))?;
        chart.draw_series(
            values
                .iter()
                .map(|&(x, y, _)| Circle::new((x, y), 4, DOMINATED.filled())),
        )?;
        chart.draw_series(LineSeries::new(staircase(&best), FRONT.stroke_width(2)))?;
        let hovers = values.iter().map(|&(x, y, trial)| {
            let title = format!("trial {trial} · {} {}", objective.name, format::value(y));
            Hover::at(&chart, &(x, y), 7, title)
        });
        Ok(hovers.collect())
    }))
}

/// The hypervolume after each finished trial, or `None` with one objective or before any
/// trial completed.
pub(crate) fn hypervolume(
    history: &History,
    size: (u32, u32),
) -> Option<Result<String, ReportError>> {
    history.reference_point.as_ref()?;
    let volumes: Vec<(f64, f64, u64)> = history
        .points
        .iter()
        .filter_map(|p| Some((p.index as f64, p.hypervolume?, p.trial)))
        .collect();
    let (_, top) = extent(volumes.iter().map(|v| v.1))?;
    let y_range = 0.0..if top > 0.0 { top * 1.08 } else { 1.0 };
    let x_range = 0.5..history.points.len() as f64 + 0.5;
    let line: Vec<(f64, f64)> = volumes.iter().map(|&(x, y, _)| (x, y)).collect();
    Some(draw("hypervolume", size, |root| {
        let mut chart = plot(root, x_range, y_range, &over_trials("hypervolume"))?;
        chart.draw_series(LineSeries::new(staircase(&line), LINE.stroke_width(2)))?;
        let rises = rises(&volumes);
        chart.draw_series(
            rises
                .iter()
                .map(|&(x, y, _)| Circle::new((x, y), 4, LINE.filled())),
        )?;
        let hovers = rises.iter().map(|&(x, y, trial)| {
            let title = format!("after trial {trial}: hypervolume {}", format::value(y));
            Hover::at(&chart, &(x, y), 7, title)
        });
        Ok(hovers.collect())
    }))
}

/// The axes of a chart over finished trials with `y_desc` on the y axis.
fn over_trials(y_desc: &str) -> Axes<'_> {
    Axes {
        x_desc: "finished trials",
        y_desc,
        x_labels: 10,
        x_tick: &whole_number,
        y_tick: &short_number,
    }
}

/// The points where the hypervolume went up.
fn rises(volumes: &[(f64, f64, u64)]) -> Vec<(f64, f64, u64)> {
    let mut previous = 0.0;
    let mut rises = Vec::new();
    for &(x, y, trial) in volumes {
        if y > previous {
            rises.push((x, y, trial));
            previous = y;
        }
    }
    rises
}
