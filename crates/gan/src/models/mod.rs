//! Generator and discriminator architectures.

pub mod lenet;
mod mlp;

pub use mlp::{DMasks, Discriminator, Generator, data_logit, noise_values, sample_noise};
