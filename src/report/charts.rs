//! Line/scatter charts and grouped bar charts, written as SVG and PNG with
//! plotters. Log axes are drawn by plotting log10 of the data on a linear axis
//! and labelling ticks 10^v: one code path for every chart.
//! The font is embedded (DejaVu Sans, assets/fonts) so PNGs render the same
//! on machines without system fonts.

use anyhow::{anyhow, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::Once;

const FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
const SIZE: (u32, u32) = (960, 640);
/// Colour-blind-safe palette (Okabe–Ito).
const PALETTE: [RGBColor; 8] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(0, 0, 0),
    RGBColor(240, 228, 66),
];

pub fn color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Only fails on malformed font data, which is compiled in and tested.
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT);
    });
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mark {
    Line,
    Dashed,
    Points,
    LinePoints,
}

#[derive(Debug, Clone)]
pub struct Series {
    pub label: String,
    pub points: Vec<(f64, f64)>,
    pub mark: Mark,
    pub color: usize,
}

/// A shaded interval between `lo` and `hi` over the same xs.
#[derive(Debug, Clone)]
pub struct Band {
    pub label: String,
    pub xs: Vec<f64>,
    pub lo: Vec<f64>,
    pub hi: Vec<f64>,
    pub color: usize,
}

#[derive(Debug, Clone, Default)]
pub struct Chart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub log_x: bool,
    pub log_y: bool,
    pub series: Vec<Series>,
    pub bands: Vec<Band>,
}

fn tx(v: f64, log: bool) -> Option<f64> {
    let v = if log {
        (v > 0.0).then(|| v.log10())?
    } else {
        v
    };
    v.is_finite().then_some(v)
}

/// Padded data range of all points (transformed).
fn range(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return None;
    }
    let pad = ((hi - lo) * 0.05).max(1e-3 * hi.abs().max(1.0));
    Some((lo - pad, hi + pad))
}

fn draw<DB: DrawingBackend>(root: DrawingArea<DB, Shift>, c: &Chart) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("{e:?}");
    root.fill(&WHITE).map_err(err)?;
    let xs = c
        .series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .chain(c.bands.iter().flat_map(|b| b.xs.iter().copied()));
    let ys = c
        .series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .chain(
            c.bands
                .iter()
                .flat_map(|b| b.lo.iter().chain(&b.hi).copied()),
        );
    let (x0, x1) = range(xs.filter_map(|v| tx(v, c.log_x)))
        .ok_or_else(|| anyhow!("chart {:?}: no data", c.title))?;
    let (y0, y1) = range(ys.filter_map(|v| tx(v, c.log_y)))
        .ok_or_else(|| anyhow!("chart {:?}: no data", c.title))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(&c.title, ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(72)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(err)?;
    let (lx, ly) = (c.log_x, c.log_y);
    // A log axis spanning decades is labelled at the powers of ten only; a
    // fine tick grid (0.1 in log10) makes sure they are among the key points.
    let (dx, dy) = (lx && x1 - x0 >= 1.5, ly && y1 - y0 >= 1.5);
    let count = |span: f64, decades: bool| {
        if decades {
            (span * 10.0).ceil() as usize + 1
        } else {
            10
        }
    };
    let label = |v: f64, log: bool, decades: bool| {
        if decades && (v - v.round()).abs() > 1e-6 {
            String::new()
        } else if log {
            crate::fmt::log_axis_tick(v)
        } else {
            crate::fmt::axis_tick(v)
        }
    };
    chart
        .configure_mesh()
        .x_desc(&c.x_label)
        .y_desc(&c.y_label)
        .x_labels(count(x1 - x0, dx))
        .y_labels(count(y1 - y0, dy))
        .x_label_formatter(&|v| label(*v, lx, dx))
        .y_label_formatter(&|v| label(*v, ly, dy))
        .label_style(("sans-serif", 14))
        .axis_desc_style(("sans-serif", 16))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()
        .map_err(err)?;
    for b in &c.bands {
        let col = color(b.color);
        let mut poly: Vec<(f64, f64)> =
            b.xs.iter()
                .zip(&b.hi)
                .filter_map(|(x, y)| Some((tx(*x, lx)?, tx(*y, ly)?)))
                .collect();
        poly.extend(
            b.xs.iter()
                .zip(&b.lo)
                .rev()
                .filter_map(|(x, y)| Some((tx(*x, lx)?, tx(*y, ly)?))),
        );
        chart
            .draw_series(std::iter::once(Polygon::new(poly, col.mix(0.18).filled())))
            .map_err(err)?
            .label(&b.label)
            .legend(move |(x, y)| {
                Rectangle::new([(x, y - 5), (x + 16, y + 5)], col.mix(0.18).filled())
            });
    }
    for s in &c.series {
        let col = color(s.color);
        let pts: Vec<(f64, f64)> = s
            .points
            .iter()
            .filter_map(|(x, y)| Some((tx(*x, lx)?, tx(*y, ly)?)))
            .collect();
        let style = ShapeStyle::from(&col).stroke_width(2);
        let anno = match s.mark {
            Mark::Line | Mark::LinePoints => chart
                .draw_series(LineSeries::new(pts.clone(), style))
                .map_err(err)?,
            Mark::Dashed => chart
                .draw_series(DashedLineSeries::new(pts.clone(), 8, 5, style))
                .map_err(err)?,
            Mark::Points => chart
                .draw_series(pts.iter().map(|p| Circle::new(*p, 4, col.filled())))
                .map_err(err)?,
        };
        if !s.label.is_empty() {
            anno.label(&s.label).legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 16, y)], col.stroke_width(2))
            });
        }
        if s.mark == Mark::LinePoints {
            chart
                .draw_series(pts.iter().map(|p| Circle::new(*p, 3, col.filled())))
                .map_err(err)?;
        }
    }
    if c.series.iter().any(|s| !s.label.is_empty()) || !c.bands.is_empty() {
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(200, 200, 200))
            .label_font(("sans-serif", 13))
            .position(SeriesLabelPosition::UpperRight)
            .draw()
            .map_err(err)?;
    }
    root.present().map_err(err)?;
    Ok(())
}

