//! Generator and discriminator architectures.

mod mlp;

pub use mlp::{DMasks, Discriminator, Generator, sample_noise};
