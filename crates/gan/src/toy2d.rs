//! GANs on the 2-D mixtures `ring8` and `grid25`, the standard mode-collapse test, in the
//! setup the issue names from PacGAN (Lin et al. 2018): z ~ N(0, I) in 2-D, G with 400-unit
//! ReLU hidden layers and a linear output, D with 200-unit maxout hidden layers (5 pieces),
//! Adam (lr 1e-4, beta1 0.8), minibatches of 100. Every loss of [`GanLoss`] can be used; the
//! presets are `configs/ring8.toml` and `configs/grid25.toml`. The runs train through the
//! library's one loop ([`Run`]): a 2-D point is an image `[2, 1, 1]`, [`MixturePoints`] the
//! dataset of fresh mixture draws, [`train_config`] the loop's settings.
//! G's batch normalisation (`g_batch_norm`) uses the batch's statistics in training and in
//! sampling.

use std::path::{Path, PathBuf};

use burn::module::{Module, Param};
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::config::{
    DataConfig, DiscriminatorConfig, Engine as EngineKind, GeneratorConfig, NoiseConfig, NoiseKind,
    OptimKind, OutputBiasInit, Schedule, TrainConfig,
};
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::eval::modes::{Mixture2d, ModeReport, mode_report};
use crate::loss::GanLoss;
use crate::models::{Generator, ImageShape, MlpDiscriminator, MlpGenerator};
use crate::nn::{Maxout, uniform_linear};
use crate::rng::Rng;
use crate::train::{Gan, Observer, Outcome, Run};

/// The optimizer of both players of a 2-D run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ToyOptimizer {
    /// Adam with `beta1`, `beta2` and epsilon 1e-8.
    Adam,
    /// Plain RMSProp (smoothing 0.99, no momentum, epsilon 1e-8), what the WGAN paper uses.
    Rmsprop,
}

/// Settings of a 2-D run (the schema of `configs/ring8.toml` and `configs/grid25.toml`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Toy2dConfig {
    /// Preset or experiment name.
    pub name: String,
    /// The mixture: `ring8` or `grid25`.
    pub data: String,
    /// The objective.
    pub loss: GanLoss,
    /// G's hidden ReLU layers.
    pub g_hidden: Vec<usize>,
    /// D's hidden maxout layers (units).
    pub d_hidden: Vec<usize>,
    /// Maxout pieces.
    pub pieces: usize,
    /// Minibatch size.
    pub batch: usize,
    /// Adam or RMSProp.
    pub optimizer: ToyOptimizer,
    /// Learning rate.
    pub lr: f64,
    /// Adam's beta1.
    pub beta1: f64,
    /// Adam's beta2.
    pub beta2: f64,
    /// Generator steps.
    pub steps: usize,
    /// Discriminator steps per generator step.
    pub k: usize,
    /// WGAN's weight clipping of D's parameters (unset: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clip: Option<f32>,
    /// WGAN-GP's penalty weight.
    pub gp_weight: f32,
    /// Batch normalisation after each of G's hidden linear layers (PacGAN's generator has
    /// it), with the statistics of the batch at hand, in training and in sampling.
    #[serde(default)]
    pub g_batch_norm: bool,
    /// Seed of every random draw.
    pub seed: u64,
}

/// Stream tag of the noise behind the final 100,000 samples.
const EVAL_STREAM: u64 = 7;

/// Names of the bundled 2-D presets.
pub const TOY_PRESETS: &[&str] = &["ring8", "grid25"];

impl Toy2dConfig {
    /// The PacGAN setup: G 4 x 400 ReLU with batch normalisation, D 3 x 200 maxout
    /// (5 pieces), Adam 1e-4 / 0.8, batch 100, k = 1.
    pub fn pacgan(data: &str, loss: GanLoss, steps: usize, seed: u64) -> Self {
        let mut c = Self {
            name: data.to_string(),
            data: data.to_string(),
            loss: GanLoss::NonSaturating,
            g_hidden: vec![400; 4],
            d_hidden: vec![200; 3],
            pieces: 5,
            batch: 100,
            optimizer: ToyOptimizer::Adam,
            lr: 1e-4,
            beta1: 0.8,
            beta2: 0.999,
            steps,
            k: 1,
            clip: None,
            gp_weight: 10.0,
            g_batch_norm: true,
            seed,
        };
        c.use_loss(loss);
        c
    }

