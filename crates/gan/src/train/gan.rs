//! The two players, their optimizers and one training iteration (Algorithm 1, or the
//! authors' simultaneous schedule).

use std::any::Any;

use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::config::OptimKind;
use crate::config::{Engine as EngineKind, Schedule, TrainConfig};
use crate::error::{Error, Result};
use crate::fast::Engine;
use crate::fast::conv::{ConvEngine, Rule, States, StatesOut};
use crate::loss::sigmoid_f64;
use crate::models::dcgan::{DcganDiscriminator, DcganGenerator};
use crate::models::{
    Discriminator, Draw, Generator, ImageShape, MlpDiscriminator, MlpGenerator, PixelRange,
    one_hot, sample_noise,
};
use crate::optim::{Adaptive, Ema, MomentumSgd, d_learning_rate_at, learning_rate_at, momentum_at};
use crate::rng::Rng;

/// Tags of the independent random streams derived from the run's seed.
pub(crate) mod streams {
    /// Weight initialisation.
    pub const INIT: u64 = 1;
    /// Noise and dropout masks during training.
    pub const TRAIN: u64 = 2;
    /// The fixed noise batch of the per-epoch sample grid.
    pub const GRID: u64 = 3;
    /// The samples of the in-training Parzen estimate and FID (xor the epoch).
    pub const EVAL: u64 = 4;
    /// The samples of the `monitor_ll` channel (xor the epoch).
    pub const MONITOR: u64 = 5;
    /// Shuffling of epoch `e` uses `SHUFFLE + e`.
    pub const SHUFFLE: u64 = 1 << 32;
}

/// What one iteration measured, on the minibatch it used.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StepStats {
    /// Discriminator loss, -(1/2) eq. (2).
    pub d_loss: f64,
    /// Generator loss (eq. 3 or eq. 5, as configured).
    pub g_loss: f64,
    /// Mean D(x) over the real batch.
    pub d_real: f64,
    /// Mean D(G(z)) over the fake batch.
    pub d_fake: f64,
}

/// Which of G's weights make samples: the live ones, or their moving average
/// (`g_ema_decay`, [`crate::optim::ema`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Weights {
    /// The weights as they train.
    #[default]
    Live,
    /// The shadow average.
    Ema,
}

impl Weights {
    /// `live` or `ema`.
    pub fn name(self) -> &'static str {
        match self {
            Weights::Live => "live",
            Weights::Ema => "ema",
        }
    }
}

/// Where training stands: everything besides the weights that a checkpoint must restore.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    /// Completed epochs.
    pub epoch: u64,
    /// Minibatches of the current epoch already consumed.
    pub batch: usize,
    /// Completed iterations (generator updates) over the whole run.
    pub step: u64,
    /// Discriminator updates over the whole run (drives D's learning-rate decay).
    pub d_updates: u64,
    /// Generator updates over the whole run.
    pub g_updates: u64,
    /// The training random stream (noise, dropout) at this point.
    pub rng: Rng,
    /// Sums of the current epoch's step statistics.
    pub epoch_sums: StepStats,
    /// Iterations summed into `epoch_sums`.
    pub epoch_steps: u64,
}

/// A generator, a discriminator and their optimizer states, ready to train: the one
/// training step of every run, over the [`Generator`] and [`Discriminator`] traits.
///
/// `Gan` (no type arguments) is the paper's MLP pair, built from a config by [`Gan::new`];
/// any other pair of modules comes in through [`Gan::from_models`]. The paper's pair trains
/// by default on the fused CPU engine (`engine = "fast"`, [`crate::fast`]), a specialisation
/// behind the same methods; every other pair, and the MLP pair with `engine = "burn"`, trains
/// by burn's autodiff.
pub struct Gan<G: Generator = MlpGenerator, D: Discriminator = MlpDiscriminator> {
    /// The run's configuration (checked).
    pub cfg: TrainConfig,
    /// The autodiff device the players live on.
    pub device: Device,
    /// G.
    pub generator: G,
    /// D.
    pub discriminator: D,
    /// G's optimizer state.
    pub opt_g: MomentumSgd,
    /// D's optimizer state.
    pub opt_d: MomentumSgd,
    /// Counters and the random stream.
    pub progress: Progress,
    /// The shape of one image.
    shape: ImageShape,
    /// The fast engine, when the config selects it; it then holds the current weights and
    /// optimizer states, and [`Gan::sync_modules`] copies them into the modules and
    /// optimizers.
    engine: Option<Fused>,
    /// Whether the fast engine has trained past the modules' copy of the weights (sampling
    /// then reads the engine's generator).
    modules_stale: bool,
    /// The moving average of G's weights, when `g_ema_decay` is set.
    ema: Option<Ema>,
    /// The weights [`Gan::sample`] and [`Gan::generate`] use: the average when there is
    /// one, unless set otherwise.
    pub sampling: Weights,
}

impl Gan {
    /// The paper's players, initialised from the config's seed, for images of `shape`.
    /// `pixel_means` (of the training set) sets G's output bias when the config asks for it.
    /// `device` should have autodiff.
    ///
    /// The config is checked here ([`TrainConfig::check`]) whatever built it (TOML, `--set`,
    /// code, a checkpoint), so a setting the engine cannot honour is refused, never ignored.
    pub fn new(
        cfg: TrainConfig,
        shape: ImageShape,
        pixel_means: Option<&[f32]>,
        device: &Device,
    ) -> Result<Self> {
        cfg.check()?;
        if cfg.model != crate::config::Architecture::Mlp {
            return Err(Error::Config(format!(
                "model = {}: Gan::new builds the paper's MLP pair; build this model with \
                 gan::train::Dcgan::build",
                super::family::model_name(cfg.model)
            )));
        }
        let data_dim = shape.len();
        if let Some(m) = pixel_means
            && m.len() != data_dim
        {
            return Err(Error::Invalid(format!(
                "{} pixel means for images of {shape} ({data_dim} values)",
                m.len()
            )));
        }
        let mut init = Rng::derived(cfg.seed, streams::INIT);
        // a conditional GAN (Mirza & Osindero 2014) sees the one-hot label concatenated to
        // the input of both players
        let generator = MlpGenerator::new(
            &cfg.generator,
            cfg.noise.dim + cfg.classes,
            shape,
            pixel_means,
            &mut init,
            device,
        );
        let discriminator = MlpDiscriminator::new(
            &cfg.discriminator,
            data_dim + cfg.classes,
            &mut init,
            device,
        );
        Self::from_models(cfg, shape, generator, discriminator, device)
    }
}

