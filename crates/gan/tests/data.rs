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
    assert!(s.train.pixels().iter().all(|p| (0.0..=1.0).contains(p)));
    assert!(s.test.labels.iter().all(|&l| l < 10));
    // the first training image of MNIST is a 5, the first test image a 7
    assert_eq!((s.train.labels[0], s.test.labels[0]), (5, 7));
    let px = s.train.pixels();
    let mean: f32 = px.iter().sum::<f32>() / px.len() as f32;
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

    // truncated gzip stream (a neutral file name: the message must state the problem)
    let full = gz(&images);
    std::fs::write(p("half.gz"), &full[..full.len() / 2]).expect("write");
    let e = read_idx(&p("half.gz"))
        .expect_err("truncated gzip")
        .to_string();
    assert!(
        e.contains("half.gz") && e.contains("corrupt or truncated gzip stream"),
        "{e}"
    );

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
    assert!(
        e.contains("neither train-images-idx3-ubyte nor train-images-idx3-ubyte.gz"),
        "{e}"
    );
}

/// A corpus of broken inputs, one per fault, each with the specific error it must give
/// (the file named, the problem stated, no panic).
#[test]
fn every_broken_input_gets_a_specific_error() {
    use gan::config::TrainConfig;
    use gan::npy::{parse_npy_f32, write_npy_f32};
    let dir = tempfile::tempdir().expect("tempdir");
    let p = |n: &str| dir.path().join(n);
    let good = idx(&[2, 2, 2], &[1, 2, 3, 4, 5, 6, 7, 8]);

    let mut bad_magic = good.clone();
    bad_magic[0] = 0x50;
    let mut bad_type = good.clone();
    bad_type[2] = 0x0d;
    // each file has a neutral name (case-N), so only the message can state the problem
    let idx_cases: Vec<(Vec<u8>, &str)> = vec![
        (vec![], "0 bytes is too short for an IDX header"),
        (bad_magic, "bad magic number"),
        (bad_type, "element type 0x0d"),
        (vec![0, 0, 8, 0], "IDX header declares zero dimensions"),
        (
            vec![0, 0, 8, 3, 0, 0],
            "truncated header: 3 dimensions need 16 bytes, file has 6",
        ),
        (
            good[..good.len() - 3].to_vec(),
            "truncated: dimensions [2, 2, 2] need 8 data bytes, file has 5",
        ),
        (
            [good.clone(), vec![9]].concat(),
            "trailing bytes: dimensions [2, 2, 2] need 8 data bytes, file has 9",
        ),
        (
            vec![0x1f, 0x8b, 8, 0, 1, 2, 3],
            "corrupt or truncated gzip stream",
        ),
    ];
    for (i, (bytes, want)) in idx_cases.into_iter().enumerate() {
        let name = format!("case-{i}");
        std::fs::write(p(&name), &bytes).expect("write");
        let e = read_idx(&p(&name)).expect_err(&name).to_string();
        assert!(e.contains(&name) && e.contains(want), "{name}: {e}");
    }

    // .npy: NaN, wrong dtype, truncated, bad magic
    write_npy_f32(&p("nan.npy"), &[0.5, f32::NAN, 0.1, 0.2], 2, 2).expect("write");
    let e = gan::npy::read_npy_f32(&p("nan.npy"))
        .expect_err("NaN")
        .to_string();
    assert!(
        e.contains("nan.npy") && e.contains("NaN") && e.contains("row 0"),
        "{e}"
    );
    let ok = std::fs::read(p("nan.npy")).expect("read");
    let path = p("x.npy");
    let e = parse_npy_f32(&ok[..ok.len() - 2], &path)
        .expect_err("truncated")
        .to_string();
    assert!(
        e.contains("x.npy") && e.contains("shape (2, 2) needs 16 data bytes, file has 14"),
        "{e}"
    );
    let e = parse_npy_f32(b"PK\x03\x04 zip", &path)
        .expect_err("magic")
        .to_string();
    assert!(e.contains("bad magic"), "{e}");
    let mut int = ok.clone();
    let at = int
        .windows(3)
        .position(|w| w == b"<f4")
        .expect("dtype in header");
    int[at + 1] = b'i';
    let e = parse_npy_f32(&int, &path).expect_err("dtype").to_string();
    assert!(e.contains("<i4"), "{e}");

    // configs: unknown key, wrong type, out-of-range values; each message names the key and
    // states the problem
    let cases: [(&str, &str, &str); 8] = [
        ("batch_sise=100", "batch_sise", "unknown key"),
        ("epochs=\"ten\"", "epochs", "takes an integer"),
        (
            "optimizer.lr=-1",
            "optimizer.lr",
            "-1 must be finite and above 0",
        ),
        (
            "optimizer.lr=inf",
            "optimizer.lr",
            "inf must be finite and above 0",
        ),
        ("batch_size=abc", "--set batch_size=abc", "takes an integer"),
        (
            "generator.hidden=[]",
            "generator.hidden",
            "at least one positive width",
        ),
        (
            "divergence.lr_factor=2",
            "divergence.lr_factor",
            "2 must be in (0, 1)",
        ),
        ("divergence.action=\"retry\"", "retry", "unknown variant"),
    ];
    for (set, key, problem) in cases {
        let e = TrainConfig::preset("mnist-paper", &[set.into()])
            .expect_err(set)
            .to_string();
        assert!(e.contains(key) && e.contains(problem), "{set}: {e}");
    }
    let e = TrainConfig::from_toml_str("epochs = [", &[], "broken.toml")
        .expect_err("syntax")
        .to_string();
    assert!(e.contains("broken.toml") && e.contains("expected"), "{e}");
}

