//! Pieces shared by subcommands.

use anyhow::{Context, Result};
use burn::tensor::Device;

/// Sets the number of compute threads (rayon's global pool, which the flex backend and its
/// matrix multiplies use). `None` keeps the default (one per core).
pub fn set_threads(threads: Option<usize>) -> Result<()> {
    if let Some(t) = threads {
        anyhow::ensure!(t >= 1, "--threads must be at least 1");
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        anyhow::ensure!(
            t <= cores,
            "--threads {t}: this machine has {cores} cores (more threads than cores only slow \
             the work down)"
        );
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

/// clap parser for counts that must be at least 1 (steps, rounds, sizes, threads).
pub fn positive(s: &str) -> std::result::Result<usize, String> {
    match s.trim().parse::<i128>() {
        Ok(v) if v < 1 => Err(format!("{v} must be at least 1")),
        Ok(v) => usize::try_from(v).map_err(|_| format!("{v} is too large")),
        Err(e) => Err(format!("{s:?} is not a whole number ({e})")),
    }
}

/// clap parser for `--weights`: `live` (G as it trained) or `ema` (its moving average).
pub fn weights(s: &str) -> std::result::Result<gan::train::Weights, String> {
    match s.trim() {
        "live" => Ok(gan::train::Weights::Live),
        "ema" => Ok(gan::train::Weights::Ema),
        other => Err(format!("{other:?}: give live or ema")),
    }
}

/// A sampler drawing from `weights` when given (the run's default otherwise: the average
/// when it keeps one).
pub fn with_weights(
    mut s: Box<dyn gan::train::Sampler>,
    weights: Option<gan::train::Weights>,
) -> Result<Box<dyn gan::train::Sampler>> {
    if let Some(w) = weights {
        s.use_weights(w)?;
    }
    Ok(s)
}

/// [`positive`] for `u64` values (epochs).
pub fn positive_u64(s: &str) -> std::result::Result<u64, String> {
    positive(s).map(|v| v as u64)
}

/// clap parser for finite values above zero (learning rates, widths, scales).
pub fn positive_f64(s: &str) -> std::result::Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        Ok(v) => Err(format!("{v} must be finite and above 0")),
        Err(e) => Err(format!("{s:?} is not a number ({e})")),
    }
}

/// clap parser for values in [0, 1] (a perturbation budget on pixels in [0, 1]).
pub fn unit_f32(s: &str) -> std::result::Result<f32, String> {
    match s.trim().parse::<f32>() {
        Ok(v) if (0.0..=1.0).contains(&v) => Ok(v),
        Ok(v) => Err(format!("{v} must be in [0, 1]")),
        Err(e) => Err(format!("{s:?} is not a number ({e})")),
    }
}

/// The classifier asked for by `--classifier` (`mnist`, `fashion` or a weights file), or, by
/// default, the shipped one of the dataset whose test split is `test` (read from `data_dir`);
/// with a description of what was loaded, for reports.
pub fn classifier_on(
    spec: &Option<String>,
    test: &gan::data::ImageSet,
    data_dir: &str,
    device: &Device,
) -> Result<(gan::models::lenet::LeNet, String)> {
    use gan::classifier::Shipped;
    match spec {
        Some(s) => gan::classifier::load_spec_on(s, device).with_context(|| {
            format!(
                "loading the classifier {s:?} (mnist, fashion, or weights from: gan classifier train --out FILE)"
            )
        }),
        None => {
            let Some(shipped) = Shipped::for_test_set(test) else {
                anyhow::bail!(
                    "no shipped classifier for the data in {data_dir}: its test set is neither \
                     MNIST's nor Fashion-MNIST's; give --classifier FILE (gan classifier train \
                     --data {data_dir} --out FILE trains one)"
                );
            };
            Ok((
                shipped.load_on(device)?,
                format!("shipped {} LeNet", shipped.dataset()),
            ))
        }
    }
}
