//! The moving average of G's weights (`g_ema_decay`): its value after training is the
//! closed form of the live weights' history on every engine, a shadow that only copies
//! samples exactly like the live weights, and a stopped and resumed run keeps it
//! bit-identical.

mod common;

use std::path::Path;

use burn::module::Param;
use burn::tensor::{Device, Tensor};
use gan::config::TrainConfig;
use gan::models::dcgan::{DcganConfig, DcganDiscriminator, DcganGenerator, DcganLayout};
use gan::models::{Discriminator, Generator, MlpGenerator};
use gan::train::{Dcgan, EpochMetrics, Gan, Run, Silent, Weights, files, load_latest};

fn dev() -> Device {
    Device::flex().autodiff()
}

fn mlp_config(engine: &str, extra: &[&str]) -> TrainConfig {
    let mut o: Vec<String> = vec![
        "generator.hidden=[32]".into(),
        "discriminator.hidden=[16]".into(),
        "batch_size=20".into(),
        "grid_samples=4".into(),
        "schedule=\"alternating\"".into(),
        format!("engine={engine:?}"),
    ];
    o.extend(extra.iter().map(|s| s.to_string()));
    TrainConfig::preset("mnist-fast", &o).expect("valid config")
}

fn dcgan_config(engine: &str, extra: &[&str]) -> TrainConfig {
    let mut o: Vec<String> = vec![
        "conv.ngf=8".into(),
        "conv.ndf=8".into(),
        "noise.dim=16".into(),
        "batch_size=16".into(),
        "grid_samples=4".into(),
        format!("engine={engine:?}"),
    ];
    o.extend(extra.iter().map(|s| s.to_string()));
    TrainConfig::preset("mnist-dcgan", &o).expect("valid config")
}

fn mlp(cfg: TrainConfig) -> Gan {
    Gan::new(
        cfg,
        gan::models::ImageShape::grey(28, 28).expect("test value"),
        None,
        &dev(),
    )
    .expect("gan")
}

fn dcgan(cfg: TrainConfig) -> Gan<DcganGenerator, DcganDiscriminator> {
    let d = DcganConfig {
        layout: DcganLayout::Dcgan28,
        noise_dim: cfg.noise.dim,
        channels: 1,
        ngf: cfg.conv.ngf,
        ndf: cfg.conv.ndf,
        classes: 0,
        d_batch_norm: true,
        hidden: 0,
        spectral_norm: false,
    };
    let device = dev();
    let (g, dd) = gan::models::dcgan::dcgan_pair(&d, &mut gan::rng::Rng::new(cfg.seed), &device)
        .expect("test value");
    Gan::from_models(cfg, d.shape().expect("test value"), g, dd, &device).expect("gan")
}

fn host<const D: usize>(p: &Param<Tensor<D>>) -> Vec<f64> {
    p.val()
        .inner()
        .into_data()
        .try_into_vec::<f32>()
        .expect("f32")
        .into_iter()
        .map(f64::from)
        .collect()
}

/// `k` training iterations on the first images of the bundled MNIST.
fn train<G: Generator, D: Discriminator>(
    gan: &mut Gan<G, D>,
    k: usize,
    mut after: impl FnMut(&mut Gan<G, D>),
) {
    let data = common::train_subset(400);
    let m = gan.cfg.batch_size;
    for i in 0..k {
        let batches: Vec<Vec<f32>> = (0..gan.batches_per_step())
            .map(|j| {
                let start = ((i * gan.batches_per_step() + j) * m) % 400;
                data.subset(start..start + m).expect("subset").pixels()
            })
            .collect();
        gan.train_step(&batches).expect("step");
        after(gan);
    }
}

/// s_K = beta^K w_0 + (1 - beta) sum_{i=1..K} beta^(K-i) w_i, elementwise (constant beta).
fn closed_form(history: &[Vec<f64>], beta: f64) -> Vec<f64> {
    let k = history.len() - 1;
    (0..history[0].len())
        .map(|j| {
            beta.powi(k as i32) * history[0][j]
                + (1.0 - beta)
                    * (1..=k)
                        .map(|i| beta.powi((k - i) as i32) * history[i][j])
                        .sum::<f64>()
        })
        .collect()
}

