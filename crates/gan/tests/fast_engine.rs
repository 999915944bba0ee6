//! The fast engine against burn's autodiff on the same model definition: same losses, same
//! D(x) and D(G(z)), same weights and velocities after several steps, for both schedules and
//! every loss (the paper's two, LSGAN, hinge, WGAN with clipping).

mod common;

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::{Device, Tensor};
use gan::config::TrainConfig;
use gan::train::Gan;

fn weights<M: Module>(m: &M) -> Vec<Vec<f32>> {
    struct V(Vec<Vec<f32>>);
    impl ModuleVisitor for V {
        fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
            self.0.push(
                p.val()
                    .inner()
                    .into_data()
                    .try_into_vec::<f32>()
                    .expect("f32"),
            );
        }
    }
    let mut v = V(Vec::new());
    m.visit(&mut v);
    v.0
}

fn max_rel_diff(a: &[Vec<f32>], b: &[Vec<f32>]) -> f64 {
    assert_eq!(a.len(), b.len());
    let mut worst = 0.0f64;
    for (x, y) in a.iter().zip(b) {
        assert_eq!(x.len(), y.len());
        let scale = x.iter().map(|v| v.abs()).fold(1e-6f32, f32::max) as f64;
        for (p, q) in x.iter().zip(y) {
            worst = worst.max((*p as f64 - *q as f64).abs() / scale);
        }
    }
    worst
}

fn run(cfg: &TrainConfig, steps: usize) -> (Vec<gan::train::StepStats>, Gan) {
    let data = common::train_subset(2000);
    let device = Device::flex().autodiff();
    let mut gan = Gan::new(
        cfg.clone(),
        gan::data::MNIST_SHAPE,
        Some(&data.pixel_means()),
        &device,
    )
    .expect("valid");
    let m = cfg.batch_size;
    let per = gan.batches_per_step();
    let mut stats = Vec::new();
    for s in 0..steps {
        let real: Vec<Vec<f32>> = (0..per)
            .map(|j| {
                let b = (s * per + j) % (2000 / m);
                data.pixels()[b * m * 784..(b + 1) * m * 784].to_vec()
            })
            .collect();
        stats.push(gan.train_step(&real).expect("step"));
    }
    gan.sync_modules();
    (stats, gan)
}

#[test]
fn fast_engine_matches_burn_autodiff() {
    // 5 maxout pieces take the sparse backward pass, 1 piece the dense one
    for (schedule, loss, pieces) in [
        ("simultaneous", "non-saturating", 5),
        ("simultaneous", "minimax", 5),
        ("alternating", "non-saturating", 5),
        ("alternating", "minimax", 5),
        ("alternating", "lsgan", 5),
        ("simultaneous", "hinge", 5),
        ("alternating", "wgan", 5),
        ("alternating", "non-saturating", 1),
        ("simultaneous", "non-saturating", 1),
    ] {
        let base = [
            format!("schedule={schedule:?}"),
            format!("loss={loss:?}"),
            "k=2".to_string(),
            "generator.hidden=[64, 48]".to_string(),
            "discriminator.hidden=[32, 16]".to_string(),
            "batch_size=50".to_string(),
            // larger initial weights than the paper's, so gradients are far from zero
            "discriminator.init_range=0.05".to_string(),
            format!("discriminator.pieces={pieces}"),
        ];
        let mut base = base.to_vec();
        if loss == "wgan" {
            base.push("discriminator.clip=0.02".into());
        }
        let mut fast = base.to_vec();
        fast.push("engine=fast".into());
        let mut slow = base.to_vec();
        slow.push("engine=burn".into());
        let cf = TrainConfig::preset("mnist-fast", &fast).expect("cfg");
        let cb = TrainConfig::preset("mnist-fast", &slow).expect("cfg");
        let (sf, gf) = run(&cf, 8);
        let (sb, gb) = run(&cb, 8);
        for (i, (a, b)) in sf.iter().zip(&sb).enumerate() {
            for (x, y, what) in [
                (a.d_loss, b.d_loss, "d_loss"),
                (a.g_loss, b.g_loss, "g_loss"),
                (a.d_real, b.d_real, "d_real"),
                (a.d_fake, b.d_fake, "d_fake"),
            ] {
                assert!(
                    (x - y).abs() < 1e-4 * (1.0 + y.abs()),
                    "{schedule} {loss} pieces {pieces} step {i} {what}: fast {x} burn {y}"
                );
            }
        }
        let (pf, pb) = (&gf.progress, &gb.progress);
        assert_eq!(
            (pf.step, pf.d_updates, pf.g_updates, &pf.rng),
            (pb.step, pb.d_updates, pb.g_updates, &pb.rng),
            "{schedule} {loss} pieces {pieces}: same counters and random stream"
        );
        let dg = max_rel_diff(&weights(&gf.generator), &weights(&gb.generator));
        let dd = max_rel_diff(&weights(&gf.discriminator), &weights(&gb.discriminator));
        assert!(
            dg < 1e-4 && dd < 1e-4,
            "{schedule} {loss} pieces {pieces}: weights differ by {dg} (G), {dd} (D)"
        );
        if loss == "wgan" {
            // weights start at up to 0.05: clipping to 0.02 acted in both engines
            for g in [&gf, &gb] {
                let max = weights(&g.discriminator)
                    .iter()
                    .flatten()
                    .fold(0f32, |m, v| m.max(v.abs()));
                assert!(
                    max <= 0.02 + 1e-7 && max > 0.019,
                    "clipped D: max |w| {max}"
                );
            }
        }
        let vg = max_rel_diff(
            &weights(&gf.opt_g.velocity_module(&gf.generator)),
            &weights(&gb.opt_g.velocity_module(&gb.generator)),
        );
        let vd = max_rel_diff(
            &weights(&gf.opt_d.velocity_module(&gf.discriminator)),
            &weights(&gb.opt_d.velocity_module(&gb.discriminator)),
        );
        assert!(
            vg < 1e-3 && vd < 1e-3,
            "{schedule} {loss} pieces {pieces}: velocities differ by {vg} (G), {vd} (D)"
        );
    }
}

