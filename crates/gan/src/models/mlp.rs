//! The paper's MNIST players: a ReLU MLP generator with a sigmoid output and a maxout
//! discriminator with dropout, returning a logit.

use burn::module::Module;
use burn::nn::Linear;
use burn::tensor::activation::sigmoid;
use burn::tensor::{Device, Tensor, TensorData};

use super::base::{Discriminator, Draw, Generator, ImageShape};
use crate::config::{DiscriminatorConfig, GeneratorConfig, NoiseConfig, NoiseKind, OutputBiasInit};
use crate::error::Result;
use crate::nn::spectral::{self, linear_matrix};
use crate::nn::{DropoutMask, Maxout, SpectralNorm, dropout_mask, uniform_linear};
use crate::rng::Rng;

/// `m` noise vectors from the prior p_z, as host values (`m * noise.dim`).
pub fn noise_values(noise: &NoiseConfig, m: usize, rng: &mut Rng) -> Vec<f32> {
    let s = noise.scale;
    match noise.kind {
        NoiseKind::Uniform => (0..m * noise.dim)
            .map(|_| rng.uniform_range(-s, s))
            .collect(),
        NoiseKind::Gaussian => (0..m * noise.dim).map(|_| s * rng.normal()).collect(),
    }
}

/// Draws `m` noise vectors from the prior p_z.
///
/// # Shapes
/// Result `[m, noise.dim]`.
pub fn sample_noise(noise: &NoiseConfig, m: usize, rng: &mut Rng, device: &Device) -> Tensor<2> {
    Tensor::from_data(
        TensorData::new(noise_values(noise, m, rng), [m, noise.dim]),
        device,
    )
}

/// The paper's G(z): noise -> ReLU layers -> sigmoid image in [0, 1] (a conditional G sees
/// the one-hot label appended to its noise).
#[derive(Module, Debug)]
pub struct MlpGenerator {
    /// Hidden ReLU layers.
    pub hidden: Vec<Linear>,
    /// Output layer (pre-sigmoid), `c * h * w` units.
    pub output: Linear,
    /// Channels of the images it makes.
    pub channels: usize,
    /// Their height.
    pub height: usize,
    /// Their width.
    pub width: usize,
}

impl MlpGenerator {
    /// Builds G with the config's initialisation for images of `shape` from inputs of
    /// `input_dim` (noise, plus the classes of a conditional GAN); `pixel_means` sets the
    /// output bias when the config asks for the data's logits.
    pub fn new(
        cfg: &GeneratorConfig,
        input_dim: usize,
        shape: ImageShape,
        pixel_means: Option<&[f32]>,
        rng: &mut Rng,
        device: &Device,
    ) -> Self {
        let noise_dim = input_dim;
        let data_dim = shape.len();
        let mut d_in = noise_dim;
        let mut hidden = Vec::with_capacity(cfg.hidden.len());
        for &w in &cfg.hidden {
            hidden.push(uniform_linear(d_in, w, cfg.init_range, None, rng, device));
            d_in = w;
        }
        let bias = match (cfg.output_bias, pixel_means) {
            (OutputBiasInit::DataLogit, Some(means)) => {
                Some(means.iter().map(|&p| data_logit(p)).collect())
            }
            _ => None,
        };
        let output = uniform_linear(d_in, data_dim, cfg.init_range, bias, rng, device);
        Self {
            hidden,
            output,
            channels: shape.channels,
            height: shape.height,
            width: shape.width,
        }
    }

    /// The shape of the images it makes.
    pub fn shape(&self) -> ImageShape {
        ImageShape {
            channels: self.channels,
            height: self.height,
            width: self.width,
        }
    }

    /// Pre-sigmoid output.
    ///
    /// # Shapes
    /// `z`: `[m, noise_dim]` -> `[m, data_dim]`.
    pub fn forward_logits(&self, z: Tensor<2>) -> Tensor<2> {
        let mut h = z;
        for layer in &self.hidden {
            h = burn::tensor::activation::relu(layer.forward(h));
        }
        self.output.forward(h)
    }

    /// G(z), images in [0, 1].
    ///
    /// # Shapes
    /// `z`: `[m, noise_dim]` -> `[m, data_dim]`.
    pub fn forward(&self, z: Tensor<2>) -> Tensor<2> {
        sigmoid(self.forward_logits(z))
    }
}

/// Dropout masks for one discriminator pass: one per layer input (the image, then each
/// hidden layer's output). `None` entries keep everything.
#[derive(Clone, Debug)]
pub struct DMasks(pub Vec<Option<DropoutMask>>);

impl DMasks {
    /// The masks of rows `start..end` (the same units dropped for those examples).
    pub fn rows(&self, start: usize, end: usize) -> DMasks {
        DMasks(
            self.0
                .iter()
                .map(|m| {
                    m.as_ref().map(|t| {
                        let [_, c] = t.dims();
                        t.clone().slice([start..end, 0..c])
                    })
                })
                .collect(),
        )
    }
}

