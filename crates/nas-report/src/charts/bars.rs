//! Parameter importance as horizontal bars, most important on top.

use plotters::coord::combinators::BindKeyPoints;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::frame::house_style;
use super::{draw, Hover, FONT, LINE};
use crate::importance::Importance;
use crate::ReportError;

/// Most bars drawn; the rest are in the JSON.
pub(crate) const MAX_BARS: usize = 20;

/// Height of one bar's band, in pixels.
const BAND: u32 = 28;

/// The importance chart `width` pixels wide, or `None` when importance is unavailable.
pub(crate) fn importance_bars(
    importance: &Importance,
    width: u32,
) -> Option<Result<String, ReportError>> {
    let shown = &importance.params[..importance.params.len().min(MAX_BARS)];
    let top = shown.first()?.importance;
    let n = shown.len();
    // Segment i from the bottom holds the bar of rank n − 1 − i, so rank 0 is on top.
    let name_of = |segment: i32| shown.get(n - 1 - segment as usize).map(|p| p.name.as_str());
    let longest = shown
        .iter()
        .map(|p| p.name.chars().count())
        .max()
        .unwrap_or(0);
    let label_area = (longest as u32 * 8 + 20).clamp(80, 380);
    let size = (width, 80 + BAND * n as u32);
    Some(draw("importance", size, |root| {
        // A tick at each bar's centre only: the segmented axis would add one above the top bar.
        let segments = (0..n as i32).with_key_points((0..n as i32).collect());
        let mut chart = ChartBuilder::on(root)
            .margin(16)
            .x_label_area_size(44)
            .y_label_area_size(label_area)
            .build_cartesian_2d(0.0..top * 1.15, segments.into_segmented())?;
        house_style(&mut chart.configure_mesh())
            .x_desc("share of importance")
            .x_labels(8)
            .y_labels(n)
            .x_label_formatter(&|v| format!("{:.0}%", v * 100.0))
            .y_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) => name_of(*i).unwrap_or_default().to_string(),
                _ => String::new(),
            })
            .disable_y_mesh()
            .draw()?;
        let bars = (0..n as i32).filter_map(|i| {
            let share = shown.get(n - 1 - i as usize)?.importance;
            let mut bar = Rectangle::new(
                [
                    (0.0, SegmentValue::Exact(i)),
                    (share, SegmentValue::Exact(i + 1)),
                ],
                LINE.filled(),
            );
            bar.set_margin(5, 5, 0, 0);
            Some(bar)
        });
        chart.draw_series(bars)?;
        let label_style =
            TextStyle::from((FONT, 13).into_font()).pos(Pos::new(HPos::Left, VPos::Center));
        let labels = shown.iter().enumerate().map(|(rank, p)| {
            let at = (
                p.importance + top * 0.01,
                SegmentValue::CenterOf((n - 1 - rank) as i32),
            );
            Text::new(
                format!("{:.1}%", p.importance * 100.0),
                at,
                label_style.clone(),
            )
        });
        chart.draw_series(labels)?;
        let hovers = shown.iter().enumerate().map(|(rank, p)| {
            let at = (
                p.importance / 2.0,
                SegmentValue::CenterOf((n - 1 - rank) as i32),
            );
            let title = format!(
                "{}: {:.1}% ({} trials)",
                p.name,
                p.importance * 100.0,
                p.trials
            );
            Hover::at(&chart, &at, 10, title)
        });
        Ok(hovers.collect())
    }))
}