/// The fused engine of the pair a `Gan` holds.
enum Fused {
    /// The paper's MLP pair ([`crate::fast`]).
    Mlp(Box<Engine>),
    /// An unconditional DCGAN pair ([`crate::fast::conv`]).
    Conv(Box<ConvEngine>),
}

/// A DCGAN pair inside a generic `Gan`, when that is what it holds.
fn as_dcgan<'a, G: Generator, D: Discriminator>(
    g: &'a G,
    d: &'a D,
) -> Option<(&'a DcganGenerator, &'a DcganDiscriminator)> {
    let g = (g as &dyn Any).downcast_ref::<DcganGenerator>()?;
    let d = (d as &dyn Any).downcast_ref::<DcganDiscriminator>()?;
    Some((g, d))
}

/// [`as_dcgan`], mutable.
fn as_dcgan_mut<'a, G: Generator, D: Discriminator>(
    g: &'a mut G,
    d: &'a mut D,
) -> Option<(&'a mut DcganGenerator, &'a mut DcganDiscriminator)> {
    let g = (g as &mut dyn Any).downcast_mut::<DcganGenerator>()?;
    let d = (d as &mut dyn Any).downcast_mut::<DcganDiscriminator>()?;
    Some((g, d))
}

/// The paper's pair inside a generic `Gan`, when that is what it holds (the fused engine's
/// specialisation).
fn as_mlp<'a, G: Generator, D: Discriminator>(
    g: &'a G,
    d: &'a D,
) -> Option<(&'a MlpGenerator, &'a MlpDiscriminator)> {
    let g = (g as &dyn Any).downcast_ref::<MlpGenerator>()?;
    let d = (d as &dyn Any).downcast_ref::<MlpDiscriminator>()?;
    Some((g, d))
}

/// [`as_mlp`], mutable.
fn as_mlp_mut<'a, G: Generator, D: Discriminator>(
    g: &'a mut G,
    d: &'a mut D,
) -> Option<(&'a mut MlpGenerator, &'a mut MlpDiscriminator)> {
    let g = (g as &mut dyn Any).downcast_mut::<MlpGenerator>()?;
    let d = (d as &mut dyn Any).downcast_mut::<MlpDiscriminator>()?;
    Some((g, d))
}

impl<G: Generator, D: Discriminator> Gan<G, D> {
    /// Any pair of players for images of `shape`, with fresh optimizer states and counters.
    /// The config is checked ([`TrainConfig::check`]); its `generator` and `discriminator`
    /// sections describe the MLP pair and are not read for other models. `engine = "fast"`
    /// needs the paper's MLP pair ([`MlpGenerator`], [`MlpDiscriminator`]) or a DCGAN pair
    /// ([`DcganGenerator`], [`DcganDiscriminator`]); other models train with
    /// `engine = "burn"`.
    pub fn from_models(
        cfg: TrainConfig,
        shape: ImageShape,
        generator: G,
        discriminator: D,
        device: &Device,
    ) -> Result<Self> {
        cfg.check()?;
        if shape.is_empty() {
            return Err(Error::Invalid("the data has 0 values per image".into()));
        }
        if cfg.engine == EngineKind::Fast
            && as_mlp(&generator, &discriminator).is_none()
            && as_dcgan(&generator, &discriminator).is_none()
        {
            return Err(Error::Config(
                "engine = \"fast\" is the fused engine of the paper's MLP pair and of the \
                 DCGAN pairs; train other models with engine = \"burn\""
                    .into(),
            ));
        }
        let progress = Progress {
            epoch: 0,
            batch: 0,
            step: 0,
            d_updates: 0,
            g_updates: 0,
            rng: Rng::derived(cfg.seed, streams::TRAIN),
            epoch_sums: StepStats::default(),
            epoch_steps: 0,
        };
        let ema = cfg.ema_schedule().map(|_| Ema::from_module(&generator));
        let sampling = if ema.is_some() {
            Weights::Ema
        } else {
            Weights::Live
        };
        let mut gan = Self {
            cfg,
            device: device.clone(),
            generator,
            discriminator,
            opt_g: MomentumSgd::new(),
            opt_d: MomentumSgd::new(),
            progress,
            shape,
            engine: None,
            modules_stale: false,
            ema,
            sampling,
        };
        gan.reload_engine()?;
        Ok(gan)
    }

    /// The shape of one image.
    pub fn shape(&self) -> ImageShape {
        self.shape
    }

    /// Values per image (`c * h * w`).
    pub fn data_dim(&self) -> usize {
        self.shape.len()
    }

