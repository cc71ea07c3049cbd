//! Plots of a sweep with `plotters`, as SVG and PNG: one row of panels per
//! layer group (one row for whole-net sweeps, one per layer for per-layer
//! sweeps); in each row one panel per method (x: % pruned, y: accuracy;
//! clean accuracy plus one line per noise, with a legend) and a last panel
//! comparing the methods by mean noisy accuracy.
//!
//! Text is drawn with DejaVu Sans (free licence, `assets/fonts/`), embedded
//! in the binary and registered with plotters' ab_glyph font registry, so no
//! system font is needed.

use crate::error::{Error, Result};
use crate::experiment::sweep::{Row, Settings};
use plotters::coord::Shift;
use plotters::prelude::*;

static FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
/// The font family to name in text styles (the embedded DejaVu Sans).
pub(crate) const FAMILY: &str = "sans-serif";
/// Size of one panel in pixels.
const PANEL: (u32, u32) = (520, 480);

fn register_font() -> Result<()> {
    static DONE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let ok = *DONE
        .get_or_init(|| plotters::style::register_font(FAMILY, FontStyle::Normal, FONT).is_ok());
    if ok {
        Ok(())
    } else {
        Err(Error::Other("the embedded font could not be loaded".into()))
    }
}

/// Width and height of the figure of `s`.
pub fn size(s: &Settings) -> (u32, u32) {
    let cols = s.methods.len() as u32 + 1;
    let rows = s.groups.len().max(1) as u32;
    (cols * PANEL.0, rows * PANEL.1)
}

fn ratio_pct(r: &Row) -> f64 {
    crate::prune::Ratio::parse(&r.ratio)
        .map(|x| x.value() * 100.0)
        .unwrap_or(f64::NAN)
}

fn series<'a>(rows: &'a [Row], group: &str, method: &str) -> Vec<&'a Row> {
    let mut v: Vec<&Row> = rows
        .iter()
        .filter(|r| r.group == group && r.method == method)
        .collect();
    v.sort_by(|a, b| ratio_pct(a).total_cmp(&ratio_pct(b)));
    v
}

/// Tableau's ten colours (distinct on white), then plotters' palette.
pub(crate) fn color(k: usize) -> RGBAColor {
    const T10: [(u8, u8, u8); 10] = [
        (31, 119, 180),
        (255, 127, 14),
        (44, 160, 44),
        (214, 39, 40),
        (148, 103, 189),
        (140, 86, 75),
        (227, 119, 194),
        (127, 127, 127),
        (188, 189, 34),
        (23, 190, 207),
    ];
    match T10.get(k) {
        Some(&(r, g, b)) => RGBColor(r, g, b).to_rgba(),
        None => Palette99::pick(k).to_rgba(),
    }
}

/// One line of a panel: legend label, colour, points.
type Line = (String, RGBAColor, Vec<(f64, f64)>);

/// What drawing on a backend with error type `E` returns.
pub(crate) type DrawResult<E> = std::result::Result<(), DrawingAreaErrorKind<E>>;

/// A figure that can be drawn on any backend, rendered by [`svg_of`] and
/// [`png_of`].
pub(crate) trait Figure {
    /// Width and height in pixels.
    fn size(&self) -> (u32, u32);
    /// Draw the whole figure on `root`.
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB::ErrorType>;
}

struct SweepFigure<'a>(&'a Settings, &'a [Row]);

impl Figure for SweepFigure<'_> {
    fn size(&self) -> (u32, u32) {
        size(self.0)
    }
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB::ErrorType> {
        draw(root, self.0, self.1)
    }
}

/// A panel's chart: x % pruned (0-100), y accuracy (0-1).
pub(crate) type PctChart<'a, DB> = ChartContext<
    'a,
    DB,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;

/// A panel's axes, captioned `title`: x % pruned, y `y_desc` in [0, 1].
pub(crate) fn pct_axes<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    title: &str,
    y_desc: &str,
) -> std::result::Result<PctChart<'a, DB>, DrawingAreaErrorKind<DB::ErrorType>> {
    let mut chart = ChartBuilder::on(area)
        .caption(title, (FAMILY, 18))
        .margin(10)
        .x_label_area_size(36)
        .y_label_area_size(48)
        .build_cartesian_2d(0f64..100f64, 0f64..1f64)?;
    chart
        .configure_mesh()
        .x_desc("% pruned")
        .x_label_formatter(&|v| format!("{v:.0}"))
        .y_desc(y_desc)
        .label_style((FAMILY, 12))
        .axis_desc_style((FAMILY, 13))
        .light_line_style(WHITE.mix(0.0))
        .draw()?;
    Ok(chart)
}

