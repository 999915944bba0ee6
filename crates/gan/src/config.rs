//! Run configuration: TOML presets, `--set key=value` overrides, validation.
//!
//! A config is read once, checked once ([`TrainConfig::check`]) and written into the run
//! directory, so `gan sample` and `--resume` rebuild exactly the same model from the run alone.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::loss::GanLoss;

/// The noise prior p_z.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NoiseKind {
    /// Uniform on [-scale, scale]^dim (the paper: scale = sqrt 3, unit variance).
    Uniform,
    /// Gaussian with standard deviation `scale`.
    Gaussian,
}

/// The noise prior and its dimension.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoiseConfig {
    /// Uniform or Gaussian.
    pub kind: NoiseKind,
    /// Dimension of z.
    pub dim: usize,
    /// Half-width (uniform) or standard deviation (Gaussian).
    pub scale: f32,
}

/// How G's output-layer bias starts.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OutputBiasInit {
    /// All zeros.
    Zero,
    /// The logit of the training set's per-pixel means, clipped to [1e-7, 1 - 1e-7]
    /// (pylearn2's `init_sigmoid_bias_from_marginals`, used by the authors;
    /// [`crate::models::data_logit`]).
    DataLogit,
}

/// Generator: an MLP of ReLU layers with a sigmoid output.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeneratorConfig {
    /// Widths of the hidden ReLU layers.
    pub hidden: Vec<usize>,
    /// Weights start uniform in [-init_range, init_range]; biases at zero.
    pub init_range: f32,
    /// How the output bias starts.
    pub output_bias: OutputBiasInit,
}

/// The paper's G (`configs/mnist-paper.toml`): 1200 and 1200 ReLU units, weights in
/// +-0.05, the output bias from the data's pixel means.
impl Default for GeneratorConfig {
    fn default() -> Self {
        Self {
            hidden: vec![1200, 1200],
            init_range: 0.05,
            output_bias: OutputBiasInit::DataLogit,
        }
    }
}

/// Discriminator: maxout hidden layers, a linear logit output, dropout on each layer's input.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscriminatorConfig {
    /// Units of each maxout hidden layer.
    pub hidden: Vec<usize>,
    /// Linear pieces per maxout unit.
    pub pieces: usize,
    /// Weights start uniform in [-init_range, init_range]; biases at zero.
    pub init_range: f32,
    /// Probability of keeping an input pixel during training (kept values scaled by 1/p).
    pub input_keep: f32,
    /// Probability of keeping a hidden unit during training (kept values scaled by 1/p).
    pub hidden_keep: f32,
    /// WGAN's weight clipping: after every update D's parameters are clamped to
    /// [-clip, clip] (Arjovsky et al. use 0.01). Unset: no clipping.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clip: Option<f32>,
    /// Spectral normalisation of D's convolutions and linear layers (Miyato et al. 2018,
    /// [`crate::nn::spectral`]): one power iteration before each D update, the vectors kept
    /// in the checkpoint. Every discriminator (the MLP's maxout layers and the DCGANs'),
    /// burn engine; not with `clip` or `wgan-gp`, which bound the same constant.
    #[serde(default)]
    pub spectral_norm: bool,
}

/// The paper's D (`configs/mnist-paper.toml`): 240 and 240 maxout units of 5 pieces,
/// weights in +-0.005, dropout keeping 0.8 of the inputs and 0.5 of the hidden units.
impl Default for DiscriminatorConfig {
    fn default() -> Self {
        Self {
            hidden: vec![240, 240],
            pieces: 5,
            init_range: 0.005,
            input_keep: 0.8,
            hidden_keep: 0.5,
            clip: None,
            spectral_norm: false,
        }
    }
}

/// The update rule of both networks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OptimKind {
    /// Momentum SGD with the paper's schedules (the paper's choice).
    #[default]
    Sgd,
    /// Adam with `beta1`, `beta2`, `eps` (the momentum schedule is not used).
    Adam,
    /// RMSProp without momentum, smoothing `beta2`, `eps` (what WGAN uses).
    Rmsprop,
}

/// Momentum SGD with the paper's schedules (pylearn2's `Momentum`, `ExponentialDecay` and
/// `MomentumAdjustor`), or Adam / RMSProp with the same learning-rate decay.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptimConfig {
    /// `sgd` (momentum SGD), `adam` or `rmsprop`.
    #[serde(default)]
    pub kind: OptimKind,
    /// Adam's first-moment decay.
    #[serde(default = "default_beta1")]
    pub beta1: f64,
    /// Adam's second-moment decay; RMSProp's smoothing constant.
    #[serde(default = "default_beta2")]
    pub beta2: f64,
    /// Adam's and RMSProp's epsilon.
    #[serde(default = "default_eps")]
    pub eps: f64,
    /// Initial learning rate.
    pub lr: f64,
    /// D's learning rate over G's: D trains at `lr * d_lr_ratio` (the two time-scale update
    /// rule, TTUR, Heusel et al. 2017, e.g. 4 with `lr = 1e-4`); 1, the default, trains both
    /// at `lr`. Decay, its floor and a divergence rollback's factor apply to both.
    #[serde(default = "default_d_lr_ratio")]
    pub d_lr_ratio: f64,
    /// The learning rate is divided by this factor after every update.
    pub lr_decay: f64,
    /// Floor of the decayed learning rate.
    pub min_lr: f64,
    /// Momentum during the first epochs.
    pub momentum: f64,
    /// Momentum reached at `momentum_saturate`.
    pub final_momentum: f64,
    /// Epoch at which momentum starts rising.
    pub momentum_start: u64,
    /// Epoch at which momentum reaches `final_momentum`.
    pub momentum_saturate: u64,
}

