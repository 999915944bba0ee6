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

/// An observer that asks to stop after a number of steps (a run interrupted part-way).
pub struct StopAfter(pub usize, pub usize);

impl gan::train::Observer for StopAfter {
    fn on_step(&mut self, _: &gan::train::StepReport<'_>) {
        self.0 += 1;
    }
    fn on_epoch(&mut self, _: &gan::train::EpochMetrics, _: &std::path::Path) {}
    fn stop_requested(&self) -> bool {
        self.0 >= self.1
    }
}