    /// Rebuilds the fast engine (when configured) from the modules and optimizer states,
    /// e.g. after loading a checkpoint into them.
    pub fn reload_engine(&mut self) -> Result<()> {
        self.modules_stale = false;
        self.engine = None;
        if self.cfg.engine != EngineKind::Fast {
            return Ok(());
        }
        if let Some((g, d)) = as_mlp(&self.generator, &self.discriminator) {
            let mut e = Engine::from_modules(
                g,
                d,
                Some(self.opt_g.velocity()),
                Some(self.opt_d.velocity()),
            );
            e.d_clip = self.cfg.discriminator.clip;
            self.engine = Some(Fused::Mlp(Box::new(e)));
        } else if let Some((g, d)) = as_dcgan(&self.generator, &self.discriminator) {
            fn states(o: &MomentumSgd) -> States<'_> {
                States {
                    first: o.velocity(),
                    second: o.second(),
                }
            }
            let mut e = ConvEngine::from_modules(
                g,
                d,
                states(&self.opt_g),
                states(&self.opt_d),
                self.cfg.noise.dim,
                self.shape.channels,
                self.shape.height,
            )?;
            e.d_clip = self.cfg.discriminator.clip;
            self.engine = Some(Fused::Conv(Box::new(e)));
        }
        Ok(())
    }

    /// Copies the fast engine's weights and velocities into the modules and optimizer states
    /// (a no-op on the burn engine). Sampling ([`Gan::sample`], [`Gan::generate`]) sees the
    /// trained weights without it; call it before reading the modules' weights directly.
    pub fn sync_modules(&mut self) {
        self.modules_stale = false;
        let adam = self.cfg.optimizer.kind == OptimKind::Adam;
        match &self.engine {
            Some(Fused::Mlp(e)) => {
                if let Some((g, d)) = as_mlp_mut(&mut self.generator, &mut self.discriminator) {
                    e.write_modules(g, d, self.opt_g.velocity_mut(), self.opt_d.velocity_mut());
                }
            }
            Some(Fused::Conv(e)) => {
                if let Some((g, d)) = as_dcgan_mut(&mut self.generator, &mut self.discriminator) {
                    let (first, second) = self.opt_g.states_mut();
                    e.write_generator(
                        g,
                        &mut StatesOut {
                            first,
                            second,
                            adam,
                        },
                    );
                    let (first, second) = self.opt_d.states_mut();
                    e.write_discriminator(
                        d,
                        &mut StatesOut {
                            first,
                            second,
                            adam,
                        },
                    );
                }
            }
            None => {}
        }
    }

    /// Minibatches one iteration consumes (k for Algorithm 1, 1 for the simultaneous schedule).
    pub fn batches_per_step(&self) -> usize {
        match self.cfg.schedule {
            Schedule::Alternating => self.cfg.k,
            Schedule::Simultaneous => 1,
        }
    }

    /// One training iteration on `real` minibatches (exactly [`Gan::batches_per_step`] of them,
    /// each `m` images of `c * h * w` values, channels first) of an unconditional GAN.
    pub fn train_step(&mut self, real: &[Vec<f32>]) -> Result<StepStats> {
        self.train_step_labelled(real, &[])
    }

    /// [`Gan::train_step`] with the class labels of the real minibatches (one per row), which
    /// a conditional GAN (`classes > 0`) needs and an unconditional one ignores.
    pub fn train_step_labelled(
        &mut self,
        real: &[Vec<f32>],
        labels: &[Vec<u8>],
    ) -> Result<StepStats> {
        if real.len() != self.batches_per_step() {
            return Err(Error::Invalid(format!(
                "train_step needs {} minibatches, got {}",
                self.batches_per_step(),
                real.len()
            )));
        }
        let d = self.data_dim();
        if let Some(bad) = real
            .iter()
            .find(|b| b.is_empty() || !b.len().is_multiple_of(d))
        {
            return Err(Error::Invalid(format!(
                "a minibatch of {} values is not images of {} ({d} values)",
                bad.len(),
                self.shape
            )));
        }
        let classes = self.cfg.classes;
        if classes > 0 {
            let fits = labels.len() == real.len()
                && labels.iter().zip(real).all(|(y, x)| y.len() * d == x.len());
            if !fits {
                return Err(Error::Invalid(
                    "a conditional GAN needs one label per real image".into(),
                ));
            }
            if let Some(&y) = labels.iter().flatten().find(|&&y| y as usize >= classes) {
                return Err(Error::Invalid(format!(
                    "label {y} is not below classes = {classes}"
                )));
            }
        }
        let label_rows = |i: usize| -> Vec<usize> {
            labels
                .get(i)
                .map(|y| y.iter().map(|&c| c as usize).collect())
                .unwrap_or_default()
        };
        let momentum = momentum_at(&self.cfg.optimizer, self.progress.epoch);
        let stats = if self.engine.is_some() {
            self.fast_step(real, momentum)?
        } else {
            let device = self.device.clone();
            let shape = self.shape;
            let range = self.generator.range();
            // the data's [0, 1] in the players' range (a tanh G's [-1, 1])
            let t = |b: &Vec<f32>| {
                let v = match range {
                    PixelRange::Unit => b.clone(),
                    r => b.iter().map(|&x| r.from_unit(x)).collect(),
                };
                images_from(v, shape, &device)
            };
            match self.cfg.schedule {
                Schedule::Simultaneous => {
                    self.simultaneous_step(t(&real[0]), &label_rows(0), momentum)?
                }
                Schedule::Alternating => {
                    let mut last = StepStats::default();
                    for (i, x) in real.iter().enumerate() {
                        last = self.discriminator_step(t(x), &label_rows(i), momentum)?;
                    }
                    last.g_loss = self.generator_step(real[0].len() / d, momentum)?;
                    last
                }
            }
        };
        self.update_ema()?;
        let p = &mut self.progress;
        p.step += 1;
        p.epoch_steps += 1;
        p.epoch_sums.d_loss += stats.d_loss;
        p.epoch_sums.g_loss += stats.g_loss;
        p.epoch_sums.d_real += stats.d_real;
        p.epoch_sums.d_fake += stats.d_fake;
        Ok(stats)
    }

    /// A batch on its way into D through the config's DiffAugment policy (unchanged, and no
    /// random draw, without one); its random choices from the training stream.
    fn augmented(&mut self, x: Tensor<4>) -> Result<Tensor<4>> {
        let a = self.cfg.augmentation()?;
        Ok(if a.is_empty() {
            x
        } else {
            a.apply(x, &mut self.progress.rng)
        })
    }

    /// One update of G's weight average from the weights as they now are (after the
    /// iteration's G step), on whichever engine holds them.
    fn update_ema(&mut self) -> Result<()> {
        let (Some(ema), Some(schedule)) = (self.ema.as_mut(), self.cfg.ema_schedule()) else {
            return Ok(());
        };
        let beta = schedule.beta(self.progress.g_updates);
        match &self.engine {
            Some(Fused::Mlp(e)) => {
                let (g, _) = as_mlp(&self.generator, &self.discriminator)
                    .ok_or_else(|| Error::Invalid("a fast engine without the MLP G".into()))?;
                ema.update(e.generator_weights(g), beta)
            }
            Some(Fused::Conv(e)) => ema.update(e.generator_weights(), beta),
            None => ema.update_from_module(&self.generator, beta),
        }
    }

    /// Whether G's weight average is kept (`g_ema_decay` > 0).
    pub fn has_ema(&self) -> bool {
        self.ema.is_some()
    }

    /// G with its weights averaged: the live module (with the engine's batch-norm running
    /// statistics when a fused engine trains it) with the shadow's parameters; `None` without
    /// an average.
    pub fn ema_generator(&self) -> Option<G> {
        let ema = self.ema.as_ref()?;
        let mut g = self.generator.clone();
        if let (Some(Fused::Conv(e)), true) = (&self.engine, self.modules_stale)
            && let Some(dg) = (&mut g as &mut dyn Any).downcast_mut::<DcganGenerator>()
        {
            // the running statistics as they train (the weights are replaced below)
            let (mut first, mut second) = (GradientsParams::new(), GradientsParams::new());
            e.write_generator(
                dg,
                &mut StatesOut {
                    first: &mut first,
                    second: &mut second,
                    adam: false,
                },
            );
        }
        Some(ema.apply(g))
    }

    /// Replaces the weight average by the trainable parameters of `shadow` (a module laid
    /// out like G, e.g. read from a checkpoint), or drops it (`None`); sampling then uses
    /// the average when there is one.
    pub fn set_ema(&mut self, shadow: Option<&G>) {
        self.ema = shadow.map(Ema::from_module);
        self.sampling = if self.ema.is_some() {
            Weights::Ema
        } else {
            Weights::Live
        };
    }

    fn fast_step(&mut self, real: &[Vec<f32>], momentum: f64) -> Result<StepStats> {
        let d = self.data_dim();
        self.modules_stale = true;
        let (cfg, p) = (&self.cfg, &mut self.progress);
        match self.engine.as_mut() {
            Some(Fused::Mlp(engine)) if cfg.schedule == Schedule::Simultaneous => {
                let step = p.step;
                let m = real[0].len() / d;
                let lr_d = d_learning_rate_at(&cfg.optimizer, p.d_updates) as f32;
                let lr_g = learning_rate_at(&cfg.optimizer, p.g_updates) as f32;
                let out = engine.simultaneous_step(
                    &real[0],
                    m,
                    &cfg.noise,
                    &cfg.discriminator,
                    cfg.loss,
                    &mut p.rng,
                    lr_d,
                    lr_g,
                    momentum as f32,
                );
                p.d_updates += 1;
                p.g_updates += 1;
                check_logits(&out.real_logits, step)?;
                check_logits(&out.fake_logits, step)?;
                Ok(stats_from_logits(
                    cfg.loss,
                    &out.real_logits,
                    &out.fake_logits,
                ))
            }
            Some(Fused::Mlp(engine)) => {
                fused_alternating(engine.as_mut(), cfg, p, real, d, momentum)
            }
            Some(Fused::Conv(engine)) => {
                fused_alternating(engine.as_mut(), cfg, p, real, d, momentum)
            }
            None => Err(Error::Invalid("fast step without a fast engine".into())),
        }
    }

    fn lr_d(&self) -> f64 {
        d_learning_rate_at(&self.cfg.optimizer, self.progress.d_updates)
    }

    fn lr_g(&self) -> f64 {
        learning_rate_at(&self.cfg.optimizer, self.progress.g_updates)
    }

    /// G's images for noise `z` (autodiff), checked against the data's shape (a user's G
    /// that makes other images is an error naming both shapes).
    fn fake_images(&self, z: Tensor<2>, labels: &[usize]) -> Result<Tensor<4>> {
        let [m, _] = z.dims();
        let fake = self.generator.images(z, self.labels_g(labels));
        self.check_shape(fake.dims(), m)?;
        Ok(fake)
    }

    fn check_shape(&self, dims: [usize; 4], m: usize) -> Result<()> {
        if dims != self.shape.batch(m) {
            return Err(Error::Invalid(format!(
                "the generator made a batch of {dims:?}; the data need {:?}",
                self.shape.batch(m)
            )));
        }
        Ok(())
    }

    /// The authors' schedule: G(z) once; D on [real; fake] with dropout; the D objective on
    /// both halves and the G objective on the fake half with the same dropout masks; both
    /// updates computed from the same parameters.
    fn simultaneous_step(
        &mut self,
        x: Tensor<4>,
        real_labels: &[usize],
        momentum: f64,
    ) -> Result<StepStats> {
        let [m, ..] = x.dims();
        let z = sample_noise(&self.cfg.noise, m, &mut self.progress.rng, &self.device);
        let fake_labels = self.fake_labels(m);
        let fake = self.fake_images(z, &fake_labels)?;
        // DiffAugment: D's and G's objectives see the same augmented fakes
        let (x, fake) = (self.augmented(x)?, self.augmented(fake)?);
        let d = self.discriminator_objective(x, real_labels, fake.clone(), &fake_labels)?;
        let (draw, yf) = (d.draw, self.labels_d(&fake_labels));
        let mut grads = d.loss.backward();
        let grads_d = GradientsParams::from_module(&mut grads, &self.discriminator);

        let frozen = self.discriminator.clone().no_grad();
        let fake_logits = frozen.logits(fake, yf, Some(&draw.rows(m, 2 * m)));
        let g_loss = self.cfg.loss.generator_loss(fake_logits);
        let mut grads = g_loss.backward();
        let grads_g = GradientsParams::from_module(&mut grads, &self.generator);

        // both from the parameters before either update (D's update does not touch G's
        // counter or learning rate)
        self.update_discriminator(grads_d, momentum);
        self.update_generator(grads_g, momentum);
        Ok(d.stats)
    }

    /// Algorithm 1's inner loop body: one D update on a real batch and a fresh fake batch.
    fn discriminator_step(
        &mut self,
        x: Tensor<4>,
        real_labels: &[usize],
        momentum: f64,
    ) -> Result<StepStats> {
        let [m, ..] = x.dims();
        let z = sample_noise(&self.cfg.noise, m, &mut self.progress.rng, &self.device);
        let fake_labels = self.fake_labels(m);
        // G as it trains (batch statistics where it has them, as DCGAN's D step sees it) but
        // with no graph: D's update does not reach G
        let fake = self
            .generator
            .clone()
            .no_grad()
            .images(z, self.labels_g(&fake_labels))
            .detach();
        self.check_shape(fake.dims(), m)?;
        let (x, fake) = (self.augmented(x)?, self.augmented(fake)?);
        let d = self.discriminator_objective(x, real_labels, fake, &fake_labels)?;
        let mut grads = d.loss.backward();
        let grads_d = GradientsParams::from_module(&mut grads, &self.discriminator);
        self.update_discriminator(grads_d, momentum);
        Ok(d.stats)
    }

    /// D's objective on a real batch and a fake one (detached here: D's update does not reach
    /// G): D's random choices for both from the training stream, the logits (NaN or infinity
    /// stops training), the loss with WGAN-GP's penalty where configured, and the statistics.
    fn discriminator_objective(
        &mut self,
        x: Tensor<4>,
        real_labels: &[usize],
        fake: Tensor<4>,
        fake_labels: &[usize],
    ) -> Result<DObjective<D::Draw>> {
        let [m, ..] = x.dims();
        // once per D update (Miyato et al.'s Algorithm 1), before its forward passes
        self.discriminator.power_iteration();
        let draw = self
            .discriminator
            .draw(2 * m, &mut self.progress.rng, &self.device);
        let (yr, yf) = (self.labels_d(real_labels), self.labels_d(fake_labels));
        let (real_logits, fake_logits) = self.discriminator.logits_real_fake(
            (x.clone(), yr.clone()),
            (fake.clone().detach(), yf.clone()),
            &draw,
        );
        let what = "discriminator logits";
        let host_r = logits_to_host(&real_logits, self.progress.step, what)?;
        let host_f = logits_to_host(&fake_logits, self.progress.step, what)?;
        let loss = self.cfg.loss.discriminator_loss(real_logits, fake_logits);
        let loss = self.with_penalty(loss, (x, yr), (fake, yf))?;
        Ok(DObjective {
            loss,
            draw,
            stats: stats_from_logits(self.cfg.loss, &host_r, &host_f),
        })
    }

    /// Algorithm 1's generator update on fresh noise; returns the generator loss.
    fn generator_step(&mut self, m: usize, momentum: f64) -> Result<f64> {
        let z = sample_noise(&self.cfg.noise, m, &mut self.progress.rng, &self.device);
        let labels = self.fake_labels(m);
        let fake = self.fake_images(z, &labels)?;
        let fake = self.augmented(fake)?;
        let draw = self
            .discriminator
            .draw(m, &mut self.progress.rng, &self.device);
        let frozen = self.discriminator.clone().no_grad();
        let logits = frozen.logits(fake, self.labels_d(&labels), Some(&draw));
        let host = logits_to_host(&logits, self.progress.step, "generator-step logits")?;
        let g_loss = self.cfg.loss.generator_loss(logits);
        let mut grads = g_loss.backward();
        let grads_g = GradientsParams::from_module(&mut grads, &self.generator);
        self.update_generator(grads_g, momentum);
        Ok(mean(&host, |l| self.cfg.loss.generator_loss_scalar(l)))
    }

    /// G(z) for the given noise, in evaluation mode (no autodiff), as host values; a
    /// conditional G gets the labels of [`grid_labels`] (rows of one class).
    ///
    /// # Shapes
    /// `z`: `[n, noise_dim]` -> `n * c * h * w` values, each image channels first.
    pub fn generate(&self, z: Tensor<2>) -> Result<Vec<f32>> {
        let [n, _] = z.dims();
        self.generate_labelled(z, &grid_labels(n, self.cfg.classes))
    }

    /// G(z, y) for the given noise and class labels (ignored by an unconditional G).
    ///
    /// # Shapes
    /// `z`: `[n, noise_dim]`, `labels`: `n` values -> `n * c * h * w` values.
    pub fn generate_labelled(&self, z: Tensor<2>, labels: &[usize]) -> Result<Vec<f32>> {
        self.generate_with(self.sampling, z, labels)
    }

    /// [`Gan::generate_labelled`] from the given weights (the average needs `g_ema_decay`).
    pub fn generate_with(
        &self,
        weights: Weights,
        z: Tensor<2>,
        labels: &[usize],
    ) -> Result<Vec<f32>> {
        let [n, _] = z.dims();
        let classes = self.cfg.classes;
        if classes > 0 && (labels.len() != n || labels.iter().any(|&y| y >= classes)) {
            return Err(Error::Invalid(format!(
                "a conditional generator needs {n} labels below {classes}"
            )));
        }
        let averaged = match weights {
            Weights::Live => None,
            Weights::Ema => Some(self.ema_generator().ok_or_else(|| {
                Error::Config(
                    "the averaged weights: this run keeps no average of G's weights \
                     (g_ema_decay = 0)"
                        .into(),
                )
            })?),
        };
        let mut v = match (&self.engine, averaged) {
            // the fused DCGAN engine samples on its own (evaluation mode, its weights)
            (Some(Fused::Conv(e)), None) => conv_generate(e, z, n)?,
            // the average through an engine built from it
            (Some(Fused::Conv(_)), Some(g)) => {
                let (g, d) = as_dcgan(&g, &self.discriminator)
                    .ok_or_else(|| Error::Invalid("a fast engine without the DCGAN pair".into()))?;
                let empty = GradientsParams::new();
                let states = || States {
                    first: &empty,
                    second: &empty,
                };
                let e = ConvEngine::from_modules(
                    g,
                    d,
                    states(),
                    states(),
                    self.cfg.noise.dim,
                    self.shape.channels,
                    self.shape.height,
                )?;
                conv_generate(&e, z, n)?
            }
            (_, g) => self.generate_on_modules(z, labels, g.as_ref())?,
        };
        // back to [0, 1]: every reader of samples (grids, .npy, Parzen, FID) sees the data's
        // range
        let range = self.generator.range();
        if range != PixelRange::Unit {
            v.iter_mut().for_each(|x| *x = range.to_unit(*x));
        }
        Ok(v)
    }

    /// G's images on the modules (or the fused MLP engine's weights after fused steps), or
    /// on `averaged` when given, in G's own range.
    fn generate_on_modules(
        &self,
        z: Tensor<2>,
        labels: &[usize],
        averaged: Option<&G>,
    ) -> Result<Vec<f32>> {
        let [n, _] = z.dims();
        let z = z.inner();
        let y = self.labels_g(labels).map(Tensor::inner);
        // after fused steps, the engine holds the trained weights: sample from them
        let out = match (&self.engine, self.modules_stale, averaged) {
            (_, _, Some(g)) => g.valid().images(z, y),
            (Some(Fused::Mlp(e)), true, None) => {
                let mut g = (&self.generator as &dyn Any)
                    .downcast_ref::<MlpGenerator>()
                    .ok_or_else(|| Error::Invalid("a fast engine without the MLP G".into()))?
                    .clone();
                e.write_generator(&mut g);
                g.valid().images(z, y)
            }
            _ => self.generator.valid().images(z, y),
        };
        self.check_shape(out.dims(), n)?;
        out.into_data()
            .try_into_vec::<f32>()
            .map_err(|e| Error::Invalid(format!("reading generated samples: {e:?}")))
    }

    /// `n` samples from G with noise drawn from a stream seeded by `seed`, in chunks of 1000;
    /// a conditional G draws every class equally often ([`grid_labels`]).
    pub fn sample(&self, n: usize, seed: u64) -> Result<Vec<f32>> {
        self.sample_labelled(n, seed, &grid_labels(n, self.cfg.classes))
    }

    /// [`Gan::sample`] with one class label per sample (conditional G only; ignored otherwise).
    pub fn sample_labelled(&self, n: usize, seed: u64, labels: &[usize]) -> Result<Vec<f32>> {
        self.sample_labelled_with(self.sampling, n, seed, labels)
    }

    /// [`Gan::sample`] from the given weights (the same noise whichever they are).
    pub fn sample_with(&self, weights: Weights, n: usize, seed: u64) -> Result<Vec<f32>> {
        self.sample_labelled_with(weights, n, seed, &grid_labels(n, self.cfg.classes))
    }

    /// [`Gan::sample_labelled`] from the given weights.
    pub fn sample_labelled_with(
        &self,
        weights: Weights,
        n: usize,
        seed: u64,
        labels: &[usize],
    ) -> Result<Vec<f32>> {
        let mut out = Vec::with_capacity(n * self.data_dim());
        self.sample_each_with(
            weights,
            n,
            seed,
            |i| labels.get(i).copied().unwrap_or(0),
            |rows| {
                out.extend_from_slice(rows);
                Ok(())
            },
        )?;
        Ok(out)
    }

    /// The samples of [`Gan::sample_labelled`] handed to `sink` a chunk of at most 1000 rows
    /// at a time, so any number of samples can be written out without holding them all
    /// (`label(i)`: the class of sample `i`, for a conditional G). The same seed gives the
    /// same values whatever is done with them.
    pub fn sample_each(
        &self,
        n: usize,
        seed: u64,
        label: impl Fn(usize) -> usize,
        sink: impl FnMut(&[f32]) -> Result<()>,
    ) -> Result<()> {
        self.sample_each_with(self.sampling, n, seed, label, sink)
    }

    /// [`Gan::sample_each`] from the given weights.
    pub fn sample_each_with(
        &self,
        weights: Weights,
        n: usize,
        seed: u64,
        label: impl Fn(usize) -> usize,
        mut sink: impl FnMut(&[f32]) -> Result<()>,
    ) -> Result<()> {
        let mut rng = Rng::new(seed);
        let mut done = 0;
        while done < n {
            let b = (n - done).min(1000);
            let z = sample_noise(&self.cfg.noise, b, &mut rng, &self.device);
            let y: Vec<usize> = if self.cfg.classes > 0 {
                (done..done + b).map(&label).collect()
            } else {
                Vec::new()
            };
            sink(&self.generate_with(weights, z, &y)?)?;
            done += b;
        }
        Ok(())
    }

    /// Labels of the fake batch: uniform over the classes (none, and no draw, when the GAN is
    /// unconditional, so its random stream is unchanged).
    fn fake_labels(&mut self, m: usize) -> Vec<usize> {
        let classes = self.cfg.classes;
        if classes == 0 {
            return Vec::new();
        }
        (0..m).map(|_| self.progress.rng.below(classes)).collect()
    }

    /// G's label input: one-hot rows with hot value `g_label_scale` (none when
    /// unconditional).
    fn labels_g(&self, labels: &[usize]) -> Option<Tensor<2>> {
        (self.cfg.classes > 0).then(|| {
            one_hot(
                labels,
                self.cfg.classes,
                self.cfg.g_label_scale,
                &self.device,
            )
        })
    }

    /// D's label input: one-hot rows with hot value `d_label_scale` (none when
    /// unconditional).
    fn labels_d(&self, labels: &[usize]) -> Option<Tensor<2>> {
        (self.cfg.classes > 0).then(|| {
            one_hot(
                labels,
                self.cfg.classes,
                self.cfg.d_label_scale,
                &self.device,
            )
        })
    }

    /// The configured adaptive rule (`None`: momentum SGD).
    fn adaptive(&self) -> Option<Adaptive> {
        adaptive_of(&self.cfg.optimizer)
    }

    /// `d_loss` plus WGAN-GP's gradient penalty on interpolates of the two batches
    /// (unchanged for every other loss); the interpolation weights come from the training
    /// stream.
    fn with_penalty(
        &mut self,
        d_loss: Tensor<1>,
        real: (Tensor<4>, Option<Tensor<2>>),
        fake: (Tensor<4>, Option<Tensor<2>>),
    ) -> Result<Tensor<1>> {
        if self.cfg.loss != crate::loss::GanLoss::WganGp {
            return Ok(d_loss);
        }
        Ok(d_loss
            + self.discriminator.gradient_penalty(
                real,
                fake,
                self.cfg.gp_weight,
                &mut self.progress.rng,
            )?)
    }

    /// One update of D (momentum SGD or the adaptive rule, then WGAN's clipping) with its
    /// learning rate for this update number.
    fn update_discriminator(&mut self, grads: GradientsParams, momentum: f64) {
        let (lr, rule, t) = (self.lr_d(), self.adaptive(), self.progress.d_updates + 1);
        self.discriminator = update(
            &mut self.opt_d,
            self.discriminator.clone(),
            grads,
            lr,
            momentum,
            rule,
            t,
        );
        self.clip_discriminator();
        self.progress.d_updates += 1;
    }

    /// One update of G with its learning rate for this update number.
    fn update_generator(&mut self, grads: GradientsParams, momentum: f64) {
        let (lr, rule, t) = (self.lr_g(), self.adaptive(), self.progress.g_updates + 1);
        self.generator = update(
            &mut self.opt_g,
            self.generator.clone(),
            grads,
            lr,
            momentum,
            rule,
            t,
        );
        self.progress.g_updates += 1;
    }

    /// WGAN's weight clipping (burn engine): clamps every parameter of D to
    /// [-clip, clip] when `discriminator.clip` is set.
    fn clip_discriminator(&mut self) {
        if let Some(c) = self.cfg.discriminator.clip {
            self.discriminator = crate::nn::clamp_params(self.discriminator.clone(), c);
        }
    }

    /// The learning rates and momentum the next iteration will use.
    pub fn schedule_now(&self) -> (f64, f64, f64) {
        (
            self.lr_d(),
            self.lr_g(),
            momentum_at(&self.cfg.optimizer, self.progress.epoch),
        )
    }
}