/// Order of the discriminator and generator updates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Schedule {
    /// Algorithm 1: `k` discriminator steps, each on a fresh minibatch, then one generator
    /// step on fresh noise.
    Alternating,
    /// The authors' code: one forward pass, both objectives on the same fake batch (same
    /// dropout masks), one update of each network from the same parameters.
    Simultaneous,
}

/// Which implementation runs the training step (both compute the same mathematics).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Engine {
    /// The fused, allocation-free step of [`crate::fast`].
    #[default]
    Fast,
    /// burn's autodiff on the model definitions (the reference).
    Burn,
}

/// The architecture of the two players the config's `generator` and `discriminator`
/// sections describe (a library user's own models come in through
/// [`crate::train::Gan::from_models`] instead).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Architecture {
    /// The paper's pair: a ReLU MLP G with a sigmoid output, a maxout D with dropout
    /// ([`crate::models::MlpGenerator`], [`crate::models::MlpDiscriminator`]).
    #[default]
    Mlp,
    /// DCGAN for 28 x 28 images (InfoGAN's MNIST layout, [`crate::models::dcgan`]).
    #[serde(rename = "dcgan-28")]
    Dcgan28,
    /// DCGAN for 32 x 32 images.
    #[serde(rename = "dcgan-32")]
    Dcgan32,
    /// DCGAN for 64 x 64 images (pytorch/examples' dcgan).
    #[serde(rename = "dcgan-64")]
    Dcgan64,
}

impl Architecture {
    /// The DCGAN layout, for the convolutional models.
    pub fn dcgan_layout(self) -> Option<crate::models::dcgan::DcganLayout> {
        use crate::models::dcgan::DcganLayout;
        match self {
            Architecture::Mlp => None,
            Architecture::Dcgan28 => Some(DcganLayout::Dcgan28),
            Architecture::Dcgan32 => Some(DcganLayout::Dcgan32),
            Architecture::Dcgan64 => Some(DcganLayout::Dcgan64),
        }
    }
}

/// Widths of the convolutional models (`model = "dcgan-*"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConvConfig {
    /// G's base width (DCGAN's ngf, 64).
    pub ngf: usize,
    /// D's base width (DCGAN's ndf, 64).
    pub ndf: usize,
    /// Batch normalisation in D (DCGAN's; SNGAN's D has none, its convolutions biases).
    #[serde(default = "default_true")]
    pub d_batch_norm: bool,
    /// `dcgan-28` only: the width of InfoGAN's fully connected hidden layer, first in G and
    /// last in D (Chen et al. 2016: 1024); 0, the default, leaves it out.
    #[serde(default)]
    pub hidden: usize,
}

impl Default for ConvConfig {
    fn default() -> Self {
        Self {
            ngf: 64,
            ndf: 64,
            d_batch_norm: true,
            hidden: 0,
        }
    }
}

/// Which reader turns `data.dir` into images.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DataSource {
    /// Told by what is there: CIFAR binary files, a `.npy` file, a folder with PNG / JPEG
    /// images, else MNIST-format IDX files.
    #[default]
    Auto,
    /// MNIST-format IDX files (`train-images-idx3-ubyte[.gz]`, ...).
    Idx,
    /// A folder of PNG / JPEG images, found recursively ([`crate::data::folder`]).
    Folder,
    /// One `.npy` array of images ([`crate::data::npy_images`]).
    Npy,
    /// The CIFAR-10 / CIFAR-100 binary files ([`crate::data::cifar`]).
    Cifar,
}

/// What training does when a loss, logit or weight becomes NaN or infinite.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DivergenceAction {
    /// Stop with an error naming the step and the tensor; the checkpoints on disk are the
    /// last good states.
    #[default]
    Stop,
    /// Reload the newest good checkpoint, multiply the learning rate by `lr_factor` and go
    /// on (at most `max_rollbacks` times, then stop).
    Rollback,
}

/// The divergence guard.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DivergenceConfig {
    /// `stop` or `rollback`.
    pub action: DivergenceAction,
    /// Learning-rate factor applied at each rollback, in (0, 1).
    pub lr_factor: f64,
    /// Rollbacks allowed in one run before training stops.
    pub max_rollbacks: u32,
}

impl Default for DivergenceConfig {
    fn default() -> Self {
        Self {
            action: DivergenceAction::Stop,
            lr_factor: 0.5,
            max_rollbacks: 3,
        }
    }
}

/// Where the data comes from and how it is split.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    /// An MNIST-format directory, an image folder (PNG / JPEG), a `.npy` file or a CIFAR
    /// directory (see [`crate::data::load_data`]); a relative path is found by
    /// [`crate::data::resolve_dir`].
    pub dir: String,
    /// The reader: `auto` (told by what `dir` holds), `idx`, `folder`, `npy` or `cifar`.
    #[serde(default)]
    pub source: DataSource,
    /// MNIST format: training images are 0..train_end of the train file; the rest is
    /// validation.
    pub train_end: usize,
    /// Image folder: side of the square images made from it.
    #[serde(default = "default_image_size")]
    pub image_size: usize,
    /// Image folder: 1 (grey) or 3 (RGB).
    #[serde(default = "default_channels")]
    pub channels: usize,
    /// Image folder: the colour transparent pixels are composited onto.
    #[serde(default = "default_background")]
    pub background: [u8; 3],
    /// Image folder: class labels from the first-level subfolders.
    #[serde(default = "default_true")]
    pub labels: bool,
    /// Image folder: a file that does not decode stops the run (`error`) or is left out and
    /// reported (`skip`).
    #[serde(default)]
    pub on_broken: crate::data::folder::OnBroken,
}

