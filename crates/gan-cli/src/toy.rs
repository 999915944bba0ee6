//! `gan toy` (and `gan train --preset ring8|grid25`): a GAN on the 2-D mixtures ring8 /
//! grid25, scored for mode collapse.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Args;
use gan::toy2d::{Toy2d, Toy2dConfig};
use gan::train::Outcome;
use gan::viz::{save_scatter, save_scatter_panels};

use crate::common::{out, print_json, set_threads};
use crate::train::Cli;

/// The subdirectory of a 2-D run that the training loop keeps (its config, metrics and
/// checkpoints).
const TRAIN_DIR: &str = "train";

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
    /// modes.json, and train/ (the training loop's checkpoints and metrics)
    /// [default: runs/<preset>-<loss>-s<seed>].
    #[arg(long, conflicts_with = "resume")]
    out: Option<PathBuf>,
    /// Continue an interrupted 2-D run (Ctrl-C saves a checkpoint) from its newest
    /// checkpoint, with its own config.
    #[arg(long, value_name = "DIR")]
    resume: Option<PathBuf>,
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
            resume: None,
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
    let (cfg, dir) = match &a.resume {
        Some(d) => {
            if !a.set.is_empty() || a.loss.is_some() || a.steps.is_some() || a.lr.is_some() {
                bail!(
                    "--resume continues {} with its own config.toml: drop --set, --loss, --steps and --lr",
                    d.display()
                );
            }
            if d.join("modes.json").exists() {
                bail!(
                    "{} is a finished 2-D run (modes.json); nothing to resume",
                    d.display()
                );
            }
            let p = d.join("config.toml");
            let text = std::fs::read_to_string(&p).with_context(|| {
                format!("reading {} (is {} a 2-D run?)", p.display(), d.display())
            })?;
            (
                Toy2dConfig::from_toml_str(&text, &[], &p.display().to_string())?,
                d.clone(),
            )
        }
        None => {
            let cfg = a.config()?;
            let dir = a.out.clone().unwrap_or_else(|| {
                PathBuf::from("runs").join(format!(
                    "{}-{}-s{}",
                    cfg.name,
                    cfg.loss.name(),
                    cfg.seed
                ))
            });
            if dir.join("modes.json").exists() {
                bail!(
                    "{} already holds a 2-D run (modes.json); choose another --out or remove it",
                    dir.display()
                );
            }
            if dir.join(TRAIN_DIR).join("checkpoints").is_dir() {
                bail!(
                    "{} holds an unfinished 2-D run; continue it with gan toy --resume {}",
                    dir.display(),
                    dir.display()
                );
            }
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            gan::checkpoint::write_atomic(&dir.join("config.toml"), cfg.to_toml()?.as_bytes())?;
            (cfg, dir)
        }
    };
    let started = std::time::Instant::now();
    let steps = cfg.steps;
    // training.png: samples (the same noise each time) at evenly spaced steps
    let mut targets: Vec<u64> = (1..=a.snapshots)
        .map(|i| (steps * i / a.snapshots / 100 * 100) as u64)
        .filter(|&t| t >= 100)
        .collect();
    targets.dedup();
    let mut obs = Cli::new(a.json, 1, steps)?
        .without_epoch_lines()
        .with_snapshots(targets, 2500, cfg.seed ^ 0x5eed);
    let train_dir = dir.join(TRAIN_DIR);
    let trained = match &a.resume {
        Some(_) => Toy2d::resume(cfg.clone(), &train_dir, &mut obs).map(|(t, o, ckpt)| {
            eprintln!("resuming {} from {}", dir.display(), ckpt.display());
            (t, o)
        }),
        None => Toy2d::new(cfg.clone()).and_then(|t| t.train(&train_dir, &mut obs)),
    };
    obs.finish();
    let (toy, outcome) = trained?;
    if let Outcome::Stopped(ckpt) = outcome {
        eprintln!(
            "interrupted: checkpoint saved to {}; continue with: gan toy --resume {}",
            ckpt.display(),
            dir.display()
        );
        return Ok(0);
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
    if !obs.panels.is_empty() {
        save_scatter_panels(&dir.join("training.png"), &obs.panels, &toy.data.means)?;
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