/// What [`Gan::discriminator_objective`] gives: D's loss, the random choices it used (the
/// simultaneous schedule replays them for G) and the step's statistics.
struct DObjective<R> {
    loss: Tensor<1>,
    draw: R,
    stats: StepStats,
}

/// A `[n, c, h, w]` batch from host values (images channels first, one after another).
pub fn images_from(values: Vec<f32>, shape: ImageShape, device: &Device) -> Tensor<4> {
    let n = values.len() / shape.len().max(1);
    Tensor::from_data(TensorData::new(values, shape.batch(n)), device)
}

/// The adaptive rule of an optimizer config (`None`: momentum SGD).
fn adaptive_of(o: &crate::config::OptimConfig) -> Option<Adaptive> {
    match o.kind {
        OptimKind::Sgd => None,
        OptimKind::Adam => Some(Adaptive::Adam {
            beta1: o.beta1,
            beta2: o.beta2,
            eps: o.eps,
        }),
        OptimKind::Rmsprop => Some(Adaptive::RmsProp {
            alpha: o.beta2,
            eps: o.eps,
        }),
    }
}

/// Algorithm 1's two halves on a fused engine, for [`fused_alternating`]: one D update on a
/// real batch of `m` images (D's logits on it and on the fake batch) and one G update on `m`
/// fresh samples (D's logits on them), at learning rate `lr`, update number `t` (1-based)
/// and `momentum`.
trait FusedHalves {
    #[allow(clippy::too_many_arguments)]
    fn d_update(
        &mut self,
        cfg: &TrainConfig,
        x: &[f32],
        m: usize,
        rng: &mut Rng,
        lr: f32,
        t: u64,
        momentum: f64,
    ) -> (Vec<f32>, Vec<f32>);