    /// Switches the loss together with the settings its paper pairs it with: WGAN gets
    /// RMSProp, k = 5 and clipping 0.01 (Arjovsky et al.); WGAN-GP gets k = 5 and
    /// Adam beta1 0 / beta2 0.9 (Gulrajani et al.); the others the PacGAN setup.
    pub fn use_loss(&mut self, loss: GanLoss) {
        self.loss = loss;
        match loss {
            GanLoss::Wgan => {
                self.optimizer = ToyOptimizer::Rmsprop;
                self.k = 5;
                self.clip = Some(0.01);
            }
            GanLoss::WganGp => {
                self.optimizer = ToyOptimizer::Adam;
                self.k = 5;
                self.clip = None;
                self.beta1 = 0.0;
                self.beta2 = 0.9;
            }
            _ => {
                self.optimizer = ToyOptimizer::Adam;
                self.k = 1;
                self.clip = None;
                self.beta1 = 0.8;
                self.beta2 = 0.999;
            }
        }
    }

    /// A bundled preset (`ring8`, `grid25`) with `key=value` overrides; `loss=...` first
    /// switches the loss with [`Toy2dConfig::use_loss`], so later keys can still change k,
    /// the optimizer or the clipping.
    pub fn preset(name: &str, overrides: &[String]) -> Result<Self> {
        let text = match name {
            "ring8" => include_str!("../../../configs/ring8.toml"),
            "grid25" => include_str!("../../../configs/grid25.toml"),
            _ => {
                return Err(Error::Config(format!(
                    "unknown 2-D preset {name:?}; available: {}",
                    TOY_PRESETS.join(", ")
                )));
            }
        };
        Self::from_toml_str(text, overrides, &format!("preset {name}"))
    }

    /// Parses a 2-D config (TOML) and applies overrides, then checks it.
    pub fn from_toml_str(text: &str, overrides: &[String], source: &str) -> Result<Self> {
        let mut table: toml::Table = toml::from_str(text)
            .map_err(|e| Error::Config(format!("{source}: {}", e.message().trim())))?;
        let (loss_sets, rest): (Vec<&String>, Vec<&String>) = overrides
            .iter()
            .partition(|o| o.split('=').next().map(str::trim) == Some("loss"));
        let mut cfg: Toy2dConfig = parse_table(&table, source)?;
        if let Some(o) = loss_sets.last() {
            crate::config::apply_override(&mut table, o, &[])?;
            let loss = parse_table::<Toy2dConfig>(&table, source)?.loss;
            cfg.use_loss(loss);
            table =
                toml::Table::try_from(&cfg).map_err(|e| Error::Config(format!("{source}: {e}")))?;
        }
        for o in rest {
            crate::config::apply_override(&mut table, o, &["clip"])?;
        }
        cfg = parse_table(&table, source)?;
        cfg.check()?;
        Ok(cfg)
    }

    /// The config as TOML (what a run directory keeps).
    pub fn to_toml(&self) -> Result<String> {
        toml::to_string_pretty(self).map_err(|e| Error::Config(format!("cannot serialise: {e}")))
    }

    /// Rejects values that cannot work, naming the key.
    pub fn check(&self) -> Result<()> {
        let bad = |key: &str, why: &str| Err(Error::Config(format!("{key}: {why}")));
        Mixture2d::by_name(&self.data).map_err(|e| Error::Config(format!("data: {e}")))?;
        for (key, v) in [
            ("batch", self.batch),
            ("k", self.k),
            ("pieces", self.pieces),
            ("steps", self.steps),
        ] {
            if v == 0 {
                return bad(key, "must be at least 1");
            }
        }
        for (key, widths) in [("g_hidden", &self.g_hidden), ("d_hidden", &self.d_hidden)] {
            if widths.is_empty() || widths.contains(&0) {
                return bad(key, "needs at least one positive width");
            }
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return bad("lr", "must be finite and above 0");
        }
        if !((0.0..1.0).contains(&self.beta1) && (0.0..1.0).contains(&self.beta2)) {
            return bad("beta1 / beta2", "must be in [0, 1)");
        }
        if let Some(c) = self.clip
            && !(c.is_finite() && c > 0.0)
        {
            return bad("clip", "must be finite and above 0");
        }
        if !(self.gp_weight.is_finite() && self.gp_weight >= 0.0) {
            return bad("gp_weight", "must be finite and >= 0");
        }
        Ok(())
    }
}

