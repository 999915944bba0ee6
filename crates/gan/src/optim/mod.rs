//! Optimizers with the paper's schedules, and the moving average of G's weights.

pub mod ema;
mod sgd;

pub use ema::{Ema, EmaSchedule};
pub use sgd::{Adaptive, MomentumSgd, d_learning_rate_at, learning_rate_at, momentum_at};
