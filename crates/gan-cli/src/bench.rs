//! `gan bench`: timings on fixed workloads, for side-by-side comparisons.

use std::time::Instant;

use anyhow::Result;
use clap::{Args, Subcommand};
use gan::config::TrainConfig;
use gan::data::{MNIST_DIM, MNIST_SHAPE};
use gan::rng::Rng;
use gan::train::Gan;

use crate::common::{device, out, print_json, set_threads};

/// Time the training step or sampling on the paper's MNIST model.
#[derive(Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    what: What,
}

#[derive(Subcommand)]
enum What {
    /// The paper's training step at batch 100 on a fixed random batch (the workload of
    /// bench/torch_paper_step.py): median and min ms per step.
    Step(StepArgs),
    /// Sampling throughput of the paper's generator (images/s).
    Sample(SampleBench),
    /// A DCGAN training step (Algorithm 1, k = 1, Adam) on a fixed random batch, the workload
    /// of bench/torch_dcgan_step.py: median and min ms per step.
    Conv(ConvBench),
}

#[derive(Args)]
struct ConvBench {
    /// `dcgan-28`, `dcgan-32` or `dcgan-64`.
    #[arg(long, default_value = "dcgan-28")]
    model: String,
    /// Image channels (1 or 3).
    #[arg(long, default_value_t = 1, value_parser = crate::common::positive)]
    channels: usize,
    /// `dcgan-28` only: InfoGAN's hidden fully connected layer of this width in G and D
    /// (`conv.hidden`; 1024 in `mnist-dcgan-fc`, 0: none).
    #[arg(long, default_value_t = 0)]
    hidden: usize,
    /// `fast` (the fused DCGAN engine) or `burn` (autodiff reference).
    #[arg(long, default_value = "fast")]
    engine: String,
    /// Batch size.
    #[arg(long, default_value_t = 64, value_parser = crate::common::positive)]
    batch: usize,
    /// Timed steps.
    #[arg(long, default_value_t = 30, value_parser = crate::common::positive)]
    steps: usize,
    /// Untimed warm-up steps.
    #[arg(long, default_value_t = 5)]
    warmup: usize,
    /// Compute threads.
    #[arg(long, default_value_t = 2, value_parser = crate::common::positive)]
    threads: usize,
    /// Print one JSON line.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct StepArgs {
    /// `alternating` (Algorithm 1, k = 1: the peer script) or `simultaneous` (the authors').
    #[arg(long, default_value = "alternating")]
    schedule: String,
    /// `fast` (fused step) or `burn` (autodiff reference).
    #[arg(long, default_value = "fast")]
    engine: String,
    /// Timed steps.
    #[arg(long, default_value_t = 200, value_parser = crate::common::positive)]
    steps: usize,
    /// Untimed warm-up steps.
    #[arg(long, default_value_t = 30)]
    warmup: usize,
    /// Batch size.
    #[arg(long, default_value_t = 100, value_parser = crate::common::positive)]
    batch: usize,
    /// Compute threads.
    #[arg(long, default_value_t = 2, value_parser = crate::common::positive)]
    threads: usize,
    /// Print one JSON line.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct SampleBench {
    /// `mlp` (the paper's generator) or a DCGAN layout (`dcgan-28`, `dcgan-32`, `dcgan-64`;
    /// the twin is `bench/torch_dcgan_step.py --sample`).
    #[arg(long, default_value = "mlp")]
    model: String,
    /// Image channels of a DCGAN generator.
    #[arg(long, default_value_t = 1, value_parser = crate::common::positive)]
    channels: usize,
    /// Images to generate per round.
    #[arg(short = 'n', long, default_value_t = 10_000, value_parser = crate::common::positive)]
    n: usize,
    /// Timed rounds (the median is reported).
    #[arg(long, default_value_t = 5, value_parser = crate::common::positive)]
    rounds: usize,
    /// Compute threads.
    #[arg(long, default_value_t = 2, value_parser = crate::common::positive)]
    threads: usize,
    /// Print one JSON line.
    #[arg(long)]
    json: bool,
}

pub fn run(a: BenchArgs) -> Result<i32> {
    match a.what {
        What::Step(s) => step(s),
        What::Sample(s) => sample(s),
        What::Conv(c) => conv(c),
    }
}

/// A fresh DCGAN pair of layout `model` for `channels`-channel images: `mnist-dcgan`'s
/// settings with `sets` on top.
fn dcgan(
    model: &str,
    channels: usize,
    sets: &[String],
) -> Result<
    gan::train::Gan<gan::models::dcgan::DcganGenerator, gan::models::dcgan::DcganDiscriminator>,