/// Grouped bars on a log axis: one group per category, one bar per series.
#[derive(Debug, Clone, Default)]
pub struct Bars {
    pub title: String,
    pub y_label: String,
    pub categories: Vec<String>,
    /// (label, one value per category).
    pub series: Vec<(String, Vec<f64>)>,
}

fn draw_bars<DB: DrawingBackend>(root: DrawingArea<DB, Shift>, b: &Bars) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("{e:?}");
    root.fill(&WHITE).map_err(err)?;
    let logs: Vec<f64> = b
        .series
        .iter()
        .flat_map(|(_, v)| v.iter().filter_map(|x| tx(*x, true)))
        .collect();
    let (y0, y1) =
        range(logs.into_iter()).ok_or_else(|| anyhow!("chart {:?}: no data", b.title))?;
    let y0 = y0.floor();
    let n = b.categories.len();
    let cats = b.categories.clone();
    let mut chart = ChartBuilder::on(&root)
        .caption(&b.title, ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(72)
        .build_cartesian_2d(-0.5f64..n as f64 - 0.5, y0..y1.ceil())
        .map_err(err)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(n)
        .x_label_formatter(&|v| {
            let i = v.round();
            if (v - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < cats.len() {
                cats[i as usize].clone()
            } else {
                String::new()
            }
        })
        .y_desc(&b.y_label)
        .y_label_formatter(&|v| crate::fmt::log_axis_tick(*v))
        .label_style(("sans-serif", 14))
        .axis_desc_style(("sans-serif", 16))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()
        .map_err(err)?;
    let k = b.series.len().max(1) as f64;
    let w = 0.8 / k;
    for (j, (label, vals)) in b.series.iter().enumerate() {
        let col = color(j);
        let rects: Vec<Rectangle<(f64, f64)>> = vals
            .iter()
            .enumerate()
            .filter_map(|(i, v)| {
                let top = tx(*v, true)?;
                let x = i as f64 - 0.4 + j as f64 * w;
                Some(Rectangle::new([(x, y0), (x + w * 0.92, top)], col.filled()))
            })
            .collect();
        chart
            .draw_series(rects)
            .map_err(err)?
            .label(label)
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 16, y + 5)], col.filled()));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(200, 200, 200))
        .label_font(("sans-serif", 13))
        .position(SeriesLabelPosition::UpperLeft)
        .draw()
        .map_err(err)?;
    root.present().map_err(err)?;
    Ok(())
}

/// Write `<stem>.svg` and `<stem>.png`; returns both paths. Each is drawn to a
/// temporary name and renamed, so a failed render leaves no half-written chart.
macro_rules! render_both {
    ($stem:expr, $draw:ident, $what:expr) => {{
        register_font();
        let stem: &Path = $stem;
        let mut out = Vec::new();
        for ext in ["svg", "png"] {
            let path = stem.with_extension(ext);
            // The image encoder picks the format from the extension: keep it last.
            let tmp = crate::fsx::temp_sibling(&stem.with_extension("")).with_extension(ext);
            let res = if ext == "svg" {
                $draw(SVGBackend::new(&tmp, SIZE).into_drawing_area(), $what)
            } else {
                $draw(BitMapBackend::new(&tmp, SIZE).into_drawing_area(), $what)
            };
            let res = res.and_then(|_| {
                std::fs::rename(&tmp, &path).map_err(|e| anyhow!("{}: {e}", path.display()))
            });
            if let Err(e) = res {
                let _ = std::fs::remove_file(&tmp);
                return Err(e.context(format!("chart {}", path.display())));
            }
            out.push(path);
        }
        Ok(out)
    }};
}

impl Chart {
    pub fn write(&self, stem: &Path) -> Result<Vec<PathBuf>> {
        render_both!(stem, draw, self)
    }
}

impl Bars {
    pub fn write(&self, stem: &Path) -> Result<Vec<PathBuf>> {
        render_both!(stem, draw_bars, self)
    }
}
