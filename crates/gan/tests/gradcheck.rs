//! Losses against hand-computed values, and every gradient the training step uses against
//! central finite differences.

use burn::module::{Module, Param};
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor, TensorData};
use gan::config::{DiscriminatorConfig, GeneratorConfig, OutputBiasInit};
use gan::loss::{GanLoss, discriminator_loss, softplus};
use gan::models::{DMasks, Discriminator as _, MlpDiscriminator, MlpGenerator};
use gan::rng::Rng;

fn dev() -> Device {
    Device::flex().autodiff()
}

fn t2(v: &[f32], rows: usize, cols: usize) -> Tensor<2> {
    Tensor::from_data(TensorData::new(v.to_vec(), [rows, cols]), &dev())
}

fn scalar(t: Tensor<1>) -> f64 {
    t.inner().into_data().try_into_vec::<f32>().expect("f32")[0] as f64
}

#[test]
fn losses_match_hand_computed_values() {
    let l = t2(&[0.0, 2.0, -1.0], 3, 1);
    // python: mean(log1p(exp(-x)) for x in [0, 2, -1]) = 0.7111122930403803
    let ns = scalar(GanLoss::NonSaturating.generator_loss(l.clone()));
    assert!((ns - 0.711_112_293).abs() < 1e-6, "{ns}");
    // python: -mean(log1p(exp(x)) for x in [0, 2, -1]) = -1.0444456263737136
    let mm = scalar(GanLoss::Minimax.generator_loss(l));
    assert!((mm + 1.044_445_626).abs() < 1e-6, "{mm}");
    // python: 0.5*(mean(sp(-x) for x in [3,-.5]) + mean(sp(x) for x in [-2,1])) = 0.6157135085787611
    let d = scalar(discriminator_loss(
        t2(&[3.0, -0.5], 2, 1),
        t2(&[-2.0, 1.0], 2, 1),
    ));
    assert!((d - 0.615_713_508).abs() < 1e-6, "{d}");
    // the other losses, same batches, by hand:
    // LSGAN D: 0.5 * (mean((3-1)^2, (-0.5-1)^2) + mean(4, 1)) = 0.5 * (3.125 + 2.5)
    // hinge D: mean(0, 1.5) + mean(0, 2) = 1.75; WGAN D: mean(-2, 1) - mean(3, -0.5) = -1.75
    // LSGAN G on [0, 2, -1]: 0.5 * mean(1, 1, 4) = 1; hinge and WGAN G: -mean = -1/3
    let (real, fake) = ([3.0f32, -0.5], [-2.0f32, 1.0]);
    for (loss, want_d, want_g) in [
        (GanLoss::Lsgan, 2.8125, 1.0),
        (GanLoss::Hinge, 1.75, -1.0 / 3.0),
        (GanLoss::Wgan, -1.75, -1.0 / 3.0),
        (GanLoss::NonSaturating, 0.615_713_508, 0.711_112_293),
    ] {
        let d = scalar(loss.discriminator_loss(t2(&real, 2, 1), t2(&fake, 2, 1)));
        assert!((d - want_d).abs() < 1e-6, "{loss:?} D {d}");
        assert!((loss.discriminator_loss_scalar(&real, &fake) - want_d).abs() < 1e-9);
        let g = scalar(loss.generator_loss(t2(&[0.0, 2.0, -1.0], 3, 1)));
        assert!((g - want_g).abs() < 1e-6, "{loss:?} G {g}");
    }
    // scalar versions agree with the tensor ones
    for loss in [
        GanLoss::NonSaturating,
        GanLoss::Minimax,
        GanLoss::Lsgan,
        GanLoss::Hinge,
        GanLoss::Wgan,
    ] {
        for x in [-30.0, -1.0, 0.0, 0.5, 30.0] {
            let t = scalar(loss.generator_loss(t2(&[x as f32], 1, 1)));
            assert!((t - loss.generator_loss_scalar(x)).abs() < 1e-4 * (1.0 + t.abs()));
        }
    }
}

const ALL_LOSSES: [GanLoss; 5] = [
    GanLoss::Minimax,
    GanLoss::NonSaturating,
    GanLoss::Lsgan,
    GanLoss::Hinge,
    GanLoss::Wgan,
];

