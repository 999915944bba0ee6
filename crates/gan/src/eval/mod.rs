//! Evaluation of generative models.

pub mod attack;
pub mod inception;
pub mod modes;
pub mod nearest;
pub mod parzen;
pub mod quality;
