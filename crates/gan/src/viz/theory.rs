//! Figures of the theory experiments: density panels in the style of the paper's Figure 1
//! (data black dotted, generator green solid, discriminator blue dashed, the map z -> x drawn
//! below), the value of Theorem 1, and the saturation plot.

use std::path::Path;

use plotters::prelude::*;

use super::curves::{ensure_font, err, panel as line_panel, write_png};
use crate::error::Result;
use crate::theory::experiments::{Panel, Saturation, Value};

const GREEN: RGBColor = RGBColor(0, 150, 0);
const BLUE_D: RGBColor = RGBColor(20, 60, 220);

fn density_panel(
    area: &DrawingArea<BitMapBackend<'_>, plotters::coord::Shift>,
    p: &Panel,
) -> Result<()> {
    let (lo, hi) = (p.xs[0], p.xs[p.xs.len() - 1]);
    let top = p
        .p_data
        .iter()
        .chain(&p.p_g)
        .cloned()
        .fold(1.0, f64::max)
        .min(3.0)
        * 1.05;
    let has_map = !p.mapping.is_empty();
    let bottom = if has_map { -0.55 * top } else { -0.02 };
    let mut chart = ChartBuilder::on(area)
        .caption(&p.title, ("sans-serif", 18))
        .margin(8)
        .x_label_area_size(28)
        .y_label_area_size(40)
        .build_cartesian_2d(lo..hi, bottom..top)
        .map_err(err)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc("x")
        .label_style(("sans-serif", 12))
        .draw()
        .map_err(err)?;
    let pts = |v: &[f64]| -> Vec<(f64, f64)> {
        p.xs.iter().zip(v).map(|(&x, &y)| (x, y.min(top))).collect()
    };
    chart
        .draw_series(DashedLineSeries::new(
            pts(&p.p_data),
            2,
            4,
            BLACK.stroke_width(2),
        ))
        .map_err(err)?
        .label("p_data")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], BLACK.stroke_width(1)));
    chart
        .draw_series(LineSeries::new(pts(&p.p_g), GREEN.stroke_width(2)))
        .map_err(err)?
        .label("p_g")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], GREEN.stroke_width(2)));
    chart
        .draw_series(DashedLineSeries::new(
            pts(&p.d),
            8,
            5,
            BLUE_D.stroke_width(2),
        ))
        .map_err(err)?
        .label("D(x)")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], BLUE_D.stroke_width(2)));
    if !p.d_star.is_empty() {
        let c = RGBColor(200, 40, 40);
        chart
            .draw_series(LineSeries::new(pts(&p.d_star), c.stroke_width(1)))
            .map_err(err)?
            .label("D* = p_data / (p_data + p_g)")
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], c.stroke_width(1)));
    }
    if has_map {
        // x line and z line below the densities; z in [-1, 1] spread over the x range
        let (yx, yz) = (-0.12 * top, -0.48 * top);
        let grey = RGBColor(90, 90, 90);
        for y in [yx, yz] {
            chart
                .draw_series(LineSeries::new(
                    vec![(lo, y), (hi, y)],
                    BLACK.stroke_width(1),
                ))
                .map_err(err)?;
        }
        let span = hi - lo;
        for &(z, x) in &p.mapping {
            let zx = lo + 0.1 * span + (z + 1.0) / 2.0 * 0.8 * span;
            let x = x.clamp(lo, hi);
            chart
                .draw_series(LineSeries::new(
                    vec![(zx, yz), (x, yx)],
                    grey.stroke_width(1),
                ))
                .map_err(err)?;
        }
        chart
            .draw_series(std::iter::once(Text::new(
                "z",
                (lo + 0.01 * span, yz + 0.04 * top),
                ("sans-serif", 14),
            )))
            .map_err(err)?;
        chart
            .draw_series(std::iter::once(Text::new(
                "x",
                (lo + 0.01 * span, yx + 0.04 * top),
                ("sans-serif", 14),
            )))
            .map_err(err)?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .label_font(("sans-serif", 11))
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(err)?;
    Ok(())
}

/// Draws density panels side by side into a PNG (`height` pixels high, 420 per panel).
pub fn save_density_panels(path: &Path, panels: &[Panel], height: u32) -> Result<()> {
    ensure_font();
    let width = 420 * panels.len().max(1) as u32;
    let mut buf = vec![0u8; (width * height * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let areas = root.split_evenly((1, panels.len().max(1)));
        for (a, p) in areas.iter().zip(panels) {
            density_panel(a, p)?;
        }
        root.present().map_err(err)?;
    }
    write_png(path, width, height, buf)
}

/// Theorem 1 drawn: the line C = -log 4 + 2 JSD and the measured V(D, G) of each generator.
pub fn save_value_plot(path: &Path, v: &Value) -> Result<()> {
    ensure_font();
    let (width, height) = (640u32, 460u32);
    let mut buf = vec![0u8; (width * height * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let ln2 = 2f64.ln();
        let mut chart = ChartBuilder::on(&root)
            .caption(
                "Theorem 1: max_D V(D, G) = -log 4 + 2 JSD",
                ("sans-serif", 18),
            )
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(52)
            .build_cartesian_2d(-0.02..ln2 + 0.02, -1.45..0.1)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("JSD(p_data || p_g), nats")
            .y_desc("V")
            .label_style(("sans-serif", 12))
            .draw()
            .map_err(err)?;
        chart
            .draw_series(LineSeries::new(
                (0..=50).map(|i| {
                    let j = ln2 * i as f64 / 50.0;
                    (j, crate::theory::virtual_criterion(j))
                }),
                BLACK.stroke_width(2),
            ))
            .map_err(err)?
            .label("-log 4 + 2 JSD")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], BLACK.stroke_width(2)));
        chart
            .draw_series(
                v.rows
                    .iter()
                    .map(|r| Circle::new((r.jsd, r.v_trained_monte_carlo), 6, RED.filled())),
            )
            .map_err(err)?
            .label("V(D, G), trained D, Monte Carlo")
            .legend(|(x, y)| Circle::new((x + 8, y), 5, RED.filled()));
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .label_font(("sans-serif", 12))
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    write_png(path, width, height, buf)
}