fn max_diff(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

/// The average is the closed form, to float32 rounding, and not the last weights (it
/// trails them by far more than that rounding).
fn assert_average(got: &[f64], history: &[Vec<f64>], beta: f64, what: &str) {
    let want = closed_form(history, beta);
    assert_eq!(got.len(), want.len(), "{what}");
    let err = max_diff(got, &want);
    let trail = max_diff(got, history.last().expect("test value"));
    eprintln!("{what}: max |EMA - closed form| = {err:e}, max |EMA - last weights| = {trail:e}");
    assert!(err < 1e-6, "{what}: max |EMA - closed form| = {err}");
    assert!(
        trail > 100.0 * err.max(1e-9),
        "{what}: the average equals the last weights"
    );
}

#[test]
fn the_average_is_the_closed_form_of_the_live_weights_on_every_engine() {
    let beta = 0.8;
    let ema = [
        "g_ema_decay=0.8".to_string(),
        "g_ema_warmup=false".to_string(),
    ];
    let ema: Vec<&str> = ema.iter().map(String::as_str).collect();
    for engine in ["fast", "burn"] {
        let mut g = mlp(mlp_config(engine, &ema));
        let first = |g: &MlpGenerator| host(&g.hidden[0].weight);
        let mut history = vec![first(&g.generator)];
        train(&mut g, 6, |g| {
            g.sync_modules();
            history.push(first(&g.generator));
        });
        let got = first(&g.ema_generator().expect("an average"));
        assert_average(&got, &history, beta, &format!("mlp {engine}"));
    }
    for engine in ["fast", "burn"] {
        let mut g = dcgan(dcgan_config(engine, &ema));
        // a transposed convolution and a batch-norm scale of G
        let probe = |g: &DcganGenerator| {
            let mut v = host(&g.ups[0].weight);
            v.extend(host(&g.bns[0].gamma));
            v
        };
        let mut history = vec![probe(&g.generator)];
        train(&mut g, 4, |g| {
            g.sync_modules();
            history.push(probe(&g.generator));
        });
        let got = probe(&g.ema_generator().expect("an average"));
        assert_average(&got, &history, beta, &format!("dcgan {engine}"));
    }
}

#[test]
fn a_shadow_that_only_copies_samples_like_the_live_weights() {
    // before g_ema_start the shadow is a copy: the same samples, to the bit, on every engine
    // (the fused DCGAN engine samples the average through an engine built from it, with the
    // running statistics of the live one)
    let copy = ["g_ema_decay=0.9", "g_ema_start=1000000"];
    let avg = ["g_ema_decay=0.9", "g_ema_warmup=false"];
    for engine in ["fast", "burn"] {
        for (opts, same) in [(&copy, true), (&avg, false)] {
            let mut g = mlp(mlp_config(engine, opts));
            train(&mut g, 5, |_| {});
            let (a, b) = (
                g.sample_with(Weights::Ema, 20, 7).expect("test value"),
                g.sample_with(Weights::Live, 20, 7).expect("test value"),
            );
            assert_eq!(a == b, same, "mlp {engine} {opts:?}");
            assert_eq!(
                g.sample(20, 7).expect("test value"),
                a,
                "the average samples by default"
            );
            let mut g = dcgan(dcgan_config(engine, opts));
            train(&mut g, 3, |_| {});
            let (a, b) = (
                g.sample_with(Weights::Ema, 20, 7).expect("test value"),
                g.sample_with(Weights::Live, 20, 7).expect("test value"),
            );
            assert_eq!(a == b, same, "dcgan {engine} {opts:?}");
            assert!(a.iter().all(|v| (0.0..=1.0).contains(v)));
        }
    }
    // without an average, asking for it is an error
    let g = mlp(mlp_config("fast", &[]));
    assert!(!g.has_ema());
    let e = g.sample_with(Weights::Ema, 4, 1).expect_err("no average");
    assert!(e.to_string().contains("g_ema_decay"), "{e}");
}

#[test]
fn a_bad_decay_is_refused_naming_the_key() {
    for v in ["1.0", "-0.1", "nan"] {
        let e = TrainConfig::preset("mnist-fast", &[format!("g_ema_decay={v}")])
            .expect_err("bad decay");
        assert!(e.to_string().contains("g_ema_decay"), "{v}: {e}");
    }
}

use common::StopAfter;

fn ema_crc(dir: &Path) -> (u32, u32) {
    let ckpts = gan::checkpoint::list_checkpoints(&dir.join(files::CHECKPOINTS));
    let ckpt = &ckpts[0].1;
    let crc = |f: &str| gan::checkpoint::crc32(&std::fs::read(ckpt.join(f)).expect(f));
    (crc(files::GENERATOR_EMA), crc(files::GENERATOR))
}

#[test]
fn a_stopped_and_resumed_run_keeps_the_average_bit_identical() {
    let data = common::train_subset(200);
    let ema = ["epochs=2", "g_ema_decay=0.95"];
    // the MLP pair on the fused engine
    let cfg = mlp_config("fast", &ema);
    let (a, b) = (
        tempfile::tempdir().expect("test value"),
        tempfile::tempdir().expect("test value"),
    );
    Run::create(a.path(), cfg.clone(), data.clone(), &dev())
        .expect("test value")
        .train(&mut Silent)
        .expect("test value");
    let mut run = Run::create(b.path(), cfg, data.clone(), &dev()).expect("test value");
    run.train(&mut StopAfter(0, 3)).expect("test value");
    drop(run);
    let (mut run, _, _) = Run::resume(b.path(), data.clone(), None, &dev()).expect("test value");
    assert!(run.gan.has_ema());
    run.train(&mut Silent).expect("test value");
    drop(run);
    assert_eq!(
        ema_crc(a.path()),
        ema_crc(b.path()),
        "mlp: the average differs"
    );
    let (g, _, _) = load_latest(a.path(), &dev()).expect("test value");
    assert_eq!(g.sampling, Weights::Ema);
    let line = std::fs::read_to_string(a.path().join(files::METRICS_JSONL)).expect("test value");
    assert!(line.contains("\"weights\":\"ema\""), "{line}");

    // the DCGAN pair on the fused engine (G's batch norms)
    let cfg = dcgan_config("fast", &ema);
    let (a, b) = (
        tempfile::tempdir().expect("test value"),
        tempfile::tempdir().expect("test value"),
    );
    Run::create_as::<Dcgan>(a.path(), cfg.clone(), data.clone(), &dev())
        .expect("test value")
        .train(&mut Silent)
        .expect("test value");
    let mut run = Run::create_as::<Dcgan>(b.path(), cfg, data.clone(), &dev()).expect("test value");
    run.train(&mut StopAfter(0, 5)).expect("test value");
    drop(run);
    let (mut run, _, _) =
        Run::resume_as::<Dcgan>(b.path(), data, None, &dev()).expect("test value");
    run.train(&mut Silent).expect("test value");
    drop(run);
    assert_eq!(
        ema_crc(a.path()),
        ema_crc(b.path()),
        "dcgan: the average differs"
    );
}

#[test]
fn the_metrics_score_the_average_and_the_live_weights_on_the_same_noise() {
    let s = common::mnist();
    let dir = tempfile::tempdir().expect("test value");
    let cfg = mlp_config(
        "fast",
        &[
            "epochs=1",
            "g_ema_decay=0.9",
            "eval_every=1",
            "eval_samples=300",
        ],
    );
    let mut run = Run::create(dir.path(), cfg, common::train_subset(400), &dev())
        .expect("test value")
        .with_eval_data(gan::train::EvalData {
            valid: s.valid.subset(0..200).expect("test value"),
            test: s.test.subset(0..300).expect("test value"),
            classifier: None,
        });
    run.train(&mut Silent).expect("test value");
    let text = std::fs::read_to_string(dir.path().join(files::METRICS_JSONL)).expect("test value");
    let m: EpochMetrics =
        serde_json::from_str(text.lines().next().expect("test value")).expect("test value");
    assert_eq!(m.weights.as_deref(), Some("ema"));
    let (avg, live) = (
        m.parzen_ll.expect("test value"),
        m.live_parzen_ll.expect("test value"),
    );
    assert!(avg.is_finite() && live.is_finite());
    assert_ne!(avg, live, "two sets of weights, two estimates");
}
