//! Datasets: MNIST-format files and the paper's split.

pub mod idx;
pub mod mnist;

pub use idx::{IdxArray, parse_idx, read_idx};
pub use mnist::{ImageSet, ROOT_ENV, Splits, load_pair, load_splits, resolve_dir};

/// The paper's split of MNIST's 60,000 training images: 0..50000 train, 50000..60000
/// validation (what every command uses unless a run's config says otherwise).
pub const PAPER_TRAIN_END: usize = 50_000;

/// Pixels of a 28 x 28 MNIST-format image (the paper's model's data dimension).
pub const MNIST_DIM: usize = 28 * 28;
