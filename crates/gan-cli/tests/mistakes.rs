//! The mistakes people make, made as a user would (the binary, from the command line): each
//! gets a clear error naming the problem, and no run is ever mixed up or lost.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::{TINY, gan, gan_path, run, text};

/// `gan args...`, expected to fail: its output, checked to contain every one of `want` and
/// no panic.
fn fails(args: &[&str], want: &[&str]) -> String {
    let o = run(args);
    let t = text(&o);
    assert!(!o.status.success(), "{args:?} should fail: {t}");
    assert!(!t.contains("panicked"), "{args:?} panicked: {t}");
    for w in want {
        assert!(t.contains(w), "{args:?}: {t:?} should mention {w:?}");
    }
    t
}

fn tiny_run(out: &Path, epochs: &str) -> Output {
    let mut args: Vec<&str> = TINY.to_vec();
    let out = out.to_str().expect("utf8");
    args.extend(["--out", out, "--epochs", epochs, "--json", "--threads", "1"]);
    run(&args)
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf8")
}

#[test]
fn presets_and_their_data_are_found_from_any_directory() {
    // 0: the preset's data/mnist is relative; run from elsewhere it is found all the same
    let elsewhere = tempfile::tempdir().expect("tempdir");
    let out = elsewhere.path().join("run");
    let mut args: Vec<&str> = TINY.to_vec();
    args.extend(["--epochs", "1", "--json", "--out", s(&out)]);
    let o = Command::new(gan_path())
        .current_dir(elsewhere.path())
        .args(&args)
        .output()
        .expect("gan runs");
    assert!(o.status.success(), "{}", text(&o));
    assert!(out.join("samples/epoch-0001.png").is_file());
}

#[test]
fn large_requests_stream_or_are_refused_with_their_size() {
    // 1: a .npy is written in chunks (the first 1,000 of 2,500 are the 1,000 of -n 1000), a
    // .png grid of millions and an evaluation that cannot fit are refused up front
    let dir = tempfile::tempdir().expect("tempdir");
    let r = dir.path().join("run");
    assert!(tiny_run(&r, "1").status.success());
    let (a, b) = (dir.path().join("a.npy"), dir.path().join("b.npy"));
    for (n, f) in [("2500", &a), ("1000", &b)] {
        let o = run(&["sample", "--run", s(&r), "-n", n, "--out", s(f)]);
        assert!(o.status.success(), "{}", text(&o));
    }
    let (va, na, d) = gan::npy::read_npy_f32(&a).expect("a");
    let (vb, nb, _) = gan::npy::read_npy_f32(&b).expect("b");
    assert_eq!((na, nb), (2500, 1000));
    assert!(
        va[..1000 * d] == vb[..],
        "streamed chunks are the same samples"
    );
    assert!(!dir.path().join(".a.npy.partial").exists());
    fails(
        &["sample", "--run", s(&r), "-n", "10000000", "--out", "x.png"],
        &["-n 10000000", "at most 10000 images", ".npy"],
    );
    fails(
        &["eval", "fid", "--run", s(&r), "-n", "1000000000000"],
        &["-n 1000000000000", "GB of memory", "available"],
    );
}

/// A long `gan train` of the tiny model into `r`, started in the background, returned once
/// its first checkpoint is written and training is under way; `piped` keeps its output.
fn training_in_background(r: &Path, piped: bool) -> std::process::Child {
    let mut args: Vec<&str> = TINY.to_vec();
    args.extend([
        "--set",
        "data.train_end=50000",
        "--out",
        s(r),
        "--epochs",
        "50",
        "--json",
        "--threads",
        "1",
    ]);
    let out = || if piped { Stdio::piped() } else { Stdio::null() };
    let child = gan()
        .args(&args)
        .stdout(out())
        .stderr(out())
        .spawn()
        .expect("spawn");
    let start = Instant::now();
    while !r.join("checkpoints").is_dir() && start.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(50));
    }
    // past start-up: the interrupt handler is installed once the run is created
    std::thread::sleep(Duration::from_millis(500));
    child
}

