//! The plot of `parana bench sparse --plot DIR`: speed-up of the sparse
//! path over the dense path against sparsity (log scale), as SVG and PNG.
//! Left: end to end, one line per batch size, with the nnz-proportional
//! ideal dashed. Right: each layer at one batch size (256 when measured).
//! Same style and embedded font as the sweep plots.

use crate::error::Result;
use crate::report::plot::{DrawResult, FAMILY, Figure, color, png_of, svg_of};
use crate::sparse::bench::Record;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;

/// Write `DIR/bench-sparse.svg` and `DIR/bench-sparse.png` (atomically).
pub fn write(records: &[Record], dir: &Path) -> Result<()> {
    let fig = BenchFigure(records);
    crate::io::write_atomic(&dir.join("bench-sparse.svg"), svg_of(&fig)?.as_bytes())?;
    crate::io::write_atomic(&dir.join("bench-sparse.png"), &png_of(&fig)?)
}

struct BenchFigure<'a>(&'a [Record]);

/// Points (sparsity %, value) of the records passing `keep`, by sparsity.
fn points(
    recs: &[Record],
    keep: impl Fn(&Record) -> bool,
    y: impl Fn(&Record) -> f64,
) -> Vec<(f64, f64)> {
    let mut v: Vec<(f64, f64)> = recs
        .iter()
        .filter(|r| keep(r))
        .map(|r| (100.0 * r.sparsity, y(r)))
        .collect();
    v.sort_by(|a, b| a.0.total_cmp(&b.0));
    v.dedup_by(|a, b| a.0 == b.0);
    v
}

fn unique<T: PartialEq + Clone>(it: impl Iterator<Item = T>) -> Vec<T> {
    let mut v: Vec<T> = Vec::new();
    for x in it {
        if !v.contains(&x) {
            v.push(x);
        }
    }
    v
}

/// One panel: lines of (label, colour, dashed, points) on a log y axis.
type Line = (String, RGBAColor, bool, Vec<(f64, f64)>);

fn panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    lines: Vec<Line>,
) -> DrawResult<DB::ErrorType> {
    let ys = lines.iter().flat_map(|l| l.3.iter().map(|p| p.1));
    let (lo, hi) = ys
        .filter(|y| y.is_finite() && *y > 0.0)
        .fold((1.0f64, 1.0f64), |(a, b), y| (a.min(y), b.max(y)));
    let mut chart = ChartBuilder::on(area)
        .caption(title, (FAMILY, 18))
        .margin(10)
        .x_label_area_size(36)
        .y_label_area_size(48)
        .build_cartesian_2d(0f64..100f64, (lo * 0.8..hi * 1.25).log_scale())?;
    chart
        .configure_mesh()
        .x_desc("% of weights pruned")
        .x_label_formatter(&|v| format!("{v:.0}"))
        .y_desc("speed-up over dense (x)")
        .y_label_formatter(&|v| format!("{v:.1}"))
        .label_style((FAMILY, 12))
        .axis_desc_style((FAMILY, 13))
        .light_line_style(WHITE.mix(0.0))
        .draw()?;
    for (label, c, dashed, pts) in lines {
        let style = c.stroke_width(2);
        let pts: Vec<(f64, f64)> = pts.into_iter().filter(|p| p.1 > 0.0).collect();
        let series = if dashed {
            chart.draw_series(DashedLineSeries::new(pts, 6, 4, style))?
        } else {
            chart.draw_series(LineSeries::new(pts, style))?
        };
        series
            .label(label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], style));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.5))
        .label_font((FAMILY, 10))
        .draw()?;
    Ok(())
}

impl Figure for BenchFigure<'_> {
    fn size(&self) -> (u32, u32) {
        (1100, 500)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB::ErrorType> {
        let recs = self.0;
        root.fill(&WHITE)?;
        let areas = root.split_evenly((1, 2));
        let model = recs.first().map_or("", |r| r.model.as_str());
        let batches = unique(recs.iter().map(|r| r.batch));
        let all = |r: &Record| r.layer == "all";
        let mut lines: Vec<Line> = batches
            .iter()
            .enumerate()
            .map(|(k, &b)| {
                (
                    format!("batch {b}"),
                    color(k),
                    false,
                    points(recs, |r| all(r) && r.batch == b, |r| r.speedup),
                )
            })
            .collect();
        lines.push((
            "ideal (weights / stored)".into(),
            BLACK.to_rgba(),
            true,
            points(recs, all, |r| r.ideal_speedup),
        ));
        panel(&areas[0], &format!("{model}: end to end"), lines)?;
        let batch = if batches.contains(&256) {
            256
        } else {
            batches.iter().copied().max().unwrap_or(1)
        };
        let layers = unique(
            recs.iter()
                .filter(|r| !all(r))
                .map(|r| (r.layer.clone(), r.kind.clone())),
        );
        let lines = layers
            .iter()
            .enumerate()
            .map(|(k, (l, kind))| {
                (
                    format!("{l} ({kind})"),
                    color(k),
                    false,
                    points(recs, |r| &r.layer == l && r.batch == batch, |r| r.speedup),
                )
            })
            .collect();
        panel(
            &areas[1],
            &format!("{model}: per layer, batch {batch}"),
            lines,
        )?;
        root.present()?;
        Ok(())
    }
}
