//! A training run on disk: config, metrics, sample grids and checkpoints in one directory,
//! resumable at any checkpoint with the same result as an uninterrupted run.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use super::events::{EventLog, Window};
use super::family::{Family, Mlp};
use super::gan::{Gan, Progress, StepStats, Weights, check_finite, streams};
use crate::checkpoint::{
    STATE_FILE, list_checkpoints, module_from_bytes, module_to_bytes, read_verified, write_atomic,
    write_checkpoint,
};
use crate::config::{DivergenceAction, TrainConfig};
use crate::data::{Dataset, ImageSet};
use crate::error::{Error, Result};
use crate::models::{
    Discriminator, Generator, ImageShape, MlpDiscriminator, MlpGenerator, sample_noise,
};
use crate::rng::Rng;
use crate::viz::save_grid;

/// File names inside a run directory.
pub mod files {
    /// The resolved configuration.
    pub const CONFIG: &str = "config.toml";
    /// One JSON object per epoch.
    pub const METRICS_JSONL: &str = "metrics.jsonl";
    /// The same as CSV.
    pub const METRICS_CSV: &str = "metrics.csv";
    /// Checkpoint directories.
    pub const CHECKPOINTS: &str = "checkpoints";
    /// Per-epoch sample grids.
    pub const SAMPLES: &str = "samples";
    /// Files of one checkpoint.
    pub const GENERATOR: &str = "generator.safetensors";
    /// D's weights.
    pub const DISCRIMINATOR: &str = "discriminator.safetensors";
    /// G's optimizer velocity.
    pub const GENERATOR_VELOCITY: &str = "generator-velocity.safetensors";
    /// D's optimizer velocity.
    pub const DISCRIMINATOR_VELOCITY: &str = "discriminator-velocity.safetensors";
    /// G's second moments (Adam, RMSProp).
    pub const GENERATOR_SECOND: &str = "generator-second-moment.safetensors";
    /// D's second moments (Adam, RMSProp).
    pub const DISCRIMINATOR_SECOND: &str = "discriminator-second-moment.safetensors";
    /// G's weight average (`g_ema_decay`), laid out like G.
    pub const GENERATOR_EMA: &str = "generator-ema.safetensors";
}

/// The contents of a checkpoint's state file.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CheckpointState {
    /// Format version of this file.
    pub format: u32,
    /// Counters and random stream.
    pub progress: Progress,
    /// The shape of the data's images, `[channels, height, width]` (checkpoints written
    /// before colour data record `[height, width]`, grey).
    pub image_shape: Vec<usize>,
    /// The run's configuration, as TOML.
    pub config: String,
    /// CRC-32 of each weight file.
    pub files: Vec<(String, u32)>,
}

/// Points per set in the epoch's precision / recall (the first this many samples and test
/// images): the k-nearest-neighbour radii cost O(n^2) distances.
pub const PR_POINTS: usize = 5000;
/// The neighbour that sets each point's radius in the epoch's precision / recall
/// (Kynkäänniemi et al. 2019 use k = 3).
pub const PR_K: usize = 3;

/// What an evaluation epoch measured.
struct EpochEval {
    parzen: Option<crate::eval::parzen::ParzenReport>,
    fid: Option<f64>,
    precision: Option<f64>,
    recall: Option<f64>,
    class_histogram: Option<Vec<usize>>,
}

/// One line of `metrics.jsonl`: means over an epoch.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EpochMetrics {
    /// Epoch number (1-based: the number of completed epochs).
    pub epoch: u64,
    /// Global iteration count at the end of the epoch.
    pub step: u64,
    /// Mean discriminator loss.
    pub d_loss: f64,
    /// Mean generator loss.
    pub g_loss: f64,
    /// Mean D(x).
    pub d_real: f64,
    /// Mean D(G(z)).
    pub d_fake: f64,
    /// D's learning rate at the end of the epoch.
    pub lr: f64,
    /// Momentum used during the epoch.
    pub momentum: f64,
    /// Wall-clock seconds of the epoch's training iterations (batching and steps, in this
    /// process; a resumed epoch counts its remainder). The sample grid, the evaluations and
    /// the checkpoint that follow are not included.
    pub seconds: f64,
    /// Real images consumed per second.
    pub images_per_sec: f64,
    /// Parzen estimate of the test log-likelihood (nats), on epochs where it was computed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parzen_ll: Option<f64>,
    /// Its standard error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parzen_se: Option<f64>,
    /// The window width chosen on validation data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parzen_sigma: Option<f64>,
    /// Fréchet distance of the same samples to the test images in the reference
    /// classifier's features, on epochs where it was computed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fid: Option<f64>,
    /// Improved precision (Kynkäänniemi et al. 2019) of the first [`PR_POINTS`] samples
    /// against as many test images in the classifier's features, k = [`PR_K`], on epochs
    /// with a FID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub precision: Option<f64>,
    /// Its recall, on the same points.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recall: Option<f64>,
    /// How many of the evaluation samples the classifier puts in each class (a collapsed
    /// generator piles them into few), on epochs with a FID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class_histogram: Option<Vec<usize>>,
    /// The `monitor_ll` channel: mean log-likelihood (nats) of the validation images under a
    /// Parzen window (sigma 0.2) on 100 samples, when `monitor_ll` is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_ll: Option<f64>,
    /// The weights the grid and the scores above came from: `ema` when the run keeps an
    /// average of G's weights (`g_ema_decay`); absent for the live weights.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weights: Option<String>,
    /// With an average: the Parzen estimate of the live weights, on the same noise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live_parzen_ll: Option<f64>,
    /// Its standard error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live_parzen_se: Option<f64>,
    /// With an average: the live weights' FID, on the same noise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live_fid: Option<f64>,
    /// Their precision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live_precision: Option<f64>,
    /// Their recall.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live_recall: Option<f64>,
}

const CSV_HEADER: &str = "epoch,step,d_loss,g_loss,d_real,d_fake,lr,momentum,seconds,images_per_sec,parzen_ll,parzen_se,parzen_sigma,fid,valid_ll,precision,recall";

