//! Generator and discriminator architectures, behind the traits of [`base`].

pub mod base;
pub mod dcgan;
pub mod inception;
pub mod lenet;
mod mlp;

pub use base::{Discriminator, Draw, Generator, ImageShape, PixelRange, one_hot};
pub use mlp::{DMasks, MlpDiscriminator, MlpGenerator, data_logit, noise_values, sample_noise};