impl DataConfig {
    /// `dir` with the paper's split and the default image-folder settings.
    pub fn new(dir: impl Into<String>) -> Self {
        Self {
            dir: dir.into(),
            source: DataSource::Auto,
            train_end: crate::data::PAPER_TRAIN_END,
            image_size: default_image_size(),
            channels: default_channels(),
            background: default_background(),
            labels: true,
            on_broken: Default::default(),
        }
    }
}

fn default_image_size() -> usize {
    28
}

fn default_channels() -> usize {
    1
}

fn default_background() -> [u8; 3] {
    [255, 255, 255]
}

fn default_true() -> bool {
    true
}

/// Everything a training run needs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// Preset or experiment name.
    pub name: String,
    /// Seed of every random draw in the run.
    pub seed: u64,
    /// Total epochs of the run (a resumed run stops at the same total).
    pub epochs: u64,
    /// Minibatch size m.
    pub batch_size: usize,
    /// Alternating (Algorithm 1) or simultaneous (the authors' code).
    pub schedule: Schedule,
    /// Discriminator steps per generator step (alternating schedule).
    pub k: usize,
    /// The objective.
    pub loss: GanLoss,
    /// Classes of a conditional GAN (Mirza & Osindero 2014): the one-hot label is
    /// concatenated to G's noise and to D's input. 0: unconditional.
    #[serde(default)]
    pub classes: usize,
    /// Value of the hot entry of the one-hot label appended to G's noise (1: plain one-hot).
    /// Larger values give the label a larger share of G's first layer and a faster-learning
    /// path; too large and G ignores its noise (each class collapses to one image).
    #[serde(default = "default_label_scale")]
    pub g_label_scale: f32,
    /// The same for the label appended to D's input.
    #[serde(default = "default_label_scale")]
    pub d_label_scale: f32,
    /// WGAN-GP's penalty weight lambda (Gulrajani et al. use 10); other losses ignore it.
    #[serde(default = "default_gp_weight")]
    pub gp_weight: f32,
    /// Implementation of the training step.
    #[serde(default)]
    pub engine: Engine,
    /// The players' architecture: `mlp` (the paper's, set by the `generator` and
    /// `discriminator` sections) or `dcgan-28` / `dcgan-32` / `dcgan-64` (set by `conv`).
    #[serde(default)]
    pub model: Architecture,
    /// The convolutional models' widths.
    #[serde(default)]
    pub conv: ConvConfig,
    /// Dataset location and split.
    pub data: DataConfig,
    /// Noise prior.
    pub noise: NoiseConfig,
    /// The MLP generator (`model = "mlp"`; the paper's when absent).
    #[serde(default)]
    pub generator: GeneratorConfig,
    /// The MLP discriminator (`model = "mlp"`; the paper's when absent; `clip` applies to
    /// every model).
    #[serde(default)]
    pub discriminator: DiscriminatorConfig,
    /// Optimizer settings, used by both networks (each with its own state).
    pub optimizer: OptimConfig,
    /// Checkpoints kept in the run directory (the newest ones).
    pub keep_checkpoints: usize,
    /// Images in the per-epoch sample grid (a square number looks best).
    pub grid_samples: usize,
    /// Score the model with the Parzen protocol every this many epochs (0: never); the
    /// estimate goes into `metrics.jsonl`.
    #[serde(default)]
    pub eval_every: u64,
    /// Samples (kernels) drawn for that estimate.
    #[serde(default = "default_eval_samples")]
    pub eval_samples: usize,
    /// Whether that evaluation includes the Parzen estimate (false: only the FID, precision,
    /// recall and class histogram, which cost a small fraction of it).
    #[serde(default = "default_true")]
    pub eval_parzen: bool,
    /// The authors' `monitor_ll` channel (`mnist.yaml`: 100 samples, sigma 0.2): every epoch,
    /// the mean log-likelihood of the validation images under a Parzen window on 100 of G's
    /// samples, as `valid_ll` in the metrics, so a run can be selected on validation data
    /// rather than on the test set.
    #[serde(default)]
    pub monitor_ll: bool,
    /// TensorBoard event files (`DIR/tensorboard/`): the means of the losses and D's
    /// outputs over every this many steps, with the learning rates, momentum and images/s,
    /// and at every epoch its metrics and sample grid; 0 writes none.
    #[serde(default = "default_tensorboard_every")]
    pub tensorboard_every: u64,
    /// What to do when training diverges (NaN or infinity).
    #[serde(default)]
    pub divergence: DivergenceConfig,
    /// The decay beta of an exponential moving average of G's weights (Karras et al. 2018;
    /// [`crate::optim::ema`]), a shadow copy updated after every G step; 0: none. When on,
    /// sample grids, `gan sample` and the in-training evaluation use the shadow (the metrics
    /// then also score the live weights, as `live_*`).
    #[serde(default)]
    pub g_ema_decay: f64,
    /// G updates before the average starts (the shadow copies the weights until then;
    /// BigGAN's `ema_start`).
    #[serde(default)]
    pub g_ema_start: u64,
    /// TensorFlow's warm-up of the decay, `min(decay, (1 + t) / (10 + t))` at the `t`-th
    /// update after the start.
    #[serde(default = "default_true")]
    pub g_ema_warmup: bool,
    /// DiffAugment's policy (Zhao et al. 2020, [`crate::nn::augment`]): a comma-separated
    /// list of `color`, `translation`, `cutout` applied to every image D sees, real and
    /// fake, in D's steps and G's; empty: none.
    #[serde(default)]
    pub augment: String,
    /// The scale of the augmentation's ranges (1: the paper's; 0: the identity).
    #[serde(default = "default_strength")]
    pub augment_strength: f32,
}

