//! SVG charts drawn with plotters into strings, plus what plotters cannot do: hover titles
//! (transparent circles with a `<title>`, placed with the chart's own coordinate mapping) and
//! a placeholder when there is nothing to plot.

mod axis;
mod bars;
mod curves;
mod frame;
mod progress;
mod scatter;

pub(crate) use bars::importance_bars;
pub(crate) use curves::learning_curves;
pub(crate) use progress::{best_so_far, hypervolume};
pub(crate) use scatter::{accuracy_scatter, Scale, XAxis};

use std::ops::Range;

use plotters::chart::ChartContext;
use plotters::coord::cartesian::Cartesian2d;
use plotters::coord::ranged1d::Ranged;
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::ReportError;

/// The font family of every label.
pub(crate) const FONT: &str = "sans-serif";

/// Pareto-front trials.
pub(crate) const FRONT: RGBColor = RGBColor(214, 39, 40);
/// Complete trials off the front.
pub(crate) const DOMINATED: RGBColor = RGBColor(140, 140, 140);
/// Trials the scheduler stopped.
pub(crate) const PRUNED: RGBColor = RGBColor(255, 127, 14);
/// Failed trials.
pub(crate) const FAILED: RGBColor = RGBColor(40, 40, 40);
/// Lines that are neither (best so far, hypervolume, complete curves).
pub(crate) const LINE: RGBColor = RGBColor(31, 119, 180);
/// Grid lines.
pub(crate) const GRID: RGBColor = RGBColor(228, 228, 228);

/// What a chart's painter returns: the hover targets to add, or what went wrong.
pub(crate) type Painted = Result<Vec<Hover>, Box<dyn std::error::Error>>;

/// A transparent circle that shows `title` when the pointer is over `(x, y)`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Hover {
    /// Centre, in SVG pixels.
    pub x: i32,
    /// Centre, in SVG pixels.
    pub y: i32,
    /// Radius, in SVG pixels.
    pub r: u32,
    /// The tooltip text (escaped when written).
    pub title: String,
}

impl Hover {
    /// A target of radius `r` over the point `at` of `chart`.
    pub(crate) fn at<DB: DrawingBackend, X: Ranged, Y: Ranged>(
        chart: &ChartContext<DB, Cartesian2d<X, Y>>,
        at: &(X::ValueType, Y::ValueType),
        r: u32,
        title: String,
    ) -> Hover {
        let (x, y) = chart.backend_coord(at);
        Hover { x, y, r, title }
    }
}

/// Draws a `size` chart with `paint` on a white background and returns the SVG text with
/// the painter's hover targets appended.
pub(crate) fn draw<F>(
    chart: &'static str,
    size: (u32, u32),
    paint: F,
) -> Result<String, ReportError>
where
    F: FnOnce(&DrawingArea<SVGBackend, Shift>) -> Painted,
{
    let mut svg = String::new();
    let hovers = {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        let failure = |e: Box<dyn std::error::Error>| ReportError::Chart {
            chart,
            message: e.to_string(),
        };
        root.fill(&WHITE).map_err(|e| failure(e.into()))?;
        let hovers = paint(&root).map_err(failure)?;
        root.present().map_err(|e| failure(e.into()))?;
        hovers
    };
    Ok(with_hovers(svg, &hovers))
}

/// Inserts the hover circles just before the closing `</svg>`.
fn with_hovers(mut svg: String, hovers: &[Hover]) -> String {
    let Some(end) = svg.rfind("</svg>") else {
        return svg;
    };
    let circles: String = hovers
        .iter()
        .map(|h| {
            format!(
                "<circle class=\"hover\" cx=\"{}\" cy=\"{}\" r=\"{}\" fill=\"transparent\">\
                 <title>{}</title></circle>\n",
                h.x,
                h.y,
                h.r,
                html_escape::encode_text(&h.title)
            )
        })
        .collect();
    svg.insert_str(end, &circles);
    svg
}

/// A `size` SVG that says `note` instead of a chart.
pub(crate) fn placeholder(size: (u32, u32), note: &str) -> String {
    let (w, h) = size;
    format!(
        "<svg class=\"placeholder\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" \
         xmlns=\"http://www.w3.org/2000/svg\"><rect x=\"0\" y=\"0\" width=\"{w}\" \
         height=\"{h}\" fill=\"#f7f7f7\"/><text x=\"{}\" y=\"{}\" text-anchor=\"middle\" \
         font-family=\"{FONT}\" font-size=\"16\" fill=\"#777\">{}</text></svg>",
        w / 2,
        h / 2,
        html_escape::encode_text(note)
    )
}

/// The chart, or a placeholder that says why it could not be drawn.
pub(crate) fn or_placeholder(size: (u32, u32), chart: Result<String, ReportError>) -> String {
    chart.unwrap_or_else(|e| placeholder(size, &e.to_string()))
}

/// The smallest and largest finite values, when there is one.
pub(crate) fn extent(values: impl IntoIterator<Item = f64>) -> Option<(f64, f64)> {
    values
        .into_iter()
        .filter(|v| v.is_finite())
        .fold(None, |acc, v| match acc {
            None => Some((v, v)),
            Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
        })
}

/// `[lo, hi]` widened by `margin` of its width on each side (a point gets a width of its own:
/// 10% of its size, at least 0.001).
pub(crate) fn padded((lo, hi): (f64, f64), margin: f64) -> Range<f64> {
    let width = hi - lo;
    let pad = if width > 0.0 {
        margin * width
    } else {
        (0.1 * lo.abs()).max(1e-3)
    };
    (lo - pad)..(hi + pad)
}

/// The label text of an axis tick: whole numbers only (`2`), others left blank.
pub(crate) fn whole_number(v: &f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{}", v.round())
    } else {
        String::new()
    }
}

/// The label text of an axis tick: a short number (`0.05`, `1`, `31.6k`).
pub(crate) fn short_number(v: &f64) -> String {
    crate::format::tick(*v)
}

/// The label text of an accuracy tick: two decimals (`0.75`).
pub(crate) fn two_decimals(v: &f64) -> String {
    format!("{v:.2}")
}

/// A trial in one line, for hover titles: `trial 7 · complete, Pareto · acc 0.8126 · 0.6845 ms
/// · 80.9k params · 6.9M MACs · stem 8 · …`.
pub(crate) fn describe(row: &crate::data::TrialRow) -> String {
    use crate::format;
    let state = match row.on_pareto {
        true => "complete, Pareto".to_string(),
        false => row.state.as_str().to_lowercase(),
    };
    let mut parts = vec![format!("trial {}", row.number), state];
    parts.extend(row.accuracy.map(|a| format!("acc {}", format::value(a))));
    parts.extend(row.latency_ms.map(|l| format!("{} ms", format::value(l))));
    parts.extend(
        row.param_count
            .map(|p| format!("{} params", format::count(p))),
    );
    parts.extend(row.macs.map(|m| format!("{} MACs", format::count(m))));
    parts.extend(row.top_rung.map(|r| format!("rung {r}")));
    parts.extend(row.arch.clone());
    parts.extend(row.fail_reason.clone());
    parts.join(" · ")
}

/// A line through `points` that holds each value until the next one: across, then up or down.
pub(crate) fn staircase(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let mut line = Vec::with_capacity(points.len() * 2);
    for (i, &(x, y)) in points.iter().enumerate() {
        if i > 0 {
            line.push((x, points[i - 1].1));
        }
        line.push((x, y));
    }
    line
}
