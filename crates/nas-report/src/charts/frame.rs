//! What every chart shares around its data: the margins, the mesh's look (fonts, grid lines
//! at labelled ticks only) and, for the `f64` plots, the axis titles and tick labels.

use plotters::chart::{ChartContext, MeshStyle};
use plotters::coord::cartesian::Cartesian2d;
use plotters::coord::ranged1d::{AsRangedCoord, Ranged, ValueFormatter};
use plotters::coord::Shift;
use plotters::prelude::*;

use super::{FONT, GRID};

/// A chart drawn into an SVG string.
pub(crate) type Chart<'a, 'svg, X, Y> = ChartContext<'a, SVGBackend<'svg>, Cartesian2d<X, Y>>;

/// What a plot's axes say.
pub(crate) struct Axes<'f> {
    /// The x axis title.
    pub x_desc: &'f str,
    /// The y axis title.
    pub y_desc: &'f str,
    /// Most labels on the x axis (an axis that picks its own ticks ignores it).
    pub x_labels: usize,
    /// The text of an x tick.
    pub x_tick: &'f dyn Fn(&f64) -> String,
    /// The text of a y tick.
    pub y_tick: &'f dyn Fn(&f64) -> String,
}

/// Most labels on a plot's y axis.
const Y_LABELS: usize = 8;

/// A plot of `x` against `y` on `root` with its mesh drawn: every chart but the importance
/// bars.
pub(crate) fn plot<'a, 'svg, X, Y>(
    root: &'a DrawingArea<SVGBackend<'svg>, Shift>,
    x: X,
    y: Y,
    axes: &Axes,
) -> Result<Chart<'a, 'svg, X::CoordDescType, Y::CoordDescType>, Box<dyn std::error::Error>>
where
    X: AsRangedCoord<Value = f64>,
    Y: AsRangedCoord<Value = f64>,
    X::CoordDescType: ValueFormatter<f64>,
    Y::CoordDescType: ValueFormatter<f64>,
{
    let mut chart = ChartBuilder::on(root)
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(64)
        .build_cartesian_2d(x, y)?;
    house_style(&mut chart.configure_mesh())
        .x_desc(axes.x_desc)
        .y_desc(axes.y_desc)
        .x_labels(axes.x_labels)
        .y_labels(Y_LABELS)
        .x_label_formatter(axes.x_tick)
        .y_label_formatter(axes.y_tick)
        .draw()?;
    Ok(chart)
}

/// `mesh` with the look of every chart: 14 px tick labels, 15 px axis titles, grid lines at
/// the labelled ticks only.
pub(crate) fn house_style<'m, 'a, 'b, X, Y, DB>(
    mesh: &'m mut MeshStyle<'a, 'b, X, Y, DB>,
) -> &'m mut MeshStyle<'a, 'b, X, Y, DB>
where
    X: Ranged,
    Y: Ranged,
    DB: DrawingBackend,
{
    mesh.label_style((FONT, 14))
        .axis_desc_style((FONT, 15))
        .bold_line_style(GRID)
        .light_line_style(TRANSPARENT)
}
