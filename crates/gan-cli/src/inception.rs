//! `gan eval fid|kid|pr --extractor inception` and `gan eval is`: the FID Inception's
//! features of any images (the evaluation data's test set, a run's samples, an `.npy`), the
//! test set's statistics cached, pytorch-fid's `.npz` statistics read and written.

use anyhow::{Context, Result, bail};
use gan::eval::inception::{FidStats, activations, sha256_file, stats_cache_path};
use gan::eval::quality::inception_score;
use gan::models::ImageShape;
use gan::models::inception::{FEATURE_DIM, Inception, LOGIT_DIM, WEIGHTS_FILE, WEIGHTS_SHA256};
use indicatif::{ProgressBar, ProgressStyle};

use crate::common::{out, print_json, set_threads};
use crate::eval::{QualityArgs, compare_features, data_of, load_samples};

/// The network's activations of `images`, with a progress bar (hidden for `--json`).
fn activations_with_bar(
    net: &Inception,
    images: &[f32],
    shape: ImageShape,
    batch: usize,
    what: &str,
    json: bool,
) -> Result<gan::eval::inception::Activations> {
    let n = images.len() / shape.len().max(1);
    let bar = ProgressBar::new(n as u64);
    if json {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    bar.set_style(
        ProgressStyle::with_template(
            "{prefix} [{bar:30}] {pos}/{len} images {elapsed_precise} eta {eta} ({per_sec})",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    bar.set_prefix(format!("Inception features of {what}"));
    let a = activations(net, images, shape, batch, &mut |done| {
        bar.set_position(done as u64)
    })?;
    bar.finish_and_clear();
    Ok(a)
}

/// Samples from `--run` (its own shape) or an `.npy` (`[n, d]` channels first, `[n, c, h,
/// w]`, or `[n, h, w, c]` as `gan sample` writes colour), as channels-first rows of `shape`.
fn samples(a: &QualityArgs, shape: ImageShape) -> Result<(Vec<f32>, String)> {
    let d = shape.len();
    match &a.src.samples {
        Some(f) if a.src.run.is_none() => {
            let arr = gan::npy::read_npy(f)?;
            let v = match arr.data {
                gan::npy::NpyData::F32(v) => v,
                gan::npy::NpyData::U8(_) => bail!(
                    "{}: uint8 values; samples must be float pixels in [0, 1]",
                    f.display()
                ),
            };
            let [c, h, w] = shape.dims();
            let v = match arr.shape[..] {
                [_, cols] if cols == d => v,
                [_, cc, hh, ww] if [cc, hh, ww] == [c, h, w] => v,
                [n, hh, ww, cc] if [hh, ww, cc] == [h, w, c] => {
                    // channels last -> first
                    let mut t = vec![0f32; v.len()];
                    for i in 0..n {
                        for y in 0..h * w {
                            for ch in 0..c {
                                t[i * d + ch * h * w + y] = v[i * d + y * c + ch];
                            }
                        }
                    }
                    t
                }
                ref s => bail!(
                    "{}: samples of shape {s:?} do not fit the data's images ({c} x {h} x {w})",
                    f.display()
                ),
            };
            gan::npy::check_unit_range(&v, f)?;
            Ok((v, f.display().to_string()))
        }
        _ => {
            let (v, source, _) = load_samples(&a.src, a.src.n, a.src.seed, d)?;
            Ok((v, source))
        }
    }
}

/// `gan eval fid|kid|pr|is` on the FID Inception's features.
pub fn run(metric: &str, a: QualityArgs) -> Result<i32> {
    set_threads(a.src.threads)?;
    let has_samples = a.src.run.is_some() || a.src.samples.is_some();
    if metric == "is" && a.save_stats.is_some() {
        bail!("--save-stats writes FID statistics; `gan eval is` computes none");
    }
    if metric != "fid" && a.ref_stats.is_some() {
        bail!(
            "--ref-stats holds statistics, which only the FID reads; `gan eval {metric}` \
             compares the test images' features"
        );
    }
    if !has_samples && a.save_stats.is_none() {
        bail!("give the samples: --run RUN_DIR or --samples FILE.npy (or --save-stats FILE alone)");
    }
    let weights = a.inception_weights.clone().ok_or_else(|| {
        anyhow::anyhow!(
            "the Inception features need pytorch-fid's weights: --inception-weights FILE (or \
             $GAN_INCEPTION_WEIGHTS). The file is {WEIGHTS_FILE}, from pytorch-fid's GitHub \
             release `fid_weights` (SHA-256 {WEIGHTS_SHA256}); nothing is downloaded at run \
             time"
        )
    })?;
    let net = Inception::load(&weights)?;
    let sha = sha256_file(&weights)?;
    let official = sha == WEIGHTS_SHA256;
    let extractor = format!(
        "FID Inception pool3 ({FEATURE_DIM}-d; pytorch-fid port), weights {} (SHA-256 {}{})",
        weights.display(),
        &sha[..16],
        if official {
            ", pytorch-fid's"
        } else {
            ": NOT pytorch-fid's file, numbers are not comparable with published ones"
        }
    );
    let data = data_of(&a.src.data, &a.src.run)?;
    let (splits, _) = gan::data::load_data(&data).context("loading the evaluation data")?;
    let test = &splits.test;
    let shape = test.shape()?;
    let started = std::time::Instant::now();
    let json = a.src.json;
    // the test images' features: read when the metric compares features, or when their
    // statistics are not cached
    let test_features = || -> Result<Vec<f32>> {
        let pixels = test.pixels();
        Ok(activations_with_bar(&net, &pixels, shape, a.batch, "the test images", json)?.features)
    };
    let real_features = matches!(metric, "kid" | "pr")
        .then(test_features)
        .transpose()?;
    // the test images' statistics, when the FID compares with them or --save-stats writes
    // them: from the cache, or from their features (then cached)
    let test_stats = if (metric == "fid" && a.ref_stats.is_none()) || a.save_stats.is_some() {
        let cache = stats_cache_path(&sha, test);
        Some(match FidStats::read_npz(&cache) {
            Ok(s) => s,
            Err(_) => {
                let s = match &real_features {
                    Some(f) => FidStats::of_features(f, FEATURE_DIM)?,
                    None => FidStats::of_features(&test_features()?, FEATURE_DIM)?,
                };
                if let Some(dir) = cache.parent() {
                    // a cache that cannot be written only costs time next run
                    let _ = std::fs::create_dir_all(dir).map(|_| s.write_npz(&cache));
                }
                s
            }
        })
    } else {
        None
    };
    // what the samples are compared with: a statistics file, or the test images
    let file_stats = match &a.ref_stats {
        Some(f) => {
            let s = FidStats::read_npz(f)?;
            if s.dim != FEATURE_DIM {
                bail!(
                    "{}: {}-d statistics; the Inception pool3 features are {FEATURE_DIM}-d",
                    f.display(),
                    s.dim
                );
            }
            Some(s)
        }
        None => None,
    };
    let (real_stats, real_name, n_real) = match (&a.ref_stats, metric) {
        (Some(f), _) => (
            file_stats.as_ref(),
            format!("statistics {}", f.display()),
            None,
        ),
        (None, "is") => (None, String::new(), None),
        (None, _) => (
            test_stats.as_ref(),
            "test set".to_string(),
            Some(test.len()),
        ),
    };
    if let (Some(path), Some(s)) = (&a.save_stats, &test_stats) {
        s.write_npz(path)?;
        if !json {
            out(&format!(
                "wrote the statistics of {} test images to {} (pytorch-fid's mu and sigma)",
                test.len(),
                path.display()
            ));
        }
    }
    if !has_samples {
        if json {
            print_json(&serde_json::json!({
                "saved_stats": a.save_stats.as_ref().map(|p| p.display().to_string()),
                "extractor": extractor, "weights_sha256": sha, "n_real": test.len(),
            }));
        }
        return Ok(0);
    }
    let (fake, source) = samples(&a, shape)?;
    let fake_act = activations_with_bar(&net, &fake, shape, a.batch, "the samples", json)?;
    let n_fake = fake.len() / shape.len();
    let mut v = serde_json::json!({
        "metric": metric,
        "extractor": extractor,
        "weights_sha256": sha,
        "weights_official": official,
        "n_fake": n_fake,
        "n_real": n_real,
        "real": real_name,
        "source": source,
    });
    let line = match metric {
        "fid" => {
            let fake_stats = FidStats::of_features(&fake_act.features, FEATURE_DIM)?;
            let fd = real_stats
                .context("no reference statistics")?
                .frechet(&fake_stats)?;
            v["fid"] = fd.into();
            format!("FID {fd:.3}")
        }
        "is" => {
            let (m, s) = inception_score(&fake_act.logits, LOGIT_DIM, a.splits)?;
            v["inception_score"] = m.into();
            v["inception_score_std"] = s.into();
            v["splits"] = a.splits.into();
            format!("Inception Score {m:.3} ± {s:.3} ({} splits)", a.splits)
        }
        _ => {
            let real = real_features.context("no test features")?;
            compare_features(metric, &real, &fake_act.features, FEATURE_DIM, &a, &mut v)?
        }
    };
    v["seconds"] = started.elapsed().as_secs_f64().into();
    if json {
        print_json(&v);
    } else {
        let real = match n_real {
            Some(n) => format!("n_real {n} ({real_name})"),
            None => real_name,
        };
        out(&format!(
            "{line}\n  extractor: {extractor}\n  {real}, n_fake {n_fake} from {source}"
        ));
    }
    Ok(0)
}
