//! `gan train`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, Result, bail};
use clap::Args;
use gan::config::TrainConfig;
use gan::data::{ImageSet, Splits};
use gan::train::{
    Dcgan, EpochMetrics, EvalData, Family, Mlp, Observer, Outcome, Run, StepReport, plural,
    read_run_config,
};
use indicatif::{ProgressBar, ProgressStyle};

use crate::common::{DeviceKind, device_of, print_json, set_threads};

/// Train a GAN.
///
/// Examples:
///   gan train --preset mnist-paper --out runs/paper
///   gan train --preset mnist-paper --set loss=minimax --set k=2 --set schedule=alternating
///   gan train --resume runs/paper --epochs 50
#[derive(Args)]
pub struct TrainArgs {
    /// A bundled preset: mnist-paper (the paper's MNIST model), mnist-fast (a small model),
    /// fashion-paper, mnist-cgan (conditional), ring8 / grid25 (2-D mode-collapse tests),
    /// mnist-dcgan / fashion-dcgan (DCGAN, 28 x 28), mnist-dcgan-fc / fashion-dcgan-fc (InfoGAN's
    /// MNIST model: dcgan-28 with a 1024-unit hidden layer in G and D), emoji-dcgan / emoji-dcgan-64 /
    /// emoji-cdcgan / emoji-sngan (the bundled colour emoji), cifar10-dcgan (your CIFAR-10).
    #[arg(long, conflicts_with = "resume")]
    preset: Option<String>,
    /// A TOML config file (see configs/ for the keys). Alone it must hold every key; with
    /// --preset it holds only the keys it changes (the file's values win over the preset's,
    /// --set and the flags win over both).
    #[arg(long, conflicts_with = "resume")]
    config: Option<PathBuf>,
    /// Override a config value, e.g. --set optimizer.lr=0.05 (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE", conflicts_with = "resume")]
    set: Vec<String>,
    /// Continue the run in this directory from its newest valid checkpoint.
    #[arg(long, value_name = "RUN_DIR")]
    resume: Option<PathBuf>,
    /// Run directory for a new run [default: runs/<preset name>].
    #[arg(long, conflicts_with = "resume")]
    out: Option<PathBuf>,
    /// Total epochs of the run (on --resume: the new total, counting epochs already done).
    #[arg(long, value_parser = crate::common::positive_u64)]
    epochs: Option<u64>,
    /// Random seed (overrides the config's).
    #[arg(long, conflicts_with = "resume")]
    seed: Option<u64>,
    /// MNIST-format data directory (overrides the config's data.dir).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Compute threads [default: one per core].
    #[arg(long, value_parser = crate::common::positive)]
    threads: Option<usize>,
    /// Where to train: cpu, or cuda / wgpu in a binary built with that feature (GPU runs use
    /// the burn engine: add --set engine="burn").
    #[arg(long, value_enum, default_value = "cpu")]
    device: DeviceKind,
    /// Print one JSON object per epoch instead of a progress bar.
    #[arg(long)]
    json: bool,
}

/// Interrupts this close to the first one count as the same request.
const SAME_REQUEST: std::time::Duration = std::time::Duration::from_secs(2);

/// The progress bar, per-epoch lines (or JSON), Ctrl-C and, for the 2-D runs, the samples
/// of the pictures of training: what `gan train` and `gan toy` show of the one loop.
pub struct Cli {
    stop: Arc<AtomicBool>,
    bar: Option<ProgressBar>,
    json: bool,
    epoch_lines: bool,
    epochs: u64,
    /// Steps at which to take samples, how many, and their noise seed.
    snapshots: Vec<u64>,
    snapshot_size: usize,
    snapshot_seed: u64,
    /// The samples taken, labelled by step.
    pub panels: Vec<(String, Vec<f32>)>,
}

