//! `gan report`: one self-contained HTML page of a run.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use gan::viz::report::{Provenance, REPORT, RunReport};

/// Write one self-contained HTML page of a run: curves, sample grids over epochs,
/// figures, provenance, checkpoints and config.
#[derive(Args)]
pub struct ReportArgs {
    /// The run directory (or a 2-D run's output directory).
    #[arg(long)]
    run: PathBuf,
    /// Output file [default: RUN/report.html].
    #[arg(long)]
    out: Option<PathBuf>,
    /// Rewrite the page every `--every` seconds while the run trains (the page reloads
    /// itself as often); stops when the run has all its epochs, or on Ctrl-C.
    #[arg(long)]
    watch: bool,
    /// Seconds between rewrites with --watch.
    #[arg(long, default_value_t = 30, value_parser = crate::common::positive_u64)]
    every: u64,
}

pub fn run(a: ReportArgs) -> Result<i32> {
    let out = a.out.clone().unwrap_or_else(|| a.run.join(REPORT));
    let prov = Provenance::here(env!("CARGO_PKG_VERSION"), option_env!("GAN_COMMIT"));
    loop {
        let r = RunReport::read(&a.run)?;
        let page = r.html(&prov, a.watch.then_some(a.every))?;
        gan::checkpoint::write_atomic(&out, page.as_bytes())
            .with_context(|| format!("writing {}", out.display()))?;
        let done = r.metrics.last().map_or(0, |m| m.epoch);
        println!(
            "{} ({} of {} epochs, {} grids shown, {:.1} MB)",
            out.display(),
            done,
            r.config.epochs,
            r.shown_grids().len(),
            page.len() as f64 / 1e6
        );
        if !a.watch || done >= r.config.epochs {
            return Ok(0);
        }
        std::thread::sleep(Duration::from_secs(a.every));
    }
}