impl EpochMetrics {
    fn csv(&self) -> String {
        format!(
            "{},{},{},{},{},{},{},{},{:.3},{:.1},{},{},{},{},{},{},{}",
            self.epoch,
            self.step,
            self.d_loss,
            self.g_loss,
            self.d_real,
            self.d_fake,
            self.lr,
            self.momentum,
            self.seconds,
            self.images_per_sec,
            opt(self.parzen_ll),
            opt(self.parzen_se),
            opt(self.parzen_sigma),
            opt(self.fid),
            opt(self.valid_ll),
            opt(self.precision),
            opt(self.recall)
        )
    }
}

/// Samples of the `monitor_ll` channel (the authors' `ll_n_samples`).
const MONITOR_SAMPLES: usize = 100;
/// Its window width (the authors' `ll_sigma`).
const MONITOR_SIGMA: f64 = 0.2;

fn opt(v: Option<f64>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}

/// Validation and test images for the in-training Parzen estimate, and the classifier whose
/// features the in-training Fréchet distance uses (none: no FID).
pub struct EvalData {
    /// Validation images (the first 1,000 choose sigma).
    pub valid: ImageSet,
    /// Test images.
    pub test: ImageSet,
    /// The feature extractor of the FID.
    pub classifier: Option<crate::models::lenet::LeNet>,
}

impl EvalData {
    /// Validation and test images with the shipped classifier of their dataset
    /// ([`crate::classifier::Shipped::for_test_set`]: recognised by the test labels, not by
    /// a directory name); no classifier (no FID) for any other data.
    pub fn new(valid: ImageSet, test: ImageSet) -> Result<Self> {
        let classifier = match crate::classifier::Shipped::for_test_set(&test) {
            Some(s) => Some(s.load_on(&burn::tensor::Device::flex())?),
            None => None,
        };
        Ok(Self {
            valid,
            test,
            classifier,
        })
    }
}

/// What the caller sees after each iteration.
pub struct StepReport<'a> {
    /// Epoch in progress (0-based).
    pub epoch: u64,
    /// Iterations done in this epoch.
    pub iteration: usize,
    /// Iterations per epoch.
    pub iterations_per_epoch: usize,
    /// Global iteration count.
    pub step: u64,
    /// This iteration's statistics.
    pub stats: &'a StepStats,
    /// Real images consumed per second in this process.
    pub images_per_sec: f64,
}

/// Hooks the training loop calls; the CLI draws its progress bar and handles Ctrl-C here.
pub trait Observer {
    /// After every iteration.
    fn on_step(&mut self, _report: &StepReport<'_>) {}
    /// After every epoch, once its metrics, grid and checkpoint are written.
    fn on_epoch(&mut self, _metrics: &EpochMetrics, _checkpoint: &Path) {}
    /// Training diverged at `step` (`what` became NaN or infinite) and was rolled back to
    /// `checkpoint`; it goes on with the learning rate `lr`.
    fn on_rollback(&mut self, _step: u64, _what: &str, _checkpoint: &Path, _lr: f64) {}
    /// Polled after every iteration; `true` saves a checkpoint and stops.
    fn stop_requested(&self) -> bool {
        false
    }
    /// Polled after every iteration (`step`: iterations done): `Some((n, seed))` asks for
    /// `n` samples of G with noise seeded by `seed` (not the training stream, so watching a
    /// run does not change it), handed to [`Observer::on_samples`].
    fn samples_wanted(&self, _step: u64) -> Option<(usize, u64)> {
        None
    }
    /// The samples asked for by [`Observer::samples_wanted`] (`n * c * h * w` values).
    fn on_samples(&mut self, _step: u64, _samples: &[f32]) {}
}

/// An observer that does nothing.
pub struct Silent;
impl Observer for Silent {}

/// How a call to [`Run::train`] ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// All configured epochs are done.
    Finished,
    /// Stopped on request; the checkpoint written at that point.
    Stopped(PathBuf),
}

impl CheckpointState {
    /// [`CheckpointState::image_shape`] as a shape (`[h, w]`: grey).
    pub fn shape(&self, path: &Path) -> Result<ImageShape> {
        let bad = || {
            Error::checkpoint(
                path,
                format!("unreadable image shape {:?}", self.image_shape),
            )
        };
        match self.image_shape[..] {
            [h, w] => ImageShape::grey(h, w).map_err(|_| bad()),
            [c, h, w] => ImageShape::new(c, h, w).map_err(|_| bad()),
            _ => Err(bad()),
        }
    }
}

/// A run directory and the model being trained in it: the one training loop (epochs,
/// shuffling, metrics, sample grids, evaluation, checkpoints, exact resume, the divergence
/// guard) for every pair of players.
pub struct Run<G: Generator = MlpGenerator, D: Discriminator = MlpDiscriminator> {
    /// The run directory.
    pub dir: PathBuf,
    /// Players, optimizers and progress.
    pub gan: Gan<G, D>,
    train: Box<dyn Dataset>,
    fixed_noise: Tensor<2>,
    eval: Option<EvalData>,
    /// The TensorBoard event file, when `tensorboard_every` > 0.
    events: Option<EventLog>,
    /// The steps since the last scalar event.
    window: Window,
    _lock: super::lock::RunLock,
}

impl Run {
    /// [`Run::create_as`] for the paper's MLP pair.
    pub fn create(dir: &Path, cfg: TrainConfig, train: ImageSet, device: &Device) -> Result<Self> {
        Self::create_as::<Mlp>(dir, cfg, train, device)
    }

    /// [`Run::resume_as`] for the paper's MLP pair.
    pub fn resume(
        dir: &Path,
        train: ImageSet,
        epochs: Option<u64>,
        device: &Device,
    ) -> Result<(Self, PathBuf, Vec<String>)> {
        Self::resume_as::<Mlp>(dir, train, epochs, device)
    }
}

impl<G: Generator, D: Discriminator> Run<G, D> {
    /// Starts a new run of the players of family `F` (the config's `model`) in `dir`. Refuses a directory that already
    /// holds checkpoints, so a previous run is never overwritten (resume it instead).
    ///
    /// The directory is locked while the run is open ([`super::lock::RunLock`]): a second
    /// process that tries to train it is refused, naming the holder.
    pub fn create_as<F: Family<G = G, D = D>>(
        dir: &Path,
        cfg: TrainConfig,
        train: ImageSet,
        device: &Device,
    ) -> Result<Self> {
        check_data(&cfg, &train)?;
        let lock = super::lock::RunLock::acquire(dir)?;
        Self::create_locked::<F>(dir, cfg, train, device, lock)
    }