fn parse_table<T: serde::de::DeserializeOwned>(table: &toml::Table, source: &str) -> Result<T> {
    let text = toml::to_string(table).map_err(|e| Error::Config(format!("{source}: {e}")))?;
    toml::from_str(&text).map_err(|e| Error::Config(format!("{source}: {}", e.to_string().trim())))
}

/// The 2-D generator: the MLP of [`Generator`] with optional batch normalisation (scale
/// `gamma`, shift `beta`, one per hidden layer; both empty without it) before each ReLU.
#[derive(Module, Debug)]
pub struct ToyGenerator {
    /// Linear layers.
    pub net: MlpGenerator,
    /// Batch-norm scales.
    pub gamma: Vec<Param<Tensor<1>>>,
    /// Batch-norm shifts.
    pub beta: Vec<Param<Tensor<1>>>,
}

impl ToyGenerator {
    /// G(z), a linear output.
    ///
    /// # Shapes
    /// `z`: `[m, 2]` -> `[m, 2]`.
    pub fn forward(&self, z: Tensor<2>) -> Tensor<2> {
        let mut h = z;
        for (i, layer) in self.net.hidden.iter().enumerate() {
            let mut a = layer.forward(h);
            if let (Some(g), Some(b)) = (self.gamma.get(i), self.beta.get(i)) {
                a = batch_norm(a, g.val(), b.val());
            }
            h = burn::tensor::activation::relu(a);
        }
        self.net.output.forward(h)
    }
}

/// Batch normalisation with the batch's own statistics (Ioffe & Szegedy 2015):
/// `gamma (x - mean) / sqrt(var + 1e-5) + beta`, per column, biased variance.
///
/// # Shapes
/// `x`: `[m, c]`, `gamma`, `beta`: `[c]` -> `[m, c]`.
pub fn batch_norm(x: Tensor<2>, gamma: Tensor<1>, beta: Tensor<1>) -> Tensor<2> {
    let centered = x.clone() - x.mean_dim(0);
    let var = centered.clone().powi_scalar(2).mean_dim(0);
    centered / var.add_scalar(1e-5).sqrt() * gamma.unsqueeze_dim::<2>(0) + beta.unsqueeze_dim(0)
}

impl Generator for ToyGenerator {
    fn images(&self, z: Tensor<2>, _labels: Option<Tensor<2>>) -> Tensor<4> {
        let [n, _] = z.dims();
        self.forward(z).reshape([n, 2, 1, 1])
    }
}

/// Tag of the stream the training points are drawn from.
const DATA_STREAM: u64 = 8;

/// The shape of a 2-D point as the training loop sees it: an "image" `[2, 1, 1]`.
pub fn point_shape() -> ImageShape {
    ImageShape {
        channels: 2,
        height: 1,
        width: 1,
    }
}

/// `len` points of a 2-D mixture as a [`Dataset`]: point `i` is drawn from a random stream
/// of its own (seeded by the run's seed and `i`), so every minibatch of a run is a fresh
/// draw from the mixture, as the PacGAN protocol samples it, and a resumed run sees the same
/// points.
pub struct MixturePoints {
    /// The mixture.
    pub mixture: Mixture2d,
    seed: u64,
    len: usize,
}

impl MixturePoints {
    /// `len` points of `mixture` from the streams of `seed`.
    pub fn new(mixture: Mixture2d, seed: u64, len: usize) -> Self {
        Self { mixture, seed, len }
    }
}

impl Dataset for MixturePoints {
    fn shape(&self) -> Result<ImageShape> {
        Ok(point_shape())
    }

