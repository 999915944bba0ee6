//! A user's own generator and discriminator, trained by the library's loop.
//!
//! A small convolutional pair (DCGAN-like: transposed convolutions up, strided convolutions
//! down) written against the public traits [`gan::models::Generator`] and
//! [`gan::models::Discriminator`], trained for a few steps on the bundled emoji folder
//! (16 x 16 RGB) with [`gan::train::Run`]: the same Algorithm 1, losses, optimizers,
//! checkpoints, exact resume and sample grids as the paper's model. Then the run is reopened
//! from its checkpoint into fresh modules and sampled.
//!
//! ```text
//! cargo run --release -p gan --example custom_models [OUT_DIR]
//! ```
//!
//! `cargo test` runs it (`tests/custom_models.rs`).

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::{leaky_relu, relu, sigmoid};
use burn::tensor::{Device, Tensor};

use gan::config::{DataConfig, Engine, OptimKind, TrainConfig};
use gan::models::{Discriminator, Generator, ImageShape};
use gan::rng::Rng;
use gan::train::{Gan, Run, Silent};

/// Noise dimensions.
const NOISE: usize = 32;
/// Image side.
const SIDE: usize = 16;

/// G: noise -> 64 x 4 x 4 -> 32 x 8 x 8 -> 3 x 16 x 16, sigmoid output in [0, 1].
#[derive(Module, Debug)]
pub struct ConvG {
    project: Linear,
    up1: ConvTranspose2d,
    up2: ConvTranspose2d,
}

impl ConvG {
    /// A fresh G on `device`.
    pub fn new(device: &Device) -> Self {
        let up = |c_in, c_out| {
            ConvTranspose2dConfig::new([c_in, c_out], [4, 4])
                .with_stride([2, 2])
                .with_padding([1, 1])
                .init(device)
        };
        Self {
            project: LinearConfig::new(NOISE, 64 * 4 * 4).init(device),
            up1: up(64, 32),
            up2: up(32, 3),
        }
    }
}

impl Generator for ConvG {
    fn images(&self, z: Tensor<2>, _labels: Option<Tensor<2>>) -> Tensor<4> {
        let [n, _] = z.dims();
        let h = relu(self.project.forward(z)).reshape([n, 64, 4, 4]);
        let h = relu(self.up1.forward(h));
        sigmoid(self.up2.forward(h))
    }
}

/// D: 3 x 16 x 16 -> 32 x 8 x 8 -> 64 x 4 x 4 -> one logit; deterministic (no dropout).
#[derive(Module, Debug)]
pub struct ConvD {
    down1: Conv2d,
    down2: Conv2d,
    out: Linear,
}

impl ConvD {
    /// A fresh D on `device`.
    pub fn new(device: &Device) -> Self {
        let down = |c_in, c_out| {
            Conv2dConfig::new([c_in, c_out], [4, 4])
                .with_stride([2, 2])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(device)
        };
        Self {
            down1: down(3, 32),
            down2: down(32, 64),
            out: LinearConfig::new(64 * 4 * 4, 1).init(device),
        }
    }
}

impl Discriminator for ConvD {
    type Draw = ();

    fn draw(&self, _n: usize, _rng: &mut Rng, _device: &Device) {}

    fn logits(&self, x: Tensor<4>, _labels: Option<Tensor<2>>, _draw: Option<&()>) -> Tensor<2> {
        let [n, ..] = x.dims();
        let h = leaky_relu(self.down1.forward(x), 0.2);
        let h = leaky_relu(self.down2.forward(h), 0.2);
        self.out.forward(h.reshape([n, 64 * 4 * 4]))
    }
}

/// The run's settings: the library's config with the burn engine (the fused one is the
/// paper's MLP pair's), Adam 2e-4 / beta1 0.5 (DCGAN's), batches of 32, one epoch.
pub fn config() -> gan::error::Result<TrainConfig> {
    let mut cfg = TrainConfig::preset("mnist-fast", &[])?;
    cfg.name = "custom-conv".into();
    cfg.engine = Engine::Burn;
    cfg.batch_size = 32;
    cfg.epochs = 1;
    cfg.grid_samples = 16;
    cfg.noise.dim = NOISE;
    cfg.optimizer.kind = OptimKind::Adam;
    cfg.optimizer.lr = 2e-4;
    cfg.optimizer.beta1 = 0.5;
    cfg.optimizer.beta2 = 0.999;
    cfg.optimizer.lr_decay = 1.0;
    cfg.data = DataConfig {
        image_size: SIDE,
        channels: 3,
        ..DataConfig::new("data/emoji-noto-64")
    };
    Ok(cfg)
}

/// What the example did, for its test.
pub struct Outcome {
    /// The run directory.
    pub dir: PathBuf,
    /// Training iterations done.
    pub steps: u64,
    /// G's samples after training (seed 7).
    pub trained: Vec<f32>,
    /// The same samples from the run reopened at its checkpoint into fresh modules.
    pub reloaded: Vec<f32>,
    /// The same samples from the untrained G.
    pub untrained: Vec<f32>,
}

/// Trains the pair for `images / 32` steps into `out`, reopens it and samples it.
pub fn run(out: &Path, images: usize) -> Result<Outcome, Box<dyn std::error::Error>> {
    let device = Device::flex().autodiff();
    let cfg = config()?;
    let (splits, _) = gan::data::load_data(&cfg.data)?;
    let train = splits
        .train
        .select(&(0..images.min(splits.train.len())).collect::<Vec<_>>());
    let shape = ImageShape::new(3, SIDE, SIDE)?;
    let gan = Gan::from_models(
        cfg.clone(),
        shape,
        ConvG::new(&device),
        ConvD::new(&device),
        &device,
    )?;
    let untrained = gan.sample(16, 7)?;
    let mut run = Run::create_with(out, gan, train.clone())?;
    run.train(&mut Silent)?;
    let steps = run.gan.progress.step;
    let trained = run.gan.sample(16, 7)?;
    gan::viz::save_grid(&out.join("samples.png"), &trained, shape, 4)?;
    drop(run);
    // reopen the run from its newest checkpoint, into fresh modules of the same architecture
    let fresh = Gan::from_models(
        cfg,
        shape,
        ConvG::new(&device),
        ConvD::new(&device),
        &device,
    )?;
    let (reopened, ckpt, _) = Run::resume_with(out, fresh, train, None)?;
    eprintln!(
        "reopened {} at step {}",
        ckpt.display(),
        reopened.gan.progress.step
    );
    let reloaded = reopened.gan.sample(16, 7)?;
    Ok(Outcome {
        dir: out.to_path_buf(),
        steps,
        trained,
        reloaded,
        untrained,
    })
}

#[allow(dead_code)]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("gan-custom-models"));
    if out.join("checkpoints").is_dir() {
        return Err(format!(
            "{} already holds a run; give another directory",
            out.display()
        )
        .into());
    }
    let o = run(&out, 512)?;
    println!(
        "trained {} steps of a convolutional pair on 16 x 16 emoji: {}/samples.png, \
         checkpoints in {}/checkpoints",
        o.steps,
        o.dir.display(),
        o.dir.display()
    );
    Ok(())
}
