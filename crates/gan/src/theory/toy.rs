//! A small GAN on one-dimensional data: MLP generator fed by uniform noise, MLP discriminator,
//! trained by Algorithm 1 with burn's autograd. The toy of the paper's Figure 1.

use burn::module::{Module, Param};
use burn::nn::Linear;
use burn::optim::GradientsParams;
use burn::tensor::activation::tanh;
use burn::tensor::{Device, Tensor, TensorData};

use super::density::Mixture1d;
use crate::error::{Error, Result};
use crate::loss::{GanLoss, discriminator_loss, sigmoid_f64};
use crate::nn::uniform_linear;
use crate::optim::{Adaptive, MomentumSgd};
use crate::rng::Rng;

/// A one-dimensional MLP: `1 -> width (tanh) -> ... -> 1` (linear output).
#[derive(Module, Debug)]
pub struct Mlp1d {
    /// Hidden tanh layers.
    pub hidden: Vec<Linear>,
    /// Output layer.
    pub output: Linear,
}

impl Mlp1d {
    /// `depth` hidden layers of `width` units; weights uniform in +-1/sqrt(fan_in) (PyTorch's
    /// default range), biases uniform in +-1 for the first layer so the tanh units spread
    /// over the input range.
    pub fn new(width: usize, depth: usize, rng: &mut Rng, device: &Device) -> Self {
        Self::with_input_range(width, depth, 1.0, rng, device)
    }

    /// As [`Mlp1d::new`] with the first layer's weights uniform in +-`input_range` (small
    /// values keep the tanh units near their linear part: a smooth, gently curved map).
    pub fn with_input_range(
        width: usize,
        depth: usize,
        input_range: f32,
        rng: &mut Rng,
        device: &Device,
    ) -> Self {
        let mut hidden = Vec::with_capacity(depth);
        let mut d_in = 1;
        for i in 0..depth {
            let bias = (i == 0).then(|| {
                (0..width)
                    .map(|_| rng.uniform_range(-input_range, input_range))
                    .collect()
            });
            let range = if i == 0 {
                input_range
            } else {
                1.0 / (d_in as f32).sqrt()
            };
            hidden.push(uniform_linear(d_in, width, range, bias, rng, device));
            d_in = width;
        }
        let output = uniform_linear(d_in, 1, 1.0 / (d_in as f32).sqrt(), None, rng, device);
        Self { hidden, output }
    }

    /// The network on a column of inputs.
    ///
    /// # Shapes
    /// `x`: `[n, 1]` -> `[n, 1]`.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let mut h = x;
        for layer in &self.hidden {
            h = tanh(layer.forward(h));
        }
        self.output.forward(h)
    }
}

/// The optimizer of both players (the library's, [`MomentumSgd`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Optimizer1d {
    /// Adam with the given learning rate and beta1 (beta2 0.999, epsilon 1e-5).
    Adam {
        /// Learning rate.
        lr: f64,
        /// First-moment decay.
        beta1: f64,
    },
    /// The paper's SGD with momentum (no dampening).
    Sgd {
        /// Learning rate.
        lr: f64,
        /// Momentum.
        momentum: f64,
    },
}

impl Optimizer1d {
    /// One update of `module` with `state`; `t` is the 1-based update number (Adam's bias
    /// correction).
    fn step<M: Module>(
        self,
        state: &mut MomentumSgd,
        module: M,
        grads: GradientsParams,
        t: u64,
    ) -> M {
        match self {
            Optimizer1d::Adam { lr, beta1 } => state.step_adaptive(
                module,
                grads,
                lr,
                Adaptive::Adam {
                    beta1,
                    beta2: 0.999,
                    eps: 1e-5,
                },
                t,
            ),
            Optimizer1d::Sgd { lr, momentum } => state.step(module, grads, lr, momentum),
        }
    }
}

/// The generator's noise distribution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Noise1d {
    /// z ~ U[-1, 1], as in the paper's Figure 1.
    Uniform,
    /// z ~ N(0, 1): smooth p_g with tails, no edges where D* jumps.
    Gaussian,
}