#[test]
fn a_run_directory_has_one_writer_and_a_killed_one_does_not_block_it() {
    // 2: a second `gan train` on a directory being trained is refused, naming the holder; once
    // the first is killed (-9: no chance to clean up), the run resumes
    let dir = tempfile::tempdir().expect("tempdir");
    let r = dir.path().join("run");
    let mut child = training_in_background(&r, false);
    let pid = child.id().to_string();
    let t = fails(
        &["train", "--resume", s(&r), "--threads", "1"],
        &["is in use by another gan process", &format!("pid {pid}")],
    );
    assert!(!t.contains("resuming"), "{t}");
    let mut same: Vec<&str> = TINY.to_vec();
    same.extend(["--out", s(&r), "--epochs", "1", "--threads", "1"]);
    fails(&same, &["in use by another gan process"]);
    child.kill().expect("kill -9");
    child.wait().expect("reaped");
    // metrics.jsonl is appended before each epoch's checkpoint: one epoch more than it
    // records is always something left to train, however far the killed run got
    let done = std::fs::read_to_string(r.join("metrics.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["epoch"].as_u64())
        .max()
        .unwrap_or(0);
    let total = (done + 1).to_string();
    let o = run(&["train", "--resume", s(&r), "--epochs", &total, "--json"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("resuming"), "{}", text(&o));
}

#[test]
fn one_interrupt_delivered_twice_is_one_request() {
    // 3: `timeout -s INT` and job schedulers signal the process and its group: two signals
    // in quick succession save a checkpoint and exit 0, like one
    let dir = tempfile::tempdir().expect("tempdir");
    let r = dir.path().join("run");
    let child = training_in_background(&r, true);
    let pid = child.id().to_string();
    for _ in 0..2 {
        assert!(
            Command::new("kill")
                .args(["-INT", &pid])
                .status()
                .expect("kill")
                .success()
        );
    }
    let o = child.wait_with_output().expect("exits");
    let t = text(&o);
    assert!(o.status.success(), "exit {:?}: {t}", o.status.code());
    assert!(t.contains("interrupted: checkpoint saved"), "{t}");
    assert!(!t.contains("exiting without a checkpoint"), "{t}");
}

#[test]
fn a_resume_with_nothing_to_do_changes_nothing() {
    // 4: --epochs below the epochs done reports the real count and leaves config.toml as is
    let dir = tempfile::tempdir().expect("tempdir");
    let r = dir.path().join("run");
    assert!(tiny_run(&r, "2").status.success());
    let before = std::fs::read(r.join("config.toml")).expect("config");
    let metrics = std::fs::read(r.join("metrics.jsonl")).expect("metrics");
    let o = run(&["train", "--resume", s(&r), "--epochs", "1"]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(
        t.contains("has trained 2 epochs") && t.contains("nothing was changed"),
        "{t}"
    );
    assert!(!t.contains("1 epochs"), "{t}");
    assert_eq!(
        std::fs::read(r.join("config.toml")).expect("config"),
        before
    );
    assert_eq!(std::fs::read(r.join("metrics.jsonl")).expect("m"), metrics);
}

#[test]
fn samples_outside_the_pixel_range_and_impossible_subsets_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    // 5: images saved as bytes
    let bytes = dir.path().join("bytes.npy");
    let v: Vec<f32> = (0..100 * 784).map(|i| (i % 256) as f32).collect();
    gan::npy::write_npy_f32(&bytes, &v, 100, 784).expect("npy");
    for metric in ["fid", "kid", "parzen"] {
        fails(
            &["eval", metric, "--samples", s(&bytes)],
            &["bytes.npy", "[0, 255]", "[0, 1]", "divide by 255"],
        );
    }
    // 6: KID subsets larger than the sample set
    let ok = dir.path().join("ok.npy");
    let v: Vec<f32> = (0..100 * 784).map(|i| (i % 7) as f32 / 7.0).collect();
    gan::npy::write_npy_f32(&ok, &v, 100, 784).expect("npy");
    fails(
        &["eval", "kid", "--samples", s(&ok), "--subset-size", "5000"],
        &["subsets of 5000", "100", "at most 100"],
    );
}

#[test]
fn counts_threads_and_widths_are_checked() {
    // 7: counts of zero
    fails(
        &["eval", "parzen", "--n-valid", "0"],
        &["--n-valid", "at least 1"],
    );
    fails(&["attack", "fgsm", "-n", "0"], &["-n", "at least 1"]);
    // 8: more threads than cores
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    fails(
        &[
            "sample",
            "--run",
            "x",
            "--out",
            "x.png",
            "--threads",
            "1000",
        ],
        &["--threads 1000", &format!("this machine has {cores} cores")],
    );
    // 9: one rule for both players' hidden layers
    for key in ["generator.hidden=[]", "discriminator.hidden=[]"] {
        let player = key.split('.').next().expect("player");
        fails(
            &["train", "--preset", "mnist-fast", "--set", key],
            &[&format!("{player}.hidden"), "at least one positive width"],
        );
    }
}

#[test]
fn a_run_of_the_other_kind_or_no_run_is_named_as_such() {
    // 10
    let dir = tempfile::tempdir().expect("tempdir");
    let toy = dir.path().join("toy");
    let o = run(&[
        "toy",
        "--preset",
        "ring8",
        "--steps",
        "5",
        "--json",
        "--out",
        s(&toy),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    for args in [
        vec!["train", "--resume", s(&toy)],
        vec!["eval", "fid", "--run", s(&toy)],
        vec!["sample", "--run", s(&toy), "-n", "4", "--out", "x.png"],
    ] {
        let t = fails(&args, &["is a 2-D run", "gan eval modes --run"]);
        assert!(!t.contains("missing field"), "{t}");
    }
    let img = dir.path().join("img");
    assert!(tiny_run(&img, "1").status.success());
    fails(
        &["eval", "modes", "--run", s(&img)],
        &["is an image run", "eval fid|kid|pr|score|parzen"],
    );
    let nowhere = dir.path().join("nowhere");
    for args in [
        vec!["train", "--resume", s(&nowhere)],
        vec!["sample", "--run", s(&nowhere), "-n", "4", "--out", "x.png"],
    ] {
        fails(&args, &["nowhere does not exist"]);
    }
}

#[test]
fn bad_values_name_the_setting_and_the_expected_kind() {
    // 11
    fails(
        &["train", "--preset", "mnist-fast", "--set", "batch_size=abc"],
        &["--set batch_size=abc", "takes an integer"],
    );
    fails(
        &[
            "train",
            "--preset",
            "mnist-fast",
            "--set",
            "optimizer.lr=inf",
        ],
        &["optimizer.lr", "must be finite"],
    );
    let t = fails(
        &["toy", "--preset", "ring8", "--set", "steps=0"],
        &["steps: must be at least 1"],
    );
    assert!(!t.contains("batch, k"), "{t}");
    // 12: negative numbers are values with their own error, not unknown flags
    for (args, flag) in [
        (vec!["train", "--epochs", "-1"], "--epochs"),
        (vec!["eval", "parzen", "--sigma", "-1"], "--sigma"),
        (
            vec!["classifier", "train", "--out", "x", "--lr", "-1"],
            "--lr",
        ),
    ] {
        let t = fails(&args, &[flag]);
        assert!(!t.contains("unexpected argument"), "{t}");
        assert!(t.contains("at least 1") || t.contains("above 0"), "{t}");
    }
    // 13: one wording for a missing source and for -n 0
    fails(
        &["eval", "parzen"],
        &["give the samples: --run RUN_DIR or --samples"],
    );
    fails(
        &["eval", "parzen", "-n", "0"],
        &["-n", "must be at least 1"],
    );
    fails(
        &["sample", "--run", "x", "--out", "x.png", "-n", "0"],
        &["-n", "must be at least 1"],
    );
}

#[test]
fn messages_say_what_applies_once() {
    // 14: every preset listed; a data error without an unrelated preset list; an OS error
    // once; nothing announced before a refusal
    fails(
        &["train", "--preset", "nope"],
        &["ring8", "grid25", "mnist-paper"],
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let t = fails(
        &["train", "--preset", "mnist-fast", "--data", s(dir.path())],
        &["train-images-idx3-ubyte"],
    );
    assert!(!t.contains("presets:"), "{t}");
    assert!(!t.contains("training mnist-fast"), "{t}");
    let file = dir.path().join("file");
    std::fs::write(&file, "x").expect("write");
    let out = file.join("run");
    let mut args: Vec<&str> = TINY.to_vec();
    args.extend(["--out", s(&out), "--epochs", "1"]);
    let t = fails(&args, &["Not a directory"]);
    assert_eq!(t.matches("Not a directory").count(), 1, "{t}");
    assert!(!t.contains("training mnist-fast for"), "{t}");
    // "1 epoch", not "1 epochs"
    let r = dir.path().join("one");
    let mut args: Vec<&str> = TINY.to_vec();
    args.extend(["--out", s(&r), "--epochs", "1"]);
    let o = run(&args);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("for 1 epoch into"), "{}", text(&o));
}

#[test]
fn the_value_at_the_optimum_is_finite_for_distant_generators() {
    // 15: V(D*, G) of the first, far-away generator was -inf
    let dir = tempfile::tempdir().expect("tempdir");
    let o = run(&[
        "theory",
        "value",
        "--scale",
        "0.1",
        "--json",
        "--out",
        s(dir.path()),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let rows = v["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), 5, "{v}");
    for r in rows {
        let x = r["v_optimal_quadrature"]
            .as_f64()
            .unwrap_or_else(|| panic!("not a finite number: {r}"));
        assert!(x.is_finite() && x <= 1e-9, "{r}");
    }
    assert!(!text(&o).contains("inf"), "{}", text(&o));
}

#[test]
fn help_names_every_subcommand_and_defaults_never_overwrite_shipped_files() {
    // 16
    let h = text(&run(&["--help"]));
    assert!(h.contains("FID") && h.contains("curves"), "{h}");
    let h = text(&run(&["figure", "interpolate", "--help"]));
    assert!(
        h.contains("interpolation") && !h.contains("not counting the nearest"),
        "{h}"
    );
    fails(&["classifier", "train"], &["--out"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let existing = dir.path().join("w.safetensors");
    std::fs::write(&existing, "keep me").expect("write");
    fails(
        &["classifier", "train", "--out", s(&existing)],
        &["exists", "--overwrite"],
    );
    assert_eq!(std::fs::read(&existing).expect("kept"), b"keep me");
}

#[test]
fn the_data_source_and_the_model_are_named_and_checked() {
    // data.source forces a reader (a wrong one fails on the files, naming them), model names
    // the architecture (a misspelt one lists the choices); nothing is written either way
    let dir = tempfile::tempdir().expect("tempdir");
    let emoji = common::root().join("data/emoji-noto-64");
    let out = dir.path().join("run");
    let mut base: Vec<&str> = TINY.to_vec();
    base.extend(["--out", s(&out), "--epochs", "1"]);
    let with = |extra: &[&str]| -> Vec<String> {
        base.iter()
            .chain(extra)
            .map(|a| a.to_string())
            .collect::<Vec<_>>()
    };
    let a = with(&["--set", "data.source=\"folder\""]);
    fails(
        &a.iter().map(String::as_str).collect::<Vec<_>>(),
        &["data/mnist", "no image could be read"],
    );
    let a = with(&["--data", s(&emoji), "--set", "data.source=\"idx\""]);
    fails(
        &a.iter().map(String::as_str).collect::<Vec<_>>(),
        &["train-images-idx3-ubyte", "MNIST-format"],
    );
    let a = with(&["--set", "data.source=\"cifar\""]);
    fails(
        &a.iter().map(String::as_str).collect::<Vec<_>>(),
        &["data_batch_1.bin"],
    );
    let a = with(&["--set", "model=\"dcgan\""]);
    fails(
        &a.iter().map(String::as_str).collect::<Vec<_>>(),
        &["dcgan", "expected one of `mlp`, `dcgan-28`"],
    );
    assert!(!out.exists(), "a refused run wrote {}", out.display());
    // auto and an explicit matching source train alike
    let a = with(&[
        "--data",
        s(&emoji),
        "--set",
        "data.source=\"folder\"",
        "--json",
    ]);
    let o = run(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(o.status.success(), "{}", text(&o));
    let cfg = std::fs::read_to_string(out.join("config.toml")).expect("config");
    assert!(
        cfg.contains("source = \"folder\"") && cfg.contains("model = \"mlp\""),
        "{cfg}"
    );
}

#[test]
fn the_inception_extractor_says_where_its_weights_come_from() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ok = dir.path().join("ok.npy");
    let v: Vec<f32> = (0..20 * 784).map(|i| (i % 7) as f32 / 7.0).collect();
    gan::npy::write_npy_f32(&ok, &v, 20, 784).expect("npy");
    // no weights given (and none in the environment)
    let o = Command::new(gan_path())
        .args([
            "eval",
            "fid",
            "--extractor",
            "inception",
            "--samples",
            s(&ok),
        ])
        .env_remove("GAN_INCEPTION_WEIGHTS")
        .output()
        .expect("gan runs");
    let t = text(&o);
    assert!(!o.status.success(), "{t}");
    for w in [
        "--inception-weights",
        "pt_inception-2015-12-05-6726825d.pth",
        "SHA-256",
    ] {
        assert!(t.contains(w), "{t:?} should mention {w:?}");
    }
    // a weights path that does not exist, and statistics files with the LeNet features
    let missing = dir.path().join("pt_inception.pth");
    fails(
        &[
            "eval",
            "is",
            "--inception-weights",
            s(&missing),
            "--samples",
            s(&ok),
        ],
        &["pt_inception.pth", "no such file", "nothing is downloaded"],
    );
    fails(
        &["eval", "fid", "--samples", s(&ok), "--ref-stats", "x.npz"],
        &["--ref-stats", "--extractor inception"],
    );
    // statistics cannot stand in for the features KID compares (they were once ignored
    // while the report named the file), nor be written by the Inception Score
    fails(
        &[
            "eval",
            "kid",
            "--extractor",
            "inception",
            "--samples",
            s(&ok),
            "--ref-stats",
            "x.npz",
        ],
        &["--ref-stats", "only the FID reads"],
    );
    fails(
        &["eval", "is", "--samples", s(&ok), "--save-stats", "x.npz"],
        &["--save-stats", "computes none"],
    );
}