> {
    use gan::train::Family;
    let mut sets = sets.to_vec();
    sets.push(format!("model={model:?}"));
    let cfg = TrainConfig::preset("mnist-dcgan", &sets)?;
    let side = cfg
        .model
        .dcgan_layout()
        .ok_or_else(|| anyhow::anyhow!("--model {model}: not a DCGAN layout"))?
        .side();
    let shape = gan::models::ImageShape::new(channels, side, side)?;
    Ok(gan::train::Dcgan::build(cfg, shape, None, &device())?)
}

fn conv(a: ConvBench) -> Result<i32> {
    set_threads(Some(a.threads))?;
    let mut gan = dcgan(
        &a.model,
        a.channels,
        &[
            format!("batch_size={}", a.batch),
            format!("engine={:?}", a.engine),
            format!("conv.hidden={}", a.hidden),
        ],
    )?;
    let mut rng = Rng::new(0);
    let x: Vec<f32> = (0..a.batch * gan.data_dim())
        .map(|_| rng.uniform())
        .collect();
    let (median, min) = time_steps(&mut gan, &x, a.warmup, a.steps)?;
    if a.json {
        print_json(&serde_json::json!({
            "impl": format!("gan {} engine", a.engine), "model": a.model, "channels": a.channels,
            "hidden": a.hidden, "threads": a.threads, "batch": a.batch,
            "median_ms": (median * 1000.0).round() / 1000.0, "min_ms": (min * 1000.0).round() / 1000.0,
        }));
    } else {
        out(&format!(
            "{} step ({} engine), {} channels, hidden {}, batch {}, {} threads: median {median:.2} ms, min {min:.2} ms ({} steps)",
            a.model, a.engine, a.channels, a.hidden, a.batch, a.threads, a.steps
        ));
    }
    Ok(0)
}

/// Median and min milliseconds of `steps` training iterations on the batch `x`, after
/// `warmup` untimed ones.
fn time_steps<G: gan::models::Generator, D: gan::models::Discriminator>(
    gan: &mut Gan<G, D>,
    x: &[f32],
    warmup: usize,
    steps: usize,
) -> Result<(f64, f64)> {
    let batch = [x.to_vec()];
    let mut times = Vec::with_capacity(steps);
    for i in 0..warmup + steps {
        let t = Instant::now();
        gan.train_step(&batch)?;
        if i >= warmup {
            times.push(t.elapsed().as_secs_f64() * 1e3);
        }
    }
    times.sort_by(f64::total_cmp);
    Ok((times[times.len() / 2], times[0]))
}

fn paper(overrides: &[String]) -> Result<TrainConfig> {
    Ok(TrainConfig::preset("mnist-paper", overrides)?)
}

fn step(a: StepArgs) -> Result<i32> {
    set_threads(Some(a.threads))?;
    let cfg = paper(&[
        format!("schedule={:?}", a.schedule),
        format!("engine={:?}", a.engine),
        format!("batch_size={}", a.batch),
        "k=1".into(),
    ])?;
    let mut rng = Rng::new(0);
    let x: Vec<f32> = (0..a.batch * MNIST_DIM).map(|_| rng.uniform()).collect();
    let mut gan = Gan::new(cfg, MNIST_SHAPE, None, &device())?;
    let (median, min) = time_steps(&mut gan, &x, a.warmup, a.steps)?;
    if a.json {
        print_json(&serde_json::json!({
            "impl": format!("gan {} engine", a.engine), "schedule": a.schedule, "threads": a.threads,
            "batch": a.batch, "median_ms": (median * 1000.0).round() / 1000.0, "min_ms": (min * 1000.0).round() / 1000.0,
        }));
    } else {
        out(&format!(
            "{} step, {} engine, batch {}, {} threads: median {median:.2} ms, min {min:.2} ms ({} steps)",
            a.schedule, a.engine, a.batch, a.threads, a.steps
        ));
    }
    Ok(0)
}

fn sample(a: SampleBench) -> Result<i32> {
    use gan::train::Sampler;
    set_threads(Some(a.threads))?;
    let gan: Box<dyn Sampler> = if a.model == "mlp" {
        Box::new(Gan::new(
            paper(&["engine=\"burn\"".into()])?,
            MNIST_SHAPE,
            None,
            &device(),
        )?)
    } else {
        Box::new(dcgan(&a.model, a.channels, &[])?)
    };
    let mut rates = Vec::new();
    for r in 0..a.rounds + 1 {
        let t = Instant::now();
        let s = gan.sample(a.n, r as u64)?;
        let secs = t.elapsed().as_secs_f64();
        std::hint::black_box(s);
        if r > 0 {
            rates.push(a.n as f64 / secs);
        }
    }
    rates.sort_by(f64::total_cmp);
    let median = rates[rates.len() / 2];
    if a.json {
        print_json(&serde_json::json!({
            "impl": "gan", "model": a.model, "images_per_sec": median.round(), "n": a.n,
            "threads": a.threads,
        }));
    } else {
        out(&format!(
            "sampling the {} generator: {median:.0} images/s ({} threads)",
            a.model, a.threads
        ));
    }
    Ok(0)
}