/// Settings of the one-dimensional GAN.
#[derive(Clone, Debug)]
pub struct ToyConfig {
    /// The data density.
    pub data: Mixture1d,
    /// Hidden units per layer of both players.
    pub width: usize,
    /// Hidden layers of both players.
    pub depth: usize,
    /// Minibatch size m.
    pub batch: usize,
    /// Discriminator steps per generator step (Algorithm 1's k).
    pub k: usize,
    /// The generator's objective.
    pub loss: GanLoss,
    /// The discriminator's optimizer.
    pub optimizer_d: Optimizer1d,
    /// The generator's optimizer.
    pub optimizer_g: Optimizer1d,
    /// Seed of every random draw.
    pub seed: u64,
    /// The generator's noise.
    pub noise: Noise1d,
}

impl ToyConfig {
    /// Defaults for `data`: 2 x 32 tanh units, batch 256, k = 1, non-saturating loss,
    /// Adam (beta1 0.5) with learning rate 1e-3 for D and 2e-4 for G (D kept ahead of G, as
    /// the paper's Proposition 2 asks).
    pub fn new(data: Mixture1d, seed: u64) -> Self {
        Self {
            data,
            width: 32,
            depth: 2,
            batch: 256,
            k: 1,
            loss: GanLoss::NonSaturating,
            optimizer_d: Optimizer1d::Adam {
                lr: 1e-3,
                beta1: 0.5,
            },
            optimizer_g: Optimizer1d::Adam {
                lr: 2e-4,
                beta1: 0.5,
            },
            seed,
            noise: Noise1d::Uniform,
        }
    }
}

/// The two players, their optimizers and the random streams of a one-dimensional GAN.
///
/// Both networks work in standardised units: D sees `(x - mu) / s` and G's output is mapped
/// to `mu + s * out`, where mu and s are the data's mean and standard deviation.
pub struct ToyGan {
    /// The generator network (noise z ~ U[-1, 1]).
    pub g: Mlp1d,
    /// The discriminator network (a logit).
    pub d: Mlp1d,
    /// The settings.
    pub cfg: ToyConfig,
    opt_g: MomentumSgd,
    opt_d: MomentumSgd,
    /// D updates done (Adam's bias correction).
    d_updates: u64,
    rng: Rng,
    device: Device,
    center: f64,
    scale: f64,
    /// Generator steps taken.
    pub step: u64,
    /// When set, the "generator" draws its samples from this density instead of the network
    /// (a frozen generator with p_g known exactly, e.g. p_g = p_data).
    pub fixed_fake: Option<Mixture1d>,
}

fn column(v: Vec<f32>, device: &Device) -> Tensor<2> {
    let n = v.len();
    Tensor::from_data(TensorData::new(v, [n, 1]), device)
}

fn values(t: Tensor<2>) -> Vec<f32> {
    t.into_data()
        .try_into_vec::<f32>()
        .expect("an f32 tensor converts to f32 values")
}

impl ToyGan {
    /// Fresh players for `cfg` (seeded), on burn's CPU backend with autodiff.
    pub fn new(cfg: ToyConfig) -> Result<Self> {
        if cfg.width == 0 || cfg.depth == 0 || cfg.batch == 0 || cfg.k == 0 {
            return Err(Error::Invalid(
                "width, depth, batch and k must all be at least 1".into(),
            ));
        }
        let device = Device::flex().autodiff();
        let mut rng = Rng::new(cfg.seed);
        let g_range = match cfg.noise {
            Noise1d::Uniform => 1.0,
            // z spans about +-3: keep w z in tanh's near-linear range
            Noise1d::Gaussian => 0.3,
        };
        let g = Mlp1d::with_input_range(cfg.width, cfg.depth, g_range, &mut rng, &device);
        let d = Mlp1d::new(cfg.width, cfg.depth, &mut rng, &device);
        let (center, scale) = (cfg.data.mean(), cfg.data.std().max(1e-6));
        Ok(Self {
            g,
            d,
            opt_g: MomentumSgd::new(),
            opt_d: MomentumSgd::new(),
            d_updates: 0,
            cfg,
            rng,
            device,
            center,
            scale,
            step: 0,
            fixed_fake: None,
        })
    }

