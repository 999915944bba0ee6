//! The Parzen-window protocol against its anchor (training images as kernels) and against a
//! float64 reference.

mod common;

use gan::eval::parzen::{default_sigmas, evaluate, log_likelihoods, log_likelihoods_dense};

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
    // the screened path (byte points, small sigmas, AVX-512 VNNI) computes the distances
    // that matter in float64: it must agree closely; the dense float32 GEMM form within 0.05
    let fast = log_likelihoods(kernels, x, d, &sigmas).expect("ll");
    let dense = log_likelihoods_dense(kernels, x, d, &sigmas).expect("ll");
    let screened = gan::fast::int8::available();
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
            let tol = if screened { 1e-6 } else { 0.05 };
            assert!(
                (fast[si][i] - reference).abs() < tol,
                "sigma {sigma} point {i}: {} vs {reference}",
                fast[si][i]
            );
            assert!(
                (dense[si][i] - reference).abs() < 0.05,
                "dense, sigma {sigma} point {i}: {} vs {reference}",
                dense[si][i]
            );
        }
    }
}

#[test]
fn screened_and_dense_paths_give_the_same_numbers() {
    // small sigmas and byte test images take the integer-screened path (on CPUs with
    // AVX-512 VNNI); it must sum the same kernels as the dense GEMM
    let s = common::mnist();
    let d = 784;
    let train = s.train.first_pixels(3000);
    // kernels that are not bytes, like a generator's samples
    let kernels: Vec<f32> = train
        .iter()
        .enumerate()
        .map(|(i, &v)| (0.9 * v + 0.05 + 0.02 * (i as f32 * 0.37).sin()).clamp(0.0, 1.0))
        .collect();
    let x = s.test.first_pixels(400);
    for (ks, sigmas) in [
        (&train, &[0.1668][..]),
        (&kernels, &[0.15, 0.2154][..]),
        (&kernels, &[0.3][..]),
    ] {
        let a = log_likelihoods(ks, &x, d, sigmas).expect("screened");
        let b = log_likelihoods_dense(ks, &x, d, sigmas).expect("dense");
        for (ra, rb) in a.iter().zip(&b) {
            for (i, (va, vb)) in ra.iter().zip(rb).enumerate() {
                // the dense form rounds distances in float32 (~1e-5 relative)
                assert!(
                    (va - vb).abs() < 0.02,
                    "sigmas {sigmas:?} point {i}: {va} vs {vb}"
                );
            }
        }
    }
}

#[test]
fn crowded_points_fall_back_to_the_dense_form_in_order() {
    // a collapsed generator: half the kernels are near-copies of one image, so points near it
    // have every copy inside the e^-40 window (the screened path hands them to the GEMM);
    // points equal to one of the other, distinct kernels do not
    let s = common::mnist();
    let d = 784;
    let train = s.train.first_pixels(301);
    let base = &train[..d];
    let mut kernels = Vec::new();
    for c in 0..300 {
        kernels.extend(
            base.iter()
                .enumerate()
                .map(|(i, &v)| (v + 0.01 * ((c * 31 + i * 7) as f32).sin()).clamp(0.0, 1.0)),
        );
    }
    kernels.extend_from_slice(&train[d..]);
    // points: alternately the collapsed image and one of the distinct kernels
    let mut x = Vec::new();
    for k in 0..20 {
        x.extend_from_slice(if k % 2 == 0 {
            base
        } else {
            &train[(k + 1) * d..(k + 2) * d]
        });
    }
    let a = log_likelihoods(&kernels, &x, d, &[0.2]).expect("screened");
    let b = log_likelihoods_dense(&kernels, &x, d, &[0.2]).expect("dense");
    for (i, (va, vb)) in a[0].iter().zip(&b[0]).enumerate() {
        assert!((va - vb).abs() < 0.02, "point {i}: {va} vs {vb}");
    }
    // the two kinds of point really differ (so a row out of order would show)
    assert!((a[0][0] - a[0][1]).abs() > 1.0, "{} {}", a[0][0], a[0][1]);
}