/// The saturation figure: both generator losses and their slopes (with respect to D's
/// logit, the gradient G receives) against D(G(z)), and the two training runs.
pub fn save_saturation_plot(path: &Path, s: &Saturation) -> Result<()> {
    use crate::loss::GanLoss;
    ensure_font();
    let (width, height) = (1350u32, 420u32);
    let mut buf = vec![0u8; (width * height * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let areas = root.split_evenly((1, 3));
        let ds: Vec<f64> = (1..200).map(|i| i as f64 / 200.0).collect();
        let logit = |d: f64| (d / (1.0 - d)).ln();
        let curve = |loss: GanLoss| -> Vec<(f64, f64)> {
            ds.iter()
                .map(|&d| (d, loss.generator_loss_scalar(logit(d))))
                .collect()
        };
        line_panel(
            &areas[0],
            "generator losses",
            "D(G(z))",
            &[
                ("minimax: log(1 - D)", RED, curve(GanLoss::Minimax)),
                (
                    "non-saturating: -log D",
                    BLUE,
                    curve(GanLoss::NonSaturating),
                ),
            ],
        )?;
        // d/dl log(1 - sigmoid(l)) = -D; d/dl -log sigmoid(l) = -(1 - D)
        line_panel(
            &areas[1],
            "slope w.r.t. D's logit",
            "D(G(z))",
            &[
                ("minimax: -D", RED, ds.iter().map(|&d| (d, -d)).collect()),
                (
                    "non-saturating: -(1 - D)",
                    BLUE,
                    ds.iter().map(|&d| (d, -(1.0 - d))).collect(),
                ),
            ],
        )?;
        let hist = |i: usize| -> Vec<(f64, f64)> {
            s.runs[i]
                .history
                .iter()
                .map(|h| (h.0 as f64, (h.1 - s.data_mean).abs() / s.data_std))
                .collect()
        };
        line_panel(
            &areas[2],
            "|mean p_g - mean p_data| / std p_data",
            "generator step",
            &[("minimax", RED, hist(0)), ("non-saturating", BLUE, hist(1))],
        )?;
        root.present().map_err(err)?;
    }
    write_png(path, width, height, buf)
}

/// A scatter of 2-D samples (blue) over the modes of the data (red), as in the
/// mode-collapse literature.
pub fn save_scatter(path: &Path, title: &str, samples: &[f32], means: &[[f32; 2]]) -> Result<()> {
    save_scatter_panels(path, &[(title.to_string(), samples.to_vec())], means)
}

/// [`save_scatter`] for several sample sets side by side (e.g. the same run at several
/// training steps), each panel with its own title and the same axes.
pub fn save_scatter_panels(
    path: &Path,
    panels: &[(String, Vec<f32>)],
    means: &[[f32; 2]],
) -> Result<()> {
    ensure_font();
    let side = 420u32;
    let (width, height) = (side * panels.len().max(1) as u32, side);
    let mut buf = vec![0u8; (width * height * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let r = means
            .iter()
            .flat_map(|m| [m[0].abs(), m[1].abs()])
            .fold(0f32, f32::max) as f64
            * 1.4
            + 0.2;
        let areas = root.split_evenly((1, panels.len().max(1)));
        for (area, (title, samples)) in areas.iter().zip(panels) {
            let mut chart = ChartBuilder::on(area)
                .caption(title, ("sans-serif", 14))
                .margin(10)
                .x_label_area_size(28)
                .y_label_area_size(36)
                .build_cartesian_2d(-r..r, -r..r)
                .map_err(err)?;
            chart
                .configure_mesh()
                .disable_mesh()
                .label_style(("sans-serif", 11))
                .draw()
                .map_err(err)?;
            chart
                .draw_series(
                    samples.chunks_exact(2).take(2500).map(|p| {
                        Circle::new((p[0] as f64, p[1] as f64), 1, BLUE.mix(0.5).filled())
                    }),
                )
                .map_err(err)?;
            chart
                .draw_series(
                    means
                        .iter()
                        .map(|m| Cross::new((m[0] as f64, m[1] as f64), 5, RED.stroke_width(2))),
                )
                .map_err(err)?;
        }
        root.present().map_err(err)?;
    }
    write_png(path, width, height, buf)
}