fn default_strength() -> f32 {
    1.0
}

fn default_tensorboard_every() -> u64 {
    10
}

fn default_label_scale() -> f32 {
    1.0
}

fn default_d_lr_ratio() -> f64 {
    1.0
}

fn default_beta1() -> f64 {
    0.9
}

fn default_beta2() -> f64 {
    0.999
}

fn default_eps() -> f64 {
    1e-8
}

fn default_gp_weight() -> f32 {
    10.0
}

fn default_eval_samples() -> usize {
    10_000
}

/// Names of the bundled presets.
pub const PRESETS: &[&str] = &[
    "mnist-paper",
    "mnist-fast",
    "fashion-paper",
    "mnist-cgan",
    "mnist-dcgan",
    "mnist-dcgan-fc",
    "fashion-dcgan",
    "fashion-dcgan-fc",
    "emoji-dcgan",
    "emoji-dcgan-64",
    "emoji-cdcgan",
    "emoji-sngan",
    "cifar10-dcgan",
];

fn preset_text(name: &str) -> Option<&'static str> {
    match name {
        "mnist-paper" => Some(include_str!("../../../configs/mnist-paper.toml")),
        "mnist-fast" => Some(include_str!("../../../configs/mnist-fast.toml")),
        "fashion-paper" => Some(include_str!("../../../configs/fashion-paper.toml")),
        "mnist-cgan" => Some(include_str!("../../../configs/mnist-cgan.toml")),
        "mnist-dcgan" => Some(include_str!("../../../configs/mnist-dcgan.toml")),
        "mnist-dcgan-fc" => Some(include_str!("../../../configs/mnist-dcgan-fc.toml")),
        "fashion-dcgan" => Some(include_str!("../../../configs/fashion-dcgan.toml")),
        "fashion-dcgan-fc" => Some(include_str!("../../../configs/fashion-dcgan-fc.toml")),
        "emoji-dcgan" => Some(include_str!("../../../configs/emoji-dcgan.toml")),
        "emoji-dcgan-64" => Some(include_str!("../../../configs/emoji-dcgan-64.toml")),
        "emoji-cdcgan" => Some(include_str!("../../../configs/emoji-cdcgan.toml")),
        "emoji-sngan" => Some(include_str!("../../../configs/emoji-sngan.toml")),
        "cifar10-dcgan" => Some(include_str!("../../../configs/cifar10-dcgan.toml")),
        _ => None,
    }
}

impl TrainConfig {
    /// A bundled preset, with overrides applied and checked.
    pub fn preset(name: &str, overrides: &[String]) -> Result<Self> {
        Self::from_toml_str(
            preset_text_or_err(name)?,
            overrides,
            &format!("preset {name}"),
        )
    }

    /// A config file, with overrides applied and checked. The file must hold every key (a
    /// missing one is named, with the way to layer a partial file over a preset:
    /// [`TrainConfig::layered`]).
    pub fn from_file(path: &Path, overrides: &[String]) -> Result<Self> {
        Self::layered(None, Some(path), overrides)
    }

    /// A config built in layers, later ones winning: a bundled preset (optional), a TOML file
    /// (optional; with a preset it may hold only the keys it changes, every one of which must
    /// be a key of the preset), then `key=value` overrides. Every error names the layer it
    /// comes from.
    pub fn layered(
        preset: Option<&str>,
        file: Option<&Path>,
        overrides: &[String],
    ) -> Result<Self> {
        let file_text = match file {
            Some(path) => Some(std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?),
            None => None,
        };
        let file_name = file.map(|p| p.display().to_string());
        let mut table = match preset {
            Some(name) => parse_table(preset_text_or_err(name)?, &format!("preset {name}"))?,
            None => toml::Table::new(),
        };
        if let (Some(text), Some(name)) = (&file_text, &file_name) {
            let layer = parse_table(text, name)?;
            if preset.is_some() {
                merge_layer(&mut table, layer, "", name)?;
            } else {
                table = layer;
                // the file's own problems (a misspelt or missing key, a wrong type, a value
                // out of range) before any override is applied, naming the file
                let own: TrainConfig = parse_config(&table, name).map_err(|e| match e {
                    Error::Config(m) if m.contains("missing field") => Error::Config(format!(
                        "{m}\na config file given alone must hold every key (see configs/); to \
                         change a few keys of a preset, give both: --preset NAME --config {name}"
                    )),
                    e => e,
                })?;
                own.check()
                    .map_err(|e| Error::Config(format!("{name}: {}", strip_config(e))))?;
            }
        }
        let source = match (preset, &file_name) {
            (None, Some(f)) => f.clone(),
            (Some(p), Some(f)) => format!("preset {p} with {f}"),
            (Some(p), None) => format!("preset {p}"),
            (None, None) => {
                return Err(Error::Config(
                    "no config: give a preset or a config file".into(),
                ));
            }
        };
        Self::from_table(table, overrides, &source)
    }