    /// [`Run::create`] once the lock is held and the data checked.
    fn create_locked<F: Family<G = G, D = D>>(
        dir: &Path,
        cfg: TrainConfig,
        train: ImageSet,
        device: &Device,
        lock: super::lock::RunLock,
    ) -> Result<Self> {
        refuse_existing(dir)?;
        let means = train.pixel_means();
        let gan = F::build(cfg, train.shape()?, Some(&means), device)?;
        Self::start(dir, gan, Box::new(train), lock)
    }

    /// Reopens the run in `dir` at its newest checkpoint that verifies. `epochs` replaces the
    /// configured total when given. Returns the run and the checkpoint used, plus the
    /// checkpoints skipped as damaged with the reason.
    pub fn resume_as<F: Family<G = G, D = D>>(
        dir: &Path,
        train: ImageSet,
        epochs: Option<u64>,
        device: &Device,
    ) -> Result<(Self, PathBuf, Vec<String>)> {
        check_image_run(dir)?;
        let lock = super::lock::RunLock::acquire(dir)?;
        if list_checkpoints(&dir.join(files::CHECKPOINTS)).is_empty() {
            // stopped before its first checkpoint was written: start it again from its config
            let mut cfg = read_run_config(dir)?;
            if let Some(e) = epochs {
                cfg.epochs = e;
                cfg.check()?;
            }
            check_data(&cfg, &train)?;
            let run = Self::create_locked::<F>(dir, cfg, train, device, lock)?;
            let (_, ckpt) = list_checkpoints(&dir.join(files::CHECKPOINTS))
                .into_iter()
                .next()
                .ok_or_else(|| Error::checkpoint(dir, "the initial checkpoint is missing"))?;
            let note = "the run had no checkpoint yet: started it again from its config.toml";
            return Ok((run, ckpt, vec![note.to_string()]));
        }
        let (gan, ckpt, skipped) = load_latest_as::<F>(dir, device)?;
        let run = Self::reopen(dir, gan, Box::new(train), epochs, lock)?;
        Ok((run, ckpt, skipped))
    }
}

/// Refuses to start a run in a directory that already holds one.
fn refuse_existing(dir: &Path) -> Result<()> {
    if !list_checkpoints(&dir.join(files::CHECKPOINTS)).is_empty() {
        return Err(Error::Invalid(format!(
            "{} already holds a run; resume it with --resume or choose another --out",
            dir.display()
        )));
    }
    Ok(())
}

impl<G: Generator, D: Discriminator> Run<G, D> {
    /// Starts a new run in `dir` with players built by the caller (any [`Generator`] and
    /// [`Discriminator`]; `gan.cfg` supplies the schedule, loss, optimizer, epochs and
    /// outputs). Refuses a directory that already holds checkpoints, and data that do not
    /// fit the players' image shape.
    pub fn create_with(dir: &Path, gan: Gan<G, D>, train: impl Dataset + 'static) -> Result<Self> {
        check_data(&gan.cfg, &train)?;
        check_shape(&gan, &train)?;
        let lock = super::lock::RunLock::acquire(dir)?;
        refuse_existing(dir)?;
        Self::start(dir, gan, Box::new(train), lock)
    }

    /// Reopens the run in `dir` at its newest checkpoint that verifies, loaded into `gan`
    /// (fresh players of the same architecture as the run's); `epochs` replaces the
    /// configured total when given. Returns the run, the checkpoint used and the
    /// checkpoints skipped as damaged.
    pub fn resume_with(
        dir: &Path,
        mut gan: Gan<G, D>,
        train: impl Dataset + 'static,
        epochs: Option<u64>,
    ) -> Result<(Self, PathBuf, Vec<String>)> {
        check_image_run(dir)?;
        let lock = super::lock::RunLock::acquire(dir)?;
        let (ckpt, skipped) = load_latest_into(dir, &mut gan)?;
        let run = Self::reopen(dir, gan, Box::new(train), epochs, lock)?;
        Ok((run, ckpt, skipped))
    }

    /// Writes the config, clears old metrics and saves the initial checkpoint.
    fn start(
        dir: &Path,
        gan: Gan<G, D>,
        train: Box<dyn Dataset>,
        lock: super::lock::RunLock,
    ) -> Result<Self> {
        fs::create_dir_all(dir.join(files::SAMPLES)).map_err(|e| Error::io(dir, e))?;
        write_atomic(&dir.join(files::CONFIG), gan.cfg.to_toml()?.as_bytes())?;
        for f in [files::METRICS_JSONL, files::METRICS_CSV] {
            let _ = fs::remove_file(dir.join(f));
        }
        let mut run = Self::assemble(dir, gan, train, lock);
        run.open_events(None)?;
        // the initial state, so that a run killed or diverging in its first epoch can be
        // resumed or rolled back
        run.save_checkpoint()?;
        Ok(run)
    }

    /// A loaded run made ready to train on: data checked, `epochs` applied.
    fn reopen(
        dir: &Path,
        mut gan: Gan<G, D>,
        train: Box<dyn Dataset>,
        epochs: Option<u64>,
        lock: super::lock::RunLock,
    ) -> Result<Self> {
        check_data(&gan.cfg, train.as_ref())?;
        check_shape(&gan, train.as_ref())?;
        if let Some(e) = epochs {
            let done = gan.progress.epoch;
            if e <= done {
                // nothing to train: change nothing, and say what the run holds
                return Err(Error::NothingToDo(format!(
                    "{} has trained {} (configured total {}); --epochs {e} asks for no more, \
                     so nothing was changed (give --epochs above {done} to train on)",
                    dir.display(),
                    plural(done, "epoch"),
                    gan.cfg.epochs
                )));
            }
            gan.cfg.epochs = e;
            gan.cfg.check()?;
            write_atomic(&dir.join(files::CONFIG), gan.cfg.to_toml()?.as_bytes())?;
        }
        truncate_metrics(dir, gan.progress.epoch)?;
        let step = gan.progress.step;
        let mut run = Self::assemble(dir, gan, train, lock);
        run.open_events(Some(step))?;
        Ok(run)
    }

