//! Datasets: MNIST-format files and the paper's split.

pub mod idx;
pub mod mnist;

pub use idx::{IdxArray, parse_idx, read_idx};
pub use mnist::{ImageSet, Splits, load_pair, load_splits};
