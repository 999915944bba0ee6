//! The conditional GAN (Mirza & Osindero 2014) and WGAN-GP on the MNIST model: a
//! conditional run learns a label-to-image map (on synthetic 4x4 "digits", where the answer
//! is known), bad labels are refused, and WGAN-GP trains on the burn engine (and is refused
//! by the fused one).

mod common;

use burn::tensor::Device;
use gan::config::TrainConfig;
use gan::train::{Run, Silent};

fn dev() -> Device {
    Device::flex().autodiff()
}

#[test]
fn conditional_and_gradient_penalty_settings_are_checked() {
    let e = TrainConfig::preset("mnist-cgan", &["engine=\"fast\"".into()])
        .expect_err("fast engine has no conditioning");
    assert!(e.to_string().contains("burn engine"), "{e}");
    let e = TrainConfig::preset("mnist-fast", &["loss=\"wgan-gp\"".into()])
        .expect_err("fast engine has no gradient penalty");
    assert!(e.to_string().contains("burn"), "{e}");
    let e = TrainConfig::preset(
        "mnist-paper",
        &["classes=2".into(), "engine=\"burn\"".into()],
    )
    .expect("two classes parse");
    let dir = tempfile::tempdir().expect("tempdir");
    let err = Run::create(dir.path(), e, common::train_subset(200), &dev())
        .err()
        .expect("MNIST labels go up to 9");
    assert!(err.to_string().contains("labels"), "{err}");
}

#[test]
fn wgan_gp_trains_on_the_burn_engine() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = TrainConfig::preset(
        "mnist-fast",
        &[
            "loss=\"wgan-gp\"".into(),
            "engine=\"burn\"".into(),
            "schedule=\"alternating\"".into(),
            "k=5".into(),
            "optimizer.lr=0.01".into(),
            "epochs=1".into(),
            "grid_samples=4".into(),
        ],
    )
    .expect("valid");
    let mut run = Run::create(dir.path(), cfg, common::train_subset(2000), &dev()).expect("run");
    run.train(&mut Silent)
        .expect("wgan-gp trains without diverging");
    let x = run.gan.sample(4, 1).expect("samples");
    assert!(x.iter().all(|v| v.is_finite() && (0.0..=1.0).contains(v)));
}

/// Every float parameter of a module, flattened in visiting order.
fn params<M: burn::module::Module>(m: &M) -> Vec<f64> {
    struct Collect(Vec<f64>);
    impl burn::module::ModuleVisitor for Collect {
        fn visit_float<const D: usize>(
            &mut self,
            p: &burn::module::Param<burn::tensor::Tensor<D>>,
        ) {
            let v: Vec<f32> = p.val().into_data().try_into_vec().expect("host");
            self.0.extend(v.into_iter().map(f64::from));
        }
    }
    let mut c = Collect(Vec::new());
    m.visit(&mut c);
    c.0
}

#[test]
fn the_gradient_penalty_acts_on_the_critics_update_in_proportion_to_its_weight() {
    // one Algorithm 1 iteration (k = 1) from the same state and random stream with
    // gp_weight 0, 10 and 20: the first momentum-SGD update is linear in the gradient, so
    // D's weights move away from the unpenalised step by an amount proportional to the
    // weight (a penalty stubbed out, detached from the graph or ignored gives no difference)
    let real = common::train_subset(100).first_pixels(100);
    let after = |lambda: f32| {
        let cfg = TrainConfig::preset(
            "mnist-fast",
            &[
                "loss=\"wgan-gp\"".into(),
                "engine=\"burn\"".into(),
                "schedule=\"alternating\"".into(),
                "k=1".into(),
                "optimizer.lr=0.01".into(),
                "generator.hidden=[32]".into(),
                "discriminator.hidden=[16]".into(),
                format!("gp_weight={lambda}"),
            ],
        )
        .expect("valid");
        let mut gan =
            gan::train::Gan::new(cfg, gan::data::MNIST_SHAPE, None, &dev()).expect("valid");
        gan.train_step(std::slice::from_ref(&real)).expect("step");
        params(&gan.discriminator)
    };
    let (w0, w10, w20) = (after(0.0), after(10.0), after(20.0));
    let d10: Vec<f64> = w10.iter().zip(&w0).map(|(a, b)| a - b).collect();
    let d20: Vec<f64> = w20.iter().zip(&w0).map(|(a, b)| a - b).collect();
    let norm = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
    let w_norm = norm(&w0);
    assert!(
        norm(&d10) > 1e-6 * w_norm,
        "the penalty moved D by {} (weights' norm {w_norm})",
        norm(&d10)
    );
    let off: Vec<f64> = d20.iter().zip(&d10).map(|(a, b)| a - 2.0 * b).collect();
    assert!(
        norm(&off) < 0.02 * norm(&d10),
        "doubling the weight doubles its effect: |d20 - 2 d10| = {} vs |d10| = {}",
        norm(&off),
        norm(&d10)
    );
}