    /// Opens the run's TensorBoard event file (see [`EventLog::open`]) when the config
    /// asks for one.
    fn open_events(&mut self, keep: Option<u64>) -> Result<()> {
        self.events = None;
        if self.gan.cfg.tensorboard_every > 0 {
            self.events = Some(EventLog::open(&self.dir, keep)?);
        }
        Ok(())
    }

    /// The scalar event of the steps since the last one, every `tensorboard_every` steps.
    fn step_events(&mut self, stats: &StepStats, images_per_sec: f64) -> Result<()> {
        let every = self.gan.cfg.tensorboard_every;
        let Some(log) = &mut self.events else {
            return Ok(());
        };
        self.window.add(stats);
        let step = self.gan.progress.step;
        if !step.is_multiple_of(every) {
            return Ok(());
        }
        let (lr_d, lr_g, momentum) = self.gan.schedule_now();
        let mut values = self.window.take();
        values.extend([
            ("optim/lr_d", lr_d),
            ("optim/lr_g", lr_g),
            ("optim/momentum", momentum),
            ("speed/images_per_sec", images_per_sec),
        ]);
        log.scalars(step, &values)
    }

    /// The epoch's metrics and sample grid as events at the epoch's last step.
    fn epoch_events(&mut self, m: &EpochMetrics) -> Result<()> {
        let Some(log) = &mut self.events else {
            return Ok(());
        };
        let mut values = vec![
            ("epoch/epoch", m.epoch as f64),
            ("epoch/d_loss", m.d_loss),
            ("epoch/g_loss", m.g_loss),
            ("epoch/d_real", m.d_real),
            ("epoch/d_fake", m.d_fake),
            ("epoch/seconds", m.seconds),
        ];
        let optional = [
            ("quality/parzen_nats", m.parzen_ll),
            ("quality/parzen_se", m.parzen_se),
            ("quality/valid_ll", m.valid_ll),
            ("quality/fid", m.fid),
            ("quality/precision", m.precision),
            ("quality/recall", m.recall),
            ("quality/live_parzen_nats", m.live_parzen_ll),
            ("quality/live_fid", m.live_fid),
            ("quality/live_precision", m.live_precision),
            ("quality/live_recall", m.live_recall),
        ];
        values.extend(optional.into_iter().filter_map(|(t, v)| v.map(|v| (t, v))));
        log.scalars(m.step, &values)?;
        if let Ok(png) = fs::read(grid_path(&self.dir, m.epoch)) {
            log.png(m.step, "samples/grid", png)?;
        }
        log.sync()
    }

    fn assemble(
        dir: &Path,
        gan: Gan<G, D>,
        train: Box<dyn Dataset>,
        lock: super::lock::RunLock,
    ) -> Self {
        let mut grid_rng = Rng::derived(gan.cfg.seed, streams::GRID);
        let fixed_noise = sample_noise(
            &gan.cfg.noise,
            gan.cfg.grid_samples,
            &mut grid_rng,
            &gan.device,
        );
        Self {
            dir: dir.to_path_buf(),
            gan,
            train,
            fixed_noise,
            eval: None,
            events: None,
            window: Window::default(),
            _lock: lock,
        }
    }

    /// The players, optimizers and progress, the run directory closed.
    pub fn into_gan(self) -> Gan<G, D> {
        self.gan
    }

    /// Supplies validation and test data, which turns on the Parzen estimate every
    /// `eval_every` epochs.
    pub fn with_eval_data(mut self, eval: EvalData) -> Self {
        self.eval = Some(eval);
        self
    }

    /// The Parzen protocol on `eval_samples` samples (seeded by the epoch), and the FID,
    /// precision, recall and class histogram of the same samples when a classifier is
    /// given, when due; with an average of G's weights, the same for the live weights on
    /// the same noise (second).
    fn eval_if_due(&self, epoch: u64) -> Result<Option<(EpochEval, Option<EpochEval>)>> {
        let every = self.gan.cfg.eval_every;
        let Some(ev) = &self.eval else {
            return Ok(None);
        };
        if every == 0 || !epoch.is_multiple_of(every) {
            return Ok(None);
        }
        let (n, seed) = (
            self.gan.cfg.eval_samples,
            Rng::derived(self.gan.cfg.seed, streams::EVAL).next_u64() ^ epoch,
        );
        let parzen = self.gan.cfg.eval_parzen;
        let main = evaluate(ev, &self.gan.sample(n, seed)?, parzen)?;
        let live = match self.gan.has_ema() {
            true => Some(evaluate(
                ev,
                &self.gan.sample_with(Weights::Live, n, seed)?,
                parzen,
            )?),
            false => None,
        };
        Ok(Some((main, live)))
    }
    /// The `monitor_ll` channel for `epoch` (see [`TrainConfig::monitor_ll`]), when on.
    fn monitor_ll(&self, epoch: u64) -> Result<Option<f64>> {
        if !self.gan.cfg.monitor_ll {
            return Ok(None);
        }
        let ev = self.eval.as_ref().ok_or_else(|| {
            Error::Invalid(
                "monitor_ll needs the validation images: give the run its evaluation data \
                 (Run::with_eval_data)"
                    .into(),
            )
        })?;
        let kernels = self.gan.sample(
            MONITOR_SAMPLES,
            Rng::derived(self.gan.cfg.seed, streams::MONITOR).next_u64() ^ epoch,
        )?;
        let ll = crate::eval::parzen::log_likelihoods(
            &kernels,
            &ev.valid.pixels(),
            ev.valid.dim(),
            &[MONITOR_SIGMA],
        )?;
        Ok(Some(ll[0].iter().sum::<f64>() / ll[0].len().max(1) as f64))
    }

    /// Iterations per epoch.
    pub fn iterations_per_epoch(&self) -> usize {
        self.train.len() / self.gan.cfg.batch_size / self.gan.batches_per_step()
    }

