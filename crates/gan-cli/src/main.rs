//! `gan`: train, sample and evaluate Generative Adversarial Nets.

mod attack;
mod bench;
mod classifier;
mod common;
mod eval;
mod figure;
mod inception;
mod report;
mod sample;
mod theory;
mod toy;
mod train;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

/// Generative Adversarial Nets (Goodfellow et al. 2014): train the paper's models, sample
/// from them, and judge the results.
#[derive(Parser)]
#[command(name = "gan", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train a GAN (a preset or a config file), or resume a run.
    Train(train::TrainArgs),
    /// Draw samples from a trained run into a PNG grid or a .npy array.
    Sample(sample::SampleArgs),
    /// Evaluate samples: Parzen log-likelihood (the paper's Table 1), FID, KID, precision and
    /// recall, classifier score, 2-D mode statistics.
    Eval(eval::EvalArgs),
    /// Time the training step and sampling on fixed workloads.
    Bench(bench::BenchArgs),
    /// Make the paper's figures (samples with nearest training images, interpolation) and
    /// training curves.
    Figure(figure::FigureArgs),
    /// Write one self-contained HTML page of a run: curves, sample grids over epochs,
    /// figures, provenance, checkpoints and config.
    Report(report::ReportArgs),
    /// Train or check the reference classifier behind the sample-quality metrics.
    Classifier(classifier::ClassifierArgs),
    /// Adversarial examples (FGSM) against the reference classifier or a discriminator.
    Attack(attack::AttackArgs),
    /// A GAN on the 2-D mixtures ring8 / grid25, scored for mode collapse.
    Toy(toy::ToyArgs),
    /// Check the paper's theory on 1-D data: optimal D, -log 4 and JSD, Figure 1, saturation.
    Theory(theory::TheoryArgs),
}

/// `cmd` and every subcommand below it taking `-1` as a value, not as a flag, so a negative
/// number gets its value's error ("must be at least 1") instead of "unexpected argument".
fn negative_numbers_as_values(cmd: clap::Command) -> clap::Command {
    cmd.allow_negative_numbers(true)
        .mut_subcommands(negative_numbers_as_values)
}

/// The error and its causes on one line, each cause once (a library error that already
/// quotes its OS error is not followed by the same text again).
fn message(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}

fn main() {
    let matches = negative_numbers_as_values(Cli::command()).get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(c) => c,
        Err(e) => e.exit(),
    };
    // a mistyped GAN_SIMD must not silently fall back to the detected kernels
    if let Err(e) = gan::fast::cpu::Simd::from_env() {
        eprintln!("error: {e}");
        std::process::exit(2);
    }
    let result = match cli.command {
        Command::Train(a) => train::run(a),
        Command::Sample(a) => sample::run(a),
        Command::Eval(a) => eval::run(a),
        Command::Figure(a) => figure::run(a),
        Command::Bench(a) => bench::run(a),
        Command::Theory(a) => theory::run(a),
        Command::Classifier(a) => classifier::run(a),
        Command::Attack(a) => attack::run(a),
        Command::Toy(a) => toy::run(a),
        Command::Report(a) => report::run(a),
    };
    match result {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("error: {}", message(&e));
            std::process::exit(1);
        }
    }
}
