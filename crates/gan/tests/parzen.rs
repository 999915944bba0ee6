//! The Parzen-window protocol against its anchor (training images as kernels) and against a
//! float64 reference.

mod common;

use gan::eval::parzen::{ParzenPath, default_sigmas, evaluate, log_likelihoods_with};
use gan::fast::int8::Kernel;

const PORTABLE: ParzenPath = ParzenPath::Screened(Kernel::Portable);
const VNNI: ParzenPath = ParzenPath::Screened(Kernel::Vnni);

/// The VNNI tests are marked ignored where the building CPU lacks it; a binary moved to
/// such a CPU says so instead of failing inside the kernel.
fn vnni_here() {
    assert!(
        Kernel::Vnni.runs_here(),
        "built on a CPU with AVX-512 VNNI, running on one without: rebuild"
    );
}

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

/// log p(x_i) for each test point by the formula, every kernel summed in float64.
fn reference(kernels: &[f32], x: &[f32], d: usize, sigma: f64) -> Vec<f64> {
    let n_k = kernels.len() / d;
    x.chunks_exact(d)
        .map(|xi| {
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
            let lme = m + (logs.iter().map(|l| (l - m).exp()).sum::<f64>() / n_k as f64).ln();
            lme - d as f64 * (sigma * (2.0 * std::f64::consts::PI).sqrt()).ln()
        })
        .collect()
}

/// `path` on 500 training images as kernels and 200 test images, against [`reference`].
fn against_reference(path: ParzenPath, tol: f64) {
    let s = common::mnist();
    let d = 784;
    let kernels = &s.train.first_pixels(500);
    let x = &s.test.first_pixels(200);
    let sigmas = [0.15, 0.3];
    let got = log_likelihoods_with(path, kernels, x, d, &sigmas).expect("ll");
    for (si, &sigma) in sigmas.iter().enumerate() {
        let want = reference(kernels, x, d, sigma);
        for (i, (g, w)) in got[si].iter().zip(&want).enumerate() {
            assert!(
                (g - w).abs() < tol,
                "{path:?}, sigma {sigma} point {i}: {g} vs {w}"
            );
        }
    }
}

#[test]
fn screened_path_with_the_portable_kernel_matches_a_float64_reference() {
    // the distances that matter are computed exactly, in float64
    against_reference(PORTABLE, 1e-6);
}

#[test]
#[cfg_attr(not(gan_cpu_vnni), ignore = "this CPU has no AVX-512 VNNI")]
fn screened_path_with_the_vnni_kernel_matches_a_float64_reference() {
    vnni_here();
    against_reference(VNNI, 1e-6);
}

#[test]
fn dense_float32_path_matches_a_float64_reference_within_its_rounding() {
    // |x|^2 + |mu|^2 - 2 x.mu in float32: distances of ~100 carry ~1e-5 relative error,
    // which sigma 0.15 turns into up to ~0.02 nats
    against_reference(ParzenPath::Dense, 0.05);
}

/// Kernels that are not bytes, like a generator's samples, and byte test points.
fn generator_like() -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let s = common::mnist();
    let train = s.train.first_pixels(3000);
    let kernels: Vec<f32> = train
        .iter()
        .enumerate()
        .map(|(i, &v)| (0.9 * v + 0.05 + 0.02 * (i as f32 * 0.37).sin()).clamp(0.0, 1.0))
        .collect();
    (train, kernels, s.test.first_pixels(400))
}

#[test]
fn screened_and_dense_paths_give_the_same_numbers() {
    // the screen must sum the same kernels as the dense GEMM (any kernel dropped that
    // mattered would move a point by far more than the float32 rounding of the GEMM)
    let d = 784;
    let (train, kernels, x) = generator_like();
    for (ks, sigmas) in [
        (&train, &[0.1668][..]),
        (&kernels, &[0.15, 0.2154][..]),
        (&kernels, &[0.3][..]),
    ] {
        let a = log_likelihoods_with(PORTABLE, ks, &x, d, sigmas).expect("screened");
        let b = log_likelihoods_with(ParzenPath::Dense, ks, &x, d, sigmas).expect("dense");
        for (ra, rb) in a.iter().zip(&b) {
            for (i, (va, vb)) in ra.iter().zip(rb).enumerate() {
                assert!(
                    (va - vb).abs() < 0.02,
                    "sigmas {sigmas:?} point {i}: {va} vs {vb}"
                );
            }
        }
    }
}

#[test]
#[cfg_attr(not(gan_cpu_vnni), ignore = "this CPU has no AVX-512 VNNI")]
fn vnni_and_portable_screens_give_identical_numbers() {
    // both kernels compute the same exact integers, so every number is the same bit for bit
    vnni_here();
    let d = 784;
    let (_, kernels, x) = generator_like();
    let sigmas = [0.15, 0.2154];
    let a = log_likelihoods_with(PORTABLE, &kernels, &x, d, &sigmas).expect("portable");
    let b = log_likelihoods_with(VNNI, &kernels, &x, d, &sigmas).expect("vnni");
    assert_eq!(a, b);
}

#[test]
fn a_screened_path_that_cannot_apply_is_an_error_not_a_silent_switch() {
    let d = 784;
    let (_, kernels, x) = generator_like();
    let e = log_likelihoods_with(PORTABLE, &kernels, &x[..2 * d], d, &[1.0])
        .expect_err("sigma 1 is too wide to screen")
        .to_string();
    assert!(e.contains("sigma"), "{e}");
    // kernels as points: not bytes
    let e = log_likelihoods_with(PORTABLE, &x, &kernels[..2 * d], d, &[0.2])
        .expect_err("points that are not bytes")
        .to_string();
    assert!(e.contains("bytes"), "{e}");
}

/// Half the kernels near-copies of one image (a collapsed generator), the rest distinct;
/// points alternately the collapsed image and one of the distinct kernels.
fn crowded() -> (Vec<f32>, Vec<f32>) {
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
    let mut x = Vec::new();
    for k in 0..20 {
        x.extend_from_slice(if k % 2 == 0 {
            base
        } else {
            &train[(k + 1) * d..(k + 2) * d]
        });
    }
    (kernels, x)
}

fn crowded_points_in_order(path: ParzenPath) {
    // points near the collapsed image have every copy inside the e^-40 window (the screen
    // hands them to the GEMM); points equal to one of the distinct kernels do not
    let d = 784;
    let (kernels, x) = crowded();
    let a = log_likelihoods_with(path, &kernels, &x, d, &[0.2]).expect("screened");
    let want = reference(&kernels, &x, d, 0.2);
    for (i, (va, vb)) in a[0].iter().zip(&want).enumerate() {
        assert!((va - vb).abs() < 0.02, "{path:?} point {i}: {va} vs {vb}");
    }
    // the two kinds of point really differ (so a row out of order would show)
    assert!((a[0][0] - a[0][1]).abs() > 1.0, "{} {}", a[0][0], a[0][1]);
}

#[test]
fn crowded_points_fall_back_to_the_dense_form_in_order() {
    crowded_points_in_order(PORTABLE);
}

#[test]
#[cfg_attr(not(gan_cpu_vnni), ignore = "this CPU has no AVX-512 VNNI")]
fn crowded_points_fall_back_in_order_with_the_vnni_kernel() {
    vnni_here();
    crowded_points_in_order(VNNI);
}