#[test]
fn softplus_is_stable_for_large_logits() {
    let v = softplus(Tensor::<1>::from_floats([100.0f32, -100.0, 0.0], &dev()))
        .inner()
        .into_data()
        .try_into_vec::<f32>()
        .expect("f32");
    assert_eq!(v[0], 100.0);
    assert!(v[1] > 0.0 && v[1] < 1e-40, "{}", v[1]);
    assert!((v[2] - std::f32::consts::LN_2).abs() < 1e-7);
    // -log D(G(z)) for a very confident D stays finite and its gradient is -1, not NaN
    let l = t2(&[-200.0], 1, 1).require_grad();
    let loss = GanLoss::NonSaturating.generator_loss(l.clone());
    let g = l
        .grad(&loss.backward())
        .expect("grad")
        .into_data()
        .try_into_vec::<f32>()
        .expect("f32");
    assert!(
        (scalar(GanLoss::NonSaturating.generator_loss(t2(&[-200.0], 1, 1))) - 200.0).abs() < 1e-3
    );
    assert!((g[0] + 1.0).abs() < 1e-6, "{g:?}");
}

fn tiny() -> (MlpGenerator, MlpDiscriminator, DiscriminatorConfig) {
    let mut rng = Rng::new(11);
    let gcfg = GeneratorConfig {
        hidden: vec![5],
        init_range: 0.6,
        output_bias: OutputBiasInit::Zero,
    };
    let dcfg = DiscriminatorConfig {
        hidden: vec![4, 3],
        pieces: 3,
        init_range: 0.6,
        input_keep: 0.8,
        hidden_keep: 0.5,
        clip: None,
        spectral_norm: false,
    };
    let g = MlpGenerator::new(
        &gcfg,
        3,
        gan::models::ImageShape::new(6, 1, 1).expect("shape"),
        None,
        &mut rng,
        &dev(),
    );
    let d = MlpDiscriminator::new(&dcfg, 6, &mut rng, &dev());
    (g, d, dcfg)
}

/// Central differences of `f` w.r.t. each entry of a 2-D weight, compared with `analytic`.
/// Entries whose step crosses a kink of ReLU / maxout (the two one-sided slopes disagree)
/// are skipped; at least 80% of the entries must be checked.
fn check_weight(name: &str, w: &Tensor<2>, analytic: &[f32], mut f: impl FnMut(Tensor<2>) -> f64) {
    let vals = w
        .clone()
        .inner()
        .into_data()
        .try_into_vec::<f32>()
        .expect("f32");
    let dims = w.dims();
    let eps = 1e-3f32;
    let f0 = f(w.clone());
    let mut checked = 0;
    for i in 0..vals.len() {
        let mut plus = vals.clone();
        plus[i] += eps;
        let mut minus = vals.clone();
        minus[i] -= eps;
        let fp = f(Tensor::from_data(TensorData::new(plus, dims), &dev()));
        let fm = f(Tensor::from_data(TensorData::new(minus, dims), &dev()));
        let (right, left) = ((fp - f0) / eps as f64, (f0 - fm) / eps as f64);
        if (right - left).abs() > 0.05 * right.abs().max(left.abs()) + 1e-3 {
            continue;
        }
        let numeric = (fp - fm) / (2.0 * eps as f64);
        let a = analytic[i] as f64;
        assert!(
            (numeric - a).abs() <= 1e-3 * numeric.abs().max(a.abs()) * 20.0 + 2e-4,
            "{name}[{i}]: numeric {numeric} vs autodiff {a}"
        );
        checked += 1;
    }
    assert!(
        checked * 5 >= vals.len() * 4,
        "{name}: only {checked} of {} entries away from kinks",
        vals.len()
    );
}

