//! Evaluation of generative models.

pub mod attack;
pub mod modes;
pub mod nearest;
pub mod parzen;
pub mod quality;