    fn g_update(
        &mut self,
        cfg: &TrainConfig,
        m: usize,
        rng: &mut Rng,
        lr: f32,
        t: u64,
        momentum: f64,
    ) -> Vec<f32>;
}

impl FusedHalves for Engine {
    fn d_update(
        &mut self,
        cfg: &TrainConfig,
        x: &[f32],
        m: usize,
        rng: &mut Rng,
        lr: f32,
        _t: u64,
        momentum: f64,
    ) -> (Vec<f32>, Vec<f32>) {
        let (noise, dcfg) = (&cfg.noise, &cfg.discriminator);
        self.discriminator_step(cfg.loss, x, m, noise, dcfg, rng, lr, momentum as f32)
    }

    fn g_update(
        &mut self,
        cfg: &TrainConfig,
        m: usize,
        rng: &mut Rng,
        lr: f32,
        _t: u64,
        momentum: f64,
    ) -> Vec<f32> {
        let (noise, dcfg) = (&cfg.noise, &cfg.discriminator);
        self.generator_step(m, noise, dcfg, cfg.loss, rng, lr, momentum as f32)
    }
}

/// The fused DCGAN engine's update rule for update number `t` at `momentum`.
fn conv_rule(cfg: &TrainConfig, t: u64, momentum: f64) -> Rule {
    match adaptive_of(&cfg.optimizer) {
        Some(Adaptive::Adam { beta1, beta2, eps }) => Rule::Adam {
            beta1,
            beta2,
            eps,
            t,
        },
        _ => Rule::Momentum(momentum as f32),
    }
}