    /// Trains until the configured number of epochs is reached or the observer asks to stop.
    pub fn train(&mut self, observer: &mut dyn Observer) -> Result<Outcome> {
        let m = self.gan.cfg.batch_size;
        let per_step = self.gan.batches_per_step();
        let iters = self.iterations_per_epoch();
        let d = self.gan.data_dim();
        let mut rollbacks = 0u32;
        'epochs: while self.gan.progress.epoch < self.gan.cfg.epochs {
            let epoch = self.gan.progress.epoch;
            let order = Rng::derived(self.gan.cfg.seed, streams::SHUFFLE + epoch)
                .permutation(self.train.len());
            let started = Instant::now();
            let first_batch = self.gan.progress.batch;
            while self.gan.progress.batch + per_step <= iters * per_step {
                let mut real = Vec::with_capacity(per_step);
                let mut labels = Vec::new();
                for _ in 0..per_step {
                    let b = self.gan.progress.batch;
                    let mut pixels = Vec::with_capacity(m * d);
                    for &i in &order[b * m..(b + 1) * m] {
                        self.train.push_image(i, &mut pixels);
                    }
                    real.push(pixels);
                    if self.gan.cfg.classes > 0 {
                        labels.push(
                            order[b * m..(b + 1) * m]
                                .iter()
                                .map(|&i| self.train.label(i))
                                .collect(),
                        );
                    }
                    self.gan.progress.batch += 1;
                }
                let stats = match self.gan.train_step_labelled(&real, &labels) {
                    Ok(stats) => stats,
                    Err(Error::Diverged { step, what }) => {
                        self.roll_back(step, &what, &mut rollbacks, observer)?;
                        continue 'epochs;
                    }
                    Err(e) => return Err(e),
                };
                let consumed = (self.gan.progress.batch - first_batch) * m;
                let images_per_sec = consumed as f64 / started.elapsed().as_secs_f64().max(1e-9);
                self.step_events(&stats, images_per_sec)?;
                observer.on_step(&StepReport {
                    epoch,
                    iteration: self.gan.progress.batch / per_step,
                    iterations_per_epoch: iters,
                    step: self.gan.progress.step,
                    stats: &stats,
                    images_per_sec,
                });
                if let Some((n, seed)) = observer.samples_wanted(self.gan.progress.step) {
                    let samples = self.gan.sample(n, seed)?;
                    observer.on_samples(self.gan.progress.step, &samples);
                }
                if observer.stop_requested() && self.gan.progress.batch < iters * per_step {
                    self.gan.sync_modules();
                    let ckpt = self.save_checkpoint()?;
                    return Ok(Outcome::Stopped(ckpt));
                }
            }
            let seconds = started.elapsed().as_secs_f64();
            let p = &self.gan.progress;
            let n = p.epoch_steps.max(1) as f64;
            let (lr_d, _, momentum) = self.gan.schedule_now();
            let metrics = EpochMetrics {
                epoch: epoch + 1,
                step: p.step,
                d_loss: p.epoch_sums.d_loss / n,
                g_loss: p.epoch_sums.g_loss / n,
                d_real: p.epoch_sums.d_real / n,
                d_fake: p.epoch_sums.d_fake / n,
                lr: lr_d,
                momentum,
                seconds,
                images_per_sec: ((p.batch - first_batch) * m) as f64 / seconds.max(1e-9),
                parzen_ll: None,
                parzen_se: None,
                parzen_sigma: None,
                fid: None,
                precision: None,
                recall: None,
                class_histogram: None,
                valid_ll: None,
                weights: self
                    .gan
                    .has_ema()
                    .then(|| self.gan.sampling.name().to_string()),
                live_parzen_ll: None,
                live_parzen_se: None,
                live_fid: None,
                live_precision: None,
                live_recall: None,
            };
            let mut metrics = metrics;
            let p = &mut self.gan.progress;
            p.epoch += 1;
            p.batch = 0;
            p.epoch_sums = StepStats::default();
            p.epoch_steps = 0;
            self.gan.sync_modules();
            self.write_grid(epoch + 1)?;
            metrics.valid_ll = self.monitor_ll(epoch + 1)?;
            if let Some((e, live)) = self.eval_if_due(epoch + 1)? {
                if let Some(l) = live {
                    metrics.live_parzen_ll = l.parzen.as_ref().map(|p| p.test_ll);
                    metrics.live_parzen_se = l.parzen.as_ref().map(|p| p.test_se);
                    metrics.live_fid = l.fid;
                    metrics.live_precision = l.precision;
                    metrics.live_recall = l.recall;
                }
                metrics.parzen_ll = e.parzen.as_ref().map(|p| p.test_ll);
                metrics.parzen_se = e.parzen.as_ref().map(|p| p.test_se);
                metrics.parzen_sigma = e.parzen.as_ref().map(|p| p.sigma);
                metrics.fid = e.fid;
                metrics.precision = e.precision;
                metrics.recall = e.recall;
                metrics.class_histogram = e.class_histogram;
            }
            // metrics first: a run killed between the two resumes from the previous
            // checkpoint, drops this line and computes it again
            self.append_metrics(&metrics)?;
            self.epoch_events(&metrics)?;
            let ckpt = match self.save_checkpoint() {
                Ok(c) => c,
                Err(Error::Diverged { step, what }) => {
                    self.roll_back(step, &what, &mut rollbacks, observer)?;
                    continue 'epochs;
                }
                Err(e) => return Err(e),
            };
            observer.on_epoch(&metrics, &ckpt);
            if observer.stop_requested() && self.gan.progress.epoch < self.gan.cfg.epochs {
                return Ok(Outcome::Stopped(ckpt));
            }
        }
        Ok(Outcome::Finished)
    }

    /// The divergence guard: with `action = "stop"` (or once `max_rollbacks` is used up)
    /// returns the divergence as an error; with `rollback`, reloads the newest checkpoint
    /// that verifies, lowers the learning rate and records it in the run's config.
    fn roll_back(
        &mut self,
        step: u64,
        what: &str,
        rollbacks: &mut u32,
        observer: &mut dyn Observer,
    ) -> Result<()> {
        let guard = self.gan.cfg.divergence.clone();
        let diverged = || Error::Diverged {
            step,
            what: what.to_string(),
        };
        if guard.action == DivergenceAction::Stop || *rollbacks >= guard.max_rollbacks {
            return Err(diverged());
        }
        *rollbacks += 1;
        let epochs = self.gan.cfg.epochs;
        let lr = self.gan.cfg.optimizer.lr * guard.lr_factor;
        let (ckpt, _) = load_latest_into(&self.dir, &mut self.gan)?;
        let gan = &mut self.gan;
        gan.cfg.optimizer.lr = lr;
        gan.cfg.epochs = epochs;
        gan.reload_engine()?;
        write_atomic(&self.dir.join(files::CONFIG), gan.cfg.to_toml()?.as_bytes())?;
        truncate_metrics(&self.dir, gan.progress.epoch)?;
        let step = gan.progress.step;
        self.open_events(Some(step))?;
        observer.on_rollback(step, what, &ckpt, lr);
        Ok(())
    }

    /// Samples of the fixed noise batch, as a PNG grid `samples/epoch-NNNN.png` (images of
    /// 1 or 3 channels; none for other data, such as 2-D points).
    fn write_grid(&self, epoch: u64) -> Result<()> {
        let [c, h, w] = self.gan.shape().dims();
        if !(c == 1 || c == 3) || h * w == 1 {
            return Ok(());
        }
        let images = self.gan.generate(self.fixed_noise.clone())?;
        let cols = (self.gan.cfg.grid_samples as f64).sqrt().ceil() as usize;
        save_grid(
            &grid_path(&self.dir, epoch),
            &images,
            self.gan.shape(),
            cols,
        )
    }

    fn append_metrics(&self, m: &EpochMetrics) -> Result<()> {
        let line = serde_json::to_string(m).map_err(|e| Error::Invalid(e.to_string()))?;
        append_line(&self.dir.join(files::METRICS_JSONL), &line, None)?;
        append_line(
            &self.dir.join(files::METRICS_CSV),
            &m.csv(),
            Some(CSV_HEADER),
        )
    }

    /// Writes a checkpoint of the state the modules hold (atomically) and prunes old ones;
    /// call [`Gan::sync_modules`] first when the fast engine trains.
    ///
    /// Refuses (with [`Error::Diverged`]) to write weights that are not finite: the
    /// checkpoints on disk are always good states to go back to.
    pub fn save_checkpoint(&self) -> Result<PathBuf> {
        let gan = &self.gan;
        check_finite(&gan.generator, "generator", gan.progress.step)?;
        check_finite(&gan.discriminator, "discriminator", gan.progress.step)?;
        let dir = self.dir.join(files::CHECKPOINTS);
        let mut weights = vec![
            (files::GENERATOR, module_to_bytes(&gan.generator, &dir)?),
            (
                files::DISCRIMINATOR,
                module_to_bytes(&gan.discriminator, &dir)?,
            ),
            (
                files::GENERATOR_VELOCITY,
                module_to_bytes(&gan.opt_g.velocity_module(&gan.generator), &dir)?,
            ),
            (
                files::DISCRIMINATOR_VELOCITY,
                module_to_bytes(&gan.opt_d.velocity_module(&gan.discriminator), &dir)?,
            ),
        ];
        if let Some(g_ema) = gan.ema_generator() {
            check_finite(&g_ema, "generator's weight average", gan.progress.step)?;
            weights.push((files::GENERATOR_EMA, module_to_bytes(&g_ema, &dir)?));
        }
        if gan.cfg.optimizer.kind != crate::config::OptimKind::Sgd {
            weights.push((
                files::GENERATOR_SECOND,
                module_to_bytes(&gan.opt_g.second_moment_module(&gan.generator), &dir)?,
            ));
            weights.push((
                files::DISCRIMINATOR_SECOND,
                module_to_bytes(&gan.opt_d.second_moment_module(&gan.discriminator), &dir)?,
            ));
        }
        let state = |sums| {
            let s = CheckpointState {
                format: 1,
                progress: gan.progress.clone(),
                image_shape: gan.shape().dims().to_vec(),
                config: gan.cfg.to_toml()?,
                files: sums,
            };
            serde_json::to_vec_pretty(&s).map_err(|e| Error::Invalid(e.to_string()))
        };
        write_checkpoint(
            &dir,
            gan.progress.step,
            &weights,
            gan.cfg.keep_checkpoints,
            state,
        )
    }
}

