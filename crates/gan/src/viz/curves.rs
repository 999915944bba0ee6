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
pub(super) fn panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
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

/// The panels [`curves_image`] draws for these metrics: losses, D's outputs and the Parzen
/// estimate, then the FID and precision / recall when the run logged them.
pub fn panel_count(metrics: &[EpochMetrics]) -> usize {
    let fid = metrics.iter().any(|m| m.fid.is_some());
    let pr = metrics.iter().any(|m| m.precision.is_some());
    3 + fid as usize + pr as usize
}

/// Draws the curves of a run into an RGB image `width x height` ([`panel_count`] panels
/// side by side).
pub fn curves_image(metrics: &[EpochMetrics], width: u32, height: u32) -> Result<image::RgbImage> {
    ensure_font();
    let mut buf = vec![255u8; (width * height * 3) as usize];
    draw_curves(
        BitMapBackend::with_buffer(&mut buf, (width, height)).into_drawing_area(),
        metrics,
    )?;
    image::RgbImage::from_raw(width, height, buf).ok_or_else(|| err("buffer size"))
}

/// An `<svg>` element `width x height` (from its opening tag, for inlining in HTML) of
/// what `draw` draws.
fn svg_element(
    width: u32,
    height: u32,
    draw: impl FnOnce(DrawingArea<SVGBackend<'_>, plotters::coord::Shift>) -> Result<()>,
) -> Result<String> {
    // the text's layout is measured with the bundled font
    ensure_font();
    let mut out = String::new();
    draw(SVGBackend::with_string(&mut out, (width, height)).into_drawing_area())?;
    Ok(match out.find("<svg") {
        Some(i) => out.split_off(i),
        None => out,
    })
}

/// The same curves as an inline `<svg>` element (for `gan report`): every series one
/// `<polyline>` with a point per epoch that logged it.
pub fn curves_svg(metrics: &[EpochMetrics], width: u32, height: u32) -> Result<String> {
    svg_element(width, height, |root| draw_curves(root, metrics))
}

/// Scalar series by tag: `(tag, [(step, value)])`.
pub type StepSeries = Vec<(String, Vec<(f64, f64)>)>;

/// Series over training steps (from a run's TensorBoard events, `(tag, [(step, value)])`)
/// as an inline `<svg>` element of two panels: the losses and D's outputs.
pub fn step_curves_svg(series: &StepSeries, width: u32, height: u32) -> Result<String> {
    let get = |tag: &str| {
        series
            .iter()
            .find(|s| s.0 == tag)
            .map_or_else(Vec::new, |s| s.1.clone())
    };
    svg_element(width, height, |root| {
        root.fill(&WHITE).map_err(err)?;
        let areas = root.split_evenly((1, 2));
        loss_and_output_panels(
            &areas,
            "step",
            " (window means)",
            [
                get("loss/d"),
                get("loss/g"),
                get("d_output/real"),
                get("d_output/fake"),
            ],
        )?;
        root.present().map_err(err)
    })
}

/// The losses panel and D's outputs panel in `areas[0]` and `areas[1]`, from the series of
/// the D loss, the G loss, D(x) and D(G(z)) over `x_desc`.
fn loss_and_output_panels<DB: DrawingBackend>(
    areas: &[DrawingArea<DB, plotters::coord::Shift>],
    x_desc: &str,
    title_suffix: &str,
    [d_loss, g_loss, d_real, d_fake]: [Vec<(f64, f64)>; 4],
) -> Result<()> {
    panel(
        &areas[0],
        &format!("losses{title_suffix}"),
        x_desc,
        &[("D loss", BLUE, d_loss), ("G loss", RED, g_loss)],
    )?;
    panel(
        &areas[1],
        &format!("discriminator outputs{title_suffix}"),
        x_desc,
        &[("D(x)", BLUE, d_real), ("D(G(z))", RED, d_fake)],
    )
}

/// Draws the [`panel_count`] panels side by side on `root`.
fn draw_curves<DB: DrawingBackend>(
    root: DrawingArea<DB, plotters::coord::Shift>,
    metrics: &[EpochMetrics],
) -> Result<()> {
    {
        root.fill(&WHITE).map_err(err)?;
        let areas = root.split_evenly((1, panel_count(metrics)));
        let some = |f: fn(&EpochMetrics) -> Option<f64>| -> Vec<(f64, f64)> {
            metrics
                .iter()
                .filter_map(|m| f(m).map(|v| (m.epoch as f64, v)))
                .collect()
        };
        let e = |f: fn(&EpochMetrics) -> f64| {
            metrics
                .iter()
                .map(|m| (m.epoch as f64, f(m)))
                .collect::<Vec<_>>()
        };
        loss_and_output_panels(
            &areas,
            "epoch",
            "",
            [
                e(|m| m.d_loss),
                e(|m| m.g_loss),
                e(|m| m.d_real),
                e(|m| m.d_fake),
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
        let mut next = 3;
        let fid = some(|m| m.fid);
        if !fid.is_empty() {
            panel(
                &areas[next],
                "FID (reference classifier)",
                "epoch",
                &[("FID", BLUE, fid)],
            )?;
            next += 1;
        }
        let (p, r) = (some(|m| m.precision), some(|m| m.recall));
        if !p.is_empty() {
            panel(
                &areas[next],
                "precision / recall",
                "epoch",
                &[("precision", BLUE, p), ("recall", RED, r)],
            )?;
        }
        root.present().map_err(err)?;
    }
    Ok(())
}

/// Reads a run's `metrics.jsonl` (a damaged line is an error naming the file and line).
pub fn read_metrics(metrics_jsonl: &Path) -> Result<Vec<EpochMetrics>> {
    let text = std::fs::read_to_string(metrics_jsonl).map_err(|e| Error::io(metrics_jsonl, e))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| {
                Error::data(
                    metrics_jsonl,
                    format!("line {}: not an epoch's metrics ({e})", i + 1),
                )
            })
        })
        .collect()
}

