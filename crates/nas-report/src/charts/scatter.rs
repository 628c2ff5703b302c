//! Accuracy against a cost (latency, weight count): the Pareto front in red joined by a step
//! line, other complete trials grey, pruned trials as orange triangles at their last rung's
//! accuracy, failed trials as crosses when they measured one.

use plotters::prelude::*;

use super::axis::TickedAxis;
use super::frame::{plot, Axes};
use super::{
    describe, draw, extent, padded, staircase, two_decimals, Hover, DOMINATED, FAILED, FRONT,
    PRUNED,
};
use crate::data::TrialRow;
use crate::ReportError;
use nas_core::study::TrialState;

/// The cost on the x axis of an accuracy scatter.
pub(crate) struct XAxis {
    /// Axis title.
    pub label: &'static str,
    /// Log or automatic scale (on a log scale non-positive values are left out).
    pub scale: Scale,
    /// The objective name of the same quantity (`latency_ms`, `params`).
    pub objective: &'static str,
    /// The value of a trial.
    pub value: fn(&TrialRow) -> Option<f64>,
    /// Tick label text of a value.
    pub tick: fn(f64) -> String,
}

/// The scale of an x axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scale {
    /// Logarithmic.
    Log,
    /// Linear, or logarithmic when the values are positive and span [`AUTO_LOG_SPAN`] or more.
    Auto,
}

/// Largest over smallest value from which an automatic scale turns logarithmic.
const AUTO_LOG_SPAN: f64 = 20.0;

impl Scale {
    /// Whether `values` are plotted on a log scale.
    fn is_log(self, values: impl Iterator<Item = f64>) -> bool {
        match self {
            Scale::Log => true,
            Scale::Auto => {
                extent(values).is_some_and(|(lo, hi)| lo > 0.0 && hi / lo >= AUTO_LOG_SPAN)
            }
        }
    }
}

/// How a trial is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Front,
    Dominated,
    Pruned,
    Failed,
}

/// One plotted trial, `x` already on the axis's scale.
struct Point<'a> {
    x: f64,
    y: f64,
    kind: Kind,
    row: &'a TrialRow,
}

/// The scatter of `rows` against `axis`, or `None` when no trial has both values. With
/// `front_line` a staircase joins the Pareto trials.
pub(crate) fn accuracy_scatter(
    rows: &[TrialRow],
    axis: &XAxis,
    front_line: bool,
    size: (u32, u32),
) -> Option<Result<String, ReportError>> {
    let log = axis.scale.is_log(rows.iter().filter_map(axis.value));
    let points: Vec<Point> = rows.iter().filter_map(|r| point(r, axis, log)).collect();
    let label = match log {
        true => format!("{} (log scale)", axis.label),
        false => axis.label.to_string(),
    };
    let x_range = padded(extent(points.iter().map(|p| p.x))?, 0.06);
    let y_range = padded(extent(points.iter().map(|p| p.y))?, 0.06);
    Some(draw("accuracy scatter", size, |root| {
        let tick = |v: &f64| (axis.tick)(if log { 10f64.powf(*v) } else { *v });
        let axes = Axes {
            x_desc: &label,
            y_desc: "validation accuracy",
            x_labels: 10,
            x_tick: &tick,
            y_tick: &two_decimals,
        };
        let mut chart = plot(root, TickedAxis::new(x_range, log), y_range, &axes)?;
        let of = |kind: Kind| points.iter().filter(move |p| p.kind == kind);
        chart.draw_series(
            of(Kind::Dominated).map(|p| Circle::new((p.x, p.y), 4, DOMINATED.filled())),
        )?;
        chart.draw_series(
            of(Kind::Pruned).map(|p| TriangleMarker::new((p.x, p.y), 5, PRUNED.mix(0.8).filled())),
        )?;
        chart.draw_series(
            of(Kind::Failed).map(|p| Cross::new((p.x, p.y), 4, FAILED.stroke_width(2))),
        )?;
        if front_line {
            chart.draw_series(LineSeries::new(
                step_line(of(Kind::Front)),
                FRONT.stroke_width(2),
            ))?;
        }
        chart.draw_series(of(Kind::Front).map(|p| Circle::new((p.x, p.y), 5, FRONT.filled())))?;
        let hovers = points
            .iter()
            .map(|p| Hover::at(&chart, &(p.x, p.y), 7, describe(p.row)));
        Ok(hovers.collect())
    }))
}

/// A finished trial with an accuracy and a usable x value.
fn point<'a>(row: &'a TrialRow, axis: &XAxis, log: bool) -> Option<Point<'a>> {
    let kind = match row.state {
        TrialState::Complete if row.on_pareto => Kind::Front,
        TrialState::Complete => Kind::Dominated,
        TrialState::Pruned => Kind::Pruned,
        TrialState::Fail => Kind::Failed,
        TrialState::Running | TrialState::Waiting => return None,
    };
    let raw = (axis.value)(row).filter(|v| v.is_finite())?;
    let x = match log {
        true => (raw > 0.0).then(|| raw.log10())?,
        false => raw,
    };
    let y = row.accuracy.filter(|a| a.is_finite())?;
    Some(Point { x, y, kind, row })
}

/// The staircase through the front's points from left to right: across, then up or down.
fn step_line<'a>(front: impl Iterator<Item = &'a Point<'a>>) -> Vec<(f64, f64)> {
    let mut corners: Vec<(f64, f64)> = front.map(|p| (p.x, p.y)).collect();
    corners.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
    staircase(&corners)
}
