//! `gan theory`: the paper's Section 4 on one-dimensional data, one experiment per command.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use gan::theory::Mixture1d;
use gan::theory::experiments::{self, TheoryOptions};
use gan::viz::{save_density_panels, save_saturation_plot, save_value_plot};
use serde_json::json;

use crate::common::{out, print_json, set_threads};

#[derive(Clone, Copy, ValueEnum)]
enum Experiment {
    /// Freeze G, train D, compare D with D* = p_data / (p_data + p_g) (eq. 6).
    OptimalD,
    /// V(D*, G) vs -log 4 + 2 JSD for several generators, p_g = p_data included (Theorem 1).
    Value,
    /// The paper's Figure 1: panels (a)-(d) of training, D -> 1/2 and p_g -> p_data.
    Figure1,
    /// Minimax log(1 - D(G(z))) vs non-saturating -log D(G(z)) (eq. 5) with D confident.
    Saturation,
}

#[derive(Args)]
pub struct TheoryArgs {
    /// Which experiment.
    #[arg(value_enum)]
    experiment: Experiment,
    /// Directory for the figure (created if missing).
    #[arg(long, default_value = "theory")]
    out: PathBuf,
    /// The data density: `N(mean,std)` or a mixture such as `0.5*N(-2,0.5)+0.5*N(2,0.5)`.
    #[arg(long, default_value = "N(4,0.5)")]
    data: String,
    /// Seed of every random draw.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Multiplies every training length (e.g. 0.5 for a quicker, rougher run).
    #[arg(long, default_value_t = 1.0, value_parser = crate::common::positive_f64)]
    scale: f64,
    /// Print the numbers as one JSON object.
    #[arg(long)]
    json: bool,
    /// Compute threads (default: one per core).
    #[arg(long, value_parser = crate::common::positive)]
    threads: Option<usize>,
}

pub fn run(a: TheoryArgs) -> Result<i32> {
    set_threads(a.threads)?;
    anyhow::ensure!(
        a.scale.is_finite() && a.scale > 0.0 && a.scale <= 100.0,
        "--scale must be in (0, 100], got {}",
        a.scale
    );
    let data = Mixture1d::parse(&a.data)?;
    let mut opts = TheoryOptions::new(data);
    opts.seed = a.seed;
    opts.scale = a.scale;
    std::fs::create_dir_all(&a.out)
        .with_context(|| format!("creating output directory {}", a.out.display()))?;
    let started = std::time::Instant::now();
    let (name, value, lines): (&str, serde_json::Value, Vec<String>) = match a.experiment {
        Experiment::OptimalD => {
            let r = experiments::optimal_d(&opts)?;
            let path = a.out.join("optimal-d.png");
            save_density_panels(&path, std::slice::from_ref(&r.panel), 460)?;
            let lines = vec![
                format!(
                    "frozen generator: mean {:.3}, std {:.3}; D trained {} steps",
                    r.generator_mean, r.generator_std, r.d_steps
                ),
                format!(
                    "over [{:.2}, {:.2}] (where (p_data + p_g)/2 >= 2% of its peak):",
                    r.support.0, r.support.1
                ),
                format!("  max |D - D*|  = {:.4}", r.max_abs_diff),
                format!("  mean |D - D*| = {:.4}", r.mean_abs_diff),
                format!(
                    "  integral of (p_data + p_g)/2 |D - D*| = {:.4}",
                    r.weighted_abs_diff
                ),
            ];
            (
                "optimal-d",
                serde_json::to_value(&r)?,
                with_figure(lines, &path),
            )
        }
        Experiment::Value => {
            let r = experiments::value(&opts)?;
            let path = a.out.join("value.png");
            save_value_plot(&path, &r)?;
            let mut lines = vec![format!(
                "{:<36} {:>8} {:>12} {:>12} {:>12} {:>9}",
                "generator", "JSD", "-log4+2JSD", "V(D*,G)", "V(D,G) MC", "gap"
            )];
            for row in &r.rows {
                lines.push(format!(
                    "{:<36} {:>8.4} {:>12.4} {:>12.4} {:>12.4} {:>9.4}",
                    row.generator,
                    row.jsd,
                    row.criterion,
                    row.v_optimal_quadrature,
                    row.v_trained_monte_carlo,
                    row.gap
                ));
            }
            if let Some(last) = r.rows.last() {
                lines.push(format!(
                    "p_g = p_data: max |D - 1/2| = {:.4}; V = {:.4} vs -log 4 = {:.4}",
                    last.max_abs_d_minus_half, last.v_trained_monte_carlo, r.minus_log_4
                ));
            }
            (
                "value",
                serde_json::to_value(&r)?,
                with_figure(lines, &path),
            )
        }
        Experiment::Figure1 => {
            let r = experiments::figure1(&opts)?;
            let path = a.out.join("figure1.png");
            save_density_panels(&path, &r.panels, 460)?;
            let mut lines: Vec<String> = r
                .jsd_by_panel
                .iter()
                .zip(&r.mean_abs_d_minus_d_star_by_panel)
                .zip(["a", "b", "c", "d"])
                .map(|((j, d), p)| format!("panel ({p}): JSD {j:.4} nats, mean |D - D*| {d:.4}"))
                .collect();
            lines.push(format!(
                "end: JSD {:.4}; E_data |D - 1/2| {:.4}; over the support: mean |D - 1/2| {:.4}, max {:.4}",
                r.final_jsd,
                r.final_data_mean_abs_d_minus_half,
                r.final_mean_abs_d_minus_half,
                r.final_max_abs_d_minus_half
            ));
            (
                "figure1",
                serde_json::to_value(&r)?,
                with_figure(lines, &path),
            )
        }
        Experiment::Saturation => {
            let r = experiments::saturation(&opts)?;
            let path = a.out.join("saturation.png");
            save_saturation_plot(&path, &r)?;
            let mut lines = vec![format!(
                "D trained against the initial G: mean D(G(z)) = {:.4}",
                r.initial_d_of_g
            )];
            for run in &r.runs {
                lines.push(format!(
                    "{:<15} |grad G| {:.3e}; after {} steps: JSD {:.4}, |mean p_g - mean p_data| = {:.2} std",
                    run.loss, run.initial_grad_norm, r.steps, run.final_jsd, run.final_mean_gap_in_stds
                ));
            }
            lines.push(format!(
                "gradient norm ratio non-saturating / minimax: {:.1}",
                r.grad_norm_ratio
            ));
            (
                "saturation",
                serde_json::to_value(&r)?,
                with_figure(lines, &path),
            )
        }
    };
    if a.json {
        let mut v = json!({ "experiment": name, "data": a.data, "seed": a.seed,
            "seconds": started.elapsed().as_secs_f64() });
        if let (Some(o), serde_json::Value::Object(r)) = (v.as_object_mut(), value) {
            o.extend(r);
        }
        print_json(&v);
    } else {
        for l in lines {
            out(&l);
        }
        out(&format!("({:.1} s)", started.elapsed().as_secs_f64()));
    }
    Ok(0)
}

fn with_figure(mut lines: Vec<String>, path: &Path) -> Vec<String> {
    lines.push(format!("figure: {}", path.display()));
    lines
}