/// Draw a line `pts` labelled `label` in the legend.
pub(crate) fn labelled_line<'a, DB: DrawingBackend + 'a>(
    chart: &mut PctChart<'a, DB>,
    label: String,
    c: RGBAColor,
    pts: impl IntoIterator<Item = (f64, f64)>,
) -> DrawResult<DB::ErrorType> {
    chart
        .draw_series(LineSeries::new(pts, c.stroke_width(2)))?
        .label(label)
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2)));
    Ok(())
}

/// The legend, lower left.
pub(crate) fn legend<'a, DB: DrawingBackend + 'a>(
    chart: &mut PctChart<'a, DB>,
) -> DrawResult<DB::ErrorType> {
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.5))
        .label_font((FAMILY, 10))
        .draw()
}

fn panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    lines: Vec<Line>,
    y_desc: &str,
) -> DrawResult<DB::ErrorType> {
    let mut chart = pct_axes(area, title, y_desc)?;
    for (label, c, pts) in lines {
        labelled_line(&mut chart, label, c, pts)?;
    }
    legend(&mut chart)
}

/// Draw the whole figure on `root`.
pub fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    s: &Settings,
    rows: &[Row],
) -> DrawResult<DB::ErrorType> {
    root.fill(&WHITE)?;
    let cols = s.methods.len() + 1;
    let areas = root.split_evenly((s.groups.len().max(1), cols));
    for (gi, g) in s.groups.iter().enumerate() {
        let prefix = if s.groups.len() > 1 || g.name != "all" {
            format!("{}: ", g.name)
        } else {
            String::new()
        };
        for (mi, m) in s.methods.iter().enumerate() {
            let pts = series(rows, &g.name, m);
            let mut lines = vec![(
                "clean".to_string(),
                BLACK.to_rgba(),
                pts.iter().map(|r| (ratio_pct(r), r.clean)).collect(),
            )];
            for (k, n) in s.noises.iter().enumerate() {
                lines.push((
                    n.name.clone(),
                    color(k),
                    pts.iter().map(|r| (ratio_pct(r), r.noisy[k])).collect(),
                ));
            }
            panel(
                &areas[gi * cols + mi],
                &format!("{prefix}{m} pruning"),
                lines,
                "accuracy",
            )?;
        }
        let lines = s
            .methods
            .iter()
            .enumerate()
            .map(|(mi, m)| {
                let pts = series(rows, &g.name, m);
                (
                    m.clone(),
                    color(mi),
                    pts.iter().map(|r| (ratio_pct(r), r.mean_noisy)).collect(),
                )
            })
            .collect();
        panel(
            &areas[gi * cols + cols - 1],
            &format!("{prefix}methods compared"),
            lines,
            "mean noisy accuracy",
        )?;
    }
    root.present()?;
    Ok(())
}

/// The figure as SVG text.
pub fn svg(s: &Settings, rows: &[Row]) -> Result<String> {
    svg_of(&SweepFigure(s, rows))
}

/// The figure as PNG bytes.
pub fn png(s: &Settings, rows: &[Row]) -> Result<Vec<u8>> {
    png_of(&SweepFigure(s, rows))
}

/// A figure as SVG text.
pub(crate) fn svg_of(fig: &impl Figure) -> Result<String> {
    register_font()?;
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, fig.size()).into_drawing_area();
        fig.draw(&root)
            .map_err(|e| Error::Other(format!("plot: {e:?}")))?;
    }
    Ok(out)
}

/// A figure as PNG bytes.
pub(crate) fn png_of(fig: &impl Figure) -> Result<Vec<u8>> {
    register_font()?;
    let (w, h) = fig.size();
    let mut rgb = vec![255u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area();
        fig.draw(&root)
            .map_err(|e| Error::Other(format!("plot: {e:?}")))?;
    }
    let mut bytes = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut bytes, w, h);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut wr = enc
            .write_header()
            .map_err(|e| Error::Other(format!("png: {e}")))?;
        wr.write_image_data(&rgb)
            .map_err(|e| Error::Other(format!("png: {e}")))?;
    }
    Ok(bytes)
}