    /// `n` noise values (U[-1, 1] or N(0, 1), as configured).
    pub fn noise(&mut self, n: usize) -> Vec<f32> {
        match self.cfg.noise {
            Noise1d::Uniform => (0..n).map(|_| self.rng.uniform_range(-1.0, 1.0)).collect(),
            Noise1d::Gaussian => (0..n).map(|_| self.rng.normal()).collect(),
        }
    }

    /// `n` draws from the data density.
    pub fn data_batch(&mut self, n: usize) -> Vec<f32> {
        self.cfg.data.sample(n, &mut self.rng)
    }

    fn g_forward(&self, g: &Mlp1d, z: Vec<f32>) -> Tensor<2> {
        g.forward(column(z, &self.device))
            .mul_scalar(self.scale)
            .add_scalar(self.center)
    }

    fn d_logits(&self, d: &Mlp1d, x: Tensor<2>) -> Tensor<2> {
        d.forward(x.sub_scalar(self.center).div_scalar(self.scale))
    }

    /// x = G(z) for the given noise.
    pub fn generate(&self, z: &[f32]) -> Vec<f32> {
        let g = self.g.valid();
        let out = g.forward(column(z.to_vec(), &self.device).inner());
        values(out.mul_scalar(self.scale).add_scalar(self.center))
    }

    /// `n` samples of G.
    pub fn sample(&mut self, n: usize) -> Vec<f32> {
        if let Some(p) = &self.fixed_fake {
            return p.sample(n, &mut self.rng);
        }
        let z = self.noise(n);
        self.generate(&z)
    }

    /// D's logits at the given points.
    pub fn d_logit(&self, xs: &[f64]) -> Vec<f32> {
        let d = self.d.valid();
        let x: Vec<f32> = xs.iter().map(|&x| x as f32).collect();
        values(self.d_logits(&d, column(x, &self.device).inner()))
    }

    /// D(x) = sigmoid(logit) at the given points.
    pub fn d_prob(&self, xs: &[f64]) -> Vec<f64> {
        self.d_logit(xs)
            .iter()
            .map(|&l| sigmoid_f64(l as f64))
            .collect()
    }

    /// Rescales G's output layer so that its samples have the given mean and standard
    /// deviation (measured on 20,000 draws): a frozen generator of chosen location and scale
    /// whose shape is whatever the random network makes of its noise. Scaling the output up
    /// makes G's samples that much more sensitive to its weights: for a generator that will
    /// be trained, prefer [`ToyGan::shift_generator`].
    pub fn set_generator_moments(&mut self, mean: f64, std: f64) {
        let s = self.sample(20_000);
        let n = s.len() as f64;
        let m0 = s.iter().map(|&v| v as f64).sum::<f64>() / n;
        let s0 = (s.iter().map(|&v| (v as f64 - m0).powi(2)).sum::<f64>() / n)
            .sqrt()
            .max(1e-9);
        // out' = a out + b maps x = c + s out to c + s out' with the new moments
        let a = std / s0;
        let b = (mean - self.center - a * (m0 - self.center)) / self.scale;
        let out = &mut self.g.output;
        let w = out.weight.val().mul_scalar(a).detach();
        out.weight = Param::from_tensor(w);
        if let Some(bias) = &out.bias {
            let v = bias.val().mul_scalar(a).add_scalar(b).detach();
            out.bias = Some(Param::from_tensor(v));
        }
    }

    /// Moves G's samples so that their mean is `mean` (output bias only; the spread and the
    /// sensitivity to the weights are those of the initialised network).
    pub fn shift_generator(&mut self, mean: f64) {
        let s = self.sample(20_000);
        let m0 = s.iter().map(|&v| v as f64).sum::<f64>() / s.len() as f64;
        let out = &mut self.g.output;
        if let Some(bias) = &out.bias {
            let v = bias.val().add_scalar((mean - m0) / self.scale).detach();
            out.bias = Some(Param::from_tensor(v));
        }
    }