impl FusedHalves for ConvEngine {
    fn d_update(
        &mut self,
        cfg: &TrainConfig,
        x: &[f32],
        m: usize,
        rng: &mut Rng,
        lr: f32,
        t: u64,
        momentum: f64,
    ) -> (Vec<f32>, Vec<f32>) {
        let rule = conv_rule(cfg, t, momentum);
        self.discriminator_step(cfg.loss, x, m, &cfg.noise, rng, lr, rule)
    }

    fn g_update(
        &mut self,
        cfg: &TrainConfig,
        m: usize,
        rng: &mut Rng,
        lr: f32,
        t: u64,
        momentum: f64,
    ) -> Vec<f32> {
        let rule = conv_rule(cfg, t, momentum);
        self.generator_step(cfg.loss, m, &cfg.noise, rng, lr, rule)
    }
}

/// Algorithm 1 on a fused engine: one D update per real batch (`d` values per image), then
/// one G update; NaN or infinite logits stop training.
fn fused_alternating(
    engine: &mut impl FusedHalves,
    cfg: &TrainConfig,
    p: &mut Progress,
    real: &[Vec<f32>],
    d: usize,
    momentum: f64,
) -> Result<StepStats> {
    let step = p.step;
    let mut last = StepStats::default();
    for x in real {
        let lr = d_learning_rate_at(&cfg.optimizer, p.d_updates) as f32;
        let t = p.d_updates + 1;
        let (r, f) = engine.d_update(cfg, x, x.len() / d, &mut p.rng, lr, t, momentum);
        p.d_updates += 1;
        check_logits(&r, step)?;
        check_logits(&f, step)?;
        last = stats_from_logits(cfg.loss, &r, &f);
    }
    let lr = learning_rate_at(&cfg.optimizer, p.g_updates) as f32;
    let t = p.g_updates + 1;
    let g = engine.g_update(cfg, real[0].len() / d, &mut p.rng, lr, t, momentum);
    p.g_updates += 1;
    check_logits(&g, step)?;
    last.g_loss = mean(&g, |l| cfg.loss.generator_loss_scalar(l));
    Ok(last)
}

