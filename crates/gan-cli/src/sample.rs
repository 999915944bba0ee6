//! `gan sample`.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;
use gan::npy::NpyWriter;
use gan::train::{checkpoint_image_shape, load_sampler};
use gan::viz::save_grid;

use crate::common::{device, print_json, set_threads, with_weights};

/// Most images in one `.png` grid.
const MAX_GRID: usize = 10_000;

/// Draw samples from a trained run (generator in evaluation mode).
///
/// The output format follows the extension: .png writes a grid, .npy a float32 [N, D] array
/// of values in [0, 1] that NumPy reads with np.load.
#[derive(Args)]
pub struct SampleArgs {
    /// The run directory (its newest valid checkpoint is used).
    #[arg(long)]
    run: PathBuf,
    /// Number of samples.
    #[arg(short = 'n', long, default_value_t = 100, value_parser = crate::common::positive)]
    n: usize,
    /// Output file: .png (grid) or .npy (array).
    #[arg(long)]
    out: PathBuf,
    /// Seed of the noise (same seed, same samples).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Class of every sample (conditional runs, e.g. mnist-cgan) [default: every class equally
    /// often, in blocks: a .png grid of a conditional run has one class per row].
    #[arg(long)]
    class: Option<usize>,
    /// Grid columns for .png [default: square-ish; n / classes for a conditional run].
    #[arg(long, value_parser = crate::common::positive)]
    cols: Option<usize>,
    /// G's weights: live or ema (its moving average, for a run with g_ema_decay) [default:
    /// ema when the run keeps one].
    #[arg(long, value_parser = crate::common::weights)]
    weights: Option<gan::train::Weights>,
    /// Compute threads [default: one per core].
    #[arg(long, value_parser = crate::common::positive)]
    threads: Option<usize>,
    /// Print a JSON summary.
    #[arg(long)]
    json: bool,
}

pub fn run(a: SampleArgs) -> Result<i32> {
    set_threads(a.threads)?;
    let ext = a
        .out
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    if !matches!(ext.as_deref(), Some("png") | Some("npy")) {
        bail!(
            "--out {}: the extension must be .png or .npy",
            a.out.display()
        );
    }
    let png = ext.as_deref() == Some("png");
    if png && a.n > MAX_GRID {
        bail!(
            "-n {}: a .png grid holds at most {MAX_GRID} images; write a .npy for more (it is \
             written in chunks, so any count that fits on disk works)",
            a.n
        );
    }
    let (gan, ckpt, skipped) = load_sampler(&a.run, &device())?;
    let gan = with_weights(gan, a.weights)?;
    for s in skipped {
        eprintln!("warning: {s}");
    }
    let shape = checkpoint_image_shape(&ckpt)?;
    let classes = gan.config().classes;
    let label: Box<dyn Fn(usize) -> usize> = match a.class {
        None if classes > 0 => {
            let n = a.n;
            Box::new(move |i| gan::train::grid_label(i, n, classes))
        }
        None => Box::new(|_| 0),
        Some(_) if classes == 0 => bail!(
            "--class: {} is not a conditional run (its config has no classes)",
            a.run.display()
        ),
        Some(c) if c >= classes => bail!("--class {c}: the run has classes 0..{}", classes - 1),
        Some(c) => Box::new(move |_| c),
    };
    if let Some(parent) = a.out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    let started = std::time::Instant::now();
    if png {
        let mut samples = Vec::with_capacity(a.n * shape.len());
        gan.sample_each_dyn(a.n, a.seed, &label, &mut |rows| {
            samples.extend_from_slice(rows);
            Ok(())
        })?;
        let cols = a.cols.unwrap_or_else(|| {
            if classes > 0 && a.class.is_none() && a.n.is_multiple_of(classes) {
                a.n / classes
            } else {
                (a.n as f64).sqrt().ceil() as usize
            }
        });
        save_grid(&a.out, &samples, shape, cols)?;
    } else {
        // streamed: one chunk of samples in memory at a time, whatever -n is
        // grey: [n, h * w] as always; colour: [n, h, w, c] (channels last, as NumPy holds
        // images)
        let [c, h, w] = shape.dims();
        let mut npy = if c == 1 {
            NpyWriter::create(&a.out, a.n, h * w)?
        } else {
            NpyWriter::create_shaped(&a.out, a.n, &[h, w, c])?
        };
        gan.sample_each_dyn(a.n, a.seed, &label, &mut |rows| {
            npy.write_rows(&shape.channels_last(rows))
        })?;
        npy.finish()?;
    }
    let secs = started.elapsed().as_secs_f64();
    if a.json {
        print_json(&serde_json::json!({
            "out": a.out.display().to_string(),
            "n": a.n,
            "dim": shape.len(),
            "shape": shape.dims(),
            "checkpoint": ckpt.display().to_string(),
            "epoch": gan.progress().epoch,
            "class": a.class,
            "seconds": secs,
            "images_per_sec": a.n as f64 / secs.max(1e-9),
        }));
    } else {
        eprintln!(
            "{} samples from {} -> {} ({:.0} images/s)",
            a.n,
            ckpt.display(),
            a.out.display(),
            a.n as f64 / secs.max(1e-9)
        );
    }
    Ok(0)
}
