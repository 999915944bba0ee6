//! `gan eval`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use gan::data::load_splits;
use gan::eval::parzen::evaluate;
use gan::npy::read_npy_f32;
use gan::train::{load_latest, read_run_config};

use crate::common::{device, out, print_json, set_threads};

/// Evaluate a model.
#[derive(Args)]
pub struct EvalArgs {
    #[command(subcommand)]
    metric: Metric,
}

#[derive(Subcommand)]
enum Metric {
    /// Parzen-window log-likelihood of the test set (the paper's Table 1 protocol).
    Parzen(ParzenArgs),
}

/// The authors' protocol: a Gaussian window on N samples, sigma chosen among 10 values
/// logarithmically spaced in [0.1, 1] on the first 1,000 validation images, then the mean
/// log-likelihood of the test images (nats) with its standard error.
#[derive(Args)]
struct ParzenArgs {
    /// Take the kernels from this run's newest checkpoint.
    #[arg(long, conflicts_with = "samples", required_unless_present = "samples")]
    run: Option<PathBuf>,
    /// Take the kernels from a float32 [N, 784] .npy file (any model's samples, or real data).
    #[arg(long)]
    samples: Option<PathBuf>,
    /// Number of samples drawn from the run.
    #[arg(short = 'n', long, default_value_t = 10_000)]
    n: usize,
    /// Seed of the samples drawn from the run.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Use this window width instead of choosing it on validation data.
    #[arg(long)]
    sigma: Option<f64>,
    /// Validation images used to choose sigma.
    #[arg(long, default_value_t = 1_000)]
    n_valid: usize,
    /// MNIST-format data directory [default: the run's, or data/mnist].
    #[arg(long)]
    data: Option<PathBuf>,
    /// Compute threads [default: one per core].
    #[arg(long)]
    threads: Option<usize>,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

pub fn run(a: EvalArgs) -> Result<i32> {
    match a.metric {
        Metric::Parzen(p) => parzen(p),
    }
}

fn parzen(a: ParzenArgs) -> Result<i32> {
    set_threads(a.threads)?;
    let (data_dir, train_end) = match (&a.data, &a.run) {
        (Some(d), _) => (d.clone(), 50_000),
        (None, Some(r)) => {
            let cfg = read_run_config(r)?;
            (PathBuf::from(cfg.data.dir), cfg.data.train_end)
        }
        (None, None) => (PathBuf::from("data/mnist"), 50_000),
    };
    let splits =
        load_splits(Path::new(&data_dir), train_end).context("loading the evaluation data")?;
    let d = splits.test.dim();
    let (kernels, source) = match (&a.run, &a.samples) {
        (Some(r), _) => {
            let (gan, ckpt, _) = load_latest(r, &device())?;
            (gan.sample(a.n, a.seed)?, ckpt.display().to_string())
        }
        (None, Some(f)) => {
            let (v, _, cols) = read_npy_f32(f)?;
            if cols != d {
                bail!(
                    "{}: samples have {cols} columns, the data has {d}",
                    f.display()
                );
            }
            (v, f.display().to_string())
        }
        (None, None) => bail!("give --run RUN_DIR or --samples FILE.npy"),
    };
    let n_valid = a.n_valid.min(splits.valid.len());
    let valid = &splits.valid.first_pixels(n_valid);
    let started = std::time::Instant::now();
    let r = evaluate(&kernels, valid, &splits.test.pixels(), d, a.sigma)?;
    let secs = started.elapsed().as_secs_f64();
    if a.json {
        let mut v = serde_json::to_value(&r)?;
        v["source"] = source.into();
        v["seconds"] = secs.into();
        print_json(&v);
    } else {
        for (s, ll) in &r.valid_ll_by_sigma {
            out(&format!(
                "  sigma {s:.4}: validation log-likelihood {ll:.2}"
            ));
        }
        out(&format!(
            "Parzen log-likelihood of {} test images: {:.1} ± {:.1} nats (sigma {:.4}, {} kernels from {source}; {:.1} s)",
            r.n_test, r.test_ll, r.test_se, r.sigma, r.n_kernels, secs
        ));
    }
    Ok(0)
}