/// The Parzen protocol on the samples `kernels` (when `parzen`), and their FID, precision,
/// recall and class histogram when the evaluation data have a classifier.
fn evaluate(ev: &EvalData, kernels: &[f32], parzen: bool) -> Result<EpochEval> {
    let d = ev.test.dim();
    let n_valid = ev.valid.len().min(1000);
    let test = ev.test.pixels();
    let parzen = match parzen {
        true => Some(crate::eval::parzen::evaluate(
            kernels,
            &ev.valid.first_pixels(n_valid),
            &test,
            d,
            None,
        )?),
        false => None,
    };
    let mut out = EpochEval {
        parzen,
        fid: None,
        precision: None,
        recall: None,
        class_histogram: None,
    };
    if let Some(c) = ev.classifier.as_ref().filter(|_| d == 784) {
        use crate::classifier::{features, probabilities};
        use crate::eval::quality;
        use crate::models::lenet::{CLASSES, FEATURE_DIM};
        let (real, fake) = (features(c, &test)?, features(c, kernels)?);
        out.fid = Some(quality::frechet_distance(&real, &fake, FEATURE_DIM)?);
        let n = PR_POINTS
            .min(real.len() / FEATURE_DIM)
            .min(fake.len() / FEATURE_DIM);
        if n > PR_K {
            let (p, r) = quality::precision_recall(
                &real[..n * FEATURE_DIM],
                &fake[..n * FEATURE_DIM],
                FEATURE_DIM,
                PR_K,
            )?;
            out.precision = Some(p);
            out.recall = Some(r);
        }
        out.class_histogram = Some(quality::class_histogram(
            &probabilities(c, kernels)?,
            CLASSES,
        ));
    }
    Ok(out)
}

/// The players must make images of the training data's shape.
fn check_shape<G: Generator, D: Discriminator>(
    gan: &Gan<G, D>,
    train: &(impl Dataset + ?Sized),
) -> Result<()> {
    let data = train.shape()?;
    if gan.shape() != data {
        return Err(Error::Config(format!(
            "the model makes images of {} (channels, height, width); the training data are {data}",
            gan.shape()
        )));
    }
    Ok(())
}

