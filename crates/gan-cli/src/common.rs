//! Pieces shared by subcommands.

use anyhow::{Context, Result};
use burn::tensor::Device;

/// Sets the number of compute threads (rayon's global pool, which the flex backend and its
/// matrix multiplies use). `None` keeps the default (one per core).
pub fn set_threads(threads: Option<usize>) -> Result<()> {
    if let Some(t) = threads {
        anyhow::ensure!(t >= 1, "--threads must be at least 1");
        rayon::ThreadPoolBuilder::new()
            .num_threads(t)
            .build_global()
            .context("setting the thread count")?;
    }
    Ok(())
}

/// The CPU device with autodiff.
pub fn device() -> Device {
    Device::flex().autodiff()
}

/// Prints a JSON value on one line.
pub fn print_json(v: &serde_json::Value) {
    out(&v.to_string());
}

/// Prints a line on stdout; a closed pipe (`gan ... | head`) is not an error worth a panic.
pub fn out(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}