    /// Parses TOML, applies `key.path=value` overrides, and checks the result.
    pub fn from_toml_str(text: &str, overrides: &[String], source: &str) -> Result<Self> {
        Self::from_table(parse_table(text, source)?, overrides, source)
    }

    /// `table` with the overrides applied, parsed and checked.
    fn from_table(mut table: toml::Table, overrides: &[String], source: &str) -> Result<Self> {
        // the sections a config may leave out take their defaults first, so `--set` reaches
        // their keys (`--set discriminator.spectral_norm=true` on a DCGAN preset)
        for (section, default) in [
            (
                "generator",
                toml::Value::try_from(GeneratorConfig::default()),
            ),
            (
                "discriminator",
                toml::Value::try_from(DiscriminatorConfig::default()),
            ),
            ("conv", toml::Value::try_from(ConvConfig::default())),
        ] {
            if !overrides.is_empty()
                && !table.contains_key(section)
                && let Ok(v) = default
            {
                table.insert(section.to_string(), v);
            }
        }
        for o in overrides {
            apply_override(&mut table, o, OPTIONAL)?;
        }
        let cfg = parse_config(&table, source)?;
        cfg.check()?;
        Ok(cfg)
    }

    /// The config as TOML (what is written into a run directory).
    pub fn to_toml(&self) -> Result<String> {
        toml::to_string_pretty(self).map_err(|e| Error::Config(format!("cannot serialise: {e}")))
    }

    /// The schedule of G's weight average, when `g_ema_decay` turns it on.
    pub fn ema_schedule(&self) -> Option<crate::optim::EmaSchedule> {
        (self.g_ema_decay > 0.0).then_some(crate::optim::EmaSchedule {
            decay: self.g_ema_decay,
            start: self.g_ema_start,
            warmup: self.g_ema_warmup,
        })
    }

    /// The DiffAugment policy of `augment` and `augment_strength`.
    pub fn augmentation(&self) -> Result<crate::nn::Augment> {
        crate::nn::Augment::parse(&self.augment, self.augment_strength)
    }