fn check_data(cfg: &TrainConfig, train: &(impl Dataset + ?Sized)) -> Result<()> {
    let need = cfg.batch_size
        * match cfg.schedule {
            crate::config::Schedule::Alternating => cfg.k,
            crate::config::Schedule::Simultaneous => 1,
        };
    if train.len() < need {
        return Err(Error::Config(format!(
            "the training set has {} images, fewer than one iteration needs ({need})",
            train.len()
        )));
    }
    if cfg.classes > 0
        && let Some(y) = train.max_label().filter(|&y| y as usize >= cfg.classes)
    {
        return Err(Error::Config(format!(
            "classes = {}: the training labels go up to {y}",
            cfg.classes
        )));
    }
    Ok(())
}

/// The sample grid of `epoch` in run `dir` (`samples/epoch-NNNN.png`).
fn grid_path(dir: &Path, epoch: u64) -> PathBuf {
    dir.join(files::SAMPLES)
        .join(format!("epoch-{epoch:04}.png"))
}

fn append_line(path: &Path, line: &str, header: Option<&str>) -> Result<()> {
    let fresh = !path.exists();
    let mut f = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| Error::io(path, e))?;
    if let (true, Some(h)) = (fresh, header) {
        writeln!(f, "{h}").map_err(|e| Error::io(path, e))?;
    }
    writeln!(f, "{line}").map_err(|e| Error::io(path, e))?;
    f.sync_data().map_err(|e| Error::io(path, e))
}

/// Drops metric lines of epochs after `epoch` (written after the checkpoint we resume from).
fn truncate_metrics(dir: &Path, epoch: u64) -> Result<()> {
    let jsonl = dir.join(files::METRICS_JSONL);
    let Ok(text) = fs::read_to_string(&jsonl) else {
        return Ok(());
    };
    let kept: Vec<EpochMetrics> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<EpochMetrics>(l).ok())
        .filter(|m| m.epoch <= epoch)
        .collect();
    let mut j = String::new();
    let mut c = format!("{CSV_HEADER}\n");
    for m in &kept {
        j.push_str(&serde_json::to_string(m).map_err(|e| Error::Invalid(e.to_string()))?);
        j.push('\n');
        c.push_str(&m.csv());
        c.push('\n');
    }
    write_atomic(&jsonl, j.as_bytes())?;
    write_atomic(&dir.join(files::METRICS_CSV), c.as_bytes())
}

/// `n` and the noun, plural unless `n` is 1 ("1 epoch", "2 epochs").
pub fn plural(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// What trained a run directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunKind {
    /// `gan train` on images: checkpoints, samples, image metrics.
    Image,
    /// The 2-D mode-collapse runs (`gan toy`, `--preset ring8|grid25`).
    Toy2d,
}

/// The kind of run in `dir`, from its `config.toml` (an image run's `[data]` is a section, a
/// 2-D run's `data` names its mixture). A path that does not exist, or is not a run
/// directory, is an error saying which.
pub fn run_kind(dir: &Path) -> Result<RunKind> {
    if !dir.exists() {
        return Err(Error::Invalid(format!("{} does not exist", dir.display())));
    }
    let path = dir.join(files::CONFIG);
    if !path.is_file() {
        return Err(Error::Invalid(format!(
            "{} is not a run directory (no {})",
            dir.display(),
            files::CONFIG
        )));
    }
    let text = fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    let table: toml::Table = toml::from_str(&text)
        .map_err(|e| Error::Config(format!("{}: {}", path.display(), e.message().trim())))?;
    Ok(match table.get("data") {
        Some(toml::Value::String(_)) => RunKind::Toy2d,
        _ => RunKind::Image,
    })
}

/// Refuses a run directory that is not an image run, saying what it is and which commands
/// apply to it.
pub fn check_image_run(dir: &Path) -> Result<()> {
    match run_kind(dir)? {
        RunKind::Image => Ok(()),
        RunKind::Toy2d => Err(Error::Invalid(format!(
            "{} is a 2-D run (gan toy, or gan train --preset ring8|grid25): score it with \
             gan eval modes --run {}; train --resume, sample, figure and the image metrics \
             (fid, kid, pr, score, parzen) apply to image runs",
            dir.display(),
            dir.display()
        ))),
    }
}

/// Reads the run's config (`config.toml`).
pub fn read_run_config(dir: &Path) -> Result<TrainConfig> {
    check_image_run(dir)?;
    TrainConfig::from_file(&dir.join(files::CONFIG), &[])
}

/// Loads the newest checkpoint of run `dir` that verifies (the paper's MLP pair); also
/// returns the checkpoint path and a note for each newer checkpoint that did not verify.
pub fn load_latest(dir: &Path, device: &Device) -> Result<(Gan, PathBuf, Vec<String>)> {
    load_latest_as::<Mlp>(dir, device)
}

/// What [`load_latest_as`] gives: the players of family `F`, the checkpoint used and the
/// notes on newer damaged ones.
pub type Loaded<F> = (
    Gan<<F as Family>::G, <F as Family>::D>,
    PathBuf,
    Vec<String>,
);

/// [`load_latest`] for the players of family `F` (the run's `model`).
pub fn load_latest_as<F: Family>(dir: &Path, device: &Device) -> Result<Loaded<F>> {
    check_image_run(dir)?;
    let mut skipped = Vec::new();
    for path in checkpoints_of(dir)? {
        match load_checkpoint_as::<F>(&path, device) {
            Ok(gan) => return Ok((gan, path, skipped)),
            Err(e) => skipped.push(format!("skipped a damaged checkpoint: {e}")),
        }
    }
    Err(none_verifies(dir, &skipped))
}

/// [`load_latest`] into players built by the caller (any architecture, the run's own):
/// returns the checkpoint used and the notes on newer damaged ones.
pub fn load_latest_into<G: Generator, D: Discriminator>(
    dir: &Path,
    gan: &mut Gan<G, D>,
) -> Result<(PathBuf, Vec<String>)> {
    check_image_run(dir)?;
    let mut skipped = Vec::new();
    for path in checkpoints_of(dir)? {
        match load_checkpoint_into(&path, gan) {
            Ok(()) => return Ok((path, skipped)),
            Err(e) => skipped.push(format!("skipped a damaged checkpoint: {e}")),
        }
    }
    Err(none_verifies(dir, &skipped))
}