impl Cli {
    /// An observer with a progress bar (none with `json`, which prints each epoch's metrics
    /// as a JSON line) and the Ctrl-C handler installed.
    pub fn new(json: bool, epochs: u64, per_epoch: usize) -> Result<Self> {
        let bar = (!json).then(|| {
            let b = ProgressBar::new(per_epoch as u64);
            b.set_style(
                ProgressStyle::with_template(
                    "{prefix} [{bar:30}] {pos}/{len} {elapsed_precise} eta {eta} {msg}",
                )
                .expect("valid template")
                .progress_chars("=> "),
            );
            b
        });
        Ok(Self {
            stop: interrupt_flag()?,
            bar,
            json,
            epoch_lines: true,
            epochs,
            snapshots: Vec::new(),
            snapshot_size: 0,
            snapshot_seed: 0,
            panels: Vec::new(),
        })
    }

    /// No line (or JSON object) per epoch: for runs that report once at the end.
    pub fn without_epoch_lines(mut self) -> Self {
        self.epoch_lines = false;
        self
    }

    /// Also take `n` samples (noise seed `seed`) after each of `steps`.
    pub fn with_snapshots(mut self, steps: Vec<u64>, n: usize, seed: u64) -> Self {
        self.snapshots = steps;
        self.snapshot_size = n;
        self.snapshot_seed = seed;
        self
    }

    /// Clears the progress bar.
    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

impl Observer for Cli {
    fn samples_wanted(&self, step: u64) -> Option<(usize, u64)> {
        self.snapshots
            .contains(&step)
            .then_some((self.snapshot_size, self.snapshot_seed))
    }

    fn on_samples(&mut self, step: u64, samples: &[f32]) {
        self.panels.push((format!("step {step}"), samples.to_vec()));
    }

    fn on_step(&mut self, r: &StepReport<'_>) {
        let Some(bar) = &self.bar else { return };
        if r.iteration == 1 || bar.length() != Some(r.iterations_per_epoch as u64) {
            bar.set_length(r.iterations_per_epoch as u64);
            bar.set_prefix(format!("epoch {}/{}", r.epoch + 1, self.epochs));
        }
        bar.set_position(r.iteration as u64);
        if r.iteration.is_multiple_of(10) || r.iteration == r.iterations_per_epoch {
            bar.set_message(format!(
                "D(x) {:.3}  D(G(z)) {:.3}  loss D {:.3} G {:.3}  {:.0} img/s",
                r.stats.d_real, r.stats.d_fake, r.stats.d_loss, r.stats.g_loss, r.images_per_sec
            ));
        }
    }

    fn on_epoch(&mut self, m: &EpochMetrics, ckpt: &std::path::Path) {
        if !self.epoch_lines {
            return;
        }
        if self.json {
            print_json(&serde_json::to_value(m).unwrap_or_default());
            return;
        }
        let mut quality = String::new();
        if let Some(v) = m.valid_ll {
            quality.push_str(&format!("  valid ll {v:.1}"));
        }
        if let (Some(ll), Some(se)) = (m.parzen_ll, m.parzen_se) {
            quality.push_str(&format!("  parzen {ll:.1} ± {se:.1}"));
        }
        if let Some(f) = m.fid {
            quality.push_str(&format!("  fid {f:.2}"));
        }
        if let (Some(p), Some(r)) = (m.precision, m.recall) {
            quality.push_str(&format!("  P {p:.3} R {r:.3}"));
        }
        let line = format!(
            "epoch {:>4}  D(x) {:.3}  D(G(z)) {:.3}  loss D {:.4} G {:.4}  lr {:.4}  mom {:.3}{quality}  {:.1}s  -> {}",
            m.epoch,
            m.d_real,
            m.d_fake,
            m.d_loss,
            m.g_loss,
            m.lr,
            m.momentum,
            m.seconds,
            ckpt.display()
        );
        match &self.bar {
            Some(bar) if !bar.is_hidden() => bar.println(line),
            _ => eprintln!("{line}"),
        }
    }

    fn on_rollback(&mut self, step: u64, what: &str, checkpoint: &Path, lr: f64) {
        let line = format!(
            "diverged at step {step} ({what} not finite): rolled back to {}, learning rate now {lr:e}",
            checkpoint.display()
        );
        match &self.bar {
            Some(bar) if !bar.is_hidden() => bar.println(line),
            _ => eprintln!("{line}"),
        }
    }

