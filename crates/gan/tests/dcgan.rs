//! The DCGAN pair through the one loop: it trains, its samples come back in [0, 1], and a
//! resumed run (batch-norm running statistics included) is bit-identical to an
//! uninterrupted one.

use burn::tensor::Device;
use gan::config::{Engine, NoiseKind, OptimKind, TrainConfig};
use gan::models::dcgan::{DcganConfig, DcganLayout, dcgan_pair};
use gan::rng::Rng;
use gan::train::{Gan, Run, Silent};

fn config(engine: Engine, epochs: u64) -> TrainConfig {
    let mut cfg = TrainConfig::preset("mnist-fast", &[]).expect("preset");
    cfg.engine = engine;
    cfg.model = gan::config::Architecture::Dcgan28;
    if engine == Engine::Fast {
        // the fused engine runs Algorithm 1 (the burn runs keep the preset's schedule)
        cfg.schedule = gan::config::Schedule::Alternating;
    }
    cfg.batch_size = 32;
    cfg.epochs = epochs;
    cfg.noise.dim = 16;
    cfg.noise.kind = NoiseKind::Gaussian;
    cfg.noise.scale = 1.0;
    cfg.optimizer.kind = OptimKind::Adam;
    cfg.optimizer.lr = 2e-4;
    cfg.optimizer.beta1 = 0.5;
    cfg.optimizer.beta2 = 0.999;
    cfg.optimizer.lr_decay = 1.0;
    cfg
}

fn fresh(
    epochs: u64,
) -> Gan<gan::models::dcgan::DcganGenerator, gan::models::dcgan::DcganDiscriminator> {
    fresh_on(Engine::Burn, 0, epochs)
}

/// `hidden`: the width of InfoGAN's fully connected layers (`conv.hidden`; 0: none).
fn fresh_on(
    engine: Engine,
    hidden: usize,
    epochs: u64,
) -> Gan<gan::models::dcgan::DcganGenerator, gan::models::dcgan::DcganDiscriminator> {
    let dev = Device::flex().autodiff();
    let d = DcganConfig {
        layout: DcganLayout::Dcgan28,
        noise_dim: 16,
        channels: 1,
        ngf: 8,
        ndf: 8,
        classes: 0,
        d_batch_norm: true,
        hidden,
        spectral_norm: false,
    };
    let (g, dd) = dcgan_pair(&d, &mut Rng::new(3), &dev).expect("pair");
    Gan::from_models(
        config(engine, epochs),
        d.shape().expect("shape"),
        g,
        dd,
        &dev,
    )
    .expect("gan")
}

fn data() -> gan::data::ImageSet {
    let splits = gan::data::load_splits(&gan::data::resolve_dir("data/mnist".as_ref()), 50_000)
        .expect("mnist");
    splits.train.select(&(0..128).collect::<Vec<_>>())
}

#[test]
fn a_dcgan_run_trains_and_resumes_bit_for_bit() {
    trains_and_resumes(Engine::Burn, 0);
}

#[test]
fn a_dcgan_run_on_the_fused_engine_resumes_bit_for_bit() {
    // the engine's weights, Adam moments and running statistics go through the checkpoint,
    // those of InfoGAN's hidden layers included
    trains_and_resumes(Engine::Fast, 12);
}

fn trains_and_resumes(engine: Engine, hidden: usize) {
    let fresh = |epochs| fresh_on(engine, hidden, epochs);
    let dir = tempfile::tempdir().expect("tempdir");
    // two epochs in one go (128 images, batches of 32: 4 iterations each)
    let whole = dir.path().join("whole");
    let before = fresh(2).sample(8, 5).expect("sample");
    let mut run = Run::create_with(&whole, fresh(2), data()).expect("run");
    run.train(&mut Silent).expect("train");
    assert_eq!(run.gan.progress.step, 8);
    let after = run.gan.sample(8, 5).expect("sample");
    assert!(
        after.iter().all(|v| (0.0..=1.0).contains(v)),
        "samples leave [0, 1]"
    );
    let moved = after
        .iter()
        .zip(&before)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    assert!(moved > 1e-3, "G did not change: {moved}");
    // one epoch, the process "ends", then resumed into fresh modules for the second
    let cut = dir.path().join("cut");
    let mut run = Run::create_with(&cut, fresh(1), data()).expect("run");
    run.train(&mut Silent).expect("train");
    drop(run);
    // the batch-norm running statistics are in the checkpoint (sampling uses them)
    let ckpt = gan::checkpoint::list_checkpoints(&cut.join("checkpoints"))[0]
        .1
        .clone();
    let bytes = std::fs::read(ckpt.join("generator.safetensors")).expect("weights");
    let n = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes")) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).expect("header");
    let names: Vec<&String> = header.as_object().expect("object").keys().collect();
    let mut wanted = vec![
        "bns.0.running_mean",
        "bns.0.running_var",
        "project_bn.running_mean",
    ];
    if hidden > 0 {
        wanted.extend(["hidden.weight", "hidden_bn.running_var"]);
    }
    for want in wanted {
        assert!(
            names.iter().any(|k| k.as_str() == want),
            "{want} not in {names:?}"
        );
    }
    let (mut run, _, _) = Run::resume_with(&cut, fresh(1), data(), Some(2)).expect("resume");
    run.train(&mut Silent).expect("train");
    assert_eq!(run.gan.sample(8, 5).expect("sample"), after);
}

#[test]
fn a_dcgan_run_opened_from_its_checkpoint_samples_what_it_trained() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("run");
    let mut run = Run::create_with(&out, fresh(1), data()).expect("run");
    run.train(&mut Silent).expect("train");
    let trained = run.gan.sample(8, 5).expect("sample");
    drop(run);
    // the live G's running variances moved from their start (1) and were not overwritten by
    // saving the optimizer state (burn shares running statistics between module copies)
    let var = |g: &gan::models::dcgan::DcganGenerator| -> Vec<f32> {
        g.bns[0]
            .running_var
            .value()
            .into_data()
            .try_into_vec::<f32>()
            .expect("f32")
    };
    let mut opened = fresh(1);
    gan::train::load_latest_into(&out, &mut opened).expect("load");
    let (run, _, _) = Run::resume_with(&out, fresh(1), data(), None).expect("reopen");
    let live = var(&run.gan.generator);
    assert!(
        live.iter().all(|&v| v > 1e-3 && (v - 1.0).abs() > 1e-3),
        "{live:?}"
    );
    assert_eq!(var(&opened.generator), live);
    // saving a checkpoint leaves them as they are
    run.save_checkpoint().expect("save");
    assert_eq!(var(&run.gan.generator), live);
    drop(run);
    let again = opened.sample(8, 5).expect("sample");
    let diff = trained
        .iter()
        .zip(&again)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    assert_eq!(
        diff, 0.0,
        "the opened run samples other images (max difference {diff})"
    );
}