fn checkpoints_of(dir: &Path) -> Result<Vec<PathBuf>> {
    let ckdir = dir.join(files::CHECKPOINTS);
    let all = list_checkpoints(&ckdir);
    if all.is_empty() {
        return Err(Error::checkpoint(&ckdir, "no checkpoint found in this run"));
    }
    Ok(all.into_iter().map(|(_, p)| p).collect())
}

fn none_verifies(dir: &Path, skipped: &[String]) -> Error {
    Error::checkpoint(
        dir.join(files::CHECKPOINTS),
        format!("no checkpoint verifies: {}", skipped.join("; ")),
    )
}

/// A checkpoint's state file.
pub(crate) fn read_state(ckpt: &Path) -> Result<CheckpointState> {
    let state_path = ckpt.join(STATE_FILE);
    let text = fs::read(&state_path).map_err(|e| Error::io(&state_path, e))?;
    let state: CheckpointState = serde_json::from_slice(&text)
        .map_err(|e| Error::checkpoint(&state_path, format!("unreadable state file: {e}")))?;
    if state.format != 1 {
        return Err(Error::checkpoint(
            &state_path,
            format!("unknown format version {}", state.format),
        ));
    }
    Ok(state)
}

/// Loads one checkpoint directory of the paper's MLP pair, verifying every file.
pub fn load_checkpoint(ckpt: &Path, device: &Device) -> Result<Gan> {
    load_checkpoint_as::<Mlp>(ckpt, device)
}

/// [`load_checkpoint`] for the players of family `F` (the run's `model`).
pub fn load_checkpoint_as<F: Family>(ckpt: &Path, device: &Device) -> Result<Gan<F::G, F::D>> {
    let state = read_state(ckpt)?;
    let state_path = ckpt.join(STATE_FILE);
    let cfg = TrainConfig::from_toml_str(&state.config, &[], &state_path.display().to_string())?;
    let mut gan = F::build(cfg, state.shape(&state_path)?, None, device)?;
    load_checkpoint_into(ckpt, &mut gan)?;
    Ok(gan)
}

/// Loads one checkpoint directory into `gan` (players of the run's architecture), verifying
/// every file: weights, optimizer states, counters, random stream and config. A checkpoint
/// of another image shape is refused, and on any error `gan` should be loaded again or
/// dropped (some of its tensors may already hold the checkpoint's values).
pub fn load_checkpoint_into<G: Generator, D: Discriminator>(
    ckpt: &Path,
    gan: &mut Gan<G, D>,
) -> Result<()> {
    let state = read_state(ckpt)?;
    let state_path = ckpt.join(STATE_FILE);
    let cfg = TrainConfig::from_toml_str(&state.config, &[], &state_path.display().to_string())?;
    let shape = state.shape(&state_path)?;
    if shape != gan.shape() {
        return Err(Error::checkpoint(
            &state_path,
            format!(
                "holds a model of images {shape}; the players given make {}",
                gan.shape()
            ),
        ));
    }
    let crc = |name: &str| {
        state
            .files
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, c)| *c)
            .ok_or_else(|| {
                Error::checkpoint(&state_path, format!("no checksum recorded for {name}"))
            })
    };
    let read = |name: &str| read_verified(ckpt, name, crc(name)?);
    // optimizer state, saved laid out like the module it belongs to; read before the weights,
    // because loading into a copy of a module writes its shared buffers (burn's
    // RunningState): the weights files then set those buffers last
    let vg = read_like(
        &gan.generator,
        read(files::GENERATOR_VELOCITY)?,
        ckpt,
        files::GENERATOR_VELOCITY,
    )?;
    gan.opt_g.load_velocity_module(&vg);
    let vd = read_like(
        &gan.discriminator,
        read(files::DISCRIMINATOR_VELOCITY)?,
        ckpt,
        files::DISCRIMINATOR_VELOCITY,
    )?;
    gan.opt_d.load_velocity_module(&vd);
    if cfg.optimizer.kind != crate::config::OptimKind::Sgd {
        let sg = read_like(
            &gan.generator,
            read(files::GENERATOR_SECOND)?,
            ckpt,
            files::GENERATOR_SECOND,
        )?;
        gan.opt_g.load_second_moment_module(&sg);
        let sd = read_like(
            &gan.discriminator,
            read(files::DISCRIMINATOR_SECOND)?,
            ckpt,
            files::DISCRIMINATOR_SECOND,
        )?;
        gan.opt_d.load_second_moment_module(&sd);
    }
    let ema = match cfg.ema_schedule() {
        Some(_) => Some(read_like(
            &gan.generator,
            read(files::GENERATOR_EMA)?,
            ckpt,
            files::GENERATOR_EMA,
        )?),
        None => None,
    };
    module_from_bytes(
        &mut gan.generator,
        read(files::GENERATOR)?,
        &ckpt.join(files::GENERATOR),
    )?;
    module_from_bytes(
        &mut gan.discriminator,
        read(files::DISCRIMINATOR)?,
        &ckpt.join(files::DISCRIMINATOR),
    )?;
    gan.cfg = cfg;
    gan.progress = state.progress;
    gan.set_ema(ema.as_ref());
    gan.reload_engine()?;
    Ok(())
}

/// A copy of `template` holding the tensors of checkpoint file `name` (optimizer states are
/// saved laid out like the module they belong to).
fn read_like<M: burn::module::Module>(
    template: &M,
    bytes: Vec<u8>,
    ckpt: &Path,
    name: &str,
) -> Result<M> {
    let mut m = template.clone();
    module_from_bytes(&mut m, bytes, &ckpt.join(name))?;
    Ok(m)
}

/// The image shape `[channels, height, width]` recorded in a checkpoint.
pub fn checkpoint_image_shape(ckpt: &Path) -> Result<ImageShape> {
    read_state(ckpt)?.shape(&ckpt.join(STATE_FILE))
}