    fn stop_requested(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
}

/// A flag set by the first Ctrl-C (or SIGTERM): the loop then saves a checkpoint at the next
/// step and stops. The handler is installed once per process.
fn interrupt_flag() -> Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let first: Arc<std::sync::Mutex<Option<std::time::Instant>>> = Arc::default();
    ctrlc::set_handler(move || {
        // one request can arrive as several signals (`timeout -s INT`, `docker stop` and
        // job schedulers signal the process and its group): those within SAME_REQUEST of
        // the first are the same request; a later one exits at once
        let mut at = first.lock().unwrap_or_else(|p| p.into_inner());
        match *at {
            None => {
                *at = Some(std::time::Instant::now());
                flag.store(true, Ordering::SeqCst);
                eprintln!(
                    "\ninterrupt: saving a checkpoint at the next step (interrupt again \
                     after {} s to exit without one)",
                    SAME_REQUEST.as_secs()
                );
            }
            Some(t) if t.elapsed() < SAME_REQUEST => {}
            Some(_) => {
                eprintln!("\nsecond interrupt: exiting without a checkpoint");
                std::process::exit(130);
            }
        }
    })
    .context("installing the Ctrl-C handler")?;
    Ok(stop)
}

/// The run's data, with what an image folder held said once (images, skipped and ignored
/// files, classes, whether it came from the cache).
fn load_training_data(cfg: &TrainConfig) -> Result<Splits> {
    let started = std::time::Instant::now();
    let (splits, report) = gan::data::load_data(&cfg.data).context("loading the training data")?;
    if let Some(r) = report {
        eprintln!(
            "{}: {} images ({} train, {} validation, {} test), {} classes, {}x{}x{}; {} in {:.1} s",
            cfg.data.dir,
            r.images,
            splits.train.len(),
            splits.valid.len(),
            splits.test.len(),
            r.classes.len(),
            splits.train.channels,
            splits.train.rows,
            splits.train.cols,
            if r.cached {
                "from the cache"
            } else {
                "decoded"
            },
            started.elapsed().as_secs_f64()
        );
        if r.ignored > 0 {
            eprintln!("  {} files that are not PNG or JPEG ignored", r.ignored);
        }
        if !r.skipped.is_empty() {
            eprintln!("  {} broken files skipped:", r.skipped.len());
            for s in &r.skipped {
                eprintln!("    {s}");
            }
        }
    }
    Ok(splits)
}

/// The evaluation data of a run, with the shipped classifier of its dataset for the
/// in-training FID; says once, when the run evaluates, that there is no FID and why.
fn eval_data(valid: ImageSet, test: ImageSet, cfg: &TrainConfig) -> Result<EvalData> {
    let ev = EvalData::new(valid, test)?;
    if cfg.eval_every > 0 && ev.classifier.is_none() {
        eprintln!(
            "note: no FID during training: the test set in {} is neither MNIST's nor \
             Fashion-MNIST's (the data of the shipped classifiers); the Parzen estimate still \
             runs every {} epochs",
            cfg.data.dir, cfg.eval_every
        );
    }
    Ok(ev)
}

pub fn run(a: TrainArgs) -> Result<i32> {
    if let Some(p) = &a.preset
        && gan::toy2d::TOY_PRESETS.contains(&p.as_str())
    {
        if a.epochs.is_some() || a.data.is_some() {
            bail!("--epochs and --data do not apply to the 2-D preset {p} (use --set steps=N)");
        }
        return crate::toy::run(crate::toy::ToyArgs::from_train(
            p.clone(),
            a.set.clone(),
            a.seed,
            a.out.clone(),
            a.threads,
            a.json,
        ));
    }
    set_threads(a.threads)?;
    let device = device_of(a.device)?;
    let gpu_check = |cfg: &TrainConfig| -> Result<()> {
        if a.device != DeviceKind::Cpu && cfg.engine == gan::config::Engine::Fast {
            bail!(
                "--device {:?} needs the burn engine (the fused engine is CPU-only): add --set engine=\"burn\"",
                a.device
            );
        }
        Ok(())
    };
    // the run's config: read back (resume) or built from the layers; its model picks the
    // players' family
    let (cfg, dir, resume) = if let Some(dir) = &a.resume {
        let mut cfg = read_run_config(dir)?;
        if let Some(d) = &a.data {
            cfg.data.dir = d.display().to_string();
        }
        (cfg, dir.clone(), true)
    } else {
        let mut set = a.set.clone();
        if let Some(e) = a.epochs {
            set.push(format!("epochs={e}"));
        }
        if let Some(s) = a.seed {
            set.push(format!("seed={s}"));
        }
        if let Some(d) = &a.data {
            set.push(format!("data.dir={:?}", d.display().to_string()));
        }
        let preset = match (&a.preset, &a.config) {
            (None, None) => Some("mnist-paper"),
            (p, _) => p.as_deref(),
        };
        let cfg = TrainConfig::layered(preset, a.config.as_deref(), &set)?;
        let dir = a
            .out
            .clone()
            .unwrap_or_else(|| PathBuf::from("runs").join(&cfg.name));
        (cfg, dir, false)
    };
    gpu_check(&cfg)?;
    match cfg.model.dcgan_layout() {
        None => train_as::<Mlp>(&a, cfg, dir, resume, &device),
        Some(_) => train_as::<Dcgan>(&a, cfg, dir, resume, &device),
    }
}

/// Creates or resumes the run in `dir` with players of family `F`, and trains it.
fn train_as<F: Family>(
    a: &TrainArgs,
    cfg: TrainConfig,
    dir: PathBuf,
    resume: bool,
    device: &burn::tensor::Device,
) -> Result<i32> {
    let Splits { train, valid, test } = load_training_data(&cfg)?;
    let ev = eval_data(valid, test, &cfg)?;
    let mut run = if resume {
        let (run, ckpt, skipped) =
            match Run::<F::G, F::D>::resume_as::<F>(&dir, train, a.epochs, device) {
                Err(gan::Error::NothingToDo(why)) => {
                    eprintln!("{why}");
                    return Ok(0);
                }
                r => r?,
            };
        let run = run.with_eval_data(ev);
        for s in skipped {
            eprintln!("warning: {s}");
        }
        eprintln!(
            "resuming {} from {} (epoch {}, step {})",
            dir.display(),
            ckpt.display(),
            run.gan.progress.epoch,
            run.gan.progress.step
        );
        run
    } else {
        let (name, n_train) = (cfg.name.clone(), train.len());
        let run = Run::<F::G, F::D>::create_as::<F>(&dir, cfg, train, device)?.with_eval_data(ev);
        eprintln!(
            "training {name} for {} into {} ({n_train} training images)",
            plural(run.gan.cfg.epochs, "epoch"),
            dir.display(),
        );
        run
    };
    if run.gan.progress.epoch >= run.gan.cfg.epochs {
        eprintln!(
            "{}: already trained for {}; nothing to do (raise --epochs)",
            dir.display(),
            plural(run.gan.progress.epoch, "epoch")
        );
        return Ok(0);
    }

    let mut obs = Cli::new(a.json, run.gan.cfg.epochs, run.iterations_per_epoch())?;
    let outcome = run.train(&mut obs);
    obs.finish();
    let outcome = outcome.map_err(|e| match e {
        gan::Error::Diverged { .. } => anyhow::anyhow!(
            "{e}\nthe checkpoints in {} hold the last good state; resume with --resume {} or \
             start again with --set divergence.action=\"rollback\" (or a lower optimizer.lr)",
            dir.join("checkpoints").display(),
            dir.display()
        ),
        e => e.into(),
    });
    match outcome? {
        Outcome::Finished => {
            eprintln!(
                "done: {} (samples in {}/samples)",
                dir.display(),
                dir.display()
            );
            Ok(0)
        }
        Outcome::Stopped(ckpt) => {
            eprintln!(
                "interrupted: checkpoint saved to {}; continue with: gan train --resume {}",
                ckpt.display(),
                dir.display()
            );
            Ok(0)
        }
    }
}
