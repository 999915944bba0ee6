//! The traits every generator and discriminator implements, so that the paper's MLP pair, the
//! 2-D toy networks and a user's own burn modules train through the same step
//! ([`crate::train::Gan`]), losses, checkpoints and evaluation.
//!
//! Images travel as `[n, c, h, w]` tensors (channels first, values in the data's range,
//! `[0, 1]` for every bundled source); a 2-D point is the image `[2, 1, 1]`. Class labels,
//! for a conditional GAN (Mirza & Osindero 2014), reach both players as one-hot rows
//! `[n, classes]` whose hot value the run's config chooses.

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::rng::Rng;

/// The shape of one image, channels first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ImageShape {
    /// Channels (1 grey, 3 RGB; 2 for a 2-D point).
    pub channels: usize,
    /// Rows.
    pub height: usize,
    /// Columns.
    pub width: usize,
}

impl ImageShape {
    /// `[channels, height, width]`; refuses a zero extent.
    pub fn new(channels: usize, height: usize, width: usize) -> Result<Self> {
        if channels == 0 || height == 0 || width == 0 {
            return Err(Error::Invalid(format!(
                "an image shape needs positive extents, got [{channels}, {height}, {width}]"
            )));
        }
        Ok(Self {
            channels,
            height,
            width,
        })
    }

    /// A grey `height x width` image.
    pub fn grey(height: usize, width: usize) -> Result<Self> {
        Self::new(1, height, width)
    }

    /// Values per image, `c * h * w`.
    pub fn len(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// Never true for a shape built by [`ImageShape::new`].
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `[c, h, w]`.
    pub fn dims(&self) -> [usize; 3] {
        [self.channels, self.height, self.width]
    }

    /// Images of this shape (channels first, one after another) laid out channels last,
    /// `[n, h, w, c]`, as image files and NumPy's image arrays hold them.
    pub fn channels_last(&self, images: &[f32]) -> Vec<f32> {
        let [c, h, w] = self.dims();
        if c == 1 {
            return images.to_vec();
        }
        let plane = h * w;
        let mut out = Vec::with_capacity(images.len());
        for img in images.chunks_exact(self.len()) {
            for i in 0..plane {
                out.extend((0..c).map(|ch| img[ch * plane + i]));
            }
        }
        out
    }

    /// A batch of `n` such images, `[n, c, h, w]`.
    pub fn batch(&self, n: usize) -> [usize; 4] {
        [n, self.channels, self.height, self.width]
    }
}

impl std::fmt::Display for ImageShape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "[{}, {}, {}]", self.channels, self.height, self.width)
    }
}

/// The range of values a generator makes and its discriminator reads. Every data source
/// gives values in [0, 1]; a tanh generator (DCGAN) works in [-1, 1]. The training step maps
/// real batches into the model's range and sampling maps G's output back to [0, 1]
/// ([`crate::train::Gan`]), so grids, `.npy` files, Parzen and FID always see [0, 1].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PixelRange {
    /// [0, 1] (a sigmoid output, the paper's).
    #[default]
    Unit,
    /// [-1, 1] (a tanh output): `x -> 2 x - 1`.
    Symmetric,
}

impl PixelRange {
    /// A data value in [0, 1] in this range.
    pub fn from_unit(self, v: f32) -> f32 {
        match self {
            PixelRange::Unit => v,
            PixelRange::Symmetric => 2.0 * v - 1.0,
        }
    }

    /// A value of this range in [0, 1] (not clamped).
    pub fn to_unit(self, v: f32) -> f32 {
        match self {
            PixelRange::Unit => v,
            PixelRange::Symmetric => (v + 1.0) * 0.5,
        }
    }
}

/// G: noise (and, when conditional, one-hot labels) to a batch of images.
///
/// `z` is `[n, noise_dim]` drawn from the config's prior; `labels` is `[n, classes]` for a
/// conditional GAN, `None` otherwise. The result is `[n, c, h, w]` with the data's shape.
/// The same method serves training (on an autodiff device) and sampling (the caller passes
/// `self.valid()`).
pub trait Generator: Module + 'static {
    /// G(z, y).
    ///
    /// # Shapes
    /// `z`: `[n, noise_dim]`, `labels`: `[n, classes]` -> `[n, c, h, w]`.
    fn images(&self, z: Tensor<2>, labels: Option<Tensor<2>>) -> Tensor<4>;

    /// The range of the images it makes (and its discriminator reads): [0, 1] unless
    /// overridden.
    fn range(&self) -> PixelRange {
        PixelRange::Unit
    }
}

