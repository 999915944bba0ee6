//! `gan attack fgsm`: adversarial examples against the reference classifier or a trained
//! discriminator.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use gan::classifier::{argmax_rows, probabilities};
use gan::data::load_splits;
use gan::eval::attack::{FgsmRow, fgsm_classifier, fgsm_discriminator, perturb};
use gan::train::load_latest;
use gan::viz::{AdversarialExample, save_adversarial_figure};
use serde_json::json;

use crate::common::{device, out, print_json, set_threads};

#[derive(Args)]
pub struct AttackArgs {
    #[command(subcommand)]
    kind: Kind,
}

#[derive(Subcommand)]
enum Kind {
    /// The fast gradient sign method: x' = clip(x + epsilon sign(grad_x loss), 0, 1).
    Fgsm(FgsmArgs),
}

#[derive(Args)]
struct FgsmArgs {
    /// What to attack: the reference classifier (default; --run attacks a discriminator).
    #[arg(long, value_parser = ["classifier"], conflicts_with = "run")]
    target: Option<String>,
    /// Attack the discriminator of this run instead of the reference classifier.
    #[arg(long)]
    run: Option<PathBuf>,
    /// The classifier attacked (when no --run): `mnist`, `fashion` or a safetensors file
    /// [default: the shipped classifier of the data's dataset].
    #[arg(long)]
    classifier: Option<String>,
    /// Budgets (L-infinity), comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "0,0.05,0.1,0.2,0.3")]
    epsilon: Vec<f32>,
    /// Test images attacked.
    #[arg(short = 'n', long, default_value_t = 2000, value_parser = crate::common::positive)]
    n: usize,
    /// The picture (classifier only): original, perturbation, adversarial image.
    #[arg(long)]
    figure: Option<PathBuf>,
    /// Epsilon of the picture.
    #[arg(long, default_value_t = 0.2, value_parser = crate::common::unit_f32)]
    figure_epsilon: f32,
    /// MNIST-format data directory.
    #[arg(long, default_value = "data/mnist")]
    data: PathBuf,
    /// Compute threads (default: one per core).
    #[arg(long, value_parser = crate::common::positive)]
    threads: Option<usize>,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

pub fn run(a: AttackArgs) -> Result<i32> {
    match a.kind {
        Kind::Fgsm(f) => fgsm(f),
    }
}

fn table(title: &str, rows: &[FgsmRow]) -> Vec<String> {
    let mut v = vec![
        title.to_string(),
        format!(
            "{:>8} {:>9} {:>9} {:>9}",
            "epsilon", "accuracy", "mean L2", "max Linf"
        ),
    ];
    for r in rows {
        v.push(format!(
            "{:>8.3} {:>8.2}% {:>9.3} {:>9.3}",
            r.epsilon,
            100.0 * r.accuracy,
            r.mean_l2,
            r.max_linf
        ));
    }
    v
}

fn fgsm(a: FgsmArgs) -> Result<i32> {
    set_threads(a.threads)?;
    if a.epsilon
        .iter()
        .any(|e| !(e.is_finite() && *e >= 0.0 && *e <= 1.0))
    {
        bail!("--epsilon values must be in [0, 1], got {:?}", a.epsilon);
    }
    let splits = load_splits(&a.data, gan::data::PAPER_TRAIN_END).context("loading the data")?;
    let n = a.n.clamp(1, splits.test.len());
    let x = splits.test.first_pixels(n);
    let y = &splits.test.labels[..n];
    let d = splits.test.dim();
    let dev = device();
    let mut lines = Vec::new();
    let mut v = json!({ "n": n, "epsilons": a.epsilon });
    if let Some(run) = &a.run {
        let model = gan::train::read_run_config(run)?.model;
        if model != gan::config::Architecture::Mlp {
            anyhow::bail!(
                "--run {}: its model is {}; FGSM against a run's discriminator is implemented \
                 for the paper's MLP pair only so far (attack the reference classifier without \
                 --run)",
                run.display(),
                gan::train::model_name(model)
            );
        }
        let (gan, ckpt, _) = load_latest(run, &dev)?;
        let fake = gan.sample(n, 0)?;
        let (real_rows, fake_rows) =
            fgsm_discriminator(&gan.discriminator, &x, &fake, d, &a.epsilon, &dev)?;
        lines.extend(table(
            &format!(
                "discriminator of {}: real test images pushed towards 'fake'",
                ckpt.display()
            ),
            &real_rows,
        ));
        lines.extend(table("generated samples pushed towards 'real'", &fake_rows));
        v["target"] = format!("discriminator, {}", ckpt.display()).into();
        v["real"] = serde_json::to_value(&real_rows)?;
        v["fake"] = serde_json::to_value(&fake_rows)?;
    } else {
        let (model, source) = crate::common::classifier_on(
            &a.classifier,
            &splits.test,
            &a.data.display().to_string(),
            &dev,
        )?;
        let (rows, sign) = fgsm_classifier(&model, &x, y, &a.epsilon, &dev)?;
        lines.extend(table(&format!("classifier: {source}"), &rows));
        v["target"] = format!("classifier, {source}").into();
        v["rows"] = serde_json::to_value(&rows)?;
        if let Some(path) = &a.figure {
            let eps = a.figure_epsilon;
            let adv = perturb(&x, &sign, eps);
            let po = probabilities(&model, &x)?;
            let pa = probabilities(&model, &adv)?;
            let (lo, la) = (argmax_rows(&po), argmax_rows(&pa));
            // the first few images the attack flips (or the first few, if none flips)
            let mut pick: Vec<usize> = (0..n)
                .filter(|&i| lo[i] == y[i] as usize && la[i] != lo[i])
                .take(4)
                .collect();
            if pick.is_empty() {
                pick = (0..n.min(4)).collect();
            }
            let rows: Vec<AdversarialExample> = pick
                .iter()
                .map(|&i| AdversarialExample {
                    original: x[i * d..(i + 1) * d].to_vec(),
                    adversarial: adv[i * d..(i + 1) * d].to_vec(),
                    original_caption: format!("'{}' ({:.1}%)", lo[i], 100.0 * po[i * 10 + lo[i]]),
                    adversarial_caption: format!(
                        "'{}' ({:.1}%)",
                        la[i],
                        100.0 * pa[i * 10 + la[i]]
                    ),
                })
                .collect();
            save_adversarial_figure(path, &rows, eps)?;
            lines.push(format!("figure: {}", path.display()));
        }
    }
    if a.json {
        print_json(&v);
    } else {
        for l in lines {
            out(&l);
        }
    }
    Ok(0)
}
