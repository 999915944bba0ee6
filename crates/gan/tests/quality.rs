//! The shipped reference classifier, the sample-quality metrics in its feature space, and
//! FGSM against it.

mod common;

use std::path::PathBuf;

use burn::tensor::Device;
use gan::classifier::{SHIPPED_MNIST, accuracy, features, load_classifier, load_classifier_on};
use gan::eval::attack::fgsm_classifier;
use gan::eval::quality::{frechet_distance, precision_recall};
use gan::models::lenet::FEATURE_DIM;
use gan::rng::Rng;

fn shipped() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(SHIPPED_MNIST)
}

#[test]
fn the_shipped_classifier_scores_at_least_99_percent() {
    let model = load_classifier(&shipped()).expect("shipped weights load");
    let acc = accuracy(&model, &common::mnist().test).expect("accuracy");
    assert!(acc >= 0.99, "test accuracy {acc}");
}

/// `x` with Gaussian noise of standard deviation `s`, clipped to [0, 1].
fn noisy(x: &[f32], s: f32, seed: u64) -> Vec<f32> {
    let mut rng = Rng::new(seed);
    x.iter()
        .map(|&v| (v + s * rng.normal()).clamp(0.0, 1.0))
        .collect()
}

/// `x` blurred by a 3x3 box filter applied `times` times.
fn blurred(x: &[f32], times: usize) -> Vec<f32> {
    let mut out = x.to_vec();
    for _ in 0..times {
        let src = out.clone();
        for (img, dst) in src.chunks_exact(784).zip(out.chunks_exact_mut(784)) {
            for r in 0..28i32 {
                for c in 0..28i32 {
                    let (mut s, mut n) = (0.0, 0.0);
                    for dr in -1..=1 {
                        for dc in -1..=1 {
                            let (rr, cc) = (r + dr, c + dc);
                            if (0..28).contains(&rr) && (0..28).contains(&cc) {
                                s += img[(rr * 28 + cc) as usize];
                                n += 1.0;
                            }
                        }
                    }
                    dst[(r * 28 + c) as usize] = s / n;
                }
            }
        }
    }
    out
}

#[test]
fn frechet_distance_is_zero_on_itself_and_grows_with_noise_and_blur() {
    let model = load_classifier(&shipped()).expect("shipped weights load");
    let test = common::mnist().test.first_pixels(2000);
    let f = |x: &[f32]| features(&model, x).expect("features");
    let real = f(&test);
    assert!(frechet_distance(&real, &real, FEATURE_DIM).expect("fd") < 1e-6);
    let mut last = 0.0;
    for s in [0.05, 0.1, 0.2, 0.4] {
        let fd = frechet_distance(&real, &f(&noisy(&test, s, 7)), FEATURE_DIM).expect("fd");
        assert!(fd > last, "noise {s}: FD {fd} not above {last}");
        last = fd;
    }
    let mut last = 0.0;
    for times in [1, 2, 4] {
        let fd = frechet_distance(&real, &f(&blurred(&test, times)), FEATURE_DIM).expect("fd");
        assert!(fd > last, "blur x{times}: FD {fd} not above {last}");
        last = fd;
    }
}

#[test]
fn precision_and_recall_of_real_against_real_are_high() {
    let model = load_classifier(&shipped()).expect("shipped weights load");
    let s = common::mnist();
    let a = features(&model, &s.test.first_pixels(2000)).expect("features");
    let b = features(&model, &s.valid.first_pixels(2000)).expect("features");
    assert_eq!(
        precision_recall(&a, &a, FEATURE_DIM, 3).expect("pr"),
        (1.0, 1.0)
    );
    let (p, r) = precision_recall(&a, &b, FEATURE_DIM, 3).expect("pr");
    assert!(
        p > 0.8 && r > 0.8,
        "real vs real: precision {p}, recall {r}"
    );
    // dropped modes: validation images of digits 0-4 only keep precision, lose recall
    let keep: Vec<usize> = (0..s.valid.len())
        .filter(|&i| s.valid.labels[i] < 5)
        .take(2000)
        .collect();
    let mut half = Vec::new();
    for &i in &keep {
        s.valid.push_image(i, &mut half);
    }
    let h = features(&model, &half).expect("features");
    let (p2, r2) = precision_recall(&a, &h, FEATURE_DIM, 3).expect("pr");
    assert!(p2 > 0.8, "half the classes: precision {p2}");
    assert!(r2 < r - 0.3, "half the classes: recall {r2} vs {r}");
}

#[test]
fn fgsm_lowers_accuracy_as_epsilon_grows_within_its_budget() {
    let device = Device::flex().autodiff();
    let model = load_classifier_on(&shipped(), &device).expect("shipped weights load");
    let s = common::mnist();
    let n = 500;
    let x = s.test.first_pixels(n);
    let (rows, _) = fgsm_classifier(
        &model,
        &x,
        &s.test.labels[..n],
        &[0.0, 0.1, 0.2, 0.3],
        &device,
    )
    .expect("fgsm");
    assert!(rows[0].accuracy > 0.97 && rows[0].mean_l2 == 0.0);
    for w in rows.windows(2) {
        assert!(w[1].accuracy < w[0].accuracy, "{rows:?}");
    }
    for r in &rows {
        assert!(r.max_linf <= r.epsilon as f64 + 1e-6);
    }
    assert!(rows[3].accuracy < 0.3, "{rows:?}");
}

#[test]
fn the_shipped_fashion_classifier_scores_at_least_90_percent() {
    // the Fashion-MNIST test set is bundled (data/fashion-mnist), so this runs everywhere
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = root.join("data/fashion-mnist");
    let model = load_classifier(&root.join(gan::classifier::SHIPPED_FASHION))
        .expect("shipped weights load");
    let test = gan::data::load_pair(
        &dir.join("t10k-images-idx3-ubyte.gz"),
        &dir.join("t10k-labels-idx1-ubyte.gz"),
    )
    .expect("the bundled Fashion-MNIST test set loads");
    assert_eq!(test.len(), 10_000);
    let acc = accuracy(&model, &test).expect("accuracy");
    assert!(acc >= 0.90, "test accuracy {acc}");
    // and it is not the digit classifier: on MNIST digits it is far from 90%
    let digits = load_classifier(&shipped()).expect("shipped weights load");
    let wrong = accuracy(&digits, &test).expect("accuracy");
    assert!(wrong < 0.5, "the MNIST classifier on Fashion: {wrong}");
}

#[test]
fn the_classifier_follows_the_dataset_not_its_directory_name() {
    use gan::classifier::Shipped;
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mnist = common::mnist();
    assert_eq!(Shipped::for_test_set(&mnist.test), Some(Shipped::Mnist));
    let dir = root.join("data/fashion-mnist");
    let fashion = gan::data::load_pair(
        &dir.join("t10k-images-idx3-ubyte.gz"),
        &dir.join("t10k-labels-idx1-ubyte.gz"),
    )
    .expect("Fashion-MNIST test set");
    assert_eq!(Shipped::for_test_set(&fashion), Some(Shipped::Fashion));
    // other data (here: MNIST's test set less one image) gets no shipped classifier
    let other = mnist.test.subset(0..9_999).expect("subset");
    assert_eq!(Shipped::for_test_set(&other), None);
    // and each compiled-in classifier is the one for its data
    let m = Shipped::Mnist.load_on(&Device::flex()).expect("mnist");
    let f = Shipped::Fashion.load_on(&Device::flex()).expect("fashion");
    assert!(accuracy(&m, &mnist.test).expect("acc") >= 0.99);
    assert!(accuracy(&f, &fashion).expect("acc") >= 0.90);
}
