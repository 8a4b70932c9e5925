//! Pictures: ROC curves (AUC in the legend, several curves on one chart) and overlaid score
//! histograms of normals and abnormals, as PNG or SVG (chosen by the file extension).

use std::path::Path;
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::roc::Roc;
use crate::{MetricsError, Result};

/// Chart size in pixels.
const SIZE: (u32, u32) = (640, 480);

/// Registers the embedded DejaVu Sans font once, so text renders on any machine.
fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // An error would only mean the font is already registered.
        let _ = plotters::style::register_font(
            "sans-serif",
            FontStyle::Normal,
            dejavu::sans::regular(),
        );
    });
}

fn plot_err(path: &Path, e: impl std::fmt::Display) -> MetricsError {
    MetricsError::Plot {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// Draws with `draw` on a PNG or SVG backend chosen by `path`'s extension.
fn render(
    path: &Path,
    draw: impl Fn(&DrawingArea<BitMapBackend<'_>, Shift>) -> Result<()> + Copy,
    svg: impl Fn(&DrawingArea<SVGBackend<'_>, Shift>) -> Result<()>,
) -> Result<()> {
    register_font();
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("svg") => {
            let mut text = String::new();
            {
                let root = SVGBackend::with_string(&mut text, SIZE).into_drawing_area();
                svg(&root)?;
                root.present().map_err(|e| plot_err(path, e))?;
            }
            std::fs::write(path, text).map_err(|e| MetricsError::Io {
                path: path.to_path_buf(),
                source: e,
            })
        }
        Some("png") => {
            let mut buf = vec![0u8; (SIZE.0 * SIZE.1 * 3) as usize];
            {
                let root = BitMapBackend::with_buffer(&mut buf, SIZE).into_drawing_area();
                draw(&root)?;
                root.present().map_err(|e| plot_err(path, e))?;
            }
            let img = image::RgbImage::from_raw(SIZE.0, SIZE.1, buf)
                .ok_or_else(|| plot_err(path, "buffer size"))?;
            img.save_with_format(path, image::ImageFormat::Png)
                .map_err(|e| plot_err(path, e))
        }
        _ => Err(MetricsError::InvalidParameter(format!(
            "{}: plot files end in .png or .svg",
            path.display()
        ))),
    }
}

const PALETTE: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

fn draw_roc<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    curves: &[(String, &Roc)],
    path: &Path,
) -> Result<()> {
    let e = |x: DrawingAreaErrorKind<DB::ErrorType>| plot_err(path, x);
    root.fill(&WHITE).map_err(e)?;
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(0.0..1.0, 0.0..1.0)
        .map_err(e)?;
    chart
        .configure_mesh()
        .light_line_style(BLACK.mix(0.04))
        .x_desc("false-positive rate (1 − specificity)")
        .y_desc("true-positive rate (sensitivity)")
        .draw()
        .map_err(e)?;
    chart
        .draw_series(LineSeries::new([(0.0, 0.0), (1.0, 1.0)], BLACK.mix(0.3)))
        .map_err(e)?
        .label("chance (AUC 0.500)")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], BLACK.mix(0.3)));
    for (k, (name, roc)) in curves.iter().enumerate() {
        let color = PALETTE[k % PALETTE.len()];
        chart
            .draw_series(LineSeries::new(
                roc.fpr.iter().copied().zip(roc.tpr.iter().copied()),
                color.stroke_width(2),
            ))
            .map_err(e)?
            .label(format!("{name} (AUC {:.3})", roc.area_under_curve()))
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], color.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(e)?;
    Ok(())
}

/// Draws ROC curves, each labelled with its name and AUC, into a PNG or SVG file.
pub fn roc_plot(path: &Path, title: &str, curves: &[(String, &Roc)]) -> Result<()> {
    if curves.is_empty() {
        return Err(MetricsError::Empty);
    }
    render(
        path,
        |root| draw_roc(root, title, curves, path),
        |root| draw_roc(root, title, curves, path),
    )
}

/// Bin edges shared by both histograms.
fn bins(normal: &[f64], abnormal: &[f64], n: usize) -> (f64, f64) {
    let all = normal
        .iter()
        .chain(abnormal)
        .copied()
        .filter(|v| v.is_finite());
    let (lo, hi) = all.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
        (a.min(v), b.max(v))
    });
    let width = if hi > lo { (hi - lo) / n as f64 } else { 1.0 };
    (lo, width)
}

fn counts(values: &[f64], lo: f64, width: f64, n: usize) -> Vec<f64> {
    let mut c = vec![0.0; n];
    for v in values.iter().filter(|v| v.is_finite()) {
        let k = (((v - lo) / width) as usize).min(n - 1);
        c[k] += 1.0;
    }
    let total = values.len().max(1) as f64;
    c.iter_mut().for_each(|x| *x /= total);
    c
}

