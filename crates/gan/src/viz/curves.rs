//! Training curves from `metrics.jsonl`: losses, D(x) and D(G(z)), and the Parzen estimate.
//! Text is drawn with a font bundled in the binary, so charts render on a headless machine
//! with no fonts installed.

use std::path::Path;
use std::sync::Once;

use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};

use crate::error::{Error, Result};
use crate::train::EpochMetrics;

static FONT: &[u8] = include_bytes!("../../../../assets/fonts/DejaVuSans.ttf");

pub(super) fn ensure_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The bundled font is valid; failure here would be a build error in disguise.
        let _ = register_font("sans-serif", FontStyle::Normal, FONT);
    });
}

pub(super) fn err(e: impl std::fmt::Display) -> Error {
    Error::Invalid(format!("drawing the chart: {e}"))
}

pub(super) type Series<'a> = (&'a str, RGBColor, Vec<(f64, f64)>);

/// One chart of lines with a legend (an empty chart says "no data").
pub(super) fn panel(
    area: &DrawingArea<BitMapBackend<'_>, plotters::coord::Shift>,
    title: &str,
    x_desc: &str,
    series: &[Series<'_>],
) -> Result<()> {
    let pts: Vec<(f64, f64)> = series.iter().flat_map(|s| s.2.iter().copied()).collect();
    if pts.is_empty() {
        area.titled(&format!("{title}: no data"), ("sans-serif", 18))
            .map_err(err)?;
        return Ok(());
    }
    let (x0, x1) = pts
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.0), b.max(p.0)));
    let (y0, y1) = pts
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.1), b.max(p.1)));
    let pad = ((y1 - y0) * 0.05).max(1e-6);
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 18))
        .margin(8)
        .x_label_area_size(30)
        .y_label_area_size(48)
        .build_cartesian_2d(x0..x1.max(x0 + 1.0), (y0 - pad)..(y1 + pad))
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .label_style(("sans-serif", 12))
        .draw()
        .map_err(err)?;
    for (name, color, data) in series {
        let c = *color;
        chart
            .draw_series(LineSeries::new(data.iter().copied(), c.stroke_width(2)))
            .map_err(err)?
            .label(*name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], c.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .label_font(("sans-serif", 12))
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(err)?;
    Ok(())
}

/// Draws the curves of a run into an RGB image `width x height` (three panels side by side).
pub fn curves_image(metrics: &[EpochMetrics], width: u32, height: u32) -> Result<image::RgbImage> {
    ensure_font();
    let mut buf = vec![255u8; (width * height * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let areas = root.split_evenly((1, 3));
        let e = |f: fn(&EpochMetrics) -> f64| {
            metrics
                .iter()
                .map(|m| (m.epoch as f64, f(m)))
                .collect::<Vec<_>>()
        };
        panel(
            &areas[0],
            "losses",
            "epoch",
            &[
                ("D loss", BLUE, e(|m| m.d_loss)),
                ("G loss", RED, e(|m| m.g_loss)),
            ],
        )?;
        panel(
            &areas[1],
            "discriminator outputs",
            "epoch",
            &[
                ("D(x)", BLUE, e(|m| m.d_real)),
                ("D(G(z))", RED, e(|m| m.d_fake)),
            ],
        )?;
        let parzen: Vec<(f64, f64)> = metrics
            .iter()
            .filter_map(|m| m.parzen_ll.map(|v| (m.epoch as f64, v)))
            .collect();
        let valid: Vec<(f64, f64)> = metrics
            .iter()
            .filter_map(|m| m.valid_ll.map(|v| (m.epoch as f64, v)))
            .collect();
        let mut series = vec![("test", GREEN, parzen)];
        if !valid.is_empty() {
            // the authors' monitor_ll channel: 100 samples, sigma 0.2, validation images
            series.push(("valid (monitor_ll)", MAGENTA, valid));
        }
        panel(&areas[2], "Parzen log-likelihood (nats)", "epoch", &series)?;
        root.present().map_err(err)?;
    }
    image::RgbImage::from_raw(width, height, buf).ok_or_else(|| err("buffer size"))
}

/// Reads `metrics.jsonl` and writes the curves as a PNG.
pub fn save_curves(metrics_jsonl: &Path, out: &Path) -> Result<()> {
    let text = std::fs::read_to_string(metrics_jsonl).map_err(|e| Error::io(metrics_jsonl, e))?;
    let metrics: Vec<EpochMetrics> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l)
                .map_err(|e| Error::data(metrics_jsonl, format!("line {}: {e}", i + 1)))
        })
        .collect::<Result<_>>()?;
    if metrics.is_empty() {
        return Err(Error::data(metrics_jsonl, "no epochs recorded yet"));
    }
    let img = curves_image(&metrics, 1500, 450)?;
    write_png(out, img.width(), img.height(), img.into_raw())
}

/// Writes an RGB buffer `width x height` as a PNG.
pub(super) fn write_png(path: &Path, width: u32, height: u32, buf: Vec<u8>) -> Result<()> {
    let img = image::RgbImage::from_raw(width, height, buf).ok_or_else(|| err("buffer size"))?;
    img.save(path)
        .map_err(|e| Error::io(path, std::io::Error::other(e.to_string())))
}