    fn len(&self) -> usize {
        self.len
    }

    fn push_image(&self, i: usize, out: &mut Vec<f32>) {
        let mut rng = Rng::derived(Rng::derived(self.seed, DATA_STREAM).next_u64(), i as u64);
        out.extend(self.mixture.sample(1, &mut rng));
    }

    fn label(&self, _i: usize) -> u8 {
        0
    }
}

/// A 2-D GAN: the players, trained by the library's one loop ([`Run`]).
pub struct Toy2d {
    /// The players, optimizers and progress.
    pub gan: Gan<ToyGenerator, MlpDiscriminator>,
    /// The settings.
    pub cfg: Toy2dConfig,
    /// The data.
    pub data: Mixture2d,
}

impl Toy2d {
    /// Fresh players.
    pub fn new(cfg: Toy2dConfig) -> Result<Self> {
        cfg.check()?;
        let data = Mixture2d::by_name(&cfg.data)?;
        let device = Device::flex().autodiff();
        let mut rng = Rng::new(cfg.seed);
        let gcfg = GeneratorConfig {
            hidden: cfg.g_hidden.clone(),
            init_range: 1.0 / (cfg.g_hidden.first().copied().unwrap_or(2) as f32).sqrt(),
            output_bias: OutputBiasInit::Zero,
        };
        let dcfg = discriminator_config(&cfg);
        // per-layer initialisation as PyTorch's nn.Linear does it (the shared-range
        // constructors suit the MNIST model, not a 2-input network): weights and biases
        // uniform in +-1/sqrt(fan_in), so neither player starts as a function through 0
        let layer = |d_in: usize, d_out: usize, rng: &mut Rng| {
            let r = 1.0 / (d_in as f32).sqrt();
            let b = (0..d_out).map(|_| rng.uniform_range(-r, r)).collect();
            uniform_linear(d_in, d_out, r, Some(b), rng, &device)
        };
        let mut g = MlpGenerator::new(&gcfg, 2, point_shape(), None, &mut rng, &device);
        let mut d_in = 2;
        for (i, &w) in cfg.g_hidden.iter().enumerate() {
            g.hidden[i] = layer(d_in, w, &mut rng);
            d_in = w;
        }
        g.output = layer(d_in, 2, &mut rng);
        let widths = if cfg.g_batch_norm {
            cfg.g_hidden.clone()
        } else {
            Vec::new()
        };
        let g = ToyGenerator {
            net: g,
            gamma: widths
                .iter()
                .map(|&w| Param::from_tensor(Tensor::ones([w], &device)))
                .collect(),
            beta: widths
                .iter()
                .map(|&w| Param::from_tensor(Tensor::zeros([w], &device)))
                .collect(),
        };
        let mut d = MlpDiscriminator::new(&dcfg, 2, &mut rng, &device);
        let mut d_in = 2;
        for (i, &u) in cfg.d_hidden.iter().enumerate() {
            d.hidden[i] = Maxout {
                linear: layer(d_in, u * cfg.pieces, &mut rng),
                units: u,
                pieces: cfg.pieces,
            };
            d_in = u;
        }
        d.output = layer(d_in, 1, &mut rng);
        let gan = Gan::from_models(train_config(&cfg)?, point_shape(), g, d, &device)?;
        Ok(Self { gan, cfg, data })
    }

    /// The training points: a fresh draw of the mixture for every real example of the run
    /// (`steps * k * batch` of them).
    pub fn points(&self) -> MixturePoints {
        let c = &self.cfg;
        MixturePoints::new(self.data.clone(), c.seed, c.steps * c.k * c.batch)
    }

    /// Trains for `cfg.steps` generator steps with the library's loop, its run directory
    /// (checkpoints, metrics) at `dir`; the observer sees every step (and may ask for
    /// samples, or stop: a checkpoint is then saved and [`Toy2d::resume`] goes on).
    pub fn train(self, dir: &Path, observer: &mut dyn Observer) -> Result<(Self, Outcome)> {
        let points = self.points();
        let (cfg, data) = (self.cfg, self.data);
        let run = Run::create_with(dir, self.gan, points)?;
        Self::train_to_end(run, cfg, data, observer)
    }

