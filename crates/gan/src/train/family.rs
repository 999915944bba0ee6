//! The model families a config names (`model`), so that a run directory can be created,
//! resumed and sampled from its config alone: the paper's MLP pair ([`Mlp`]) and the DCGAN
//! layouts ([`Dcgan`]). A library user's own pair needs no family: it comes in through
//! [`Gan::from_models`] and [`super::Run::create_with`].

use std::path::{Path, PathBuf};

use burn::tensor::Device;

use super::gan::{Gan, Progress, Weights, streams};
use super::run::load_latest_as;
use crate::config::{Architecture, TrainConfig};
use crate::error::{Error, Result};
use crate::models::dcgan::{DcganConfig, DcganDiscriminator, DcganGenerator, dcgan_pair};
use crate::models::{Discriminator, Generator, ImageShape, MlpDiscriminator, MlpGenerator};
use crate::rng::Rng;

/// A pair of players a config can describe.
pub trait Family: 'static {
    /// G.
    type G: Generator;
    /// D.
    type D: Discriminator;
    /// Fresh players for `cfg` and images of `shape`, initialised from the config's seed;
    /// `pixel_means` of the training set where the family uses them (the MLP's output bias).
    fn build(
        cfg: TrainConfig,
        shape: ImageShape,
        pixel_means: Option<&[f32]>,
        device: &Device,
    ) -> Result<Gan<Self::G, Self::D>>;
}

/// The paper's MLP pair (`model = "mlp"`).
pub struct Mlp;

impl Family for Mlp {
    type G = MlpGenerator;
    type D = MlpDiscriminator;

    fn build(
        cfg: TrainConfig,
        shape: ImageShape,
        pixel_means: Option<&[f32]>,
        device: &Device,
    ) -> Result<Gan> {
        Gan::new(cfg, shape, pixel_means, device)
    }
}

/// The DCGAN layouts (`model = "dcgan-28" | "dcgan-32" | "dcgan-64"`, widths `conv.ngf`,
/// `conv.ndf`, noise `noise.dim`).
pub struct Dcgan;

impl Family for Dcgan {
    type G = DcganGenerator;
    type D = DcganDiscriminator;

    fn build(
        cfg: TrainConfig,
        shape: ImageShape,
        _pixel_means: Option<&[f32]>,
        device: &Device,
    ) -> Result<Gan<DcganGenerator, DcganDiscriminator>> {
        cfg.check()?;
        let name = model_name(cfg.model);
        let layout = cfg
            .model
            .dcgan_layout()
            .ok_or_else(|| Error::Config(format!("model = {name} is not a DCGAN layout")))?;
        let side = layout.side();
        if (shape.height, shape.width) != (side, side) {
            return Err(Error::Config(format!(
                "model = {name} makes {side} x {side} images; the data are {} x {} (set \
                 data.image_size = {side} for an image folder, or choose the layout of the \
                 data's size)",
                shape.height, shape.width
            )));
        }
        let d = DcganConfig {
            layout,
            noise_dim: cfg.noise.dim,
            channels: shape.channels,
            ngf: cfg.conv.ngf,
            ndf: cfg.conv.ndf,
            classes: cfg.classes,
            d_batch_norm: cfg.conv.d_batch_norm,
            hidden: cfg.conv.hidden,
            spectral_norm: cfg.discriminator.spectral_norm,
        };
        let (g, dd) = dcgan_pair(&d, &mut Rng::derived(cfg.seed, streams::INIT), device)?;
        Gan::from_models(cfg, shape, g, dd, device)
    }
}

/// The name a config gives the architecture (`"dcgan-28"`).
pub fn model_name(a: Architecture) -> String {
    serde_json::to_value(a)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| format!("{a:?}"))
}

/// What reading a trained run needs, whatever its model: its config and progress, and G.
pub trait Sampler {
    /// The run's config.
    fn config(&self) -> &TrainConfig;
    /// Where training stands.
    fn progress(&self) -> &Progress;
    /// The images' shape.
    fn shape(&self) -> ImageShape;
    /// [`Gan::sample`].
    fn sample(&self, n: usize, seed: u64) -> Result<Vec<f32>>;
    /// [`Gan::sample_each`].
    fn sample_each_dyn(
        &self,
        n: usize,
        seed: u64,
        label: &dyn Fn(usize) -> usize,
        sink: &mut dyn FnMut(&[f32]) -> Result<()>,
    ) -> Result<()>;
    /// [`Gan::generate_from`].
    fn generate_from(&self, z: Vec<f32>) -> Result<Vec<f32>>;
    /// [`Gan::noise`].
    fn noise(&self, n: usize, rng: &mut Rng) -> Vec<f32>;
    /// The weights samples come from ([`Gan::sampling`]).
    fn weights(&self) -> Weights;
    /// Samples from `weights` from now on; the average needs a run that keeps one.
    fn use_weights(&mut self, weights: Weights) -> Result<()>;
}

impl<G: Generator, D: Discriminator> Sampler for Gan<G, D> {
    fn config(&self) -> &TrainConfig {
        &self.cfg
    }
    fn progress(&self) -> &Progress {
        &self.progress
    }
    fn shape(&self) -> ImageShape {
        Gan::shape(self)
    }
    fn sample(&self, n: usize, seed: u64) -> Result<Vec<f32>> {
        Gan::sample(self, n, seed)
    }
    fn sample_each_dyn(
        &self,
        n: usize,
        seed: u64,
        label: &dyn Fn(usize) -> usize,
        sink: &mut dyn FnMut(&[f32]) -> Result<()>,
    ) -> Result<()> {
        self.sample_each(n, seed, label, sink)
    }
    fn generate_from(&self, z: Vec<f32>) -> Result<Vec<f32>> {
        Gan::generate_from(self, z)
    }
    fn noise(&self, n: usize, rng: &mut Rng) -> Vec<f32> {
        Gan::noise(self, n, rng)
    }
    fn weights(&self) -> Weights {
        self.sampling
    }
    fn use_weights(&mut self, weights: Weights) -> Result<()> {
        if weights == Weights::Ema && !self.has_ema() {
            return Err(Error::Config(
                "the averaged weights: this run keeps no average of G's weights (it trained \
                 with g_ema_decay = 0)"
                    .into(),
            ));
        }
        self.sampling = weights;
        Ok(())
    }
}

/// The newest checkpoint of run `dir` that verifies, whatever the run's model (read from its
/// `config.toml`), as a [`Sampler`]; with the checkpoint path and notes on damaged ones.
pub fn load_sampler(
    dir: &Path,
    device: &Device,
) -> Result<(Box<dyn Sampler>, PathBuf, Vec<String>)> {
    let cfg = super::run::read_run_config(dir)?;
    Ok(match cfg.model.dcgan_layout() {
        None => {
            let (g, c, s) = load_latest_as::<Mlp>(dir, device)?;
            (Box::new(g), c, s)
        }
        Some(_) => {
            let (g, c, s) = load_latest_as::<Dcgan>(dir, device)?;
            (Box::new(g), c, s)
        }
    })
}