    /// Rejects values that cannot work, naming the key.
    pub fn check(&self) -> Result<()> {
        let bad = |key: &str, why: String| Err(Error::Config(format!("{key}: {why}")));
        if self.model.dcgan_layout().is_some() {
            let name = serde_json::to_value(self.model).unwrap_or_default();
            if self.loss == GanLoss::WganGp {
                // R1 and WGAN-GP differentiate D's input gradient: a second backward pass
                return bad(
                    "loss",
                    format!(
                        "wgan-gp with model = {name}: its gradient penalty needs the gradient \
                         of D's input gradient (double backward), which burn 0.22 does not \
                         have, and the convolutional discriminators have no hand-derived input \
                         gradient (the MLP's has); use loss = \"hinge\" with \
                         discriminator.spectral_norm = true, or loss = \"wgan\" with \
                         discriminator.clip"
                    ),
                );
            }
            // what the fused DCGAN engine (crate::fast::conv) does not implement
            if self.engine == Engine::Fast {
                for (on, key, what) in [
                    (self.classes > 0, "classes", "a conditional DCGAN"),
                    (
                        self.loss == GanLoss::WganGp,
                        "loss",
                        "wgan-gp (its penalty differentiates D's input gradient)",
                    ),
                    (
                        self.optimizer.kind == OptimKind::Rmsprop,
                        "optimizer.kind",
                        "rmsprop",
                    ),
                    (
                        self.schedule == Schedule::Simultaneous,
                        "schedule",
                        "the simultaneous schedule",
                    ),
                    (
                        self.discriminator.spectral_norm,
                        "discriminator.spectral_norm",
                        "spectral normalisation",
                    ),
                    (
                        !self.conv.d_batch_norm,
                        "conv.d_batch_norm",
                        "a discriminator without batch norm",
                    ),
                    (
                        !self.augment.trim().is_empty(),
                        "augment",
                        "differentiable augmentation",
                    ),
                ] {
                    if on {
                        return bad(
                            key,
                            format!(
                                "{what} with model = {name} runs on the burn engine only; set \
                                 engine = \"burn\""
                            ),
                        );
                    }
                }
            }
            if self.conv.ngf == 0 || self.conv.ndf == 0 {
                return bad("conv.ngf / conv.ndf", "must be at least 1".into());
            }
            if self.conv.hidden > 0 && self.model != Architecture::Dcgan28 {
                return bad(
                    "conv.hidden",
                    format!(
                        "a fully connected hidden layer is dcgan-28's (InfoGAN's MNIST model), \
                         not {name}'s; set conv.hidden = 0"
                    ),
                );
            }
        }
        if self.epochs == 0 {
            return bad("epochs", "must be at least 1".into());
        }
        if self.batch_size == 0 {
            return bad("batch_size", "must be at least 1".into());
        }
        if self.k == 0 {
            return bad("k", "must be at least 1".into());
        }
        if self.noise.dim == 0 {
            return bad("noise.dim", "must be at least 1".into());
        }
        if !(self.noise.scale.is_finite() && self.noise.scale > 0.0) {
            return bad(
                "noise.scale",
                format!("{} must be finite and above 0", self.noise.scale),
            );
        }
        if self.generator.hidden.is_empty() || self.generator.hidden.contains(&0) {
            return bad(
                "generator.hidden",
                "needs at least one positive width".into(),
            );
        }
        if self.discriminator.hidden.is_empty() || self.discriminator.hidden.contains(&0) {
            return bad(
                "discriminator.hidden",
                "needs at least one positive width".into(),
            );
        }
        if self.discriminator.pieces == 0 {
            return bad("discriminator.pieces", "must be at least 1".into());
        }
        for (key, p) in [
            ("discriminator.input_keep", self.discriminator.input_keep),
            ("discriminator.hidden_keep", self.discriminator.hidden_keep),
        ] {
            if !(p > 0.0 && p <= 1.0) {
                return bad(key, format!("{p} must be in (0, 1]"));
            }
        }
        for (key, r) in [
            ("generator.init_range", self.generator.init_range),
            ("discriminator.init_range", self.discriminator.init_range),
        ] {
            if !(r.is_finite() && r >= 0.0) {
                return bad(key, format!("{r} must be finite and non-negative"));
            }
        }
        if let Some(c) = self.discriminator.clip
            && !(c.is_finite() && c > 0.0)
        {
            return bad(
                "discriminator.clip",
                format!("{c} must be finite and above 0"),
            );
        }
        let augment = self.augmentation()?;
        if !augment.is_empty() && self.engine == Engine::Fast && self.model == Architecture::Mlp {
            return bad(
                "augment",
                "differentiable augmentation runs on the burn engine; set engine = \"burn\"".into(),
            );
        }
        if self.discriminator.spectral_norm {
            if self.engine == Engine::Fast && self.model == Architecture::Mlp {
                return bad(
                    "discriminator.spectral_norm",
                    "spectral normalisation runs on the burn engine; set engine = \"burn\"".into(),
                );
            }
            if self.loss == GanLoss::WganGp {
                return bad(
                    "discriminator.spectral_norm",
                    "and loss = \"wgan-gp\" both bound D's Lipschitz constant; choose one".into(),
                );
            }
            if self.discriminator.clip.is_some() {
                return bad(
                    "discriminator.spectral_norm",
                    "and discriminator.clip both bound D's Lipschitz constant; choose one \
                     (clipping would also clamp the power-iteration vectors)"
                        .into(),
                );
            }
        }
        if self.loss == GanLoss::Wgan && self.discriminator.clip.is_none() {
            return bad(
                "loss",
                "wgan needs discriminator.clip (the critic's weight clipping; 0.01 in the WGAN paper)".into(),
            );
        }
        if !(self.gp_weight.is_finite() && self.gp_weight >= 0.0) {
            return bad(
                "gp_weight",
                format!("{} must be finite and >= 0", self.gp_weight),
            );
        }
        for (key, v) in [
            ("g_label_scale", self.g_label_scale),
            ("d_label_scale", self.d_label_scale),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return bad(key, format!("{v} must be finite and above 0"));
            }
        }
        if self.classes > 256 {
            return bad("classes", format!("{} is more than 256", self.classes));
        }
        if !(self.g_ema_decay >= 0.0 && self.g_ema_decay < 1.0) {
            return bad(
                "g_ema_decay",
                format!(
                    "{} must be in [0, 1) (0: no average; 0.999 is usual)",
                    self.g_ema_decay
                ),
            );
        }
        let dv = &self.divergence;
        if !(dv.lr_factor > 0.0 && dv.lr_factor < 1.0) {
            return bad(
                "divergence.lr_factor",
                format!("{} must be in (0, 1)", dv.lr_factor),
            );
        }
        let o = &self.optimizer;
        if !(o.lr.is_finite() && o.lr > 0.0) {
            return bad(
                "optimizer.lr",
                format!("{} must be finite and above 0", o.lr),
            );
        }
        if !(o.d_lr_ratio.is_finite() && o.d_lr_ratio > 0.0) {
            return bad(
                "optimizer.d_lr_ratio",
                format!("{} must be finite and above 0", o.d_lr_ratio),
            );
        }
        if !(o.lr_decay.is_finite() && o.lr_decay >= 1.0) {
            return bad(
                "optimizer.lr_decay",
                format!("{} must be finite and >= 1", o.lr_decay),
            );
        }
        if !(o.min_lr.is_finite() && o.min_lr >= 0.0) {
            return bad(
                "optimizer.min_lr",
                format!("{} must be finite and >= 0", o.min_lr),
            );
        }
        for (key, m) in [
            ("optimizer.momentum", o.momentum),
            ("optimizer.final_momentum", o.final_momentum),
        ] {
            if !(0.0..1.0).contains(&m) {
                return bad(key, format!("{m} must be in [0, 1)"));
            }
        }
        for (key, b) in [("optimizer.beta1", o.beta1), ("optimizer.beta2", o.beta2)] {
            if !(0.0..1.0).contains(&b) {
                return bad(key, format!("{b} must be in [0, 1)"));
            }
        }
        if !(o.eps.is_finite() && o.eps > 0.0) {
            return bad(
                "optimizer.eps",
                format!("{} must be finite and above 0", o.eps),
            );
        }
        // what the fused engine of the MLP pair does not implement
        if self.engine == Engine::Fast && self.model == Architecture::Mlp {
            for (on, key, what) in [
                (self.classes > 0, "classes", "a conditional GAN"),
                (
                    self.loss == GanLoss::WganGp,
                    "loss",
                    "wgan-gp (its penalty differentiates D's input gradient)",
                ),
                (
                    o.kind != OptimKind::Sgd,
                    "optimizer.kind",
                    "adam and rmsprop",
                ),
            ] {
                if on {
                    return bad(
                        key,
                        format!("{what} runs on the burn engine only; set engine = \"burn\""),
                    );
                }
            }
        }
        if o.momentum_saturate < o.momentum_start {
            return bad(
                "optimizer.momentum_saturate",
                format!(
                    "{} is before momentum_start {}",
                    o.momentum_saturate, o.momentum_start
                ),
            );
        }
        if self.data.train_end == 0 {
            return bad("data.train_end", "must be at least 1".into());
        }
        if self.keep_checkpoints == 0 {
            return bad("keep_checkpoints", "must be at least 1".into());
        }
        if self.eval_samples == 0 {
            return bad("eval_samples", "must be at least 1".into());
        }
        if self.grid_samples == 0 || self.grid_samples > 10_000 {
            return bad(
                "grid_samples",
                format!("{} must be in 1..=10000", self.grid_samples),
            );
        }
        Ok(())
    }
}

