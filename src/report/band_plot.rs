//! The sweep of a model's replicates as one figure: per method a panel
//! with the mean clean accuracy and the mean accuracy under the noises
//! against % pruned, each with its 95% confidence band over the seeds, and
//! a last panel comparing the methods' mean noisy accuracy with bands.

use super::plot::{DrawResult, Figure, color, labelled_line, legend, pct_axes, svg_of};
use super::replicates::{Group, bands};
use super::stats::Summary;
use crate::error::Result;
use plotters::coord::Shift;
use plotters::prelude::*;

const PANEL: (u32, u32) = (520, 480);

/// A line with its band: label, colour, (x, summary) points.
type Band = (String, RGBAColor, Vec<(f64, Summary)>);

struct BandFigure<'a>(&'a Group);

fn panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    lines: Vec<Band>,
    y_desc: &str,
) -> DrawResult<DB::ErrorType> {
    let mut chart = pct_axes(area, title, y_desc)?;
    for (label, c, pts) in lines {
        // The band: the interval's upper edge forwards, lower backwards.
        let edge = |upper: bool| -> Vec<(f64, f64)> {
            pts.iter()
                .map(|(x, s)| {
                    let (l, h) = s.ci();
                    (*x, if upper { h } else { l }.clamp(0.0, 1.0))
                })
                .collect()
        };
        let mut poly = edge(true);
        poly.extend(edge(false).into_iter().rev());
        if poly.len() > 2 {
            chart.draw_series(std::iter::once(Polygon::new(poly, c.mix(0.18).filled())))?;
        }
        labelled_line(&mut chart, label, c, pts.iter().map(|(x, s)| (*x, s.mean)))?;
    }
    legend(&mut chart)
}

impl Figure for BandFigure<'_> {
    fn size(&self) -> (u32, u32) {
        ((self.0.methods().len() as u32 + 1) * PANEL.0, PANEL.1)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB::ErrorType> {
        root.fill(&WHITE)?;
        let b = bands(self.0);
        let areas = root.split_evenly((1, b.len() + 1));
        let n = self.0.replicates.len();
        for (k, (m, pts)) in b.iter().enumerate() {
            let lines = vec![
                (
                    "clean".to_string(),
                    BLACK.to_rgba(),
                    pts.iter().map(|(x, c, _)| (*x, *c)).collect(),
                ),
                (
                    "mean under the noises".to_string(),
                    color(3),
                    pts.iter().map(|(x, _, v)| (*x, *v)).collect(),
                ),
            ];
            panel(
                &areas[k],
                &format!("{m} pruning ({n} seeds)"),
                lines,
                "accuracy",
            )?;
        }
        let lines = b
            .iter()
            .enumerate()
            .map(|(k, (m, pts))| {
                (
                    m.clone(),
                    color(k),
                    pts.iter().map(|(x, _, v)| (*x, *v)).collect(),
                )
            })
            .collect();
        panel(
            &areas[b.len()],
            "methods compared",
            lines,
            "mean noisy accuracy",
        )?;
        root.present()?;
        Ok(())
    }
}

/// The figure of `g` as SVG text.
pub fn svg(g: &Group) -> Result<String> {
    svg_of(&BandFigure(g))
}