/// One update of `module` by momentum SGD (`rule == None`) or an adaptive rule (update `t`).
fn update<M: Module>(
    opt: &mut MomentumSgd,
    module: M,
    grads: GradientsParams,
    lr: f64,
    momentum: f64,
    rule: Option<Adaptive>,
    t: u64,
) -> M {
    match rule {
        None => opt.step(module, grads, lr, momentum),
        Some(r) => opt.step_adaptive(module, grads, lr, r, t),
    }
}

/// The fused DCGAN engine's images (evaluation mode) for the noise `z` (`n` rows).
fn conv_generate(e: &ConvEngine, z: Tensor<2>, n: usize) -> Result<Vec<f32>> {
    let zv = z
        .into_data()
        .try_into_vec::<f32>()
        .map_err(|e| Error::Invalid(format!("reading the noise: {e:?}")))?;
    if zv.len() != n * e.noise_dim() {
        return Err(Error::Invalid(format!(
            "the generator reads {} noise values per sample, got {}",
            e.noise_dim(),
            zv.len() / n.max(1)
        )));
    }
    Ok(e.generate(&zv, n))
}

/// Labels of `n` samples in equal blocks over `classes` (sample i gets class
/// `i * classes / n`): a grid of `classes` rows shows one class per row. Empty when
/// `classes == 0`.
pub fn grid_labels(n: usize, classes: usize) -> Vec<usize> {
    if classes == 0 {
        return Vec::new();
    }
    (0..n).map(|i| grid_label(i, n, classes)).collect()
}

