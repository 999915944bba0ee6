//! Evaluation of generative models.

pub mod nearest;
pub mod parzen;
