//! Evaluation of generative models.

pub mod parzen;
