//! GANs on the 2-D mixtures `ring8` and `grid25`, the standard mode-collapse test, in the
//! setup the issue names from PacGAN (Lin et al. 2018): z ~ N(0, I) in 2-D, G with 400-unit
//! ReLU hidden layers and a linear output, D with 200-unit maxout hidden layers (5 pieces),
//! Adam (lr 1e-4, beta1 0.8), minibatches of 100. Every loss of [`GanLoss`] can be used.
//! Not reproduced: the batch normalisation PacGAN's generator uses.

use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Tensor, TensorData};

use crate::config::{DiscriminatorConfig, GeneratorConfig, OutputBiasInit};
use crate::error::{Error, Result};
use crate::eval::modes::{Mixture2d, ModeReport, mode_report};
use crate::loss::GanLoss;
use crate::models::{Discriminator, Generator};
use crate::nn::{Maxout, uniform_linear};
use crate::rng::Rng;

/// Settings of a 2-D run.
#[derive(Clone, Debug)]
pub struct Toy2dConfig {
    /// The data.
    pub data: Mixture2d,
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
    /// Adam's learning rate.
    pub lr: f64,
    /// Adam's beta1.
    pub beta1: f64,
    /// Generator steps.
    pub steps: usize,
    /// Discriminator steps per generator step.
    pub k: usize,
    /// WGAN's weight clipping.
    pub clip: Option<f32>,
    /// Seed of every random draw.
    pub seed: u64,
}

impl Toy2dConfig {
    /// The PacGAN setup: G 4 x 400 ReLU, D 3 x 200 maxout (5 pieces), Adam 1e-4 /
    /// 0.8, batch 100, k = 1 (k = 5 and clipping 0.01 for WGAN).
    pub fn pacgan(data: Mixture2d, loss: GanLoss, steps: usize, seed: u64) -> Self {
        let wgan = loss == GanLoss::Wgan;
        Self {
            data,
            loss,
            g_hidden: vec![400; 4],
            d_hidden: vec![200; 3],
            pieces: 5,
            batch: 100,
            lr: 1e-4,
            beta1: 0.8,
            steps,
            k: if wgan { 5 } else { 1 },
            clip: wgan.then_some(0.01),
            seed,
        }
    }
}

fn column2(v: Vec<f32>, device: &Device) -> Tensor<2> {
    let n = v.len() / 2;
    Tensor::from_data(TensorData::new(v, [n, 2]), device)
}

/// A trained 2-D GAN.
pub struct Toy2d {
    /// The generator (its `forward_logits` is the linear output).
    pub g: Generator,
    /// The discriminator.
    pub d: Discriminator,
    /// The settings.
    pub cfg: Toy2dConfig,
    device: Device,
    rng: Rng,
}

impl Toy2d {
    /// Fresh players.
    pub fn new(cfg: Toy2dConfig) -> Result<Self> {
        if cfg.batch == 0 || cfg.k == 0 || cfg.pieces == 0 || cfg.d_hidden.is_empty() {
            return Err(Error::Invalid(
                "batch, k, pieces and D's layers must be positive".into(),
            ));
        }
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
        let mut g = Generator::new(&gcfg, 2, 2, None, &mut rng, &device);
        let mut d_in = 2;
        for (i, &w) in cfg.g_hidden.iter().enumerate() {
            g.hidden[i] = layer(d_in, w, &mut rng);
            d_in = w;
        }
        g.output = layer(d_in, 2, &mut rng);
        let mut d = Discriminator::new(&dcfg, 2, &mut rng, &device);
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
            device,
            rng,
        })
    }

    fn noise(&mut self, n: usize) -> Vec<f32> {
        (0..2 * n).map(|_| self.rng.normal()).collect()
    }

    /// `n` samples of G (evaluation mode), `[n, 2]` row-major.
    pub fn sample(&mut self, n: usize) -> Result<Vec<f32>> {
        let g = self.g.valid();
        let mut out = Vec::with_capacity(2 * n);
        let mut left = n;
        while left > 0 {
            let b = left.min(10_000);
            let z = self.noise(b);
            let x = g.forward_logits(column2(z, &self.device).inner());
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

    /// Algorithm 1 for `cfg.steps` generator steps; `on_progress(step)` is called every 100.
    pub fn train(&mut self, mut on_progress: impl FnMut(usize)) -> Result<()> {
        let mut opt_d: ModuleOptimizer = AdamConfig::new()
            .with_beta_1(self.cfg.beta1 as f32)
            .with_epsilon(1e-8)
            .init();
        let mut opt_g: ModuleOptimizer = AdamConfig::new()
            .with_beta_1(self.cfg.beta1 as f32)
            .with_epsilon(1e-8)
            .init();
        let m = self.cfg.batch;
        let loss = self.cfg.loss;
        for step in 1..=self.cfg.steps {
            for _ in 0..self.cfg.k {
                let real = self.cfg.data.sample(m, &mut self.rng);
                let z = self.noise(m);
                let fake = Tensor::from_inner(
                    self.g
                        .valid()
                        .forward_logits(column2(z, &self.device).inner()),
                );
                let lr_ = self.d.forward(column2(real, &self.device), None);
                let lf = self.d.forward(fake, None);
                let l = loss.discriminator_loss(lr_, lf);
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
            let x = self.g.forward_logits(column2(z, &self.device));
            let l = loss.generator_loss(frozen.forward(x, None));
            let grads = GradientsParams::from_grads(l.backward(), &self.g);
            self.g = opt_g.step(self.cfg.lr, self.g.clone(), grads);
            if step % 100 == 0 {
                on_progress(step);
            }
        }
        Ok(())
    }

    /// The PacGAN statistics of 100,000 samples.
    pub fn evaluate(&mut self) -> Result<(ModeReport, Vec<f32>)> {
        let s = self.sample(100_000)?;
        Ok((mode_report(&s, &self.cfg.data)?, s))
    }
}