/// Ten 4x4 "digits": class c lights pixel c (plus a little noise elsewhere).
fn synthetic(n: usize) -> gan::data::ImageSet {
    let mut rng = gan::rng::Rng::new(3);
    let mut bytes = Vec::with_capacity(n * 16);
    let mut labels = Vec::with_capacity(n);
    for i in 0..n {
        let c = i % 10;
        for p in 0..16 {
            bytes.push(if p == c {
                230
            } else {
                (rng.uniform() * 20.0) as u8
            });
        }
        labels.push(c as u8);
    }
    gan::data::ImageSet {
        bytes,
        labels,
        rows: 4,
        cols: 4,
        channels: 1,
    }
}

#[test]
fn conditioning_learns_a_label_to_image_map() {
    let dir = tempfile::tempdir().expect("tempdir");
    let o: Vec<String> = vec![
        "generator.hidden=[64]".into(),
        "discriminator.hidden=[32]".into(),
        "noise.dim=4".into(),
        "epochs=150".into(),
        "grid_samples=10".into(),
    ];
    let cfg = TrainConfig::preset("mnist-cgan", &o).expect("valid");
    let mut run = Run::create(dir.path(), cfg, synthetic(5000), &dev()).expect("run");
    run.train(&mut Silent).expect("train");
    let labels: Vec<usize> = (0..200).map(|i| i % 10).collect();
    let x = run.gan.sample_labelled(200, 5, &labels).expect("samples");
    let hits = x
        .chunks(16)
        .zip(&labels)
        .filter(|(img, y)| {
            let best = (0..16)
                .max_by(|&a, &b| img[a].total_cmp(&img[b]))
                .unwrap_or(99);
            best == **y
        })
        .count();
    eprintln!("synthetic conditional accuracy {hits}/200");
    assert!(
        hits > 150,
        "only {hits} of 200 samples light their class's pixel"
    );
    // labels outside 0..10 are refused
    assert!(run.gan.sample_labelled(2, 0, &[3, 10]).is_err());
}

#[test]
fn a_short_mnist_cgan_run_draws_the_requested_digits() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = TrainConfig::preset(
        "mnist-cgan",
        &[
            "generator.hidden=[256]".into(),
            "discriminator.hidden=[64]".into(),
            "epochs=4".into(),
            "grid_samples=20".into(),
        ],
    )
    .expect("valid");
    let mut run = Run::create(dir.path(), cfg, common::train_subset(10_000), &dev()).expect("run");
    run.train(&mut Silent).expect("train");
    let clf = gan::classifier::load_classifier(
        &std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(gan::classifier::SHIPPED_MNIST),
    )
    .expect("shipped classifier");
    let labels: Vec<usize> = (0..500).map(|i| i / 50).collect();
    let x = run.gan.sample_labelled(500, 7, &labels).expect("samples");
    let pred =
        gan::classifier::argmax_rows(&gan::classifier::probabilities(&clf, &x).expect("probs"));
    let hits = pred.iter().zip(&labels).filter(|(p, y)| p == y).count();
    // the samples of one class must still vary with the noise (real digits: 0.14)
    let mut sd = 0.0;
    for c in 0..10 {
        let rows: Vec<&[f32]> = x.chunks(784).skip(c * 50).take(50).collect();
        for p in 0..784 {
            let m = rows.iter().map(|r| r[p]).sum::<f32>() / 50.0;
            sd += (rows.iter().map(|r| (r[p] - m).powi(2)).sum::<f32>() / 50.0).sqrt();
        }
    }
    let sd = sd / 7840.0;
    eprintln!("MNIST conditional accuracy {hits}/500, within-class pixel std {sd:.4}");
    // chance is 50 of 500
    assert!(hits > 150, "only {hits} of 500 samples show their class");
    assert!(
        sd > 0.02,
        "each class collapsed to one image (pixel std {sd})"
    );
}

#[test]
fn a_config_built_in_code_is_checked_where_the_players_are_built() {
    // settings the fused engine cannot honour, set in code rather than TOML, are refused by
    // Gan::new (they used to panic inside the engine or be ignored)
    let base = TrainConfig::preset("mnist-fast", &[]).expect("preset");
    let mut conditional = base.clone();
    conditional.classes = 10;
    let mut gp = base.clone();
    gp.loss = gan::loss::GanLoss::WganGp;
    let mut adam = base.clone();
    adam.optimizer.kind = gan::config::OptimKind::Adam;
    for (cfg, want) in [
        (conditional, "classes"),
        (gp, "loss"),
        (adam, "optimizer.kind"),
    ] {
        let e = gan::train::Gan::new(cfg, gan::data::MNIST_SHAPE, None, &dev())
            .err()
            .expect("refused")
            .to_string();
        assert!(e.contains(want) && e.contains("burn engine"), "{e}");
    }
    let e = gan::train::Gan::new(base, gan::data::MNIST_SHAPE, Some(&[0.5; 10]), &dev())
        .err()
        .expect("wrong means")
        .to_string();
    assert!(
        e.contains("10 pixel means for images of [1, 28, 28]"),
        "{e}"
    );
}
