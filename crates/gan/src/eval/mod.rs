//! Evaluation of generative models.

pub mod attack;
pub mod nearest;
pub mod parzen;
pub mod quality;