    /// Trains `run` until it ends or the observer stops it; the players come back.
    fn train_to_end(
        mut run: Run<ToyGenerator, MlpDiscriminator>,
        cfg: Toy2dConfig,
        data: Mixture2d,
        observer: &mut dyn Observer,
    ) -> Result<(Self, Outcome)> {
        let outcome = run.train(observer)?;
        let gan = run.into_gan();
        Ok((Self { gan, cfg, data }, outcome))
    }

    /// Reopens a 2-D run trained by [`Toy2d::train`] in `dir` at its newest checkpoint and
    /// trains it to the end.
    pub fn resume(
        cfg: Toy2dConfig,
        dir: &Path,
        observer: &mut dyn Observer,
    ) -> Result<(Self, Outcome, PathBuf)> {
        let fresh = Self::new(cfg)?;
        let points = fresh.points();
        let (cfg, data) = (fresh.cfg, fresh.data);
        let (run, ckpt, _) = Run::resume_with(dir, fresh.gan, points, None)?;
        let (toy, outcome) = Self::train_to_end(run, cfg, data, observer)?;
        Ok((toy, outcome, ckpt))
    }

    /// `n` samples of G (evaluation mode), `[n, 2]` row-major, with noise seeded by `seed`
    /// (not the training stream, so drawing pictures does not change the run).
    pub fn sample(&self, n: usize, seed: u64) -> Result<Vec<f32>> {
        self.gan.sample(n, seed)
    }

    /// The PacGAN statistics of 100,000 samples.
    pub fn evaluate(&self) -> Result<(ModeReport, Vec<f32>)> {
        let seed = Rng::derived(self.cfg.seed, EVAL_STREAM).next_u64();
        let s = self.sample(100_000, seed)?;
        Ok((mode_report(&s, &self.data)?, s))
    }
}

/// D's settings: maxout without dropout, WGAN's clipping when set.
fn discriminator_config(cfg: &Toy2dConfig) -> DiscriminatorConfig {
    DiscriminatorConfig {
        hidden: cfg.d_hidden.clone(),
        pieces: cfg.pieces,
        init_range: 1.0 / (cfg.d_hidden[0] as f32).sqrt(),
        input_keep: 1.0,
        hidden_keep: 1.0,
        clip: cfg.clip,
        spectral_norm: false,
    }
}

