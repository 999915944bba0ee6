//! The IDX reader on the bundled MNIST and on broken files.

mod common;

use std::io::Write;

use gan::data::{load_pair, load_splits, read_idx};

#[test]
fn bundled_mnist_has_the_papers_split() {
    let s = common::mnist();
    assert_eq!(
        (s.train.len(), s.valid.len(), s.test.len()),
        (50_000, 10_000, 10_000)
    );
    assert_eq!((s.train.rows, s.train.cols), (28, 28));
    assert!(s.train.pixels.iter().all(|p| (0.0..=1.0).contains(p)));
    assert!(s.test.labels.iter().all(|&l| l < 10));
    // the first training image of MNIST is a 5, the first test image a 7
    assert_eq!((s.train.labels[0], s.test.labels[0]), (5, 7));
    let mean: f32 = s.train.pixels.iter().sum::<f32>() / s.train.pixels.len() as f32;
    assert!(
        (mean - 0.1307).abs() < 0.002,
        "MNIST mean pixel is about 0.1307, got {mean}"
    );
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).expect("gzip");
    e.finish().expect("gzip")
}

fn idx(dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut v = vec![0, 0, 8, dims.len() as u8];
    for d in dims {
        v.extend_from_slice(&d.to_be_bytes());
    }
    v.extend_from_slice(data);
    v
}

#[test]
fn broken_files_give_clear_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = |n: &str| dir.path().join(n);
    let images = idx(&[3, 2, 2], &[0, 255, 128, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    std::fs::write(p("img.gz"), gz(&images)).expect("write");
    std::fs::write(p("lab"), idx(&[3], &[1, 2, 3])).expect("write");
    let set = load_pair(&p("img.gz"), &p("lab")).expect("good pair");
    assert_eq!(set.len(), 3);
    assert_eq!(set.image(0), &[0.0, 1.0, 128.0 / 255.0, 1.0 / 255.0]);

    // truncated gzip stream
    let full = gz(&images);
    std::fs::write(p("trunc.gz"), &full[..full.len() / 2]).expect("write");
    let e = read_idx(&p("trunc.gz"))
        .expect_err("truncated gzip")
        .to_string();
    assert!(e.contains("trunc.gz") && e.contains("gzip"), "{e}");

    // labels / images count mismatch
    std::fs::write(p("lab4"), idx(&[4], &[1, 2, 3, 4])).expect("write");
    let e = load_pair(&p("img.gz"), &p("lab4"))
        .expect_err("mismatch")
        .to_string();
    assert!(e.contains("4 labels") && e.contains("3 images"), "{e}");

    // labels file given as images
    let e = load_pair(&p("lab"), &p("lab"))
        .expect_err("wrong rank")
        .to_string();
    assert!(e.contains("expected 3 dimensions"), "{e}");

    // a directory without MNIST files
    let e = load_splits(dir.path(), 2).expect_err("missing").to_string();
    assert!(e.contains("train-images-idx3-ubyte"), "{e}");
}