fn preset_text_or_err(name: &str) -> Result<&'static str> {
    preset_text(name).ok_or_else(|| {
        Error::Config(format!(
            "unknown preset {name:?}; available: {} (images), {} (2-D, gan toy)",
            PRESETS.join(", "),
            crate::toy2d::TOY_PRESETS.join(", ")
        ))
    })
}

fn parse_table(text: &str, source: &str) -> Result<toml::Table> {
    toml::from_str(text).map_err(|e| Error::Config(format!("{source}: {}", e.message().trim())))
}

/// The config a table describes; parsed from text (not from the table) so errors quote the
/// offending key and line.
fn parse_config(table: &toml::Table, source: &str) -> Result<TrainConfig> {
    let text = toml::to_string(table).map_err(|e| Error::Config(format!("{source}: {e}")))?;
    toml::from_str(&text).map_err(|e| Error::Config(format!("{source}: {}", e.to_string().trim())))
}

fn strip_config(e: Error) -> String {
    match e {
        Error::Config(m) => m,
        e => e.to_string(),
    }
}

/// Writes every key of `layer` over `base`; a key `base` lacks (and that is not optional)
/// is an error naming the file, so a misspelt key is never ignored.
fn merge_layer(base: &mut toml::Table, layer: toml::Table, prefix: &str, file: &str) -> Result<()> {
    for (k, v) in layer {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(t)) => merge_layer(b, t, &key, file)?,
            (Some(toml::Value::Table(_)), _) => {
                return Err(Error::Config(format!(
                    "{file}: {key} is a section ([{key}]), not a value"
                )));
            }
            (Some(slot), v) => *slot = v,
            (None, v) if OPTIONAL.contains(&key.as_str()) => {
                base.insert(k, v);
            }
            (None, _) => {
                return Err(Error::Config(format!(
                    "{file}: unknown key {key} (not a key of the preset)"
                )));
            }
        }
    }
    Ok(())
}

/// Keys a config may omit (absent from a preset unless set).
const OPTIONAL: &[&str] = &[
    "monitor_ll",
    "tensorboard_every",
    "g_ema_decay",
    "g_ema_start",
    "g_ema_warmup",
    "augment",
    "augment_strength",
    "eval_parzen",
    "model",
    "conv",
    "conv.ngf",
    "conv.ndf",
    "conv.d_batch_norm",
    "conv.hidden",
    "discriminator.spectral_norm",
    "data.source",
    "data.image_size",
    "data.channels",
    "data.background",
    "data.labels",
    "data.on_broken",
    "discriminator.clip",
    "gp_weight",
    "classes",
    "g_label_scale",
    "d_label_scale",
    "optimizer.kind",
    "optimizer.beta1",
    "optimizer.beta2",
    "optimizer.eps",
    "optimizer.d_lr_ratio",
];

/// A TOML value's kind, for error messages.
fn type_name(v: &toml::Value) -> &'static str {
    match v {
        toml::Value::String(_) => "a string",
        toml::Value::Integer(_) => "an integer",
        toml::Value::Float(_) => "a number",
        toml::Value::Boolean(_) => "true or false",
        toml::Value::Datetime(_) => "a date",
        toml::Value::Array(_) => "a list",
        toml::Value::Table(_) => "a section",
    }
}