/// The class of sample `i` of `n` in [`grid_labels`].
pub fn grid_label(i: usize, n: usize, classes: usize) -> usize {
    i * classes / n.max(1)
}

fn stats_from_logits(loss: crate::loss::GanLoss, real: &[f32], fake: &[f32]) -> StepStats {
    StepStats {
        d_loss: loss.discriminator_loss_scalar(real, fake),
        g_loss: mean(fake, |l| loss.generator_loss_scalar(l)),
        d_real: mean(real, sigmoid_f64),
        d_fake: mean(fake, sigmoid_f64),
    }
}

fn check_logits(v: &[f32], step: u64) -> Result<()> {
    if v.iter().any(|x| !x.is_finite()) {
        return Err(Error::Diverged {
            step,
            what: "discriminator logits".into(),
        });
    }
    Ok(())
}

fn mean(v: &[f32], f: impl Fn(f64) -> f64) -> f64 {
    v.iter().map(|&l| f(l as f64)).sum::<f64>() / v.len().max(1) as f64
}

/// Copies logits to the host and stops training if any is NaN or infinite.
fn logits_to_host(logits: &Tensor<2>, step: u64, what: &str) -> Result<Vec<f32>> {
    let v = logits
        .clone()
        .inner()
        .into_data()
        .try_into_vec::<f32>()
        .map_err(|e| Error::Invalid(format!("reading {what}: {e:?}")))?;
    check_logits(&v, step).map_err(|_| Error::Diverged {
        step,
        what: what.to_string(),
    })?;
    Ok(v)
}

/// A `[rows, cols]` tensor from host values.
pub fn tensor_from(values: Vec<f32>, rows: usize, cols: usize, device: &Device) -> Tensor<2> {
    Tensor::from_data(TensorData::new(values, [rows, cols]), device)
}

/// Makes sure the models hold finite weights (after loading or an update).
pub fn check_finite<M: Module>(module: &M, name: &str, step: u64) -> Result<()> {
    struct Finite(bool);
    impl burn::module::ModuleVisitor for Finite {
        fn visit_float<const D: usize>(&mut self, p: &burn::module::Param<Tensor<D>>) {
            if self.0 {
                let bad = p.val().inner().is_nan().any().into_scalar::<bool>()
                    || p.val()
                        .inner()
                        .abs()
                        .max()
                        .into_scalar::<f32>()
                        .is_infinite();
                self.0 = !bad;
            }
        }
    }
    let mut v = Finite(true);
    module.visit(&mut v);
    if v.0 {
        Ok(())
    } else {
        Err(Error::Diverged {
            step,
            what: format!("{name} weights"),
        })
    }
}

impl<G: Generator, D: Discriminator> Gan<G, D> {
    /// G(z) for noise vectors given on the host (`n * noise_dim` values).
    pub fn generate_from(&self, z: Vec<f32>) -> Result<Vec<f32>> {
        let dim = self.cfg.noise.dim;
        if z.is_empty() || !z.len().is_multiple_of(dim) {
            return Err(Error::Invalid(format!(
                "noise must be rows of {dim} values, got {}",
                z.len()
            )));
        }
        let n = z.len() / dim;
        self.generate(tensor_from(z, n, dim, &self.device))
    }

    /// `n` noise vectors from the prior, on the host.
    pub fn noise(&self, n: usize, rng: &mut Rng) -> Vec<f32> {
        crate::models::noise_values(&self.cfg.noise, n, rng)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A resumed run continues the epoch's sums from the checkpoint's JSON, so they must come
    /// back bit for bit (serde_json's default float parser can be 1 ulp off).
    #[test]
    fn progress_survives_its_json_bit_for_bit() {
        let mut rng = Rng::new(5);
        let mut draw = || {
            (0..5)
                .map(|_| 0.69 + f64::from(rng.uniform()) * 1e-3 + f64::from(rng.normal()) * 1e-9)
                .sum::<f64>()
        };
        for i in 0..2000 {
            let p = Progress {
                epoch: i,
                batch: 7,
                step: 3 * i,
                d_updates: 6 * i,
                g_updates: 3 * i,
                rng: Rng::new(i),
                epoch_sums: StepStats {
                    d_loss: draw(),
                    g_loss: draw(),
                    d_real: draw(),
                    d_fake: draw(),
                },
                epoch_steps: 5,
            };
            let json = serde_json::to_string(&p).expect("serialize");
            let back: Progress = serde_json::from_str(&json).expect("parse");
            let bits = |s: &StepStats| [s.d_loss, s.g_loss, s.d_real, s.d_fake].map(f64::to_bits);
            assert_eq!(bits(&back.epoch_sums), bits(&p.epoch_sums), "{json}");
            assert_eq!(back, p);
        }
    }
}