#[test]
fn discriminator_gradients_match_finite_differences() {
    let (_, d, _) = tiny();
    let mut rng = Rng::new(5);
    let real = t2(&(0..24).map(|_| rng.uniform()).collect::<Vec<_>>(), 4, 6);
    let fake = t2(&(0..24).map(|_| rng.uniform()).collect::<Vec<_>>(), 4, 6);
    let masks: DMasks = d.draw(8, &mut rng, &dev());
    let x = Tensor::cat(vec![real, fake], 0);
    for loss in ALL_LOSSES {
        let loss_of = |d: &MlpDiscriminator| {
            let l = d.forward(x.clone(), Some(&masks));
            loss.discriminator_loss(l.clone().slice([0..4, 0..1]), l.slice([4..8, 0..1]))
        };
        let mut grads = loss_of(&d).backward();
        let gp = GradientsParams::from_module(&mut grads, &d);
        for layer in 0..2 {
            let w = d.hidden[layer].linear.weight.val();
            let analytic = gp
                .get::<2>(d.hidden[layer].linear.weight.id)
                .expect("grad")
                .into_data()
                .try_into_vec::<f32>()
                .expect("f32");
            check_weight(&format!("maxout{layer}.weight"), &w, &analytic, |w2| {
                let mut d2 = d.clone();
                d2.hidden[layer].linear.weight = Param::from_tensor(w2);
                scalar(loss_of(&d2))
            });
        }
        let w = d.output.weight.val();
        let analytic = gp
            .get::<2>(d.output.weight.id)
            .expect("grad")
            .into_data()
            .try_into_vec::<f32>()
            .expect("f32");
        check_weight("output.weight", &w, &analytic, |w2| {
            let mut d2 = d.clone();
            d2.output.weight = Param::from_tensor(w2);
            scalar(loss_of(&d2))
        });
    }
}

#[test]
fn generator_gradients_through_a_frozen_discriminator_match_finite_differences() {
    let (g, d, _) = tiny();
    let mut rng = Rng::new(9);
    let z = t2(
        &(0..12)
            .map(|_| rng.uniform_range(-1.7, 1.7))
            .collect::<Vec<_>>(),
        4,
        3,
    );
    let masks = d.draw(4, &mut rng, &dev());
    for loss in ALL_LOSSES {
        let frozen = d.clone().no_grad();
        let loss_of = |g: &MlpGenerator| {
            loss.generator_loss(frozen.forward(g.forward(z.clone()), Some(&masks)))
        };
        let mut grads = loss_of(&g).backward();
        let gp = GradientsParams::from_module(&mut grads, &g);
        // the frozen D gets no gradient from the generator's objective
        let dgrads = GradientsParams::from_module(&mut loss_of(&g).backward(), &d);
        assert_eq!(
            dgrads.len(),
            0,
            "D parameters must not receive G-step gradients"
        );
        for (name, w, id) in [
            ("hidden0", g.hidden[0].weight.val(), g.hidden[0].weight.id),
            ("output", g.output.weight.val(), g.output.weight.id),
        ] {
            let analytic = gp
                .get::<2>(id)
                .expect("grad")
                .into_data()
                .try_into_vec::<f32>()
                .expect("f32");
            check_weight(&format!("{loss:?} {name}"), &w, &analytic, |w2| {
                let mut g2 = g.clone();
                if name == "output" {
                    g2.output.weight = Param::from_tensor(w2);
                } else {
                    g2.hidden[0].weight = Param::from_tensor(w2);
                }
                scalar(loss_of(&g2))
            });
        }
    }
}

/// D's logit at one input row, in f64 (no dropout), for finite differences in x.
fn logit_at(d: &MlpDiscriminator, row: &[f32]) -> f64 {
    let l = d.valid().forward(
        Tensor::<2>::from_data(
            TensorData::new(row.to_vec(), [1, row.len()]),
            &Device::flex(),
        ),
        None,
    );
    l.into_data().try_into_vec::<f32>().expect("f32")[0] as f64
}

#[test]
fn input_gradient_of_the_discriminator_matches_finite_differences_in_x() {
    let (_, d, _) = tiny();
    let mut rng = Rng::new(21);
    let x: Vec<f32> = (0..5 * 6).map(|_| rng.uniform_range(-1.0, 1.0)).collect();
    let g = d
        .input_gradient(t2(&x, 5, 6))
        .inner()
        .into_data()
        .try_into_vec::<f32>()
        .expect("f32");
    let eps = 1e-3f32;
    let mut checked = 0;
    for r in 0..5 {
        for c in 0..6 {
            let row = &x[r * 6..r * 6 + 6];
            let (mut p, mut m) = (row.to_vec(), row.to_vec());
            p[c] += eps;
            m[c] -= eps;
            let (f0, fp, fm) = (logit_at(&d, row), logit_at(&d, &p), logit_at(&d, &m));
            let (right, left) = ((fp - f0) / eps as f64, (f0 - fm) / eps as f64);
            if (right - left).abs() > 0.05 * right.abs().max(left.abs()) + 1e-3 {
                continue; // a maxout kink between the two steps
            }
            let numeric = (fp - fm) / (2.0 * eps as f64);
            let a = g[r * 6 + c] as f64;
            assert!(
                (numeric - a).abs() < 2e-3 * numeric.abs().max(1.0),
                "row {r} col {c}: numeric {numeric} vs input_gradient {a}"
            );
            checked += 1;
        }
    }
    assert!(
        checked >= 24,
        "only {checked} of 30 entries away from kinks"
    );
}

