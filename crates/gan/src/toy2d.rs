//! GANs on the 2-D mixtures `ring8` and `grid25`, the standard mode-collapse test, in the
//! setup the issue names from PacGAN (Lin et al. 2018): z ~ N(0, I) in 2-D, G with 400-unit
//! ReLU hidden layers and a linear output, D with 200-unit maxout hidden layers (5 pieces),
//! Adam (lr 1e-4, beta1 0.8), minibatches of 100. Every loss of [`GanLoss`] can be used; the
//! presets are `configs/ring8.toml` and `configs/grid25.toml`.
//! G's batch normalisation (`g_batch_norm`) uses the batch's statistics in training and in
//! sampling.

use burn::module::{Module, Param};
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer, RmsPropConfig};
use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::config::{DiscriminatorConfig, GeneratorConfig, OutputBiasInit};
use crate::error::{Error, Result};
use crate::eval::modes::{Mixture2d, ModeReport, mode_report};
use crate::loss::GanLoss;
use crate::models::{ImageShape, MlpDiscriminator, MlpGenerator};
use crate::nn::{Maxout, uniform_linear};
use crate::rng::Rng;

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

fn column2(v: Vec<f32>, device: &Device) -> Tensor<2> {
    let n = v.len() / 2;
    Tensor::from_data(TensorData::new(v, [n, 2]), device)
}

/// A trained 2-D GAN.
pub struct Toy2d {
    /// The generator.
    pub g: ToyGenerator,
    /// The discriminator.
    pub d: MlpDiscriminator,
    /// The settings.
    pub cfg: Toy2dConfig,
    /// The data.
    pub data: Mixture2d,
    device: Device,
    rng: Rng,
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
        let dcfg = DiscriminatorConfig {
            hidden: cfg.d_hidden.clone(),
            pieces: cfg.pieces,
            init_range: 1.0 / (cfg.d_hidden[0] as f32).sqrt(),
            input_keep: 1.0,
            hidden_keep: 1.0,
            clip: cfg.clip,
        };
        // per-layer initialisation as PyTorch's nn.Linear does it (the shared-range
        // constructors suit the MNIST model, not a 2-input network): weights and biases
        // uniform in +-1/sqrt(fan_in), so neither player starts as a function through 0
        let layer = |d_in: usize, d_out: usize, rng: &mut Rng| {
            let r = 1.0 / (d_in as f32).sqrt();
            let b = (0..d_out).map(|_| rng.uniform_range(-r, r)).collect();
            uniform_linear(d_in, d_out, r, Some(b), rng, &device)
        };
        let mut g = MlpGenerator::new(&gcfg, 2, ImageShape::new(2, 1, 1)?, None, &mut rng, &device);
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
        Ok(Self {
            g,
            d,
            cfg,
            data,
            device,
            rng,
        })
    }

    fn noise(&mut self, n: usize) -> Vec<f32> {
        (0..2 * n).map(|_| self.rng.normal()).collect()
    }

    /// `n` samples of G (evaluation mode), `[n, 2]` row-major, with noise from `rng` (not the
    /// training stream, so drawing pictures during training does not change the run).
    pub fn sample(&self, n: usize, rng: &mut Rng) -> Result<Vec<f32>> {
        let g = self.g.valid();
        let mut out = Vec::with_capacity(2 * n);
        let mut left = n;
        while left > 0 {
            let b = left.min(10_000);
            let z: Vec<f32> = (0..2 * b).map(|_| rng.normal()).collect();
            let x = g.forward(column2(z, &self.device).inner());
            out.extend(
                x.into_data()
                    .try_into_vec::<f32>()
                    .map_err(|e| Error::Invalid(format!("reading samples: {e:?}")))?,
            );
            left -= b;
        }
        Ok(out)
    }

    fn clip(&mut self) {
        if let Some(c) = self.cfg.clip {
            self.d = crate::nn::clamp_params(self.d.clone(), c);
        }
    }

    fn optimizer(&self) -> ModuleOptimizer {
        match self.cfg.optimizer {
            ToyOptimizer::Adam => AdamConfig::new()
                .with_beta_1(self.cfg.beta1 as f32)
                .with_beta_2(self.cfg.beta2 as f32)
                .with_epsilon(1e-8)
                .init(),
            ToyOptimizer::Rmsprop => RmsPropConfig::new()
                .with_alpha(0.99)
                .with_momentum(0.0)
                .with_epsilon(1e-8)
                .init(),
        }
    }

    /// Algorithm 1 for `cfg.steps` generator steps; `on_progress(step, toy)` is called every
    /// 100 steps (e.g. to draw samples for a picture of training).
    pub fn train(&mut self, mut on_progress: impl FnMut(usize, &mut Self)) -> Result<()> {
        let mut opt_d = self.optimizer();
        let mut opt_g = self.optimizer();
        let m = self.cfg.batch;
        let loss = self.cfg.loss;
        for step in 1..=self.cfg.steps {
            for _ in 0..self.cfg.k {
                let real = column2(self.data.sample(m, &mut self.rng), &self.device);
                let z = self.noise(m);
                let fake =
                    Tensor::from_inner(self.g.valid().forward(column2(z, &self.device).inner()));
                let logits = self
                    .d
                    .forward(Tensor::cat(vec![real.clone(), fake.clone()], 0), None);
                let mut l = loss.discriminator_loss(
                    logits.clone().slice([0..m, 0..1]),
                    logits.slice([m..2 * m, 0..1]),
                );
                if loss == GanLoss::WganGp {
                    l = l + self.d.gradient_penalty_rows(
                        real,
                        fake,
                        self.cfg.gp_weight,
                        &mut self.rng,
                    );
                }
                if !l.clone().into_scalar::<f32>().is_finite() {
                    return Err(Error::Diverged {
                        step: step as u64,
                        what: "discriminator loss".into(),
                    });
                }
                let grads = GradientsParams::from_grads(l.backward(), &self.d);
                self.d = opt_d.step(self.cfg.lr, self.d.clone(), grads);
                self.clip();
            }
            let z = self.noise(m);
            let frozen = self.d.clone().no_grad();
            let x = self.g.forward(column2(z, &self.device));
            let l = loss.generator_loss(frozen.forward(x, None));
            let grads = GradientsParams::from_grads(l.backward(), &self.g);
            self.g = opt_g.step(self.cfg.lr, self.g.clone(), grads);
            if step % 100 == 0 {
                on_progress(step, self);
            }
        }
        Ok(())
    }

    /// The PacGAN statistics of 100,000 samples.
    pub fn evaluate(&self) -> Result<(ModeReport, Vec<f32>)> {
        let s = self.sample(100_000, &mut Rng::derived(self.cfg.seed, EVAL_STREAM))?;
        Ok((mode_report(&s, &self.data)?, s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let mut toy = Toy2d::new(cfg.clone()).expect("toy");
        assert_eq!(toy.g.gamma.len(), 2);
        toy.train(|_, _| {}).expect("train");
        let s = toy.sample(50, &mut Rng::new(2)).expect("samples");
        assert!(s.iter().all(|v| v.is_finite()));
        cfg.g_batch_norm = false;
        assert!(Toy2d::new(cfg).expect("toy").g.gamma.is_empty());
    }
}
