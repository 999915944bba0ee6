//! `gan toy`: a GAN on the 2-D mixtures ring8 / grid25, scored for mode collapse.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use gan::eval::modes::Mixture2d;
use gan::loss::GanLoss;
use gan::toy2d::{Toy2d, Toy2dConfig};
use gan::viz::save_scatter;

use crate::common::{out, print_json, set_threads};

#[derive(Args)]
pub struct ToyArgs {
    /// The mixture: ring8 or grid25.
    #[arg(long, default_value = "ring8")]
    data: String,
    /// The loss: minimax, non-saturating, lsgan, hinge or wgan.
    #[arg(long, default_value = "non-saturating")]
    loss: String,
    /// Generator steps.
    #[arg(long, default_value_t = 5000)]
    steps: usize,
    /// Seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Adam's learning rate (PacGAN: 1e-4).
    #[arg(long, default_value_t = 1e-4)]
    lr: f64,
    /// Output directory: samples.npy (100,000 samples), scatter.png, modes.json.
    #[arg(long, default_value = "runs/toy")]
    out: PathBuf,
    /// Compute threads (default: one per core).
    #[arg(long)]
    threads: Option<usize>,
    /// Print the mode statistics as one JSON object.
    #[arg(long)]
    json: bool,
}

pub fn run(a: ToyArgs) -> Result<i32> {
    set_threads(a.threads)?;
    let data = Mixture2d::by_name(&a.data)?;
    let loss: GanLoss =
        serde_json::from_value(serde_json::Value::String(a.loss.clone())).map_err(|_| {
            anyhow::anyhow!(
                "unknown loss '{}' (minimax, non-saturating, lsgan, hinge, wgan)",
                a.loss
            )
        })?;
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    let started = std::time::Instant::now();
    let mut cfg = Toy2dConfig::pacgan(data.clone(), loss, a.steps, a.seed);
    cfg.lr = a.lr;
    let mut toy = Toy2d::new(cfg)?;
    toy.train(|_| {})?;
    let (report, samples) = toy.evaluate()?;
    gan::npy::write_npy_f32(&a.out.join("samples.npy"), &samples, samples.len() / 2, 2)?;
    let title = format!(
        "{} / {}: {} of {} modes, {:.1}% high quality",
        a.data,
        loss.name(),
        report.modes_captured,
        report.n_modes,
        report.high_quality_pct
    );
    save_scatter(&a.out.join("scatter.png"), &title, &samples, &data.means)?;
    let mut v = serde_json::to_value(&report)?;
    v["loss"] = loss.name().into();
    v["steps"] = a.steps.into();
    v["seed"] = a.seed.into();
    v["seconds"] = started.elapsed().as_secs_f64().into();
    gan::checkpoint::write_atomic(&a.out.join("modes.json"), v.to_string().as_bytes())?;
    if a.json {
        print_json(&v);
    } else {
        out(&format!(
            "{title}, reverse KL {:.3} ({} steps, {:.0} s); {}",
            report.reverse_kl,
            a.steps,
            started.elapsed().as_secs_f64(),
            a.out.display()
        ));
    }
    Ok(0)
}
