//! Reliability of `gan train`: kill -9 at random moments, a full disk, an unwritable output
//! directory, and the divergence guard. Each fault must leave a run that resumes.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::{TINY, gan, gan_path, root, text};

/// A tiny model on 2,000 training images (20 steps, well under a second, per epoch).
fn tiny(out: &Path, epochs: &str, extra: &[&str]) -> Vec<String> {
    let mut a: Vec<String> = TINY.iter().map(|s| s.to_string()).collect();
    let out = out.to_str().expect("utf8 path");
    for s in ["--threads", "1", "--json", "--epochs", epochs, "--out", out] {
        a.push(s.to_string());
    }
    a.extend(extra.iter().map(|s| s.to_string()));
    a
}

fn resume(out: &Path, epochs: &str) -> Vec<String> {
    [
        "train",
        "--resume",
        out.to_str().expect("utf8 path"),
        "--epochs",
        epochs,
        "--threads",
        "1",
        "--json",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// The newest checkpoint directory of a run.
fn newest_checkpoint(run: &Path) -> PathBuf {
    let mut v: Vec<PathBuf> = std::fs::read_dir(run.join("checkpoints"))
        .expect("checkpoints dir")
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("step-"))
        })
        .collect();
    v.sort();
    v.pop().expect("a checkpoint")
}

/// metrics.jsonl without the wall-clock fields.
fn metrics_without_timing(run: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(run.join("metrics.jsonl"))
        .expect("metrics")
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).expect("a JSON line");
            let o = v.as_object_mut().expect("object");
            o.remove("seconds");
            o.remove("images_per_sec");
            v
        })
        .collect()
}

#[test]
fn kill_9_at_random_moments_then_resume_continues_the_same_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let reference = dir.path().join("reference");
    let timed = Instant::now();
    let o = gan()
        .args(tiny(&reference, "80", &[]))
        .output()
        .expect("gan runs");
    assert!(o.status.success(), "{}", text(&o));
    // kill delays scale with how long the whole run takes on this machine (a faster CPU
    // must not finish the run between too few kills, nor a loaded one): from 30 ms to a
    // fifth of it, about ten kills on average
    let whole = timed.elapsed().as_millis() as u64;
    let span = (whole / 5).max(100);

    let run = dir.path().join("killed");
    // a fixed pseudo-random sequence of kill delays
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut delay = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        Duration::from_millis(30 + x % span)
    };
    let started = Instant::now();
    let (mut kills, mut finished) = (0, false);
    while !finished && started.elapsed() < Duration::from_secs(150) {
        let args = if run.join("config.toml").is_file() {
            resume(&run, "80")
        } else {
            tiny(&run, "80", &[])
        };
        let mut child = gan()
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        let wait = delay();
        let t = Instant::now();
        loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                let out = child.wait_with_output().expect("output");
                assert!(
                    status.success(),
                    "a resume failed after {kills} kills: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                finished = true;
                break;
            }
            if t.elapsed() >= wait {
                child.kill().expect("SIGKILL");
                child.wait().expect("reaped");
                kills += 1;
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    assert!(finished, "the run did not finish within the time bound");
    assert!(
        kills >= 5,
        "only {kills} kills landed (the whole run took {whole} ms)"
    );
    eprintln!("{kills} kill -9 landed; every resume worked");

    // the same run as without interruption: same metrics, bit-identical weights
    assert_eq!(
        metrics_without_timing(&run),
        metrics_without_timing(&reference)
    );
    let (a, b) = (newest_checkpoint(&run), newest_checkpoint(&reference));
    assert_eq!(a.file_name(), b.file_name());
    for f in ["generator.safetensors", "discriminator.safetensors"] {
        assert!(
            std::fs::read(a.join(f)).expect("weights")
                == std::fs::read(b.join(f)).expect("weights"),
            "{f} differs after {kills} kills"
        );
    }
    // no half-written checkpoint directory survives as a checkpoint
    for e in std::fs::read_dir(run.join("checkpoints"))
        .expect("dir")
        .flatten()
    {
        let n = e.file_name().to_string_lossy().to_string();
        assert!(n.starts_with("step-") || n.starts_with(".tmp-"), "{n}");
    }
}

#[test]
fn a_full_disk_gives_a_clear_error_and_keeps_the_previous_checkpoint() {
    let dir = tempfile::tempdir().expect("tempdir");
    let run = dir.path().join("run");
    let o = gan().args(tiny(&run, "1", &[])).output().expect("gan runs");
    assert!(o.status.success(), "{}", text(&o));
    let before = newest_checkpoint(&run);
    let weights = std::fs::read(before.join("generator.safetensors")).expect("weights");

    // files may grow to 40 KiB only (the generator's weights are 116 KB); SIGXFSZ ignored,
    // so writes fail with EFBIG as they would with ENOSPC on a full disk
    let o = Command::new("bash")
        .current_dir(root())
        .arg("-c")
        .arg("trap '' XFSZ; ulimit -f 40; exec \"$0\" \"$@\"")
        .arg(gan_path())
        .args(resume(&run, "3"))
        .output()
        .expect("bash runs");
    assert!(!o.status.success(), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("File too large") && err.contains("checkpoints"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    // the previous checkpoint is intact and still the newest; no half-written one is left
    assert_eq!(newest_checkpoint(&run), before);
    assert_eq!(
        std::fs::read(before.join("generator.safetensors")).expect("weights"),
        weights
    );
    let leftovers: Vec<_> = std::fs::read_dir(run.join("checkpoints"))
        .expect("dir")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    // with space again, the run resumes from it
    let o = gan().args(resume(&run, "3")).output().expect("gan runs");
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(metrics_without_timing(&run).len(), 3);
}

#[test]
fn an_unwritable_output_directory_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"not a directory").expect("write");
    let o = gan()
        .args(tiny(&file.join("run"), "1", &[]))
        .output()
        .expect("gan runs");
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("a-file") && err.contains("Not a directory"),
        "{err}"
    );
    assert_eq!(std::fs::read(&file).expect("read"), b"not a directory");
}

