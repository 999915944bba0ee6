//! The `gan` binary end to end: train, sample, resume, Ctrl-C, and clear errors on bad input.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

mod common;
use common::{TINY, gan, run, text};

/// The number at `v`, failing the test when the field is missing or not a number (a
/// comparison of `Option`s would pass on a missing field).
fn num(v: &serde_json::Value) -> f64 {
    v.as_f64()
        .unwrap_or_else(|| panic!("expected a number, got {v}"))
}

fn train_tiny(out: &Path, epochs: &str) -> Output {
    let mut args = TINY.to_vec();
    let out = out.to_str().expect("utf8 path");
    args.extend(["--out", out, "--epochs", epochs, "--json", "--threads", "1"]);
    run(&args)
}

#[test]
fn train_sample_and_resume() {
    let dir = tempfile::tempdir().expect("tempdir");
    let r = dir.path().join("run");
    let o = train_tiny(&r, "1");
    assert!(o.status.success(), "{}", text(&o));
    let line: serde_json::Value =
        serde_json::from_slice(&o.stdout).expect("one JSON line per epoch");
    assert_eq!(line["epoch"], 1);
    assert_eq!(line["step"], 20);
    for f in [
        "config.toml",
        "metrics.jsonl",
        "metrics.csv",
        "samples/epoch-0001.png",
    ] {
        assert!(r.join(f).is_file(), "{f}");
    }

    // resume: --epochs counts the whole run, so this trains one more epoch
    let o = run(&[
        "train",
        "--resume",
        r.to_str().expect("utf8"),
        "--epochs",
        "2",
        "--json",
    ][..]);
    assert!(o.status.success(), "{}", text(&o));
    let line: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(
        (line["epoch"].as_u64(), line["step"].as_u64()),
        (Some(2), Some(40))
    );
    assert!(text(&o).contains("resuming"), "{}", text(&o));

    // samples: .npy readable as float32 [n, 784], .png grid, same seed same samples
    let npy = dir.path().join("s.npy");
    let o = run(&[
        "sample",
        "--run",
        r.to_str().expect("utf8"),
        "-n",
        "7",
        "--out",
        npy.to_str().expect("utf8"),
        "--seed",
        "3",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let bytes = std::fs::read(&npy).expect("npy");
    let header = String::from_utf8_lossy(&bytes[10..128]);
    assert!(
        header.contains("'descr': '<f4'") && header.contains("(7, 784)"),
        "{header}"
    );
    let (data, n, d) = gan::npy::read_npy_f32(&npy).expect("parse");
    assert_eq!((n, d), (7, 784));
    assert!(data.iter().all(|v| (0.0..=1.0).contains(v)));
    let npy2 = dir.path().join("s2.npy");
    run(&[
        "sample",
        "--run",
        r.to_str().expect("utf8"),
        "-n",
        "7",
        "--out",
        npy2.to_str().expect("utf8"),
        "--seed",
        "3",
    ]);
    assert_eq!(
        std::fs::read(&npy2).expect("npy2"),
        bytes,
        "same seed, same samples"
    );
    let png = dir.path().join("grid.png");
    let o = run(&[
        "sample",
        "--run",
        r.to_str().expect("utf8"),
        "-n",
        "16",
        "--out",
        png.to_str().expect("utf8"),
    ]);
    assert!(o.status.success() && png.is_file(), "{}", text(&o));

    // the paper's figures 2 and 3
    let f = dir.path().join("curves.png");
    let o = run(&[
        "figure",
        "curves",
        "--run",
        r.to_str().expect("utf8"),
        "--out",
        f.to_str().expect("utf8"),
    ]);
    assert!(o.status.success() && f.is_file(), "curves: {}", text(&o));
    let e = run(&[
        "figure",
        "curves",
        "--run",
        dir.path().to_str().expect("utf8"),
        "--out",
        f.to_str().expect("utf8"),
    ]);
    assert!(
        !e.status.success() && text(&e).contains("metrics.jsonl"),
        "{}",
        text(&e)
    );
    for kind in ["samples", "interpolate"] {
        let f = dir.path().join(format!("{kind}.png"));
        let o = run(&[
            "figure",
            kind,
            "--run",
            r.to_str().expect("utf8"),
            "--out",
            f.to_str().expect("utf8"),
            "--rows",
            "2",
            "--cols",
            "3",
        ]);
        assert!(o.status.success() && f.is_file(), "{kind}: {}", text(&o));
    }
}

#[test]
fn bad_input_gives_clear_errors_and_nonzero_exit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec!["train".into(), "--preset".into(), "nope".into()],
            "unknown preset",
        ),
        (
            vec![
                "train".into(),
                "--set".into(),
                "optimizer.momentum=1.5".into(),
            ],
            "optimizer.momentum",
        ),
        (
            vec!["train".into(), "--set".into(), "optimiser.lr=1".into()],
            "unknown section",
        ),
        (
            vec![
                "train".into(),
                "--data".into(),
                dir.path().display().to_string(),
            ],
            "train-images-idx3-ubyte",
        ),
        (
            vec![
                "train".into(),
                "--resume".into(),
                dir.path().display().to_string(),
            ],
            "not a run directory",
        ),
        (
            vec![
                "sample".into(),
                "--run".into(),
                dir.path().display().to_string(),
                "--out".into(),
                "x.jpg".into(),
            ],
            ".png or .npy",
        ),
        // counts that cannot be zero are refused by the argument parser, naming the flag
        (
            vec!["bench".into(), "step".into(), "--steps".into(), "0".into()],
            "--steps <STEPS>': 0 must be at least 1",
        ),
        (
            vec![
                "bench".into(),
                "sample".into(),
                "--rounds".into(),
                "0".into(),
            ],
            "--rounds <ROUNDS>': 0 must be at least 1",
        ),
        (
            vec!["eval".into(), "parzen".into(), "--sigma=-1".into()],
            "must be finite and above 0",
        ),
        (
            vec!["train".into(), "--epochs".into(), "0".into()],
            "must be at least 1",
        ),
    ];
    for (args, want) in cases {
        let o = gan().args(&args).output().expect("runs");
        assert!(!o.status.success(), "{args:?} should fail");
        let t = text(&o);
        assert!(t.contains(want), "{args:?}: {t:?} should mention {want:?}");
        assert!(!t.contains("panicked"), "{args:?} panicked: {t}");
    }
    // a config file with a typo names the file and the key
    let cfg = dir.path().join("bad.toml");
    let text_cfg = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../configs/mnist-paper.toml"),
    )
    .expect("preset")
    .replace("batch_size", "batch_sise");
    std::fs::write(&cfg, text_cfg).expect("write");
    let o = run(&["train", "--config", cfg.to_str().expect("utf8")]);
    assert!(!o.status.success());
    assert!(
        text(&o).contains("bad.toml") && text(&o).contains("batch_sise"),
        "{}",
        text(&o)
    );
    // a partial file, as users write them, with a flag beside it: alone it is refused for
    // what the file lacks (not blamed on the valid --epochs); over a preset it trains
    let part = dir.path().join("part.toml");
    std::fs::write(
        &part,
        "[data]\ntrain_end = 2000\n[generator]\nhidden = [32]\n[discriminator]\nhidden = [16]\n",
    )
    .expect("write");
    let part_s = part.to_str().expect("utf8");
    let o = run(&["train", "--config", part_s, "--epochs", "1"]);
    let t = text(&o);
    assert!(!o.status.success(), "{t}");
    assert!(
        t.contains("part.toml") && t.contains("missing field") && t.contains("--preset NAME"),
        "{t}"
    );
    assert!(!t.contains("--set epochs"), "{t}");
    let out = dir.path().join("layered");
    let o = run(&[
        "train",
        "--preset",
        "mnist-fast",
        "--config",
        part_s,
        "--epochs",
        "1",
        "--json",
        "--out",
        out.to_str().expect("utf8"),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let written = std::fs::read_to_string(out.join("config.toml")).expect("config");
    let c: toml::Table = toml::from_str(&written).expect("toml");
    assert_eq!(c["epochs"].as_integer(), Some(1), "{written}");
    assert_eq!(c["data"]["train_end"].as_integer(), Some(2000), "{written}");
    assert_eq!(c["name"].as_str(), Some("mnist-fast"), "{written}");
}

#[test]
fn ctrl_c_saves_a_checkpoint_and_the_run_resumes() {
    // SIGINT (Ctrl-C) and SIGTERM alike: a checkpoint at the current step, exit 0
    for signal in ["-INT", "-TERM"] {
        let dir = tempfile::tempdir().expect("tempdir");
        let r = dir.path().join("run");
        let mut args: Vec<&str> = TINY.to_vec();
        args.extend([
            "--set",
            "data.train_end=50000",
            "--out",
            r.to_str().expect("utf8"),
            // far more epochs than the signal can wait for, on any machine
            "--epochs",
            "1000",
            "--json",
            "--threads",
            "1",
        ]);
        let child = gan()
            .args(&args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn");
        // wait until training is under way (the run directory has its config), then signal
        let start = Instant::now();
        while !r.join("config.toml").is_file() && start.elapsed() < Duration::from_secs(60) {
            std::thread::sleep(Duration::from_millis(50));
        }
        std::thread::sleep(Duration::from_millis(700));
        let k = Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .expect("kill");
        assert!(k.success());
        let o = child.wait_with_output().expect("exits");
        let t = text(&o);
        assert!(
            o.status.success(),
            "{signal}: exit {:?}: {t}",
            o.status.code()
        );
        assert!(t.contains("interrupted: checkpoint saved"), "{signal}: {t}");
        // the epochs finished before the signal, from the JSON lines; the resumed run is
        // asked for one epoch more (it finishes the interrupted one, or trains the next)
        let done = String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter_map(|v| v["epoch"].as_u64())
            .max()
            .unwrap_or(0);
        assert!(
            done < 1000,
            "{signal}: the run finished before the signal: {t}"
        );
        let total = (done + 1).to_string();
        let o = run(&[
            "train",
            "--resume",
            r.to_str().expect("utf8"),
            "--epochs",
            &total,
            "--json",
        ]);
        assert!(o.status.success(), "{}", text(&o));
        assert!(text(&o).contains("resuming"), "{}", text(&o));
        let resumed = String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter_map(|v| v["epoch"].as_u64())
            .max();
        assert_eq!(resumed, Some(done + 1), "{signal}: {}", text(&o));
    }
}

#[test]
fn theory_experiments_print_numbers_and_write_figures() {
    let dir = tempfile::tempdir().expect("test setup");
    let out = dir.path().join("theory");
    let o = run(&[
        "theory",
        "optimal-d",
        "--scale",
        "0.2",
        "--json",
        "--out",
        out.to_str().expect("test setup"),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("test setup");
    assert_eq!(v["experiment"], "optimal-d");
    for key in ["max_abs_diff", "mean_abs_diff", "weighted_abs_diff"] {
        assert!(v[key].as_f64().is_some(), "missing {key}: {v}");
    }
    let png = std::fs::read(out.join("optimal-d.png")).expect("test setup");
    assert_eq!(&png[..4], b"\x89PNG");
    // bad input: a clear error, non-zero exit
    let o = run(&[
        "theory",
        "value",
        "--data",
        "N(4,-1)",
        "--out",
        out.to_str().expect("test setup"),
    ]);
    assert!(!o.status.success());
    assert!(text(&o).contains("density 'N(4,-1)'"), "{}", text(&o));
    let o = run(&[
        "theory",
        "figure1",
        "--scale",
        "0",
        "--out",
        out.to_str().expect("test setup"),
    ]);
    assert!(!o.status.success());
    assert!(text(&o).contains("--scale"), "{}", text(&o));
}

#[test]
fn quality_metrics_and_fgsm_report_their_setup() {
    let dir = tempfile::tempdir().expect("tempdir");
    // 300 test-like samples: the first training images, as a .npy
    let s = gan::data::load_splits(
        &PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/mnist"),
        50_000,
    )
    .expect("data");
    let npy = dir.path().join("real.npy");
    gan::npy::write_npy_f32(&npy, &s.train.first_pixels(300), 300, 784).expect("npy");
    let npy = npy.to_str().expect("utf8");
    for (metric, keys) in [
        ("fid", &["fid"][..]),
        ("kid", &["kid", "kid_std"][..]),
        ("pr", &["precision", "recall"][..]),
        ("score", &["score", "class_histogram"][..]),
    ] {
        let o = run(&[
            "eval",
            metric,
            "--samples",
            npy,
            "--json",
            "--subset-size",
            "100",
            "--subsets",
            "5",
        ]);
        assert!(o.status.success(), "{metric}: {}", text(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
        for k in keys.iter().chain(&["n_real", "n_fake", "extractor"]) {
            assert!(!v[k].is_null(), "{metric}: missing {k} in {v}");
        }
        assert_eq!(v["n_fake"], 300);
        assert_eq!(v["n_real"], 10_000);
    }
    let o = run(&[
        "attack",
        "fgsm",
        "-n",
        "100",
        "--epsilon",
        "0,0.3",
        "--json",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let rows = v["rows"].as_array().expect("rows");
    assert!(num(&rows[1]["accuracy"]) < num(&rows[0]["accuracy"]), "{v}");
    // mode statistics of 2-D samples: two points on ring8's modes, one between them
    let ring = dir.path().join("ring.npy");
    gan::npy::write_npy_f32(&ring, &[1.0, 0.0, 0.0, 1.0, 0.5, 0.5], 3, 2).expect("npy");
    let o = run(&[
        "eval",
        "modes",
        "--samples",
        ring.to_str().expect("utf8"),
        "--data",
        "ring8",
        "--json",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(
        (v["modes_captured"].as_u64(), v["n_modes"].as_u64()),
        (Some(2), Some(8))
    );
    assert!(
        (num(&v["high_quality_pct"]) - 200.0 / 3.0).abs() < 1e-9,
        "{v}"
    );
    assert!(num(&v["reverse_kl"]) > 1.0, "{v}");
    let o = run(&["eval", "modes", "--samples", npy, "--data", "ring8"]);
    assert!(
        !o.status.success() && text(&o).contains("expected 2"),
        "{}",
        text(&o)
    );
    // a missing classifier is a clear error
    let o = run(&[
        "eval",
        "fid",
        "--samples",
        npy,
        "--classifier",
        "nope.safetensors",
    ]);
    assert!(
        !o.status.success() && text(&o).contains("nope.safetensors"),
        "{}",
        text(&o)
    );
}

#[test]
fn an_interrupted_2d_run_resumes_to_the_same_result() {
    // the 2-D runs train through the one loop: Ctrl-C saves a checkpoint, --resume finishes
    // the run, and the samples are bit for bit those of an uninterrupted run
    let dir = tempfile::tempdir().expect("tempdir");
    let args = |out: &Path| -> Vec<String> {
        [
            "toy",
            "--data",
            "ring8",
            "--steps",
            "15000",
            "--set",
            "g_hidden=[16,16]",
            "--set",
            "d_hidden=[8]",
            "--threads",
            "1",
            "--json",
            "--out",
            out.to_str().expect("utf8"),
        ]
        .map(String::from)
        .to_vec()
    };
    let whole = dir.path().join("whole");
    let a: Vec<String> = args(&whole);
    let o = run(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(o.status.success(), "{}", text(&o));
    let cut = dir.path().join("cut");
    let child = gan()
        .args(args(&cut))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let start = Instant::now();
    while !cut.join("train/checkpoints").is_dir() && start.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .expect("kill")
            .success()
    );
    let o = child.wait_with_output().expect("exits");
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(
        t.contains("interrupted: checkpoint saved") && t.contains("gan toy --resume"),
        "the run was not interrupted before its end (15,000 steps): {t}"
    );
    assert!(!cut.join("modes.json").exists());
    let o = run(&["toy", "--resume", cut.to_str().expect("utf8"), "--json"]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(t.contains("resuming"), "{t}");
    assert!(
        std::fs::read(cut.join("samples.npy")).expect("resumed")
            == std::fs::read(whole.join("samples.npy")).expect("whole"),
        "the resumed run's samples differ from the uninterrupted run's"
    );
    // a finished run is not resumed again
    let o = run(&["toy", "--resume", cut.to_str().expect("utf8")]);
    assert!(
        !o.status.success() && text(&o).contains("finished"),
        "{}",
        text(&o)
    );
}

#[test]
fn toy_2d_runs_write_samples_scatter_and_mode_statistics_deterministically() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut bytes = Vec::new();
    for name in ["a", "b"] {
        let out = dir.path().join(name);
        let o = run(&[
            "toy",
            "--data",
            "grid25",
            "--loss",
            "hinge",
            "--steps",
            "30",
            "--json",
            "--out",
            out.to_str().expect("utf8"),
        ]);
        assert!(o.status.success(), "{}", text(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
        assert_eq!(
            (v["n_samples"].as_u64(), v["n_modes"].as_u64()),
            (Some(100_000), Some(25))
        );
        assert!(num(&v["modes_captured"]) <= 25.0, "{v}");
        assert!((0.0..=100.0).contains(&num(&v["high_quality_pct"])), "{v}");
        assert!(out.join("scatter.png").is_file() && out.join("modes.json").is_file());
        bytes.push(std::fs::read(out.join("samples.npy")).expect("samples"));
    }
    assert!(bytes[0] == bytes[1], "same seed, same samples");
    // the same run through `gan train --preset grid25`, scored again by `gan eval modes --run`
    let c = dir.path().join("c");
    let o = run(&[
        "train",
        "--preset",
        "grid25",
        "--set",
        "loss=hinge",
        "--set",
        "steps=30",
        "--out",
        c.to_str().expect("utf8"),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(std::fs::read(c.join("samples.npy")).expect("samples") == bytes[0]);
    let o = run(&[
        "eval",
        "modes",
        "--run",
        c.to_str().expect("utf8"),
        "--json",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["n_modes"].as_u64(), Some(25));
    // a second run into the same directory is refused, the first one kept
    let o = run(&[
        "toy",
        "--preset",
        "grid25",
        "--steps",
        "1",
        "--out",
        c.to_str().expect("utf8"),
    ]);
    assert!(
        !o.status.success() && text(&o).contains("already holds"),
        "{}",
        text(&o)
    );
    assert!(std::fs::read(c.join("samples.npy")).expect("kept") == bytes[0]);
    // setting the loss brings its paper's settings; later keys still win
    let cfg = gan::toy2d::Toy2dConfig::preset("ring8", &["loss=wgan".into(), "k=2".into()])
        .expect("valid");
    assert_eq!(
        (cfg.k, cfg.clip, cfg.optimizer),
        (2, Some(0.01), gan::toy2d::ToyOptimizer::Rmsprop)
    );
    let cfg = gan::toy2d::Toy2dConfig::preset("grid25", &["loss=wgan-gp".into()]).expect("valid");
    assert_eq!((cfg.k, cfg.beta1, cfg.clip), (5, 0.0, None));
    assert!(gan::toy2d::Toy2dConfig::preset("ring8", &["lr=-1".into()]).is_err());
    assert!(gan::toy2d::Toy2dConfig::preset("ring8", &["nope=1".into()]).is_err());
    let o = run(&["toy", "--loss", "wasserstein", "--steps", "1"]);
    assert!(
        !o.status.success() && text(&o).contains("unknown loss"),
        "{}",
        text(&o)
    );
}

#[test]
fn conditional_runs_sample_one_class_or_a_row_per_class() {
    let dir = tempfile::tempdir().expect("tempdir");
    let r = dir.path().join("cgan");
    let r_s = r.to_str().expect("utf8");
    let mut args: Vec<&str> = TINY.to_vec();
    args.extend([
        "--set",
        "classes=10",
        "--set",
        "engine=\"burn\"",
        "--epochs",
        "1",
        "--out",
        r_s,
    ]);
    let o = run(&args);
    assert!(o.status.success(), "{}", text(&o));
    let npy = dir.path().join("sevens.npy");
    let o = run(&[
        "sample",
        "--run",
        r_s,
        "--class",
        "7",
        "-n",
        "5",
        "--out",
        npy.to_str().expect("utf8"),
        "--json",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["class"].as_u64(), Some(7));
    // the class changes the images drawn from the same noise
    let npy3 = dir.path().join("threes.npy");
    let o = run(&[
        "sample",
        "--run",
        r_s,
        "--class",
        "3",
        "-n",
        "5",
        "--out",
        npy3.to_str().expect("utf8"),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(std::fs::read(&npy).expect("7s") != std::fs::read(&npy3).expect("3s"));
    let png = dir.path().join("grid.png");
    let o = run(&[
        "sample",
        "--run",
        r_s,
        "-n",
        "30",
        "--out",
        png.to_str().expect("utf8"),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    // 10 rows (one per class) of 3 columns: the PNG header's height is over twice its width
    let b = std::fs::read(&png).expect("png");
    let (w, h) = (
        u32::from_be_bytes([b[16], b[17], b[18], b[19]]),
        u32::from_be_bytes([b[20], b[21], b[22], b[23]]),
    );
    assert!(h > 2 * w, "{w}x{h}");
    let o = run(&[
        "sample",
        "--run",
        r_s,
        "--class",
        "10",
        "--out",
        png.to_str().expect("utf8"),
    ]);
    assert!(
        !o.status.success() && text(&o).contains("classes 0..9"),
        "{}",
        text(&o)
    );
    // an unconditional run refuses --class
    let u = dir.path().join("plain");
    let mut args: Vec<&str> = TINY.to_vec();
    args.extend(["--epochs", "1", "--out", u.to_str().expect("utf8")]);
    assert!(run(&args).status.success());
    let o = run(&[
        "sample",
        "--run",
        u.to_str().expect("utf8"),
        "--class",
        "1",
        "--out",
        png.to_str().expect("utf8"),
    ]);
    assert!(
        !o.status.success() && text(&o).contains("not a conditional run"),
        "{}",
        text(&o)
    );
}

#[test]
fn a_damaged_checkpoint_is_reported_once_and_the_previous_one_used() {
    let dir = tempfile::tempdir().expect("tempdir");
    let r = dir.path().join("run");
    let o = train_tiny(&r, "2");
    assert!(o.status.success(), "{}", text(&o));
    let mut cks: Vec<PathBuf> = std::fs::read_dir(r.join("checkpoints"))
        .expect("checkpoints")
        .flatten()
        .map(|e| e.path())
        .collect();
    cks.sort();
    let newest = cks.last().expect("a checkpoint");
    let g = newest.join("generator.safetensors");
    let bytes = std::fs::read(&g).expect("G");
    std::fs::write(&g, &bytes[..bytes.len() / 2]).expect("truncate");
    let png = dir.path().join("s.png");
    let o = run(&[
        "sample",
        "--run",
        r.to_str().expect("utf8"),
        "-n",
        "4",
        "--out",
        png.to_str().expect("utf8"),
    ]);
    let t = text(&o);
    assert!(o.status.success() && png.is_file(), "{t}");
    assert_eq!(t.matches("skipped a damaged checkpoint").count(), 1, "{t}");
    assert!(t.contains("warning: skipped a damaged checkpoint"), "{t}");
}

#[test]
fn the_in_training_fid_works_from_any_directory() {
    // the shipped classifiers are inside the binary: a run started elsewhere than the
    // repository root still gets its FID, for the classifier of its data
    let elsewhere = tempfile::tempdir().expect("tempdir");
    let data = common::root().join("data/mnist");
    let out = elsewhere.path().join("run");
    let mut args: Vec<String> = TINY.iter().map(|s| s.to_string()).collect();
    for a in [
        "--data",
        data.to_str().expect("utf8"),
        "--set",
        "eval_every=1",
        "--set",
        "eval_samples=300",
        "--epochs",
        "1",
        "--json",
        "--out",
        out.to_str().expect("utf8"),
    ] {
        args.push(a.to_string());
    }
    let o = Command::new(common::gan_path())
        .current_dir(elsewhere.path())
        .args(&args)
        .output()
        .expect("gan runs");
    assert!(o.status.success(), "{}", text(&o));
    let line: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert!(num(&line["fid"]) > 0.0, "{line}");
    assert!(num(&line["parzen_ll"]).is_finite(), "{line}");
    // precision, recall and the class histogram of the same 300 samples
    for k in ["precision", "recall"] {
        assert!((0.0..=1.0).contains(&num(&line[k])), "{k}: {line}");
    }
    let hist: Vec<u64> = line["class_histogram"]
        .as_array()
        .expect("class_histogram")
        .iter()
        .map(|v| v.as_u64().expect("count"))
        .collect();
    assert_eq!(hist.len(), 10, "{line}");
    assert_eq!(hist.iter().sum::<u64>(), 300, "{line}");
    let csv = std::fs::read_to_string(out.join("metrics.csv")).expect("csv");
    assert!(
        csv.starts_with("epoch,")
            && csv
                .lines()
                .next()
                .unwrap_or("")
                .ends_with(",precision,recall"),
        "{csv}"
    );
}

#[test]
fn a_mistyped_simd_setting_is_refused_and_portable_gives_the_same_parzen_numbers() {
    let o = gan()
        .env("GAN_SIMD", "avx9000")
        .args(["bench", "sample", "-n", "10", "--rounds", "1"])
        .output()
        .expect("gan runs");
    let t = text(&o);
    assert!(
        !o.status.success() && t.contains("GAN_SIMD") && t.contains("avx9000"),
        "{t}"
    );
    // the same Parzen estimate whichever kernels run (the screen sums the dense form's kernels)
    let dir = tempfile::tempdir().expect("tempdir");
    let r = dir.path().join("run");
    assert!(train_tiny(&r, "1").status.success());
    let mut lls = Vec::new();
    for simd in ["auto", "portable"] {
        let o = gan()
            .env("GAN_SIMD", simd)
            .args(["eval", "parzen", "--run", r.to_str().expect("utf8")])
            .args(["-n", "500", "--json"])
            .output()
            .expect("gan runs");
        assert!(o.status.success(), "{}", text(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
        if simd == "portable" {
            assert_eq!(v["simd"], "portable", "{v}");
            assert_eq!(v["test_path"], "Dense", "{v}");
        }
        lls.push(num(&v["test_ll"]));
    }
    assert!((lls[0] - lls[1]).abs() < 0.01, "{lls:?}");
}

#[test]
fn parzen_repeats_report_the_spread_over_sample_sets() {
    let dir = tempfile::tempdir().expect("tempdir");
    let r = dir.path().join("run");
    assert!(train_tiny(&r, "1").status.success());
    let rs = r.to_str().expect("utf8");
    let o = run(&[
        "eval",
        "parzen",
        "--run",
        rs,
        "-n",
        "300",
        "--repeats",
        "3",
        "--json",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let reps = v["repeats"].as_array().expect("repeats");
    let lls: Vec<f64> = reps.iter().map(|x| num(&x["test_ll"])).collect();
    assert_eq!(lls.len(), 3, "{v}");
    assert!(
        lls[0] != lls[1] && lls[1] != lls[2],
        "different sample sets: {lls:?}"
    );
    let mean = lls.iter().sum::<f64>() / 3.0;
    let std = (lls.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / 2.0).sqrt();
    assert!((num(&v["mean_test_ll"]) - mean).abs() < 1e-9, "{v}");
    assert!((num(&v["std_between_sets"]) - std).abs() < 1e-9, "{v}");
    // the first set is the one a single evaluation with the same seed scores
    let o = run(&["eval", "parzen", "--run", rs, "-n", "300", "--json"]);
    let single: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(num(&single["test_ll"]), lls[0]);
    let npy = dir.path().join("s.npy");
    gan::npy::write_npy_f32(&npy, &vec![0.5; 784 * 10], 10, 784).expect("npy");
    let o = run(&[
        "eval",
        "parzen",
        "--samples",
        npy.to_str().expect("utf8"),
        "--repeats",
        "2",
    ]);
    assert!(
        !o.status.success() && text(&o).contains("needs --run"),
        "{}",
        text(&o)
    );
}

#[test]
fn the_mlp_trains_on_an_image_folder() {
    // the bundled emoji folder at 28 x 28 grey: today's MLP, Parzen every epoch, and a note
    // that the shipped classifiers do not fit this data
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("emoji");
    let data = common::root().join("data/emoji-noto-64");
    let o = run(&[
        "train",
        "--preset",
        "mnist-fast",
        "--data",
        data.to_str().expect("utf8"),
        "--set",
        "eval_every=1",
        "--set",
        "eval_samples=300",
        "--epochs",
        "1",
        "--json",
        "--out",
        out.to_str().expect("utf8"),
    ]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(
        t.contains("3786 images (3030 train, 378 validation, 378 test), 10 classes, 1x28x28"),
        "{t}"
    );
    assert!(t.contains("no FID during training"), "{t}");
    let line: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert!(num(&line["parzen_ll"]).is_finite(), "{line}");
    assert!(line["fid"].is_null(), "{line}");
    assert!(out.join("samples/epoch-0001.png").is_file());
}

#[test]
fn colour_data_gives_colour_grids_checkpoints_and_samples() {
    // the emoji in RGB at 16 x 16 through the MLP: an RGB grid, [3, 16, 16] in the checkpoint,
    // and `gan sample --out x.npy` as [n, h, w, c]
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("rgb");
    let data = common::root().join("data/emoji-noto-64");
    let mut args: Vec<&str> = TINY.to_vec();
    args.extend([
        "--data",
        data.to_str().expect("utf8"),
        "--set",
        "data.channels=3",
        "--set",
        "data.image_size=16",
        "--epochs",
        "1",
        "--out",
        out.to_str().expect("utf8"),
    ]);
    let o = run(&args);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(t.contains("3x16x16"), "{t}");
    // the PNG header: width and height (IHDR bytes 16..24), colour type 2 = RGB (byte 25)
    let png = std::fs::read(out.join("samples/epoch-0001.png")).expect("grid");
    let be = |i: usize| u32::from_be_bytes([png[i], png[i + 1], png[i + 2], png[i + 3]]);
    // 16 samples in 4 columns of 16-pixel tiles with 2-pixel gutters
    assert_eq!((be(16), be(20)), (4 * 18 + 2, 4 * 18 + 2));
    assert_eq!(png[25], 2, "colour type {} is not RGB", png[25]);
    let npy = dir.path().join("s.npy");
    let o = run(&[
        "sample",
        "--run",
        out.to_str().expect("utf8"),
        "-n",
        "5",
        "--seed",
        "3",
        "--out",
        npy.to_str().expect("utf8"),
        "--json",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["shape"], serde_json::json!([3, 16, 16]), "{v}");
    let a = gan::npy::read_npy(&npy).expect("npy");
    assert_eq!(a.shape, vec![5, 16, 16, 3]);
    let gan::npy::NpyData::F32(values) = a.data else {
        panic!("the samples are not float32");
    };
    // channels last: value (i, y, x, c) of the file is value (i, c, y, x) of the same
    // samples drawn through the library (channels first)
    let (gan, _, _) =
        gan::train::load_latest(&out, &burn::tensor::Device::flex().autodiff()).expect("run");
    let lib = gan.sample(5, 3).expect("sample");
    for i in 0..5 {
        for y in 0..16 {
            for x in 0..16 {
                for c in 0..3 {
                    let file = values[((i * 16 + y) * 16 + x) * 3 + c];
                    let want = lib[i * 768 + c * 256 + y * 16 + x];
                    assert_eq!(file, want, "sample {i} ({y}, {x}) channel {c}");
                }
            }
        }
    }
}

#[test]
fn the_dcgan_presets_train_sample_and_refuse_what_does_not_fit() {
    // mnist-dcgan (dcgan-28) and emoji-dcgan (dcgan-32, RGB) from one command each, small
    // widths and few images to stay quick; tanh samples come back in [0, 1]
    let dir = tempfile::tempdir().expect("tempdir");
    let small = [
        "--set",
        "conv.ngf=8",
        "--set",
        "conv.ndf=8",
        "--epochs",
        "1",
        "--json",
    ];
    let mnist = dir.path().join("mnist");
    let mut args = vec![
        "train",
        "--preset",
        "mnist-dcgan",
        "--set",
        "data.train_end=256",
    ];
    args.extend(small);
    args.extend(["--out", mnist.to_str().expect("utf8")]);
    let o = run(&args);
    assert!(o.status.success(), "{}", text(&o));
    let line: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(line["step"].as_u64(), Some(4), "{line}");
    assert!(
        num(&line["fid"]).is_finite(),
        "the LeNet FID every epoch: {line}"
    );
    let cfg = std::fs::read_to_string(mnist.join("config.toml")).expect("config");
    assert!(cfg.contains("model = \"dcgan-28\""), "{cfg}");
    let npy = dir.path().join("s.npy");
    let o = run(&[
        "sample",
        "--run",
        mnist.to_str().expect("utf8"),
        "-n",
        "20",
        "--out",
        npy.to_str().expect("utf8"),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let (v, rows, cols) = gan::npy::read_npy_f32(&npy).expect("npy");
    assert_eq!((rows, cols), (20, 784));
    assert!(
        v.iter().all(|x| (0.0..=1.0).contains(x)),
        "samples outside [0, 1]"
    );
    let emoji = dir.path().join("emoji");
    let mut args = vec!["train", "--preset", "emoji-dcgan"];
    args.extend(small);
    args.extend(["--out", emoji.to_str().expect("utf8")]);
    let o = run(&args);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("3x32x32"), "{}", text(&o));
    let png = std::fs::read(emoji.join("samples/epoch-0001.png")).expect("grid");
    assert_eq!(png[25], 2, "the emoji grid is not RGB");
    // the conditional preset: one class asked for, and a grid with one class per row
    let cond = dir.path().join("cond");
    let mut args = vec!["train", "--preset", "emoji-cdcgan"];
    args.extend(small);
    args.extend(["--out", cond.to_str().expect("utf8")]);
    let o = run(&args);
    assert!(o.status.success(), "{}", text(&o));
    let one = dir.path().join("one.npy");
    let o = run(&[
        "sample",
        "--run",
        cond.to_str().expect("utf8"),
        "-n",
        "4",
        "--class",
        "3",
        "--out",
        one.to_str().expect("utf8"),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let o = run(&[
        "sample",
        "--run",
        cond.to_str().expect("utf8"),
        "-n",
        "4",
        "--class",
        "10",
        "--out",
        one.to_str().expect("utf8"),
    ]);
    assert!(
        !o.status.success() && text(&o).contains("classes 0..9"),
        "{}",
        text(&o)
    );
    // the benchmarks of the convolutional models run (their timings are for bench/)
    let o = run(&[
        "bench",
        "sample",
        "--model",
        "dcgan-32",
        "--channels",
        "3",
        "-n",
        "5",
        "--rounds",
        "1",
        "--json",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert!(num(&v["images_per_sec"]) > 0.0, "{v}");
    let o = run(&[
        "bench", "conv", "--model", "dcgan-28", "--batch", "4", "--steps", "1", "--warmup", "0",
        "--json",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let o = run(&["bench", "sample", "--model", "dcgan-48", "-n", "5"]);
    assert!(
        !o.status.success() && text(&o).contains("dcgan-48"),
        "{}",
        text(&o)
    );
    // what does not fit is refused before anything is written
    let refused = dir.path().join("refused");
    for (set, want) in [
        ("data.image_size=28", "makes 32 x 32 images"),
        ("optimizer.kind=\"rmsprop\"", "runs on the burn engine only"),
        ("conv.ngf=0", "conv.ngf"),
    ] {
        let o = run(&[
            "train",
            "--preset",
            "emoji-dcgan",
            "--set",
            set,
            "--epochs",
            "1",
            "--out",
            refused.to_str().expect("utf8"),
        ]);
        let t = text(&o);
        assert!(!o.status.success() && t.contains(want), "{set}: {t}");
        assert!(
            !refused.join("checkpoints").exists(),
            "{set}: a refused run wrote checkpoints"
        );
    }
}