/// Reads `metrics.jsonl` and writes the curves as a PNG.
pub fn save_curves(metrics_jsonl: &Path, out: &Path) -> Result<()> {
    let metrics = read_metrics(metrics_jsonl)?;
    if metrics.is_empty() {
        return Err(Error::data(metrics_jsonl, "no epochs recorded yet"));
    }
    let img = curves_image(&metrics, 500 * panel_count(&metrics) as u32, 450)?;
    write_png(out, img.width(), img.height(), img.into_raw())
}

/// Runs side by side (`(label, metrics)`, e.g. two seeds of one preset): the Parzen
/// estimate and, where logged, the LeNet FID of each over epochs, as a PNG.
pub fn save_comparison(runs: &[(String, Vec<EpochMetrics>)], out: &Path) -> Result<()> {
    ensure_font();
    const COLOURS: [RGBColor; 6] = [BLUE, RED, GREEN, MAGENTA, CYAN, BLACK];
    let fid = runs.iter().any(|r| r.1.iter().any(|m| m.fid.is_some()));
    let panels = 1 + fid as u32;
    let (width, height) = (600 * panels, 450);
    let mut buf = vec![255u8; (width * height * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let areas = root.split_evenly((1, panels as usize));
        let series = |f: fn(&EpochMetrics) -> Option<f64>| -> Vec<Series<'_>> {
            runs.iter()
                .zip(COLOURS.iter().cycle())
                .map(|((label, m), &c)| {
                    let pts = m
                        .iter()
                        .filter_map(|e| f(e).map(|v| (e.epoch as f64, v)))
                        .collect();
                    (label.as_str(), c, pts)
                })
                .collect()
        };
        panel(
            &areas[0],
            "Parzen log-likelihood, test (nats)",
            "epoch",
            &series(|m| m.parzen_ll),
        )?;
        if fid {
            panel(
                &areas[1],
                "FID (reference classifier)",
                "epoch",
                &series(|m| m.fid),
            )?;
        }
        root.present().map_err(err)?;
    }
    write_png(out, width, height, buf)
}

/// Writes an RGB buffer `width x height` as a PNG.
pub(super) fn write_png(path: &Path, width: u32, height: u32, buf: Vec<u8>) -> Result<()> {
    let img = image::RgbImage::from_raw(width, height, buf).ok_or_else(|| err("buffer size"))?;
    img.save(path)
        .map_err(|e| Error::io(path, std::io::Error::other(e.to_string())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn epoch(e: u64, quality: bool) -> EpochMetrics {
        let q = |v: f64| quality.then_some(v);
        EpochMetrics {
            epoch: e,
            step: e * 10,
            d_loss: 0.6,
            g_loss: 0.9,
            d_real: 0.6,
            d_fake: 0.4,
            lr: 0.1,
            momentum: 0.5,
            seconds: 1.0,
            images_per_sec: 100.0,
            parzen_ll: Some(100.0 + e as f64),
            parzen_se: Some(2.0),
            parzen_sigma: Some(0.2),
            fid: q(50.0 / e as f64),
            precision: q(0.5),
            recall: q(0.4 + 0.1 * e as f64),
            ..Default::default()
        }
    }

    #[test]
    fn a_run_with_sample_quality_gets_its_fid_and_precision_recall_panels() {
        let plain: Vec<_> = (1..4).map(|e| epoch(e, false)).collect();
        let rich: Vec<_> = (1..4).map(|e| epoch(e, true)).collect();
        assert_eq!(panel_count(&plain), 3);
        assert_eq!(panel_count(&rich), 5);
        let img = curves_image(&rich, 1000, 200).expect("image");
        // the last two fifths hold drawn curves (coloured pixels), not an empty canvas
        let coloured = |x0: u32, x1: u32| {
            (x0..x1)
                .flat_map(|x| (0..200).map(move |y| (x, y)))
                .filter(|&(x, y)| {
                    let p = img.get_pixel(x, y).0;
                    p[0] != p[1] || p[1] != p[2]
                })
                .count()
        };
        assert!(coloured(600, 800) > 50, "no FID curve");
        assert!(coloured(800, 1000) > 50, "no precision / recall curves");
    }

    #[test]
    fn a_comparison_draws_each_run_in_its_colour() {
        let a: Vec<_> = (1..6).map(|e| epoch(e, true)).collect();
        let mut b = a.clone();
        b.iter_mut()
            .for_each(|m| m.parzen_ll = m.parzen_ll.map(|v| v - 30.0));
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("cmp.png");
        save_comparison(&[("a".into(), a), ("b".into(), b)], &out).expect("write");
        let img = image::open(&out).expect("png").to_rgb8();
        assert_eq!(img.dimensions(), (1200, 450));
        // the Parzen panel (left half) holds a blue and a red line
        let count = |c: [u8; 3]| {
            (0..600)
                .flat_map(|x| (0..450).map(move |y| (x, y)))
                .filter(|&(x, y)| img.get_pixel(x, y).0 == c)
                .count()
        };
        assert!(count([0, 0, 255]) > 100 && count([255, 0, 0]) > 100);
    }
}
