//! Helpers shared by the CLI's integration tests.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output};

/// The `gan` binary under test.
pub fn gan_path() -> &'static str {
    env!("CARGO_BIN_EXE_gan")
}

/// The repository root (where `data/mnist` and `assets/` are).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `gan` run from the repository root.
pub fn gan() -> Command {
    let mut c = Command::new(gan_path());
    c.current_dir(root());
    c
}

/// Runs `gan args...` to completion.
pub fn run(args: &[&str]) -> Output {
    gan().args(args).output().expect("gan runs")
}

/// stdout and stderr together, for assertions and failure messages.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `gan train` of a tiny model on 2,000 training images: an epoch takes well under a second.
pub const TINY: &[&str] = &[
    "train",
    "--preset",
    "mnist-fast",
    "--set",
    "generator.hidden=[32]",
    "--set",
    "discriminator.hidden=[16]",
    "--set",
    "data.train_end=2000",
    "--set",
    "grid_samples=16",
];
