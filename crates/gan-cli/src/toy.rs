//! `gan toy` (and `gan train --preset ring8|grid25`): a GAN on the 2-D mixtures ring8 /
//! grid25, scored for mode collapse.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Args;
use gan::toy2d::{Toy2d, Toy2dConfig};
use gan::viz::{save_scatter, save_scatter_panels};

use crate::common::{out, print_json, set_threads};

/// Train a 2-D GAN and score it with the PacGAN protocol.
///
/// Examples:
///   gan toy --preset ring8 --set loss=wgan-gp
///   gan toy --preset grid25 --loss lsgan --lr 1e-3 --steps 5000 --seed 3
#[derive(Args)]
pub struct ToyArgs {
    /// The bundled preset: ring8 or grid25 (PacGAN's setup).
    #[arg(
        long,
        alias = "data",
        default_value = "ring8",
        conflicts_with = "config"
    )]
    preset: String,
    /// A 2-D config file (the keys of configs/ring8.toml).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Override a config value, e.g. --set loss=wgan-gp --set k=3 (repeatable); setting the
    /// loss also sets the optimizer, k and clipping its paper uses.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// The loss (shortcut for --set loss=...): minimax, non-saturating, lsgan, hinge, wgan,
    /// wgan-gp.
    #[arg(long)]
    loss: Option<String>,
    /// Generator steps (shortcut for --set steps=...).
    #[arg(long, value_parser = crate::common::positive)]
    steps: Option<usize>,
    /// Seed (shortcut for --set seed=...).
    #[arg(long)]
    seed: Option<u64>,
    /// Learning rate (shortcut for --set lr=...).
    #[arg(long, value_parser = crate::common::positive_f64)]
    lr: Option<f64>,
    /// Run directory: config.toml, samples.npy (100,000 samples), scatter.png, training.png,
    /// modes.json [default: runs/<preset>-<loss>-s<seed>].
    #[arg(long)]
    out: Option<PathBuf>,
    /// Panels of training.png (samples at evenly spaced steps).
    #[arg(long, default_value_t = 4, value_parser = crate::common::positive)]
    snapshots: usize,
    /// Compute threads (default: one per core).
    #[arg(long, value_parser = crate::common::positive)]
    threads: Option<usize>,
    /// Print the mode statistics as one JSON object.
    #[arg(long)]
    json: bool,
}

impl ToyArgs {
    /// The arguments `gan train --preset ring8|grid25 ...` maps to.
    pub fn from_train(
        preset: String,
        set: Vec<String>,
        seed: Option<u64>,
        out: Option<PathBuf>,
        threads: Option<usize>,
        json: bool,
    ) -> Self {
        Self {
            preset,
            config: None,
            set,
            loss: None,
            steps: None,
            seed,
            lr: None,
            out,
            snapshots: 4,
            threads,
            json,
        }
    }

    fn config(&self) -> Result<Toy2dConfig> {
        let mut set = self.set.clone();
        if let Some(l) = &self.loss {
            gan::loss::GanLoss::from_name(l)?;
            set.insert(0, format!("loss={l:?}"));
        }
        if let Some(s) = self.steps {
            set.push(format!("steps={s}"));
        }
        if let Some(s) = self.seed {
            set.push(format!("seed={s}"));
        }
        if let Some(lr) = self.lr {
            set.push(format!("lr={lr:e}"));
        }
        Ok(match &self.config {
            Some(f) => {
                let text = std::fs::read_to_string(f)
                    .with_context(|| format!("reading {}", f.display()))?;
                Toy2dConfig::from_toml_str(&text, &set, &f.display().to_string())?
            }
            None => Toy2dConfig::preset(&self.preset, &set)?,
        })
    }
}

pub fn run(a: ToyArgs) -> Result<i32> {
    set_threads(a.threads)?;
    let cfg = a.config()?;
    let dir = a.out.clone().unwrap_or_else(|| {
        PathBuf::from("runs").join(format!("{}-{}-s{}", cfg.name, cfg.loss.name(), cfg.seed))
    });
    if dir.join("modes.json").exists() {
        bail!(
            "{} already holds a 2-D run (modes.json); choose another --out or remove it",
            dir.display()
        );
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    gan::checkpoint::write_atomic(&dir.join("config.toml"), cfg.to_toml()?.as_bytes())?;
    let started = std::time::Instant::now();
    let steps = cfg.steps;
    // training.png: samples at evenly spaced steps (progress is reported every 100 steps)
    let mut targets: Vec<usize> = (1..=a.snapshots)
        .map(|i| steps * i / a.snapshots / 100 * 100)
        .filter(|&t| t >= 100)
        .collect();
    targets.dedup();
    let mut panels = Vec::new();
    let mut pic_rng = gan::rng::Rng::new(cfg.seed ^ 0x5eed);
    let mut snapshot_err = None;
    let mut toy = Toy2d::new(cfg.clone())?;
    toy.train(|step, toy| {
        if targets.contains(&step) {
            match toy.sample(2500, &mut pic_rng) {
                Ok(s) => panels.push((format!("step {step}"), s)),
                Err(e) => snapshot_err = Some(e),
            }
        }
    })?;
    if let Some(e) = snapshot_err {
        return Err(e.into());
    }
    let (report, samples) = toy.evaluate()?;
    gan::npy::write_npy_f32(&dir.join("samples.npy"), &samples, samples.len() / 2, 2)?;
    let title = format!(
        "{} / {}: {} of {} modes, {:.1}% high quality",
        cfg.data,
        cfg.loss.name(),
        report.modes_captured,
        report.n_modes,
        report.high_quality_pct
    );
    save_scatter(&dir.join("scatter.png"), &title, &samples, &toy.data.means)?;
    if !panels.is_empty() {
        save_scatter_panels(&dir.join("training.png"), &panels, &toy.data.means)?;
    }
    let mut v = serde_json::to_value(&report)?;
    v["loss"] = cfg.loss.name().into();
    v["steps"] = steps.into();
    v["seed"] = cfg.seed.into();
    v["lr"] = cfg.lr.into();
    v["seconds"] = started.elapsed().as_secs_f64().into();
    gan::checkpoint::write_atomic(&dir.join("modes.json"), v.to_string().as_bytes())?;
    if a.json {
        print_json(&v);
    } else {
        out(&format!(
            "{title}, reverse KL {:.3} ({steps} steps, {:.0} s); {}",
            report.reverse_kl,
            started.elapsed().as_secs_f64(),
            dir.display()
        ));
    }
    Ok(0)
}

/// The mixture a 2-D run directory was trained on (from its config.toml).
pub fn run_mixture(dir: &Path) -> Result<String> {
    if gan::train::run_kind(dir)? == gan::train::RunKind::Image {
        anyhow::bail!(
            "{} is an image run (gan train): eval modes scores 2-D runs; for an image run use \
             gan eval fid|kid|pr|score|parzen --run {}",
            dir.display(),
            dir.display()
        );
    }
    let p = dir.join("config.toml");
    let text = std::fs::read_to_string(&p).with_context(|| format!("reading {}", p.display()))?;
    let cfg = Toy2dConfig::from_toml_str(&text, &[], &p.display().to_string())?;
    Ok(cfg.data)
}
