//! Spectral normalisation and DiffAugment through the one training step: the normalised D
//! is the plain D with each weight divided by its sigma, both augmentations reach both of
//! D's batches (and nothing at strength 0), the settings the fused engines cannot honour are
//! refused, and a stopped and resumed run with every stabiliser on is bit-identical.

mod common;

use std::path::Path;

use burn::module::Param;
use burn::tensor::{Device, Tensor, TensorData};
use gan::config::TrainConfig;
use gan::models::Discriminator;
use gan::models::dcgan::{DcganConfig, DcganDiscriminator, DcganGenerator, DcganLayout};
use gan::nn::spectral::{conv_matrix, linear_matrix};
use gan::rng::Rng;
use gan::train::{Dcgan, Family, Gan, Mlp, Run, Silent, files};

fn dev() -> Device {
    Device::flex().autodiff()
}

fn config(extra: &[&str]) -> TrainConfig {
    let mut o: Vec<String> = vec![
        "conv.ngf=8".into(),
        "conv.ndf=8".into(),
        "noise.dim=16".into(),
        "batch_size=16".into(),
        "grid_samples=4".into(),
        "engine=\"burn\"".into(),
    ];
    o.extend(extra.iter().map(|s| s.to_string()));
    TrainConfig::preset("mnist-dcgan", &o).expect("valid config")
}

fn pair(layout: DcganLayout, sn: bool, bn: bool) -> (DcganGenerator, DcganDiscriminator) {
    let d = DcganConfig {
        layout,
        noise_dim: 16,
        channels: 1,
        ngf: 8,
        ndf: 8,
        classes: 0,
        d_batch_norm: bn,
        hidden: 0,
        spectral_norm: sn,
    };
    gan::models::dcgan::dcgan_pair(&d, &mut Rng::new(4), &dev()).expect("pair")
}

fn images(n: usize, side: usize) -> Tensor<4> {
    let mut rng = Rng::new(8);
    let v: Vec<f32> = (0..n * side * side)
        .map(|_| rng.uniform() * 2.0 - 1.0)
        .collect();
    Tensor::from_data(TensorData::new(v, [n, 1, side, side]), &dev())
}

fn host(t: Tensor<2>) -> Vec<f32> {
    t.into_data().try_into_vec::<f32>().expect("f32")
}

fn scalar(t: Tensor<1>) -> f32 {
    t.into_scalar::<f32>()
}

#[test]
fn the_normalised_discriminator_is_the_plain_one_with_each_weight_over_its_sigma() {
    for layout in [DcganLayout::Dcgan28, DcganLayout::Dcgan32] {
        let (_, d) = pair(layout, true, false);
        let (_, plain) = pair(layout, false, false);
        // the same seed draws the same weights with and without the vectors
        assert_eq!(
            d.downs[0]
                .weight
                .val()
                .into_data()
                .try_into_vec::<f32>()
                .expect("f32"),
            plain.downs[0]
                .weight
                .val()
                .into_data()
                .try_into_vec::<f32>()
                .expect("f32")
        );
        assert_eq!(d.sn.len(), d.downs.len() + 1, "{layout:?}");
        let mut divided = d.clone();
        divided.sn.clear();
        for (i, c) in divided.downs.iter_mut().enumerate() {
            let s = scalar(d.sn[i].sigma(conv_matrix(c.weight.val())));
            assert!(s > 0.0);
            c.weight = Param::from_tensor(c.weight.val().div_scalar(s).detach());
        }
        let n = d.downs.len();
        if let Some(c) = divided.out_conv.as_mut() {
            let s = scalar(d.sn[n].sigma(conv_matrix(c.weight.val())));
            c.weight = Param::from_tensor(c.weight.val().div_scalar(s).detach());
        }
        if let Some(l) = divided.out_linear.as_mut() {
            let s = scalar(d.sn[n].sigma(linear_matrix(l.weight.val())));
            l.weight = Param::from_tensor(l.weight.val().div_scalar(s).detach());
        }
        let x = images(5, layout.side());
        let (a, b) = (
            host(d.logits(x.clone(), None, None)),
            host(divided.logits(x, None, None)),
        );
        for (p, q) in a.iter().zip(&b) {
            assert!(
                (p - q).abs() < 1e-4 * (1.0 + q.abs()),
                "{layout:?}: {a:?} vs {b:?}"
            );
        }
    }
}