    /// One discriminator step of Algorithm 1 on a fresh real batch and a fresh fake batch,
    /// ascending eq. (2). Returns D's loss.
    pub fn d_step(&mut self) -> f64 {
        let m = self.cfg.batch;
        let real = self.data_batch(m);
        let fake = match self.fixed_fake.clone() {
            Some(p) => column(p.sample(m, &mut self.rng), &self.device),
            None => {
                // G in evaluation mode: no autodiff graph is built for a batch D only reads
                let z = self.noise(m);
                let g = self.g.valid();
                let x = g.forward(column(z, &self.device).inner());
                Tensor::from_inner(x.mul_scalar(self.scale).add_scalar(self.center))
            }
        };
        let real_logits = self.d_logits(&self.d, column(real, &self.device));
        let fake_logits = self.d_logits(&self.d, fake);
        let loss = discriminator_loss(real_logits, fake_logits);
        let value = loss.clone().into_scalar::<f32>() as f64;
        let grads = GradientsParams::from_grads(loss.backward(), &self.d);
        let d = self.d.clone();
        self.d_updates += 1;
        self.d = self
            .cfg
            .optimizer_d
            .step(&mut self.opt_d, d, grads, self.d_updates);
        value
    }

    /// The generator's loss under `loss` on the noise `z`, with its gradients.
    fn g_loss(&self, loss: GanLoss, z: Vec<f32>) -> (f64, GradientsParams) {
        let frozen = self.d.clone().no_grad();
        let x = self.g_forward(&self.g, z);
        let l = loss.generator_loss(self.d_logits(&frozen, x));
        let value = l.clone().into_scalar::<f32>() as f64;
        (value, GradientsParams::from_grads(l.backward(), &self.g))
    }

    /// One generator step on fresh noise, descending the configured loss. Returns G's loss.
    pub fn g_step(&mut self) -> f64 {
        let z = self.noise(self.cfg.batch);
        let (value, grads) = self.g_loss(self.cfg.loss, z);
        let g = self.g.clone();
        self.step += 1;
        self.g = self
            .cfg
            .optimizer_g
            .step(&mut self.opt_g, g, grads, self.step);
        value
    }

    /// Algorithm 1 for `steps` generator steps (k discriminator steps before each).
    pub fn train(&mut self, steps: usize) {
        for _ in 0..steps {
            for _ in 0..self.cfg.k {
                self.d_step();
            }
            self.g_step();
        }
    }

    /// Trains D alone (G frozen) for `steps` steps.
    pub fn train_d(&mut self, steps: usize) {
        for _ in 0..steps {
            self.d_step();
        }
    }

    /// Trains G alone (D frozen) for `steps` steps.
    pub fn train_g(&mut self, steps: usize) {
        for _ in 0..steps {
            self.g_step();
        }
    }

    /// The L2 norm of the gradient of the generator's loss `loss` with respect to all of G's
    /// parameters, on the noise `z` (nothing is updated).
    pub fn g_grad_norm(&self, loss: GanLoss, z: &[f32]) -> f64 {
        let (_, grads) = self.g_loss(loss, z.to_vec());
        let mut sq = 0.0f64;
        let mut add = |t: Option<Tensor<2>>| {
            if let Some(t) = t {
                sq += values(t).iter().map(|&v| (v as f64).powi(2)).sum::<f64>();
            }
        };
        for layer in self.g.hidden.iter().chain(std::iter::once(&self.g.output)) {
            add(grads.get::<2>(layer.weight.id));
            if let Some(b) = &layer.bias {
                add(grads.get::<1>(b.id).map(|t| t.unsqueeze::<2>()));
            }
        }
        sq.sqrt()
    }

    /// An independent copy (same weights, optimizer state and random stream position).
    pub fn fork(&self) -> Self {
        Self {
            g: self.g.clone(),
            d: self.d.clone(),
            cfg: self.cfg.clone(),
            opt_g: self.opt_g.fork(&self.g),
            opt_d: self.opt_d.fork(&self.d),
            d_updates: self.d_updates,
            rng: self.rng.clone(),
            device: self.device.clone(),
            center: self.center,
            scale: self.scale,
            step: self.step,
            fixed_fake: self.fixed_fake.clone(),
        }
    }
}
