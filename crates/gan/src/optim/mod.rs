//! Optimizers with the paper's schedules.

mod sgd;

pub use sgd::{Adaptive, MomentumSgd, learning_rate_at, momentum_at};