/// The training loop's config for a 2-D run: one epoch of `steps` iterations of Algorithm 1
/// (k D steps each) on the burn engine, z ~ N(0, I) in 2-D, the run's loss, optimizer
/// (Adam with `beta1` / `beta2`, or RMSProp with smoothing 0.99, epsilon 1e-8, a constant
/// learning rate), clipping and penalty weight.
pub fn train_config(cfg: &Toy2dConfig) -> Result<TrainConfig> {
    let mut t = TrainConfig::preset("mnist-fast", &[])?;
    t.name = cfg.name.clone();
    t.seed = cfg.seed;
    t.epochs = 1;
    t.batch_size = cfg.batch;
    t.schedule = Schedule::Alternating;
    t.k = cfg.k;
    t.loss = cfg.loss;
    t.classes = 0;
    t.gp_weight = cfg.gp_weight;
    t.engine = EngineKind::Burn;
    t.data = DataConfig::new(format!("mixture:{}", cfg.data));
    t.noise = NoiseConfig {
        kind: NoiseKind::Gaussian,
        dim: 2,
        scale: 1.0,
    };
    t.generator.hidden = cfg.g_hidden.clone();
    t.discriminator = discriminator_config(cfg);
    let o = &mut t.optimizer;
    o.lr = cfg.lr;
    o.lr_decay = 1.0;
    o.min_lr = 0.0;
    o.eps = 1e-8;
    match cfg.optimizer {
        ToyOptimizer::Adam => {
            o.kind = OptimKind::Adam;
            o.beta1 = cfg.beta1;
            o.beta2 = cfg.beta2;
        }
        ToyOptimizer::Rmsprop => {
            o.kind = OptimKind::Rmsprop;
            o.beta2 = 0.99;
        }
    }
    t.grid_samples = 16;
    t.eval_every = 0;
    t.monitor_ll = false;
    t.keep_checkpoints = 2;
    t.check()?;
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::TensorData;

    #[test]
    fn batch_norm_standardises_each_column_then_scales_and_shifts() {
        let dev = Device::flex();
        let x = Tensor::<2>::from_data(
            TensorData::new(vec![1.0f32, 10.0, 2.0, 20.0, 3.0, 60.0], [3, 2]),
            &dev,
        );
        let gamma = Tensor::<1>::from_floats([2.0f32, 1.0], &dev);
        let beta = Tensor::<1>::from_floats([0.5f32, -1.0], &dev);
        let y = batch_norm(x, gamma, beta)
            .into_data()
            .try_into_vec::<f32>()
            .expect("f32");
        // column 0: mean 2, biased var 2/3 -> (-1.2247, 0, 1.2247) * 2 + 0.5
        let s = (2.0f32 / 3.0 + 1e-5).sqrt();
        let want0 = [-2.0 / s + 0.5, 0.5, 2.0 / s + 0.5];
        // column 1: mean 30, biased var (400 + 100 + 900) / 3
        let s1 = (1400.0f32 / 3.0 + 1e-5).sqrt();
        let want1 = [-20.0 / s1 - 1.0, -10.0 / s1 - 1.0, 30.0 / s1 - 1.0];
        for r in 0..3 {
            assert!((y[2 * r] - want0[r]).abs() < 1e-4, "{y:?}");
            assert!((y[2 * r + 1] - want1[r]).abs() < 1e-4, "{y:?}");
        }
    }

    #[test]
    fn generator_batch_norm_is_optional_and_trains() {
        let mut cfg = Toy2dConfig::pacgan("ring8", GanLoss::NonSaturating, 3, 1);
        cfg.g_hidden = vec![16, 16];
        cfg.d_hidden = vec![8];
        cfg.g_batch_norm = true;
        let toy = Toy2d::new(cfg.clone()).expect("toy");
        assert_eq!(toy.gan.generator.gamma.len(), 2);
        let dir = tempfile::tempdir().expect("tempdir");
        let (toy, outcome) = toy
            .train(&dir.path().join("run"), &mut crate::train::Silent)
            .expect("train");
        assert_eq!(outcome, Outcome::Finished);
        assert_eq!(toy.gan.progress.step, 3);
        let s = toy.sample(50, 2).expect("samples");
        assert_eq!(s.len(), 100);
        assert!(s.iter().all(|v| v.is_finite()));
        cfg.g_batch_norm = false;
        assert!(Toy2d::new(cfg).expect("toy").gan.generator.gamma.is_empty());
    }

    #[test]
    fn mixture_points_are_fresh_draws_that_come_back_the_same() {
        let data = Mixture2d::by_name("ring8").expect("ring8");
        let set = MixturePoints::new(data.clone(), 3, 1000);
        let point = |set: &MixturePoints, i| {
            let mut v = Vec::new();
            set.push_image(i, &mut v);
            v
        };
        // the same index gives the same point; other indices and other seeds other points
        assert_eq!(point(&set, 17), point(&set, 17));
        assert_ne!(point(&set, 17), point(&set, 18));
        assert_ne!(
            point(&MixturePoints::new(data.clone(), 4, 1000), 17),
            point(&set, 17)
        );
        // the points are the mixture's: every one within 5 sigma of a mode, all 8 modes used
        let mut used = [false; 8];
        for i in 0..1000 {
            let p = point(&set, i);
            let (k, dist) = data
                .means
                .iter()
                .enumerate()
                .map(|(k, m)| (k, ((p[0] - m[0]).powi(2) + (p[1] - m[1]).powi(2)).sqrt()))
                .fold((0, f32::MAX), |a, b| if b.1 < a.1 { b } else { a });
            assert!(
                dist < 5.0 * data.sigma,
                "point {i} {p:?} is {dist} from mode {k}"
            );
            used[k] = true;
        }
        assert!(used.iter().all(|&u| u), "{used:?}");
    }
}