impl Draw for DMasks {
    fn rows(&self, start: usize, end: usize) -> Self {
        DMasks::rows(self, start, end)
    }
}

/// The paper's D(x): maxout hidden layers with dropout -> linear logit; D(x) =
/// sigmoid(logit). A conditional D sees the one-hot label appended to the flattened image.
#[derive(Module, Debug)]
pub struct MlpDiscriminator {
    /// Maxout hidden layers.
    pub hidden: Vec<Maxout>,
    /// Output layer, one logit.
    pub output: Linear,
    /// Probability of keeping an input value in training (dropout; 1: none).
    pub input_keep: f32,
    /// Probability of keeping a hidden unit in training.
    pub hidden_keep: f32,
    /// With spectral normalisation (`discriminator.spectral_norm`, burn engine), the
    /// power-iteration vectors of each hidden layer's linear map, then the output layer's
    /// (empty without).
    pub sn: Vec<SpectralNorm>,
}

impl MlpDiscriminator {
    /// Builds D with the config's initialisation for inputs of `data_dim` values (the
    /// flattened image, plus the classes of a conditional GAN).
    pub fn new(cfg: &DiscriminatorConfig, data_dim: usize, rng: &mut Rng, device: &Device) -> Self {
        let mut d_in = data_dim;
        let mut hidden = Vec::with_capacity(cfg.hidden.len());
        for &u in &cfg.hidden {
            hidden.push(Maxout::new(
                d_in,
                u,
                cfg.pieces,
                cfg.init_range,
                rng,
                device,
            ));
            d_in = u;
        }
        let output = uniform_linear(d_in, 1, cfg.init_range, None, rng, device);
        let mut d = Self {
            hidden,
            output,
            input_keep: cfg.input_keep,
            hidden_keep: cfg.hidden_keep,
            sn: Vec::new(),
        };
        d.sn = spectral::layers(cfg.spectral_norm, d.sn_matrices(), rng, device);
        d
    }

    /// The weight matrices spectral normalisation reads (PyTorch's `[out, in]`), in the
    /// order of [`MlpDiscriminator::sn`].
    fn sn_matrices(&self) -> Vec<Tensor<2>> {
        self.hidden
            .iter()
            .map(|l| &l.linear)
            .chain([&self.output])
            .map(|l| linear_matrix(l.weight.val()))
            .collect()
    }

    /// Values per input row (the flattened image and the one-hot label, if any).
    pub fn input_dim(&self) -> usize {
        match self.hidden.first() {
            Some(l) => l.linear.weight.dims()[0],
            None => self.output.weight.dims()[0],
        }
    }

    /// The logit l(x), with dropout masks in training and `None` in evaluation.
    ///
    /// # Shapes
    /// `x`: `[m, data_dim]` -> `[m, 1]`.
    pub fn forward(&self, x: Tensor<2>, masks: Option<&DMasks>) -> Tensor<2> {
        let mask = |i: usize, h: Tensor<2>| match masks
            .and_then(|m| m.0.get(i))
            .and_then(|m| m.as_ref())
        {
            Some(m) => h * m.clone(),
            None => h,
        };
        let mut h = mask(0, x);
        for (i, layer) in self.hidden.iter().enumerate() {
            h = mask(i + 1, layer.forward_normalised(h, self.sn.get(i)));
        }
        spectral::linear(&self.output, self.sn.get(self.hidden.len()), h)
    }

    /// The gradient of D's logit with respect to its input, `grad_x l(x)`, without dropout,
    /// as a differentiable function of D's weights: the network is piecewise linear, so the
    /// gradient is the product of the layers' weights along the winning maxout pieces (found
    /// by a forward pass without autodiff). This is what WGAN-GP penalises; its own gradient
    /// then comes from ordinary backpropagation (burn has no double backward).
    ///
    /// # Shapes
    /// `x`: `[m, data_dim]` -> `[m, data_dim]`.
    pub fn input_gradient(&self, x: Tensor<2>) -> Tensor<2> {
        let [m, _] = x.dims();
        let device = x.device();
        let plain = self.valid();
        let mut h = x.inner();
        let mut winners = Vec::with_capacity(plain.hidden.len());
        for layer in &plain.hidden {
            let (out, w) = layer.forward_with_winners(h);
            winners.push(Tensor::from_inner(w));
            h = out;
        }
        // d logit / d h_last = output weight, the same for every row
        let mut g = Tensor::ones([m, 1], &device).matmul(self.output.weight.val().transpose());
        for (layer, w) in self.hidden.iter().zip(winners).rev() {
            g = layer.backward_input(g, w);
        }
        g
    }

