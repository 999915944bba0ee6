//! # gan
//!
//! Generative Adversarial Nets (Goodfellow et al., 2014) on [burn]: a generator G(z) maps
//! noise to data, a discriminator D(x) outputs the probability that x is real, and the two
//! are trained against each other on the value function V(D, G) of the paper's eq. (4).
//!
//! ```no_run
//! use gan::config::TrainConfig;
//! use gan::data::load_splits;
//! use gan::train::{Run, Silent};
//! use burn::tensor::Device;
//!
//! # fn main() -> gan::Result<()> {
//! let cfg = TrainConfig::preset("mnist-paper", &["epochs=1".into()])?;
//! let data = load_splits(std::path::Path::new(&cfg.data.dir), cfg.data.train_end)?;
//! let device = Device::flex().autodiff();
//! let mut run = Run::create(std::path::Path::new("runs/demo"), cfg, data.train, &device)?;
//! run.train(&mut Silent)?;
//! let samples = run.gan.sample(16, 1)?; // 16 x 784 values in [0, 1]
//! assert_eq!(samples.len(), 16 * 784);
//! # Ok(())
//! # }
//! ```

pub mod checkpoint;
pub mod classifier;
pub mod config;
pub mod data;
pub mod error;
pub mod eval;
pub mod fast;
pub mod limits;
pub mod loss;
pub mod models;
pub mod nn;
pub mod npy;
pub mod optim;
pub mod rng;
pub mod theory;
pub mod toy2d;
pub mod train;
pub mod viz;

pub use error::{Error, Result};