#[test]
fn the_normalised_maxout_discriminator_is_the_plain_one_with_each_weight_over_its_sigma() {
    let mut cfg = gan::config::DiscriminatorConfig {
        hidden: vec![12, 7],
        pieces: 3,
        ..Default::default()
    };
    let plain = gan::models::MlpDiscriminator::new(&cfg, 20, &mut Rng::new(5), &dev());
    cfg.spectral_norm = true;
    let d = gan::models::MlpDiscriminator::new(&cfg, 20, &mut Rng::new(5), &dev());
    assert_eq!(d.sn.len(), 3);
    let mut divided = plain.clone();
    for (i, l) in divided.hidden.iter_mut().enumerate() {
        let s = scalar(d.sn[i].sigma(linear_matrix(l.linear.weight.val())));
        l.linear.weight = Param::from_tensor(l.linear.weight.val().div_scalar(s).detach());
    }
    let s = scalar(d.sn[2].sigma(linear_matrix(divided.output.weight.val())));
    divided.output.weight = Param::from_tensor(divided.output.weight.val().div_scalar(s).detach());
    let mut rng = Rng::new(3);
    let v: Vec<f32> = (0..6 * 20).map(|_| rng.uniform()).collect();
    let x: Tensor<2> = Tensor::from_data(TensorData::new(v, [6, 20]), &dev());
    let (a, b, raw) = (
        host(d.forward(x.clone(), None)),
        host(divided.forward(x.clone(), None)),
        host(plain.forward(x, None)),
    );
    for (p, q) in a.iter().zip(&b) {
        assert!((p - q).abs() < 1e-4 * (1.0 + q.abs()), "{a:?} vs {b:?}");
    }
    // and normalising changed something: the paper's initial weights are far from sigma 1
    assert!(
        a.iter().zip(&raw).any(|(p, r)| (p - r).abs() > 1e-3),
        "{a:?} vs {raw:?}"
    );
}

/// The statistics of the first D pass, trained from the same initialisation.
fn first_step(extra: &[&str]) -> gan::train::StepStats {
    let cfg = config(extra);
    let mut g: Gan<DcganGenerator, DcganDiscriminator> = {
        let (gg, dd) = pair(DcganLayout::Dcgan28, false, true);
        Gan::from_models(
            cfg,
            gan::models::ImageShape::grey(28, 28).expect("shape"),
            gg,
            dd,
            &dev(),
        )
        .expect("gan")
    };
    let x = common::train_subset(16).pixels();
    g.train_step(&[x]).expect("step")
}

#[test]
fn augmentation_reaches_both_of_ds_batches_and_nothing_at_strength_zero() {
    let base = first_step(&[]);
    // the fake batch comes from the same noise (the augmentation draws after it): a
    // change in D(G(z)) means the fakes were augmented, one in D(x) the reals
    let on = first_step(&["augment=\"translation,cutout\""]);
    assert_ne!(on.d_real, base.d_real, "real batch augmented");
    assert_ne!(on.d_fake, base.d_fake, "fake batch augmented");
    let zero = first_step(&["augment=\"translation,cutout\"", "augment_strength=0"]);
    assert_eq!((zero.d_real, zero.d_fake), (base.d_real, base.d_fake));
}

#[test]
fn what_the_fused_engines_cannot_honour_is_refused_naming_the_key() {
    for (opts, key) in [
        (
            &["discriminator.spectral_norm=true", "engine=\"fast\""][..],
            "discriminator.spectral_norm",
        ),
        (&["augment=\"color\"", "engine=\"fast\""][..], "augment"),
        (
            &["conv.d_batch_norm=false", "engine=\"fast\""][..],
            "conv.d_batch_norm",
        ),
        (&["augment=\"colour\""][..], "augment"),
        (&["augment_strength=-1"][..], "augment_strength"),
    ] {
        let o: Vec<String> = opts.iter().map(|s| s.to_string()).collect();
        let e = TrainConfig::preset("mnist-dcgan", &o).expect_err("refused");
        assert!(e.to_string().contains(key), "{opts:?}: {e}");
    }
    let e = TrainConfig::preset(
        "mnist-paper",
        &["discriminator.spectral_norm=true".to_string()],
    )
    .expect_err("the fused MLP engine has no spectral norm");
    assert!(e.to_string().contains("burn"), "{e}");
    let e = TrainConfig::preset(
        "mnist-fast",
        &[
            "discriminator.spectral_norm=true".to_string(),
            "engine=\"burn\"".to_string(),
            "loss=\"wgan-gp\"".to_string(),
        ],
    )
    .expect_err("two Lipschitz bounds");
    assert!(e.to_string().contains("choose one"), "{e}");
    let e = TrainConfig::preset("mnist-paper", &["augment=\"color\"".to_string()])
        .expect_err("the fused MLP engine has no augmentation");
    assert!(e.to_string().contains("burn"), "{e}");
    // no double backward: WGAN-GP's penalty on a convolutional D is refused before training,
    // on either engine, with the reason
    for engine in ["burn", "fast"] {
        let o = vec!["loss=\"wgan-gp\"".to_string(), format!("engine={engine:?}")];
        let e = TrainConfig::preset("mnist-dcgan", &o).expect_err("refused");
        assert!(e.to_string().contains("double backward"), "{engine}: {e}");
    }
    // the SNGAN preset holds together
    let c = TrainConfig::preset("emoji-sngan", &[]).expect("emoji-sngan");
    assert!(c.discriminator.spectral_norm && !c.conv.d_batch_norm && c.k == 5);
}