/// A config file as users write them: only the keys they change, sometimes with a mistake.
#[test]
fn a_partial_config_file_layers_over_a_preset_and_its_mistakes_name_the_file() {
    use gan::config::TrainConfig;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("mine.toml");
    std::fs::write(&file, "batch_size = 50\n[optimizer]\nlr = 0.05\n").expect("write");
    let over = ["epochs=3".to_string()];

    // over a preset: the file's keys win over the preset's, the overrides over both
    let c = TrainConfig::layered(Some("mnist-paper"), Some(&file), &over).expect("layered");
    let paper = TrainConfig::preset("mnist-paper", &[]).expect("preset");
    assert_eq!((c.batch_size, c.optimizer.lr, c.epochs), (50, 0.05, 3));
    assert_eq!(c.optimizer.momentum, paper.optimizer.momentum);
    assert_eq!(c.generator, paper.generator);
    let c = TrainConfig::layered(Some("mnist-paper"), Some(&file), &["batch_size=20".into()])
        .expect("layered");
    assert_eq!(c.batch_size, 20);

    // alone, the partial file is refused, naming the file, a missing key and the way out
    let e = TrainConfig::layered(None, Some(&file), &over)
        .expect_err("partial file alone")
        .to_string();
    assert!(
        e.contains("mine.toml") && e.contains("missing field") && e.contains("--preset NAME"),
        "{e}"
    );
    assert!(!e.contains("--set"), "blames an override: {e}");

    // a misspelt key and an out-of-range value in the file name the file and the key
    std::fs::write(&file, "batch_sise = 50\n").expect("write");
    let e = TrainConfig::layered(Some("mnist-paper"), Some(&file), &over)
        .expect_err("misspelt")
        .to_string();
    assert!(
        e.contains("mine.toml") && e.contains("unknown key batch_sise"),
        "{e}"
    );
    std::fs::write(&file, "[optimizer]\nlrr = 1\n").expect("write");
    let e = TrainConfig::layered(Some("mnist-paper"), Some(&file), &over)
        .expect_err("misspelt in a section")
        .to_string();
    assert!(e.contains("unknown key optimizer.lrr"), "{e}");
    let full = dir.path().join("full.toml");
    let mut text = paper.to_toml().expect("toml");
    text = text.replace("epochs = 25", "epochs = 0");
    assert!(
        text.contains("epochs = 0"),
        "the preset's epochs line changed"
    );
    std::fs::write(&full, text).expect("write");
    let e = TrainConfig::layered(None, Some(&full), &over)
        .expect_err("out of range in the file")
        .to_string();
    assert!(
        e.contains("full.toml") && e.contains("epochs: must be at least 1"),
        "{e}"
    );
}
