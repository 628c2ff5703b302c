//! Learning curves: validation accuracy at each rung, one line per trial, coloured by how the
//! trial ended (Pareto red, other complete grey, pruned orange, failed dark, running pale
//! blue).

use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use super::frame::{plot, Axes};
use super::{
    describe, draw, extent, padded, two_decimals, whole_number, Hover, DOMINATED, FAILED, FRONT,
    LINE, PRUNED,
};
use crate::data::TrialRow;
use crate::ReportError;
use nas_core::study::TrialState;

/// The learning curves of `rows`, or `None` when no trial reported a rung accuracy.
pub(crate) fn learning_curves(
    rows: &[TrialRow],
    size: (u32, u32),
) -> Option<Result<String, ReportError>> {
    let mut curves: Vec<&TrialRow> = rows.iter().filter(|r| !r.curve.is_empty()).collect();
    curves.sort_by_key(|r| layer(r));
    let last_rung = curves
        .iter()
        .flat_map(|r| r.curve.iter().map(|p| p.rung))
        .max()?;
    let y_range = padded(
        extent(
            curves
                .iter()
                .flat_map(|r| r.curve.iter().map(|p| p.accuracy)),
        )?,
        0.06,
    );
    let x_range = -0.3..last_rung as f64 + 0.3;
    Some(draw("learning curves", size, |root| {
        let axes = Axes {
            x_desc: "rung",
            y_desc: "validation accuracy",
            x_labels: last_rung as usize + 2,
            x_tick: &whole_number,
            y_tick: &two_decimals,
        };
        let mut chart = plot(root, x_range, y_range, &axes)?;
        let mut hovers = Vec::new();
        for row in &curves {
            let style = curve_style(row);
            let line: Vec<(f64, f64)> = row
                .curve
                .iter()
                .map(|p| (p.rung as f64, p.accuracy))
                .collect();
            chart.draw_series(LineSeries::new(line.clone(), style))?;
            draw_markers(&mut chart, row.state, &line, style)?;
            if let Some(end) = line.last() {
                hovers.push(Hover::at(&chart, end, 6, describe(row)));
            }
        }
        Ok(hovers)
    }))
}

/// Marks each point of a curve: triangles for pruned trials, crosses for failed ones, dots
/// for the others.
fn draw_markers<DB: DrawingBackend>(
    chart: &mut ChartContext<DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    state: TrialState,
    points: &[(f64, f64)],
    style: ShapeStyle,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let points = points.iter().copied();
    match state {
        TrialState::Pruned => {
            chart.draw_series(points.map(|p| TriangleMarker::new(p, 4, style.filled())))
        }
        TrialState::Fail => {
            chart.draw_series(points.map(|p| Cross::new(p, 4, style.stroke_width(2))))
        }
        _ => chart.draw_series(points.map(|p| Circle::new(p, 3, style.filled()))),
    }
    .map(|_| ())
}

/// Drawing order: running first, the Pareto front last (on top).
fn layer(row: &TrialRow) -> u8 {
    match row.state {
        TrialState::Running | TrialState::Waiting => 0,
        TrialState::Pruned => 1,
        TrialState::Fail => 2,
        TrialState::Complete if !row.on_pareto => 3,
        TrialState::Complete => 4,
    }
}

/// Colour and width of a trial's curve.
fn curve_style(row: &TrialRow) -> ShapeStyle {
    match row.state {
        TrialState::Running | TrialState::Waiting => LINE.mix(0.3).stroke_width(1),
        TrialState::Pruned => PRUNED.mix(0.7).stroke_width(1),
        TrialState::Fail => FAILED.mix(0.6).stroke_width(1),
        TrialState::Complete if !row.on_pareto => DOMINATED.mix(0.6).stroke_width(1),
        TrialState::Complete => FRONT.stroke_width(2),
    }
}
