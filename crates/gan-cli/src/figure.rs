//! `gan figure`: the paper's sample figures.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use gan::eval::nearest::nearest;
use gan::rng::Rng;
use gan::train::{checkpoint_image_shape, files, load_sampler, read_run_config};
use gan::viz::{read_metrics, save_comparison, save_curves, save_grid};

use crate::common::{device, set_threads};

/// Make the paper's figures from a trained run.
#[derive(Args)]
pub struct FigureArgs {
    #[command(subcommand)]
    kind: Kind,
}

#[derive(Subcommand)]
enum Kind {
    /// Figure 2: rows of samples; the rightmost column is the nearest training image of the
    /// sample beside it (shows the model is not memorising the training set).
    Samples(Common),
    /// Figure 3: each row interpolates linearly in z space between two noise vectors.
    Interpolate(Common),
    /// Training curves from metrics.jsonl: losses, D(x) and D(G(z)), the Parzen estimate.
    Curves(CurvesArgs),
    /// Runs side by side (e.g. two seeds): the Parzen estimate and the FID over epochs.
    Compare(CompareArgs),
}

#[derive(Args)]
struct CompareArgs {
    /// A run directory (give two or more).
    #[arg(long, required = true, num_args = 1)]
    run: Vec<PathBuf>,
    /// A legend label per run, in order [default: the directories' names].
    #[arg(long)]
    label: Vec<String>,
    /// Output PNG.
    #[arg(long)]
    out: PathBuf,
}

#[derive(Args)]
struct CurvesArgs {
    /// The run directory.
    #[arg(long)]
    run: PathBuf,
    /// Output PNG.
    #[arg(long)]
    out: PathBuf,
}

#[derive(Args)]
struct Common {
    /// The run directory.
    #[arg(long)]
    run: PathBuf,
    /// Output PNG.
    #[arg(long)]
    out: PathBuf,
    /// Rows of the figure.
    #[arg(long, default_value_t = 6, value_parser = crate::common::positive)]
    rows: usize,
    /// Images per row: samples (`samples`, plus the nearest-neighbour column), or the steps
    /// of each interpolation including both ends (`interpolate`).
    #[arg(long, default_value_t = 8, value_parser = crate::common::positive)]
    cols: usize,
    /// Seed of the noise.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// MNIST-format data directory [default: the run's].
    #[arg(long)]
    data: Option<PathBuf>,
    /// Compute threads [default: one per core].
    #[arg(long, value_parser = crate::common::positive)]
    threads: Option<usize>,
}

pub fn run(a: FigureArgs) -> Result<i32> {
    let (c, interpolate) = match a.kind {
        Kind::Samples(c) => (c, false),
        Kind::Interpolate(c) => (c, true),
        Kind::Curves(c) => {
            save_curves(&c.run.join(files::METRICS_JSONL), &c.out)?;
            eprintln!("wrote {}", c.out.display());
            return Ok(0);
        }
        Kind::Compare(c) => {
            if c.run.len() < 2 || (!c.label.is_empty() && c.label.len() != c.run.len()) {
                bail!("give two or more --run, and either no --label or one per --run");
            }
            let runs = c
                .run
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    let label = c.label.get(i).cloned().unwrap_or_else(|| {
                        r.file_name()
                            .map_or_else(|| r.display().to_string(), |n| n.to_string_lossy().into())
                    });
                    Ok((label, read_metrics(&r.join(files::METRICS_JSONL))?))
                })
                .collect::<Result<Vec<_>>>()?;
            save_comparison(&runs, &c.out)?;
            eprintln!("wrote {}", c.out.display());
            return Ok(0);
        }
    };
    set_threads(c.threads)?;
    if c.rows == 0 || c.cols < 2 {
        bail!("--rows must be at least 1 and --cols at least 2");
    }
    let (gan, ckpt, _) = load_sampler(&c.run, &device())?;
    let shape = checkpoint_image_shape(&ckpt)?;
    let d = shape.len();
    let mut rng = Rng::new(c.seed);
    let images = if interpolate {
        let dim = gan.config().noise.dim;
        let ends = gan.noise(2 * c.rows, &mut rng);
        let mut z = Vec::with_capacity(c.rows * c.cols * dim);
        for r in 0..c.rows {
            let (a, b) = (
                &ends[2 * r * dim..(2 * r + 1) * dim],
                &ends[(2 * r + 1) * dim..(2 * r + 2) * dim],
            );
            for k in 0..c.cols {
                let t = k as f32 / (c.cols - 1) as f32;
                z.extend(a.iter().zip(b).map(|(x, y)| (1.0 - t) * x + t * y));
            }
        }
        gan.generate_from(z)?
    } else {
        let mut cfg = read_run_config(&c.run)?;
        if let Some(dd) = &c.data {
            cfg.data.dir = dd.display().to_string();
        }
        let (splits, _) = gan::data::load_data(&cfg.data)
            .context("loading the training images for nearest neighbours")?;
        let samples = gan.generate_from(gan.noise(c.rows * c.cols, &mut rng))?;
        let last: Vec<f32> = samples
            .chunks_exact(c.cols * d)
            .flat_map(|row| row[(c.cols - 1) * d..].to_vec())
            .collect();
        let nn = nearest(&splits.train.pixels(), &last, d)?;
        let mut out = Vec::with_capacity(c.rows * (c.cols + 1) * d);
        for (row, &i) in samples.chunks_exact(c.cols * d).zip(&nn) {
            out.extend_from_slice(row);
            splits.train.push_image(i, &mut out);
        }
        out
    };
    let cols = if interpolate { c.cols } else { c.cols + 1 };
    save_grid(&c.out, &images, shape, cols)?;
    eprintln!(
        "wrote {} ({} rows from {})",
        c.out.display(),
        c.rows,
        ckpt.display()
    );
    Ok(0)
}