/// The random choices one stochastic discriminator pass makes (dropout masks), drawn before
/// the pass so that the same choices can be replayed: the authors' simultaneous schedule
/// evaluates the generator's objective on the fake half of the batch with the masks the
/// discriminator's objective used.
pub trait Draw: Clone {
    /// The choices of rows `start..end` of the batch they were drawn for.
    fn rows(&self, start: usize, end: usize) -> Self;
}

/// A deterministic discriminator draws nothing.
impl Draw for () {
    fn rows(&self, _start: usize, _end: usize) -> Self {}
}

/// D: a batch of images (and, when conditional, one-hot labels) to logits; D(x) is the
/// sigmoid of the logit for the minimax losses, the critic value for the WGAN ones.
///
/// Anything stochastic inside D is D's own: [`Discriminator::draw`] takes its random choices
/// from the caller's stream (so runs are bit-reproducible), and [`Discriminator::logits`]
/// applies them (`None`: evaluation, nothing dropped).
pub trait Discriminator: Module + 'static {
    /// The random choices of one training pass (`()` for a deterministic D).
    type Draw: Draw;

    /// The random choices for a training pass over `n` inputs, from `rng`.
    fn draw(&self, n: usize, rng: &mut Rng, device: &Device) -> Self::Draw;

    /// Work before each update of D: one power iteration of its spectrally normalised
    /// layers ([`crate::nn::spectral`]). Nothing by default.
    fn power_iteration(&mut self) {}

    /// The logits of a batch.
    ///
    /// # Shapes
    /// `x`: `[n, c, h, w]`, `labels`: `[n, classes]` -> `[n, 1]`.
    fn logits(
        &self,
        x: Tensor<4>,
        labels: Option<Tensor<2>>,
        draw: Option<&Self::Draw>,
    ) -> Tensor<2>;

    /// The logits of a real and a fake batch of the same size, with the random choices
    /// `draw` drawn for both (rows `0..m` real, `m..2m` fake). By default one pass over the
    /// two batches stacked; a D with batch statistics (batch normalisation) overrides it to
    /// see each batch alone, as DCGAN trains.
    ///
    /// # Shapes
    /// `real`, `fake`: `[m, c, h, w]`, labels `[m, classes]` -> two `[m, 1]`.
    fn logits_real_fake(
        &self,
        real: (Tensor<4>, Option<Tensor<2>>),
        fake: (Tensor<4>, Option<Tensor<2>>),
        draw: &Self::Draw,
    ) -> (Tensor<2>, Tensor<2>) {
        let [m, ..] = real.0.dims();
        let labels = match (real.1, fake.1) {
            (Some(r), Some(f)) => Some(Tensor::cat(vec![r, f], 0)),
            _ => None,
        };
        let logits = self.logits(Tensor::cat(vec![real.0, fake.0], 0), labels, Some(draw));
        (
            logits.clone().slice([0..m, 0..1]),
            logits.slice([m..2 * m, 0..1]),
        )
    }

    /// WGAN-GP's penalty term ([`crate::loss::gradient_penalty`]) at interpolates of a real
    /// and a fake batch, the interpolation weights drawn from `rng`, differentiable in D's
    /// weights. burn has no double backward, so a D supports it only with a hand-derived
    /// input gradient; the default says so and a run with `loss = "wgan-gp"` is refused.
    ///
    /// # Shapes
    /// `real`, `fake`: `[m, c, h, w]`, labels `[m, classes]`; result `[1]`.
    fn gradient_penalty(
        &self,
        _real: (Tensor<4>, Option<Tensor<2>>),
        _fake: (Tensor<4>, Option<Tensor<2>>),
        _lambda: f32,
        _rng: &mut Rng,
    ) -> Result<Tensor<1>> {
        Err(Error::Config(
            "loss = \"wgan-gp\": this discriminator has no input gradient for the penalty \
             (burn has no double backward); use the MLP discriminator or another loss"
                .into(),
        ))
    }
}

/// One-hot rows `[n, classes]` with `hot` at each label's column (the conditioning input of
/// both players of a conditional GAN).
pub fn one_hot(labels: &[usize], classes: usize, hot: f32, device: &Device) -> Tensor<2> {
    let n = labels.len();
    let mut v = vec![0f32; n * classes];
    for (i, &y) in labels.iter().enumerate() {
        v[i * classes + y] = hot;
    }
    Tensor::from_data(burn::tensor::TensorData::new(v, [n, classes]), device)
}
