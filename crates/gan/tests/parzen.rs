//! The Parzen-window protocol against its anchor (training images as kernels) and against a
//! float64 reference.

mod common;

use gan::eval::parzen::{default_sigmas, evaluate, log_likelihoods};

#[test]
fn training_images_as_kernels_give_about_241_nats() {
    let s = common::mnist();
    let d = 784;
    let kernels = &s.train.first_pixels(10_000);
    let valid = &s.valid.first_pixels(1_000);
    let r = evaluate(kernels, valid, &s.test.pixels(), d, None).expect("protocol");
    eprintln!("{r:?}");
    assert_eq!((r.n_kernels, r.n_valid, r.n_test), (10_000, 1_000, 10_000));
    assert!(
        (r.sigma - default_sigmas()[2]).abs() < 1e-12,
        "sigma {}",
        r.sigma
    );
    assert!((r.test_ll - 241.0).abs() < 2.0, "test ll {}", r.test_ll);
    assert!(r.test_se > 0.5 && r.test_se < 3.0, "se {}", r.test_se);
    // the chosen sigma is the best one on validation
    let best = r
        .valid_ll_by_sigma
        .iter()
        .map(|t| t.1)
        .fold(f64::NEG_INFINITY, f64::max);
    assert!(
        r.valid_ll_by_sigma
            .iter()
            .any(|t| t.0 == r.sigma && t.1 == best)
    );
}

#[test]
fn float32_gemm_form_agrees_with_a_float64_reference() {
    let s = common::mnist();
    let d = 784;
    let kernels = &s.train.first_pixels(500);
    let x = &s.test.first_pixels(200);
    let sigmas = [0.15, 0.3];
    let fast = log_likelihoods(kernels, x, d, &sigmas).expect("ll");
    for (si, &sigma) in sigmas.iter().enumerate() {
        for i in 0..200 {
            let xi = &x[i * d..(i + 1) * d];
            let logs: Vec<f64> = kernels
                .chunks_exact(d)
                .map(|mu| {
                    let d2: f64 = xi
                        .iter()
                        .zip(mu)
                        .map(|(&a, &b)| (a as f64 - b as f64).powi(2))
                        .sum();
                    -d2 / (2.0 * sigma * sigma)
                })
                .collect();
            let m = logs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let lme = m + (logs.iter().map(|l| (l - m).exp()).sum::<f64>() / 500.0).ln();
            let reference = lme - d as f64 * (sigma * (2.0 * std::f64::consts::PI).sqrt()).ln();
            assert!(
                (fast[si][i] - reference).abs() < 0.05,
                "sigma {sigma} point {i}: {} vs {reference}",
                fast[si][i]
            );
        }
    }
}