use common::StopAfter;

/// CRC-32 of every weight file of the newest checkpoint (a missing file counts as empty).
fn crcs(dir: &Path) -> Vec<u32> {
    let ckpts = gan::checkpoint::list_checkpoints(&dir.join(files::CHECKPOINTS));
    let ckpt = &ckpts[0].1;
    [
        files::GENERATOR,
        files::DISCRIMINATOR,
        files::GENERATOR_EMA,
        files::GENERATOR_VELOCITY,
        files::DISCRIMINATOR_VELOCITY,
        files::GENERATOR_SECOND,
        files::DISCRIMINATOR_SECOND,
    ]
    .iter()
    .map(|f| gan::checkpoint::crc32(&std::fs::read(ckpt.join(f)).unwrap_or_default()))
    .collect()
}

/// The tensor names of a safetensors file.
fn tensor_names(path: &Path) -> Vec<String> {
    let bytes = std::fs::read(path).expect("weights");
    let n = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes")) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).expect("header");
    header
        .as_object()
        .expect("object")
        .keys()
        .filter(|k| *k != "__metadata__")
        .cloned()
        .collect()
}

/// Trains `cfg` for its epochs in one go and, beside it, stopped after 2 iterations and
/// resumed; the newest checkpoints must be byte-identical. Returns the first run's newest
/// checkpoint's D tensor names.
fn resumes_bit_identically<F: Family>(cfg: TrainConfig, what: &str) -> Vec<String> {
    let data = common::train_subset(96);
    let (a, b) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    Run::create_as::<F>(a.path(), cfg.clone(), data.clone(), &dev())
        .expect("run")
        .train(&mut Silent)
        .expect("train");
    let mut run = Run::create_as::<F>(b.path(), cfg, data.clone(), &dev()).expect("run");
    run.train(&mut StopAfter(0, 2)).expect("train");
    drop(run);
    let (mut run, _, _) = Run::resume_as::<F>(b.path(), data, None, &dev()).expect("resume");
    run.train(&mut Silent).expect("train");
    drop(run);
    assert_eq!(crcs(a.path()), crcs(b.path()), "{what}");
    let newest = &gan::checkpoint::list_checkpoints(&a.path().join(files::CHECKPOINTS))[0].1;
    tensor_names(&newest.join(files::DISCRIMINATOR))
}

#[test]
fn a_stopped_and_resumed_run_with_every_stabiliser_is_bit_identical() {
    let every = [
        "epochs=2",
        "discriminator.spectral_norm=true",
        "conv.d_batch_norm=false",
        "loss=\"hinge\"",
        "k=2",
        "augment=\"color,translation,cutout\"",
        "g_ema_decay=0.9",
    ];
    let names = resumes_bit_identically::<Dcgan>(config(&every), "dcgan, every stabiliser");
    // u and v of the two convolutions and the output layer
    let vectors = names.iter().filter(|n| n.starts_with("sn.")).count();
    assert_eq!(vectors, 6, "{names:?}");
    // the plain DCGAN on burn's engine (96 images in batches of 16: stopped mid-epoch): D's
    // and G's batch-norm running statistics reach the checkpoint with their newest update
    let names = resumes_bit_identically::<Dcgan>(config(&["epochs=2"]), "dcgan, batch norm");
    assert!(names.iter().all(|n| !n.starts_with("sn.")), "{names:?}");
    // the paper's maxout D, spectrally normalised, with DiffAugment
    let mlp: Vec<String> = [
        "epochs=2",
        "engine=\"burn\"",
        "generator.hidden=[32]",
        "discriminator.hidden=[16]",
        "batch_size=16",
        "grid_samples=4",
        "discriminator.spectral_norm=true",
        "augment=\"translation,cutout\"",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let cfg = TrainConfig::preset("mnist-fast", &mlp).expect("valid config");
    let names = resumes_bit_identically::<Mlp>(cfg, "mlp, spectral norm");
    assert_eq!(names.iter().filter(|n| n.starts_with("sn.")).count(), 4);
}