#[test]
fn wgan_gp_penalty_value_and_its_weight_gradients_match_finite_differences() {
    let (_, d, _) = tiny();
    let mut rng = Rng::new(33);
    let x: Vec<f32> = (0..4 * 6).map(|_| rng.uniform_range(-1.0, 1.0)).collect();
    let xt = t2(&x, 4, 6);
    let lambda = 10.0;
    // the value: lambda * mean (|grad|-1)^2 with the input gradient taken by central
    // differences of the logit, independently of `input_gradient`
    let mut pen = 0.0;
    for r in 0..4 {
        let row = &x[r * 6..r * 6 + 6];
        let mut sq = 0.0;
        for c in 0..6 {
            let (mut p, mut m) = (row.to_vec(), row.to_vec());
            p[c] += 1e-3;
            m[c] -= 1e-3;
            sq += ((logit_at(&d, &p) - logit_at(&d, &m)) / 2e-3).powi(2);
        }
        pen += (sq.sqrt() - 1.0).powi(2);
    }
    pen *= lambda / 4.0;
    let ours = scalar(gan::loss::gradient_penalty(
        d.input_gradient(xt.clone()),
        10.0,
    ));
    assert!(
        (ours - pen).abs() < 2e-3 * pen.max(1.0),
        "penalty {ours} vs finite differences {pen}"
    );
    // its gradient with respect to every weight matrix of D
    let penalty_of =
        |d: &MlpDiscriminator| gan::loss::gradient_penalty(d.input_gradient(xt.clone()), 10.0);
    let mut grads = penalty_of(&d).backward();
    let gp = GradientsParams::from_module(&mut grads, &d);
    let mut nonzero = 0;
    for layer in 0..2 {
        let w = d.hidden[layer].linear.weight.val();
        let analytic = gp
            .get::<2>(d.hidden[layer].linear.weight.id)
            .expect("penalty gradient of a maxout weight")
            .into_data()
            .try_into_vec::<f32>()
            .expect("f32");
        nonzero += analytic.iter().filter(|v| v.abs() > 1e-4).count();
        check_weight(&format!("gp maxout{layer}.weight"), &w, &analytic, |w2| {
            let mut d2 = d.clone();
            d2.hidden[layer].linear.weight = Param::from_tensor(w2);
            scalar(penalty_of(&d2))
        });
    }
    let w = d.output.weight.val();
    let analytic = gp
        .get::<2>(d.output.weight.id)
        .expect("penalty gradient of the output weight")
        .into_data()
        .try_into_vec::<f32>()
        .expect("f32");
    check_weight("gp output.weight", &w, &analytic, |w2| {
        let mut d2 = d.clone();
        d2.output.weight = Param::from_tensor(w2);
        scalar(penalty_of(&d2))
    });
    assert!(nonzero > 10, "the penalty must reach the hidden weights");
}

#[test]
fn wgan_gp_is_the_critic_loss_plus_the_penalty() {
    let (r, f) = (t2(&[0.5, -1.0], 2, 1), t2(&[2.0, 1.0], 2, 1));
    // E[D(fake)] - E[D(real)] = 1.5 - (-0.25)
    let l = scalar(GanLoss::WganGp.discriminator_loss(r, f));
    assert!((l - 1.75).abs() < 1e-6, "{l}");
    // gradients of norm 1 cost nothing; norm 3 costs lambda * 4
    let g = t2(&[0.6, 0.8, 3.0, 0.0], 2, 2);
    let p = scalar(gan::loss::gradient_penalty(g, 10.0));
    assert!((p - 20.0).abs() < 1e-4, "{p}");
    assert_eq!(GanLoss::from_name("wgan-gp").ok(), Some(GanLoss::WganGp));
    assert!(GanLoss::from_name("wasserstein").is_err());
}
