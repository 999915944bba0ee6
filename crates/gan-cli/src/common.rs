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

/// Where training runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum DeviceKind {
    /// burn's flex CPU backend.
    Cpu,
    /// An NVIDIA GPU through burn's CUDA backend (build with `--features cuda`).
    Cuda,
    /// Any GPU through burn's wgpu backend (build with `--features wgpu`).
    Wgpu,
}

/// The autodiff device of `kind`, or an error saying how to build the binary that has it.
pub fn device_of(kind: DeviceKind) -> Result<Device> {
    match kind {
        DeviceKind::Cpu => Ok(device()),
        #[cfg(feature = "cuda")]
        DeviceKind::Cuda => Ok(Device::cuda(0).autodiff()),
        #[cfg(feature = "wgpu")]
        DeviceKind::Wgpu => Ok(Device::wgpu(burn::tensor::DeviceKind::default()).autodiff()),
        #[allow(unreachable_patterns)]
        other => anyhow::bail!(
            "this gan was built without GPU support for {other:?}; rebuild with: cargo build --release --features {}",
            format!("{other:?}").to_lowercase()
        ),
    }
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