    /// WGAN-GP's penalty term ([`crate::loss::gradient_penalty`]) at the interpolates
    /// `e_i x_i + (1 - e_i) G(z)_i` of a real and a fake batch, with `e` drawn from `rng`.
    ///
    /// # Shapes
    /// `real`, `fake`: `[m, data_dim]`; result `[1]`.
    pub fn gradient_penalty_rows(
        &self,
        real: Tensor<2>,
        fake: Tensor<2>,
        lambda: f32,
        rng: &mut Rng,
    ) -> Tensor<1> {
        let [m, d] = real.dims();
        let e: Vec<f32> = (0..m).map(|_| rng.uniform()).collect();
        let e = Tensor::<2>::from_data(TensorData::new(e, [m, 1]), &real.device()).expand([m, d]);
        let x_hat = real.detach() * e.clone() + fake.detach() * e.neg().add_scalar(1.0);
        crate::loss::gradient_penalty(self.input_gradient(x_hat), lambda)
    }
}

impl Generator for MlpGenerator {
    fn images(&self, z: Tensor<2>, labels: Option<Tensor<2>>) -> Tensor<4> {
        let input = match labels {
            Some(y) => Tensor::cat(vec![z, y], 1),
            None => z,
        };
        let [n, _] = input.dims();
        self.forward(input)
            .reshape([n, self.channels, self.height, self.width])
    }
}

/// Rows of flattened images, with the one-hot labels appended when given.
fn flat_input(x: Tensor<4>, labels: Option<Tensor<2>>) -> Tensor<2> {
    let [n, c, h, w] = x.dims();
    let x = x.reshape([n, c * h * w]);
    match labels {
        Some(y) => Tensor::cat(vec![x, y], 1),
        None => x,
    }
}

impl Discriminator for MlpDiscriminator {
    type Draw = DMasks;

    /// One power iteration of every spectrally normalised layer.
    fn power_iteration(&mut self) {
        // the vectors aside while the weights are read
        let mut sn = std::mem::take(&mut self.sn);
        spectral::iterate(&mut sn, || self.sn_matrices());
        self.sn = sn;
    }

    /// One dropout mask per layer input (the image and label, then each hidden layer's
    /// output), in that order from `rng`.
    fn draw(&self, n: usize, rng: &mut Rng, device: &Device) -> DMasks {
        let mut masks = vec![dropout_mask(
            n,
            self.input_dim(),
            self.input_keep,
            rng,
            device,
        )];
        for layer in &self.hidden {
            masks.push(dropout_mask(n, layer.units, self.hidden_keep, rng, device));
        }
        DMasks(masks)
    }

    fn logits(&self, x: Tensor<4>, labels: Option<Tensor<2>>, draw: Option<&DMasks>) -> Tensor<2> {
        self.forward(flat_input(x, labels), draw)
    }

    fn gradient_penalty(
        &self,
        real: (Tensor<4>, Option<Tensor<2>>),
        fake: (Tensor<4>, Option<Tensor<2>>),
        lambda: f32,
        rng: &mut Rng,
    ) -> Result<Tensor<1>> {
        if !self.sn.is_empty() {
            // the hand-derived input gradient reads the raw weights
            return Err(crate::error::Error::Config(
                "loss = \"wgan-gp\" with discriminator.spectral_norm: both bound D's \
                 Lipschitz constant; choose one"
                    .into(),
            ));
        }
        Ok(self.gradient_penalty_rows(
            flat_input(real.0, real.1),
            flat_input(fake.0, fake.1),
            lambda,
            rng,
        ))
    }
}

/// G's output bias for a pixel of training mean `p`, as the authors' pylearn2
/// `init_sigmoid_bias_from_marginals` sets it: the inverse sigmoid of the mean clipped to
/// [1e-7, 1 - 1e-7], so the untrained G's sigmoid outputs average the data (computed in
/// float64; a pixel that is always 0 gets logit(1e-7) = -16.12).
pub fn data_logit(p: f32) -> f32 {
    let p = (p as f64).clamp(1e-7, 1.0 - 1e-7);
    (p / (1.0 - p)).ln() as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_output_bias_clips_the_pixel_means_as_pylearn2_does() {
        // np.log(p / (1 - p)) after np.clip(p, 1e-7, 1 - 1e-7)
        // (python: [math.log(p / (1 - p)) for p in (1e-7, 5e-4, 0.25, 1 - 1e-7)])
        let cases = [
            (0.0, -16.118_095_6),
            (5e-4, -7.600_402_1),
            (0.25, -1.098_612_3),
            (1.0, 16.118_095_6),
        ];
        for (p, want) in cases {
            let got = data_logit(p) as f64;
            assert!((got - want).abs() < 1e-5, "p {p}: {got} vs {want}");
        }
    }
}