fn draw_hist<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    normal: &[f64],
    abnormal: &[f64],
    n: usize,
    path: &Path,
) -> Result<()> {
    let e = |x: DrawingAreaErrorKind<DB::ErrorType>| plot_err(path, x);
    let (lo, width) = bins(normal, abnormal, n);
    let (cn, ca) = (counts(normal, lo, width, n), counts(abnormal, lo, width, n));
    let ymax = cn.iter().chain(&ca).copied().fold(0.0, f64::max).max(1e-9) * 1.1;
    root.fill(&WHITE).map_err(e)?;
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(lo..lo + width * n as f64, 0.0..ymax)
        .map_err(e)?;
    chart
        .configure_mesh()
        .light_line_style(BLACK.mix(0.04))
        .x_desc("anomaly score (higher = more anomalous)")
        .y_desc("fraction of images")
        .draw()
        .map_err(e)?;
    for (name, c, color) in [("normal", &cn, PALETTE[0]), ("abnormal", &ca, PALETTE[3])] {
        let total = if name == "normal" {
            normal.len()
        } else {
            abnormal.len()
        };
        chart
            .draw_series(c.iter().enumerate().map(|(k, &h)| {
                let x0 = lo + width * k as f64;
                Rectangle::new([(x0, 0.0), (x0 + width, h)], color.mix(0.45).filled())
            }))
            .map_err(e)?
            .label(format!("{name} (n = {total})"))
            .legend(move |(x, y)| {
                Rectangle::new([(x, y - 5), (x + 15, y + 5)], color.mix(0.45).filled())
            });
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(e)?;
    Ok(())
}

/// Draws overlaid, normalised histograms of normal and abnormal scores into a PNG or SVG.
pub fn histogram_plot(
    path: &Path,
    title: &str,
    normal: &[f64],
    abnormal: &[f64],
    bins: usize,
) -> Result<()> {
    if normal.is_empty() && abnormal.is_empty() {
        return Err(MetricsError::Empty);
    }
    if bins == 0 {
        return Err(MetricsError::InvalidParameter(
            "histogram needs at least one bin".into(),
        ));
    }
    render(
        path,
        |root| draw_hist(root, title, normal, abnormal, bins, path),
        |root| draw_hist(root, title, normal, abnormal, bins, path),
    )
}

fn draw_lines<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    labels: (&str, &str),
    series: &[(String, Vec<(f64, f64)>)],
    path: &Path,
) -> Result<()> {
    let e = |x: DrawingAreaErrorKind<DB::ErrorType>| plot_err(path, x);
    let points = series
        .iter()
        .flat_map(|(_, s)| s.iter())
        .filter(|(x, y)| x.is_finite() && y.is_finite());
    let (x0, x1, y0, y1) = points.fold(
        (
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ),
        |(a, b, c, d), &(x, y)| (a.min(x), b.max(x), c.min(y), d.max(y)),
    );
    let widen = |lo: f64, hi: f64| {
        if hi > lo {
            (lo, hi)
        } else {
            (lo - 0.5, lo + 0.5)
        }
    };
    let ((x0, x1), (y0, y1)) = (widen(x0, x1), widen(y0, y1));
    let pad = (y1 - y0) * 0.05;
    root.fill(&WHITE).map_err(e)?;
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(x0..x1, (y0 - pad)..(y1 + pad))
        .map_err(e)?;
    chart
        .configure_mesh()
        .light_line_style(BLACK.mix(0.04))
        .x_desc(labels.0)
        .y_desc(labels.1)
        .draw()
        .map_err(e)?;
    for (k, (name, pts)) in series.iter().enumerate() {
        let color = PALETTE[k % PALETTE.len()];
        chart
            .draw_series(LineSeries::new(
                pts.iter()
                    .copied()
                    .filter(|(x, y)| x.is_finite() && y.is_finite()),
                color.stroke_width(2),
            ))
            .map_err(e)?
            .label(name.clone())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], color.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(e)?;
    Ok(())
}

/// Draws named line series (e.g. training losses against iterations) into a PNG or SVG.
pub fn line_plot(
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[(String, Vec<(f64, f64)>)],
) -> Result<()> {
    if series.iter().all(|(_, s)| s.is_empty()) {
        return Err(MetricsError::Empty);
    }
    let labels = (x_label, y_label);
    render(
        path,
        |root| draw_lines(root, title, labels, series, path),
        |root| draw_lines(root, title, labels, series, path),
    )
}