#[test]
fn divergence_stops_with_the_step_and_tensor_or_rolls_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    // stop (the default): the step and the tensor named, the initial checkpoint kept
    let run = dir.path().join("stop");
    let o = gan()
        .args(tiny(&run, "2", &["--set", "optimizer.lr=1e9"]))
        .output()
        .expect("gan runs");
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("diverged at step") && err.contains("is not finite"),
        "{err}"
    );
    assert!(newest_checkpoint(&run).ends_with("step-0000000000"));

    // rollback: back to the last good checkpoint with a lower learning rate, then on
    let run = dir.path().join("rollback");
    let o = gan()
        .args(tiny(
            &run,
            "2",
            &[
                "--set",
                "optimizer.lr=1e9",
                "--set",
                "divergence.action=\"rollback\"",
                "--set",
                "divergence.lr_factor=1e-9",
            ],
        ))
        .output()
        .expect("gan runs");
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("rolled back to"), "{}", text(&o));
    let cfg = std::fs::read_to_string(run.join("config.toml")).expect("config");
    assert!(cfg.contains("lr = 1.0"), "{cfg}");
    assert_eq!(metrics_without_timing(&run).len(), 2);

    // rollbacks used up: stop
    let run = dir.path().join("exhausted");
    let o = gan()
        .args(tiny(
            &run,
            "2",
            &[
                "--set",
                "optimizer.lr=1e30",
                "--set",
                "divergence.action=\"rollback\"",
                "--set",
                "divergence.max_rollbacks=2",
            ],
        ))
        .output()
        .expect("gan runs");
    assert!(!o.status.success());
    let all = text(&o);
    assert_eq!(all.matches("rolled back to").count(), 2, "{all}");
    assert!(all.contains("diverged at step"), "{all}");
}

#[test]
fn same_seed_same_weights_whatever_the_thread_count() {
    // a model just large enough that every parallel path of the fused engine splits its work
    // on 2 threads (the tiny model of the other tests stays under every threshold)
    let (g_hidden, d_units, pieces, m, d) = (128usize, 64usize, 5usize, 100usize, 784usize);
    let d_rows = 2 * m; // the simultaneous schedule runs D on [real; fake]
    let checks = [
        (
            "momentum update of D's first layer",
            d * d_units * pieces,
            gan::fast::UPDATE_PAR_MIN,
        ),
        (
            "momentum update of G's output layer",
            g_hidden * d,
            gan::fast::UPDATE_PAR_MIN,
        ),
        ("maxout pass", d_rows * d_units * pieces, gan::fast::PAR_MIN),
        ("G's output activation", m * d, gan::fast::PAR_MIN),
        (
            "G's output GEMM",
            m * d * g_hidden,
            gan::fast::gemm::PAR_MIN_WORK,
        ),
        (
            // one winner per unit, of which dropout keeps about half: a quarter is a floor
            "sparse maxout backward (kept winners x width)",
            d_rows * d_units / 4 * d,
            gan::fast::sparse::PAR_MIN_WORK,
        ),
    ];
    for (what, size, threshold) in checks {
        assert!(size >= threshold, "{what}: {size} below {threshold}");
    }
    let g = format!("generator.hidden=[{g_hidden}]");
    let dh = format!("discriminator.hidden=[{d_units}]");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut weights = Vec::new();
    for (name, threads) in [("a", "1"), ("b", "1"), ("c", "2")] {
        let run = dir.path().join(name);
        let mut args = tiny(&run, "2", &["--set", &g, "--set", &dh]);
        let at = args
            .iter()
            .position(|a| a == "--threads")
            .expect("--threads")
            + 1;
        args[at] = threads.to_string();
        let o = gan().args(&args).output().expect("gan runs");
        assert!(o.status.success(), "{}", text(&o));
        let ck = newest_checkpoint(&run);
        weights.push((
            std::fs::read(ck.join("generator.safetensors")).expect("G"),
            std::fs::read(ck.join("discriminator.safetensors")).expect("D"),
            metrics_without_timing(&run),
        ));
    }
    assert!(
        weights[0] == weights[1],
        "same seed, same threads: bit-identical"
    );
    assert!(weights[0] == weights[2], "1 and 2 threads: bit-identical");
}
