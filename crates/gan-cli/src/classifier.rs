//! `gan classifier`: train and check the reference classifier behind the sample metrics.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use gan::classifier::{ClassifierConfig, accuracy, save_classifier, train_classifier};
use gan::data::load_splits;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use crate::common::{out, print_json, set_threads};

#[derive(Args)]
pub struct ClassifierArgs {
    #[command(subcommand)]
    kind: Kind,
}

#[derive(Subcommand)]
enum Kind {
    /// Train the LeNet-style classifier on the training split and save its weights.
    Train(TrainArgs),
    /// Accuracy of saved weights on the test set.
    Eval(EvalArgs),
}

#[derive(Args)]
struct TrainArgs {
    /// MNIST-format data directory.
    #[arg(long, default_value = "data/mnist")]
    data: PathBuf,
    /// Output weights (safetensors); a `.json` with the provenance is written beside it. An
    /// existing file is kept unless --overwrite is given (the shipped classifiers live in
    /// assets/classifier/).
    #[arg(long)]
    out: PathBuf,
    /// Replace --out if it exists.
    #[arg(long)]
    overwrite: bool,
    /// Passes over the training images.
    #[arg(long, default_value_t = 5, value_parser = crate::common::positive)]
    epochs: usize,
    /// Minibatch size.
    #[arg(long, default_value_t = 64, value_parser = crate::common::positive)]
    batch_size: usize,
    /// Adam learning rate.
    #[arg(long, default_value_t = 1e-3, value_parser = crate::common::positive_f64)]
    lr: f64,
    /// Seed of the initialisation and shuffling.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Compute threads (default: one per core).
    #[arg(long, value_parser = crate::common::positive)]
    threads: Option<usize>,
    /// Print the result as one JSON object.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct EvalArgs {
    /// Weights to check: `mnist` or `fashion` (the shipped ones) or a safetensors file.
    #[arg(long, default_value = "mnist")]
    weights: String,
    /// MNIST-format data directory.
    #[arg(long, default_value = "data/mnist")]
    data: PathBuf,
    /// Compute threads (default: one per core).
    #[arg(long, value_parser = crate::common::positive)]
    threads: Option<usize>,
    /// Print the result as one JSON object.
    #[arg(long)]
    json: bool,
}

pub fn run(a: ClassifierArgs) -> Result<i32> {
    match a.kind {
        Kind::Train(t) => train(t),
        Kind::Eval(e) => eval(e),
    }
}

fn train(a: TrainArgs) -> Result<i32> {
    set_threads(a.threads)?;
    if a.out.exists() && !a.overwrite {
        anyhow::bail!(
            "--out {} exists; choose another file or add --overwrite to replace it",
            a.out.display()
        );
    }
    // the full training file (validation images included): the classifier is a fixed tool
    let splits = load_splits(&a.data, gan::data::PAPER_TRAIN_END).context("loading the data")?;
    let mut train_set = splits.train.clone();
    train_set.bytes.extend_from_slice(&splits.valid.bytes);
    train_set.labels.extend_from_slice(&splits.valid.labels);
    let cfg = ClassifierConfig {
        epochs: a.epochs,
        batch_size: a.batch_size,
        lr: a.lr,
        seed: a.seed,
    };
    let started = std::time::Instant::now();
    let bar = ProgressBar::new(0);
    if a.json {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    bar.set_style(
        ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {elapsed_precise} eta {eta}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    let mut losses = Vec::new();
    let model = train_classifier(
        &train_set,
        &cfg,
        |epoch, loss| {
            losses.push(loss);
            bar.println(format!("epoch {epoch}: mean training loss {loss:.4}"));
        },
        |b, n| {
            bar.set_length(n as u64);
            bar.set_position(b as u64);
        },
    )?;
    bar.finish_and_clear();
    let acc = accuracy(&model, &splits.test)?;
    save_classifier(&model, &a.out)?;
    let provenance = json!({
        "model": "LeNet: conv5x5 1->16, pool2, conv5x5 16->32, pool2, fc 512->128 (features), fc 128->10",
        "command": format!(
            "gan classifier train --data {} --epochs {} --batch-size {} --lr {} --seed {} --out {}",
            a.data.display(), a.epochs, a.batch_size, a.lr, a.seed, a.out.display()
        ),
        "training_images": train_set.len(),
        "test_accuracy": acc,
        "epoch_losses": losses,
        "seconds": started.elapsed().as_secs_f64(),
    });
    let side = a.out.with_extension("json");
    gan::checkpoint::write_atomic(&side, serde_json::to_string_pretty(&provenance)?.as_bytes())?;
    if a.json {
        print_json(&provenance);
    } else {
        out(&format!(
            "test accuracy {:.2}% after {} epochs ({:.0} s); weights {}",
            acc * 100.0,
            a.epochs,
            started.elapsed().as_secs_f64(),
            a.out.display()
        ));
    }
    Ok(0)
}

fn eval(a: EvalArgs) -> Result<i32> {
    set_threads(a.threads)?;
    let (model, _) = gan::classifier::load_spec_on(&a.weights, &burn::tensor::Device::flex())?;
    let splits = load_splits(&a.data, gan::data::PAPER_TRAIN_END).context("loading the data")?;
    let acc = accuracy(&model, &splits.test)?;
    if a.json {
        print_json(
            &json!({ "weights": a.weights, "test_accuracy": acc, "n_test": splits.test.len() }),
        );
    } else {
        out(&format!(
            "{}: test accuracy {:.2}% on {} images",
            a.weights,
            acc * 100.0,
            splits.test.len()
        ));
    }
    Ok(0)
}
