//! `gan eval`.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use burn::tensor::Device;
use clap::{Args, Subcommand};
use gan::eval::parzen::evaluate;
use gan::npy::read_npy_f32;
use gan::train::{load_sampler, read_run_config};

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
    /// Fréchet distance between test images and samples in the reference classifier's
    /// penultimate features (the "Fréchet LeNet distance").
    Fid(QualityArgs),
    /// Kernel inception distance (unbiased MMD^2, cubic polynomial kernel) with its std.
    Kid(QualityArgs),
    /// Improved precision and recall (Kynkäänniemi et al. 2019, k-NN manifolds).
    Pr(QualityArgs),
    /// Classifier score (the Inception Score analogue) and the class histogram of samples.
    Score(QualityArgs),
    /// Inception Score (Salimans et al. 2016) of samples in the FID Inception's logits, as
    /// torch-fidelity computes it (needs --inception-weights).
    Is(QualityArgs),
    /// Mode-collapse statistics of 2-D samples on ring8 / grid25 (PacGAN protocol).
    Modes(ModesArgs),
}

/// Modes captured, % high-quality samples and reverse KL of `[N, 2]` samples.
#[derive(Args)]
struct ModesArgs {
    /// A 2-D run directory (`gan toy` / `gan train --preset ring8|grid25`): its samples.npy,
    /// scored on the mixture its config.toml names.
    #[arg(long, conflicts_with_all = ["samples", "data"], required_unless_present = "samples")]
    run: Option<PathBuf>,
    /// A float32 or float64 [N, 2] .npy file of samples.
    #[arg(long, requires = "data")]
    samples: Option<PathBuf>,
    /// The mixture: ring8 (8 modes on the unit circle, sigma 0.01) or grid25 (5 x 5, sigma 0.05).
    #[arg(long)]
    data: Option<String>,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

/// Where the samples come from, and the shared options of every metric.
#[derive(Args)]
pub(crate) struct Source {
    /// Draw the samples from this run's newest checkpoint (or give --samples).
    #[arg(long, conflicts_with = "samples")]
    pub(crate) run: Option<PathBuf>,
    /// Take the samples from a float32 [N, 784] .npy file in [0, 1] (any model's, or real
    /// data), or give --run.
    #[arg(long)]
    pub(crate) samples: Option<PathBuf>,
    /// Number of samples drawn from the run.
    #[arg(short = 'n', long, default_value_t = 10_000, value_parser = crate::common::positive)]
    pub(crate) n: usize,
    /// Seed of the samples drawn from the run.
    #[arg(long, default_value_t = 0)]
    pub(crate) seed: u64,
    /// The run's G weights: live or ema (its moving average) [default: ema when the run
    /// keeps one].
    #[arg(long, value_parser = crate::common::weights, requires = "run")]
    pub(crate) weights: Option<gan::train::Weights>,
    /// MNIST-format data directory [default: the run's, or data/mnist].
    #[arg(long)]
    pub(crate) data: Option<PathBuf>,
    /// Compute threads [default: one per core].
    #[arg(long, value_parser = crate::common::positive)]
    pub(crate) threads: Option<usize>,
    /// Print one JSON object.
    #[arg(long)]
    pub(crate) json: bool,
}

/// Samples scored against the 10,000 test images in the reference classifier's features.
#[derive(Args)]
pub(crate) struct QualityArgs {
    #[command(flatten)]
    pub(crate) src: Source,
    /// The feature extractor: `mnist` or `fashion` (the shipped classifiers, built into the
    /// binary) or a safetensors file from `gan classifier train` [default: the shipped
    /// classifier of the evaluation data's dataset, recognised by its test labels].
    #[arg(long)]
    pub(crate) classifier: Option<String>,
    /// Neighbours defining the manifolds (pr).
    #[arg(short = 'k', long, default_value_t = 3, value_parser = crate::common::positive)]
    pub(crate) k: usize,
    /// Random subsets (kid).
    #[arg(long, default_value_t = 100, value_parser = crate::common::positive)]
    pub(crate) subsets: usize,
    /// Rows per subset (kid).
    #[arg(long, default_value_t = 1000, value_parser = crate::common::positive)]
    pub(crate) subset_size: usize,
    /// The features compared: `lenet` (the shipped 28 x 28 classifiers, the default; no
    /// download) or `inception` (pytorch-fid's FID Inception, comparable with published
    /// FIDs; any image size and colour; needs --inception-weights).
    #[arg(long, default_value = "lenet", value_parser = ["lenet", "inception"])]
    pub(crate) extractor: String,
    /// pytorch-fid's pt_inception-2015-12-05-6726825d.pth (or a safetensors copy with its
    /// names) [default: $GAN_INCEPTION_WEIGHTS].
    #[arg(long, env = "GAN_INCEPTION_WEIGHTS")]
    pub(crate) inception_weights: Option<PathBuf>,
    /// Compare against these statistics (a pytorch-fid .npz with mu and sigma) instead of
    /// the evaluation data's test images (fid, inception).
    #[arg(long)]
    pub(crate) ref_stats: Option<PathBuf>,
    /// Write the test images' statistics to this .npz (pytorch-fid's format); without
    /// samples, only that (fid, inception).
    #[arg(long)]
    pub(crate) save_stats: Option<PathBuf>,
    /// Splits of the Inception Score.
    #[arg(long, default_value_t = 10, value_parser = crate::common::positive)]
    pub(crate) splits: usize,
    /// Images per Inception batch.
    #[arg(long, default_value_t = 50, value_parser = crate::common::positive)]
    pub(crate) batch: usize,
}

/// The authors' protocol: a Gaussian window on N samples, sigma chosen among 10 values
/// logarithmically spaced in [0.1, 1] on the first 1,000 validation images, then the mean
/// log-likelihood of the test images (nats) with its standard error.
#[derive(Args)]
struct ParzenArgs {
    #[command(flatten)]
    src: Source,
    /// Use this window width instead of choosing it on validation data.
    #[arg(long, value_parser = crate::common::positive_f64)]
    sigma: Option<f64>,
    /// Validation images used to choose sigma.
    #[arg(long, default_value_t = 1_000, value_parser = crate::common::positive)]
    n_valid: usize,
    /// With --run: repeat the protocol on this many different sets of N samples (seeds S,
    /// S + 1, ...) from the same checkpoint and report each and their spread.
    #[arg(long, default_value_t = 1, value_parser = crate::common::positive)]
    repeats: usize,
}

pub fn run(a: EvalArgs) -> Result<i32> {
    match a.metric {
        Metric::Parzen(p) => parzen(p),
        Metric::Fid(q) => quality("fid", q),
        Metric::Kid(q) => quality("kid", q),
        Metric::Pr(q) => quality("pr", q),
        Metric::Score(q) => quality("score", q),
        Metric::Is(q) => crate::inception::run("is", q),
        Metric::Modes(m) => modes(m),
    }
}

fn modes(a: ModesArgs) -> Result<i32> {
    use gan::eval::modes::{Mixture2d, mode_report};
    let (samples, data) = match (&a.run, &a.samples, &a.data) {
        (Some(dir), _, _) => (dir.join("samples.npy"), crate::toy::run_mixture(dir)?),
        (None, Some(f), Some(d)) => (f.clone(), d.clone()),
        _ => bail!("give --run RUN_DIR, or --samples FILE.npy with --data ring8|grid25"),
    };
    let mix = Mixture2d::by_name(&data)?;
    let (v, _, cols) = read_npy_f32(&samples)?;
    if cols != 2 {
        bail!(
            "{}: samples have {cols} columns, expected 2",
            samples.display()
        );
    }
    let r = mode_report(&v, &mix)?;
    if a.json {
        let mut j = serde_json::to_value(&r)?;
        j["source"] = samples.display().to_string().into();
        print_json(&j);
    } else {
        out(&format!(
            "{}: {} of {} modes captured, {:.1}% high quality, reverse KL {:.4} ({} samples from {})",
            r.data,
            r.modes_captured,
            r.n_modes,
            r.high_quality_pct,
            r.reverse_kl,
            r.n_samples,
            samples.display()
        ));
    }
    Ok(0)
}

/// The data section of a run (or the given / bundled data).
pub(crate) fn data_of(
    data: &Option<PathBuf>,
    run: &Option<PathBuf>,
) -> Result<gan::config::DataConfig> {
    Ok(match (data, run) {
        (Some(d), _) => gan::config::DataConfig::new(d.display().to_string()),
        (None, Some(r)) => read_run_config(r)?.data,
        (None, None) => gan::config::DataConfig::new("data/mnist"),
    })
}

/// Samples from a run's newest checkpoint or a .npy file, with a name for the source and,
/// for a conditional run, the class each sample was drawn for.
pub(crate) fn load_samples(
    src: &Source,
    n: usize,
    seed: u64,
    d: usize,
) -> Result<(Vec<f32>, String, Option<Vec<usize>>)> {
    let (run, samples) = (&src.run, &src.samples);
    match (run, samples) {
        (Some(r), _) => {
            // the samples and the metric's working memory (a row of distances to 1,000
            // points per sample at most) must fit
            gan::limits::check_fits(
                gan::limits::bytes(n, d + 1000, 4),
                &format!("-n {n}: {n} samples of {d} values"),
            )?;
            let (gan, ckpt, _) = load_sampler(r, &device())?;
            let gan = crate::common::with_weights(gan, src.weights)?;
            let classes = gan.config().classes;
            let labels = (classes > 0).then(|| gan::train::grid_labels(n, classes));
            // which weights, when the run has a choice
            let source = match gan.config().ema_schedule() {
                Some(_) => format!("{} ({} weights)", ckpt.display(), gan.weights().name()),
                None => ckpt.display().to_string(),
            };
            Ok((gan.sample(n, seed)?, source, labels))
        }
        (None, Some(f)) => {
            if let Ok(meta) = std::fs::metadata(f) {
                let rows = meta.len() as usize / (4 * d.max(1));
                gan::limits::check_fits(
                    gan::limits::bytes(rows, d + 1000, 4),
                    &format!("{}: {rows} samples of {d} values", f.display()),
                )?;
            }
            let (v, _, cols) = read_npy_f32(f)?;
            if cols != d {
                bail!(
                    "{}: samples have {cols} columns, the data has {d}",
                    f.display()
                );
            }
            gan::npy::check_unit_range(&v, f)?;
            Ok((v, f.display().to_string(), None))
        }
        (None, None) => bail!("give the samples: --run RUN_DIR or --samples FILE.npy"),
    }
}

/// KID (`metric` "kid") or improved precision and recall (any other) of the real and fake
/// features (`dim` columns each), written into `v` with their settings; returns the report's
/// line. Every extractor reports these two through it.
pub(crate) fn compare_features(
    metric: &str,
    real: &[f32],
    fake: &[f32],
    dim: usize,
    a: &QualityArgs,
    v: &mut serde_json::Value,
) -> Result<String> {
    use gan::eval::quality::{kid, precision_recall};
    Ok(if metric == "kid" {
        let (m, s) = kid(real, fake, dim, a.subsets, a.subset_size, a.src.seed)?;
        v["kid"] = m.into();
        v["kid_std"] = s.into();
        v["subsets"] = a.subsets.into();
        v["subset_size"] = a.subset_size.into();
        format!(
            "KID {m:.5} ± {s:.5} ({} subsets of {})",
            a.subsets, a.subset_size
        )
    } else {
        let (p, r) = precision_recall(real, fake, dim, a.k)?;
        v["precision"] = p.into();
        v["recall"] = r.into();
        v["k"] = a.k.into();
        format!("precision {p:.4}, recall {r:.4} (k = {})", a.k)
    })
}

fn quality(metric: &str, a: QualityArgs) -> Result<i32> {
    if a.extractor == "inception" {
        return crate::inception::run(metric, a);
    }
    for (set, flag) in [
        (a.ref_stats.is_some(), "--ref-stats"),
        (a.save_stats.is_some(), "--save-stats"),
    ] {
        if set {
            bail!(
                "{flag} holds pytorch-fid statistics of the Inception features: add --extractor inception"
            );
        }
    }
    use gan::classifier::{features, probabilities};
    use gan::eval::quality::{class_histogram, classifier_score, frechet_distance};
    use gan::models::lenet::{CLASSES, FEATURE_DIM};
    set_threads(a.src.threads)?;
    let data = data_of(&a.src.data, &a.src.run)?;
    let data_dir = PathBuf::from(&data.dir);
    let (splits, _) = gan::data::load_data(&data).context("loading the evaluation data")?;
    let d = splits.test.dim();
    let (fake, source, labels) = load_samples(&a.src, a.src.n, a.src.seed, d)?;
    let (model, extractor_source) = crate::common::classifier_on(
        &a.classifier,
        &splits.test,
        &data_dir.display().to_string(),
        &Device::flex(),
    )?;
    let started = std::time::Instant::now();
    let real = splits.test.pixels();
    let (n_real, n_fake) = (real.len() / d, fake.len() / d);
    let extractor = format!("LeNet penultimate layer ({FEATURE_DIM}-d), {extractor_source}");
    let mut v = serde_json::json!({
        "metric": metric,
        "extractor": extractor,
        "n_real": n_real,
        "n_fake": n_fake,
        "real": "test set",
        "source": source,
    });
    let line = match metric {
        "fid" => {
            let fd = frechet_distance(
                &features(&model, &real)?,
                &features(&model, &fake)?,
                FEATURE_DIM,
            )?;
            v["fid"] = fd.into();
            format!("Fréchet distance {fd:.3}")
        }
        "kid" | "pr" => compare_features(
            metric,
            &features(&model, &real)?,
            &features(&model, &fake)?,
            FEATURE_DIM,
            &a,
            &mut v,
        )?,
        _ => {
            let pf = probabilities(&model, &fake)?;
            let score = classifier_score(&pf, CLASSES)?;
            let score_real = classifier_score(&probabilities(&model, &real)?, CLASSES)?;
            let hist = class_histogram(&pf, CLASSES);
            v["score"] = score.into();
            v["score_real"] = score_real.into();
            v["class_histogram"] = serde_json::json!(hist);
            let mut line = format!(
                "classifier score {score:.3} (test images: {score_real:.3}); samples per class {hist:?}"
            );
            if let Some(y) = &labels {
                // a conditional run: how often the classifier sees the class asked for
                let pred = gan::classifier::argmax_rows(&pf);
                let acc = gan::eval::quality::conditional_accuracy(&pred, y)?;
                v["conditional_accuracy"] = acc.into();
                line.push_str(&format!("; conditional accuracy {:.2}%", 100.0 * acc));
            }
            line
        }
    };
    v["seconds"] = started.elapsed().as_secs_f64().into();
    if a.src.json {
        print_json(&v);
    } else {
        out(&format!(
            "{line}\n  extractor: {extractor}; n_real {n_real} (test set), n_fake {n_fake} from {source}"
        ));
    }
    Ok(0)
}

fn parzen(a: ParzenArgs) -> Result<i32> {
    set_threads(a.src.threads)?;
    let data = data_of(&a.src.data, &a.src.run)?;
    let (splits, _) = gan::data::load_data(&data).context("loading the evaluation data")?;
    let d = splits.test.dim();
    if a.repeats > 1 {
        if a.src.run.is_none() {
            bail!("--repeats draws new sample sets: it needs --run, not --samples");
        }
        return parzen_repeats(&a, &splits, d);
    }
    let (kernels, source, _) = load_samples(&a.src, a.src.n, a.src.seed, d)?;
    let n_valid = a.n_valid.min(splits.valid.len());
    let valid = &splits.valid.first_pixels(n_valid);
    let started = std::time::Instant::now();
    let test = splits.test.pixels();
    let r = evaluate(&kernels, valid, &test, d, a.sigma)?;
    let secs = started.elapsed().as_secs_f64();
    if a.src.json {
        let mut v = serde_json::to_value(&r)?;
        v["source"] = source.into();
        v["seconds"] = secs.into();
        // which distance computation the test pass took, and the SIMD kernels allowed
        let test_path = gan::eval::parzen::chosen_path(&kernels, &test, &[r.sigma]);
        v["test_path"] = format!("{test_path:?}").into();
        v["simd"] = gan::fast::cpu::Simd::active().name().into();
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

/// `gan eval parzen --run R --repeats K`: the protocol on K sample sets from one checkpoint.
fn parzen_repeats(a: &ParzenArgs, splits: &gan::data::Splits, d: usize) -> Result<i32> {
    let n_valid = a.n_valid.min(splits.valid.len());
    let valid = splits.valid.first_pixels(n_valid);
    let test = splits.test.pixels();
    let mut rows = Vec::with_capacity(a.repeats);
    let mut source = String::new();
    for r in 0..a.repeats {
        let seed = a.src.seed + r as u64;
        let (kernels, src, _) = load_samples(&a.src, a.src.n, seed, d)?;
        source = src;
        let rep = evaluate(&kernels, &valid, &test, d, a.sigma)?;
        if !a.src.json {
            out(&format!(
                "  seed {seed}: {:.1} ± {:.1} nats (sigma {:.4})",
                rep.test_ll, rep.test_se, rep.sigma
            ));
        }
        rows.push((seed, rep));
    }
    let lls: Vec<f64> = rows.iter().map(|(_, r)| r.test_ll).collect();
    let k = lls.len() as f64;
    let mean = lls.iter().sum::<f64>() / k;
    // the spread between sample sets: sample standard deviation over the repeats
    let std = (lls.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (k - 1.0)).sqrt();
    let (lo, hi) = lls
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &v| {
            (l.min(v), h.max(v))
        });
    if a.src.json {
        print_json(&serde_json::json!({
            "source": source,
            "n_kernels": a.src.n,
            "repeats": rows.iter().map(|(seed, r)| serde_json::json!({
                "seed": seed, "test_ll": r.test_ll, "test_se": r.test_se, "sigma": r.sigma,
            })).collect::<Vec<_>>(),
            "mean_test_ll": mean,
            "std_between_sets": std,
            "min_test_ll": lo,
            "max_test_ll": hi,
        }));
    } else {
        out(&format!(
            "Parzen log-likelihood over {} sets of {} samples from {source}: mean {mean:.1} \
             nats, std between sets {std:.2}, range {lo:.1} .. {hi:.1}",
            a.repeats, a.src.n
        ));
    }
    Ok(0)
}