#[test]
fn sampling_after_fused_steps_sees_the_trained_weights_without_a_sync() {
    let device = Device::flex().autodiff();
    let cfg = gan::config::TrainConfig::preset(
        "mnist-fast",
        &[
            "generator.hidden=[32]".into(),
            "discriminator.hidden=[16]".into(),
        ],
    )
    .expect("preset");
    let data = common::train_subset(200);
    let mut gan = Gan::new(
        cfg,
        gan::data::MNIST_SHAPE,
        Some(&data.pixel_means()),
        &device,
    )
    .expect("valid");
    let before = gan.sample(8, 3).expect("sample");
    for b in 0..2 {
        gan.train_step(&[data.first_pixels(200)[b * 100 * 784..(b + 1) * 100 * 784].to_vec()])
            .expect("step");
    }
    let unsynced = gan.sample(8, 3).expect("sample");
    assert!(unsynced != before, "the steps changed G");
    gan.sync_modules();
    assert_eq!(gan.sample(8, 3).expect("sample"), unsynced);
}

#[test]
fn d_lr_ratio_scales_ds_steps_only_on_every_engine_and_schedule() {
    // one momentum-SGD step from zero velocity moves each weight by -lr * gradient: with
    // D's learning rate tripled D moves three times as far; under the simultaneous schedule
    // G's step (gradients from the same pass) does not change at all
    for schedule in ["simultaneous", "alternating"] {
        for engine in ["fast", "burn"] {
            let with = |ratio: f64| {
                let sets = [
                    format!("schedule={schedule:?}"),
                    format!("engine={engine:?}"),
                    "generator.hidden=[64, 48]".to_string(),
                    "discriminator.hidden=[32, 16]".to_string(),
                    "batch_size=50".to_string(),
                    "discriminator.init_range=0.05".to_string(),
                    format!("optimizer.d_lr_ratio={ratio}"),
                ];
                TrainConfig::preset("mnist-fast", &sets).expect("cfg")
            };
            let (_, start) = run(&with(1.0), 0);
            let (_, one) = run(&with(1.0), 1);
            let (_, three) = run(&with(3.0), 1);
            let delta = |g: &Gan| -> Vec<f32> {
                let (a, b) = (weights(&g.discriminator), weights(&start.discriminator));
                a.iter()
                    .flatten()
                    .zip(b.iter().flatten())
                    .map(|(x, y)| x - y)
                    .collect()
            };
            let (d1, d3) = (delta(&one), delta(&three));
            let scale = d1.iter().fold(0f32, |m, v| m.max(v.abs()));
            assert!(scale > 1e-4, "{schedule} {engine}: D moved only {scale}");
            let worst = d1
                .iter()
                .zip(&d3)
                .map(|(a, b)| (3.0 * a - b).abs())
                .fold(0f32, f32::max);
            assert!(
                worst < 1e-3 * scale,
                "{schedule} {engine}: D's step with ratio 3 is not 3 times the step with 1 \
                 (off by {worst} of {scale})"
            );
            if schedule == "simultaneous" {
                assert_eq!(
                    weights(&one.generator),
                    weights(&three.generator),
                    "{schedule} {engine}: G's step changed with D's learning rate"
                );
            }
        }
    }
}
