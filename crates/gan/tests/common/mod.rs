#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::OnceLock;

use gan::data::{ImageSet, Splits, load_splits};

pub fn mnist_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/mnist")
}

/// The bundled MNIST, loaded once per test binary.
pub fn mnist() -> &'static Splits {
    static S: OnceLock<Splits> = OnceLock::new();
    S.get_or_init(|| load_splits(&mnist_dir(), 50_000).expect("bundled MNIST loads"))
}

pub fn train_subset(n: usize) -> ImageSet {
    mnist().train.subset(0..n).expect("subset")
}
