//! Generator and discriminator architectures.

mod mlp;

pub use mlp::{DMasks, Discriminator, Generator, noise_values, sample_noise};