/// Applies one `a.b.c=value` override (keys must exist unless listed in `optional`); the
/// value is parsed as TOML (number, bool, array, quoted string) and otherwise taken as a bare
/// string.
pub(crate) fn apply_override(
    root: &mut toml::Table,
    assignment: &str,
    optional: &[&str],
) -> Result<()> {
    let (key, raw) = assignment
        .split_once('=')
        .ok_or_else(|| Error::Config(format!("--set {assignment:?}: expected key=value")))?;
    let key = key.trim();
    let raw = raw.trim();
    let value: toml::Value = toml::from_str::<toml::Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_string()));
    let parts: Vec<&str> = key.split('.').collect();
    let (last, parents) = parts
        .split_last()
        .ok_or_else(|| Error::Config(format!("--set {assignment:?}: empty key")))?;
    let mut table = root;
    for (i, p) in parents.iter().enumerate() {
        table = match table.get_mut(*p) {
            Some(toml::Value::Table(t)) => t,
            _ => {
                return Err(Error::Config(format!(
                    "--set {key}: unknown section {:?}",
                    parts[..=i].join(".")
                )));
            }
        };
    }
    if !table.contains_key(*last) && !optional.contains(&key) {
        return Err(Error::Config(format!("--set {key}: unknown key")));
    }
    // the value must have the type of the one it replaces (an integer where a float stands
    // is a float), so the error names the --set, not the preset
    let value = match (table.get(*last), value) {
        (Some(toml::Value::Float(_)), toml::Value::Integer(i)) => toml::Value::Float(i as f64),
        (Some(old), new) if std::mem::discriminant(old) != std::mem::discriminant(&new) => {
            return Err(Error::Config(format!(
                "--set {assignment}: {key} takes {} (like {old}), not {}",
                type_name(old),
                type_name(&new)
            )));
        }
        (_, new) => new,
    };
    table.insert((*last).to_string(), value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_parse_and_check() {
        for name in PRESETS {
            let c = TrainConfig::preset(name, &[]).expect("preset is valid");
            let again = TrainConfig::from_toml_str(&c.to_toml().expect("toml"), &[], "roundtrip")
                .expect("roundtrip");
            assert_eq!(c, again);
        }
        // fashion-paper is the paper's settings unchanged, on other data
        let mut f = TrainConfig::preset("fashion-paper", &[]).expect("fashion preset");
        let m = TrainConfig::preset("mnist-paper", &[]).expect("paper preset");
        assert_eq!(f.data.dir, "/usr/share/datasets/fashion-mnist");
        f.name = m.name.clone();
        f.data.dir = m.data.dir.clone();
        assert_eq!(f, m);
    }

    #[test]
    fn paper_preset_has_the_papers_settings() {
        let c = TrainConfig::preset("mnist-paper", &[]).expect("valid");
        assert_eq!(c.generator.hidden, vec![1200, 1200]);
        assert_eq!(c.discriminator.hidden, vec![240, 240]);
        assert_eq!(c.discriminator.pieces, 5);
        assert_eq!(c.batch_size, 100);
        assert_eq!(c.schedule, Schedule::Simultaneous);
        assert_eq!(c.noise.kind, NoiseKind::Uniform);
        assert!((c.noise.scale - 3f32.sqrt()).abs() < 1e-6);
        assert_eq!((c.optimizer.lr, c.optimizer.lr_decay), (0.1, 1.000004));
        assert_eq!(
            (c.optimizer.momentum, c.optimizer.final_momentum),
            (0.5, 0.7)
        );
        assert_eq!(
            (c.discriminator.input_keep, c.discriminator.hidden_keep),
            (0.8, 0.5)
        );
        assert_eq!(c.data.train_end, 50_000);
    }

    #[test]
    fn infogans_hidden_layer_is_for_dcgan_28_only() {
        for name in ["mnist-dcgan-fc", "fashion-dcgan-fc"] {
            let c = TrainConfig::preset(name, &[]).expect("valid");
            assert_eq!(c.conv.hidden, 1024, "{name}");
        }
        assert_eq!(
            TrainConfig::preset("mnist-dcgan", &[])
                .expect("valid")
                .conv
                .hidden,
            0
        );
        let e = TrainConfig::preset("emoji-dcgan", &["conv.hidden=1024".into()])
            .expect_err("dcgan-32 has no hidden layer")
            .to_string();
        assert!(e.contains("conv.hidden") && e.contains("dcgan-28"), "{e}");
    }

    #[test]
    fn wgan_needs_weight_clipping() {
        let e = TrainConfig::preset("mnist-fast", &["loss=\"wgan\"".into()])
            .expect_err("no clip")
            .to_string();
        assert!(e.contains("discriminator.clip"), "{e}");
        let c = TrainConfig::preset(
            "mnist-fast",
            &["loss=\"wgan\"".into(), "discriminator.clip=0.01".into()],
        )
        .expect("valid");
        assert_eq!(c.discriminator.clip, Some(0.01));
        let again = TrainConfig::from_toml_str(&c.to_toml().expect("toml"), &[], "roundtrip")
            .expect("roundtrip");
        assert_eq!(c, again);
        for bad in ["discriminator.clip=0", "discriminator.clip=-1"] {
            assert!(
                TrainConfig::preset("mnist-fast", &[bad.into()]).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn overrides_apply_and_bad_values_are_named() {
        let c = TrainConfig::preset(
            "mnist-paper",
            &[
                "k=3".into(),
                "loss=minimax".into(),
                "optimizer.lr=0.05".into(),
            ],
        )
        .expect("valid overrides");
        assert_eq!(c.k, 3);
        assert_eq!(c.loss, GanLoss::Minimax);
        assert_eq!(c.optimizer.lr, 0.05);
        let cases = [
            ("optimizer.lr=-1", "optimizer.lr"),
            ("optimizer.d_lr_ratio=0", "optimizer.d_lr_ratio"),
            ("nope=1", "unknown key"),
            ("optimizer.nope=1", "unknown key"),
            ("loss=hinge-ish", "loss"),
            ("discriminator.input_keep=1.5", "input_keep"),
            ("batch_size=0", "batch_size"),
            ("k", "key=value"),
        ];
        for (o, want) in cases {
            let err = TrainConfig::preset("mnist-paper", &[o.to_string()])
                .expect_err(o)
                .to_string();
            assert!(err.contains(want), "{o}: {err:?} should mention {want:?}");
        }
    }

    #[test]
    fn unknown_keys_in_a_file_are_rejected() {
        let text = include_str!("../../../configs/mnist-paper.toml").replace("epochs", "epochz");
        let err = TrainConfig::from_toml_str(&text, &[], "bad.toml")
            .expect_err("typo")
            .to_string();
        assert!(err.contains("bad.toml") && err.contains("epochz"), "{err}");
    }
}
