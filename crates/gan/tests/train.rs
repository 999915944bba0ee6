//! Short training runs: D(x) and D(G(z)) move as the theory says, resume equals an
//! uninterrupted run, damaged checkpoints are detected.

mod common;

use std::path::Path;

use burn::tensor::Device;
use gan::config::{Schedule, TrainConfig};
use gan::train::{
    EpochMetrics, Observer, Outcome, Run, Silent, StepReport, StepStats, files, load_latest,
};

fn dev() -> Device {
    Device::flex().autodiff()
}

fn small(extra: &[&str]) -> TrainConfig {
    let mut o: Vec<String> = vec![
        "generator.hidden=[64]".into(),
        "discriminator.hidden=[32]".into(),
        "batch_size=50".into(),
        "grid_samples=16".into(),
    ];
    o.extend(extra.iter().map(|s| s.to_string()));
    TrainConfig::preset("mnist-fast", &o).expect("valid config")
}

#[derive(Default)]
struct Record {
    steps: Vec<StepStats>,
    epochs: Vec<EpochMetrics>,
    stop_after: Option<usize>,
}

impl Observer for Record {
    fn on_step(&mut self, r: &StepReport<'_>) {
        self.steps.push(*r.stats);
    }
    fn on_epoch(&mut self, m: &EpochMetrics, _: &Path) {
        self.epochs.push(m.clone());
    }
    fn stop_requested(&self) -> bool {
        self.stop_after.is_some_and(|n| self.steps.len() >= n)
    }
}

#[test]
fn discriminator_learns_to_separate_then_generator_catches_up() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = small(&["epochs=3", "batch_size=100", "discriminator.hidden=[240]"]);
    let mut run = Run::create(dir.path(), cfg, common::train_subset(5000), &dev()).expect("run");
    let mut rec = Record::default();
    assert_eq!(run.train(&mut rec).expect("train"), Outcome::Finished);
    // At initialisation D's weights are tiny: D(x) = D(G(z)) = 1/2, V = -log 4.
    let first = rec.steps[0];
    assert!(
        (first.d_real - 0.5).abs() < 0.01 && (first.d_fake - 0.5).abs() < 0.01,
        "{first:?}"
    );
    assert!(
        (first.d_loss - std::f64::consts::LN_2).abs() < 0.01,
        "{first:?}"
    );
    // D then learns to tell real from fake: D(x) above 1/2, D(G(z)) below.
    let e = &rec.epochs;
    assert_eq!(e.len(), 3);
    eprintln!("{e:#?}");
    let last = &e[2];
    assert!(last.d_real > 0.6 && last.d_fake < 0.4, "{last:?}");
    assert!(
        last.d_loss < 0.6,
        "D beats chance (log 2 = 0.693): {last:?}"
    );
    assert!(
        e[0].d_real - e[0].d_fake < last.d_real - last.d_fake,
        "D's margin grows: {e:?}"
    );
    // G's loss follows D's verdict: with D winning, -log D(G(z)) rises above log 2
    assert!(
        last.g_loss > e[0].g_loss && last.g_loss > 1.0,
        "G's non-saturating loss grows as D wins: {e:?}"
    );
    // G catches up one step at a time: each G update raises the verdict of the D it was
    // computed against on G's samples (fixed noise, D without dropout, D frozen before the
    // step). 20 further steps; every one must move G the right way on average.
    let mut rng = gan::rng::Rng::new(21);
    let z = run.gan.noise(1000, &mut rng);
    let train = common::train_subset(2000);
    let verdict = |gan: &gan::train::Gan, d: &gan::models::MlpDiscriminator| {
        let x = gan.generate_from(z.clone()).expect("samples");
        let t = gan::train::tensor_from(x, 1000, 784, &gan.device);
        let p: Vec<f32> = burn::tensor::activation::sigmoid(d.forward(t, None))
            .into_data()
            .try_into_vec()
            .expect("host");
        p.iter().map(|&v| v as f64).sum::<f64>() / p.len() as f64
    };
    let mut rises = Vec::new();
    for b in 0..20 {
        run.gan.sync_modules();
        let d_before = run.gan.discriminator.clone();
        let before = verdict(&run.gan, &d_before);
        run.gan
            .train_step(&[train.first_pixels(2000)[b * 100 * 784..(b + 1) * 100 * 784].to_vec()])
            .expect("step");
        run.gan.sync_modules();
        rises.push(verdict(&run.gan, &d_before) - before);
    }
    assert!(
        rises.iter().all(|r| *r > 0.0),
        "D(G(z)) change per G step: {rises:?}"
    );
    // files a user expects
    for f in [
        files::CONFIG,
        files::METRICS_JSONL,
        files::METRICS_CSV,
        "samples/epoch-0003.png",
    ] {
        assert!(dir.path().join(f).is_file(), "{f} missing");
    }
    let csv = std::fs::read_to_string(dir.path().join(files::METRICS_CSV)).expect("csv");
    assert_eq!(csv.lines().count(), 4, "header + one line per epoch");
}

/// CRC-32 of each weight file of the newest checkpoint, by name.
fn weights(dir: &Path) -> Vec<(&'static str, u32)> {
    let (gan, ckpt, _) = load_latest(dir, &dev()).expect("checkpoint");
    let _ = gan;
    [
        files::GENERATOR,
        files::DISCRIMINATOR,
        files::GENERATOR_VELOCITY,
        files::DISCRIMINATOR_VELOCITY,
        files::GENERATOR_SECOND,
        files::DISCRIMINATOR_SECOND,
    ]
    .iter()
    .filter(|f| ckpt.join(f).exists())
    .map(|f| {
        (
            *f,
            gan::checkpoint::crc32(&std::fs::read(ckpt.join(f)).expect("read")),
        )
    })
    .collect()
}

fn metrics(dir: &Path) -> Vec<(u64, u64, f64, f64, f64, f64)> {
    std::fs::read_to_string(dir.join(files::METRICS_JSONL))
        .expect("metrics")
        .lines()
        .map(|l| {
            let m: EpochMetrics = serde_json::from_str(l).expect("json");
            (m.epoch, m.step, m.d_loss, m.g_loss, m.d_real, m.d_fake)
        })
        .collect()
}

#[test]
fn stop_and_resume_equals_an_uninterrupted_run() {
    let data = common::train_subset(500);
    // the paper's SGD on both schedules, and Adam (whose second moments the checkpoint keeps)
    for (schedule, extra) in [
        ("simultaneous", &[][..]),
        ("alternating", &[][..]),
        (
            "simultaneous",
            &[
                "engine=\"burn\"",
                "optimizer.kind=\"adam\"",
                "optimizer.lr=0.001",
                "optimizer.lr_decay=1.0",
            ][..],
        ),
    ] {
        let sched = format!("schedule={schedule:?}");
        let mut o = vec!["epochs=2", &sched, "k=2"];
        o.extend(extra);
        let cfg = small(&o);
        let a = tempfile::tempdir().expect("tempdir");
        Run::create(a.path(), cfg.clone(), data.clone(), &dev())
            .expect("run")
            .train(&mut Silent)
            .expect("train");

        // b: stop mid-epoch 1, resume, stop at the end of epoch 1 via --epochs 1, resume to 2
        let b = tempfile::tempdir().expect("tempdir");
        let mut run = Run::create(b.path(), cfg.clone(), data.clone(), &dev()).expect("run");
        let mut rec = Record {
            stop_after: Some(2),
            ..Default::default()
        };
        assert!(matches!(
            run.train(&mut rec).expect("train"),
            Outcome::Stopped(_)
        ));
        drop(run);
        let (mut run, _, skipped) =
            Run::resume(b.path(), data.clone(), Some(1), &dev()).expect("resume");
        assert!(skipped.is_empty());
        assert_eq!(run.gan.progress.step, 2);
        run.train(&mut Silent).expect("train");
        // the run holds its directory's lock until dropped
        drop(run);
        let (mut run, _, _) = Run::resume(b.path(), data.clone(), Some(2), &dev()).expect("resume");
        assert_eq!(run.gan.progress.epoch, 1);
        run.train(&mut Silent).expect("train");

        assert_eq!(
            metrics(a.path()),
            metrics(b.path()),
            "{schedule}: metrics differ"
        );
        assert_eq!(
            weights(a.path()),
            weights(b.path()),
            "{schedule}: weights differ"
        );
        if cfg.schedule == Schedule::Alternating {
            let (gan, _, _) = load_latest(a.path(), &dev()).expect("load");
            assert_eq!(
                gan.progress.d_updates,
                2 * gan.progress.g_updates,
                "k = 2 D steps per G step"
            );
        }
    }
}

#[test]
fn damaged_checkpoints_are_detected_and_skipped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = small(&["epochs=2"]);
    Run::create(dir.path(), cfg.clone(), common::train_subset(200), &dev())
        .expect("run")
        .train(&mut Silent)
        .expect("train");
    // a new run may not overwrite it
    let e = Run::create(dir.path(), cfg, common::train_subset(200), &dev())
        .err()
        .expect("refuses to overwrite")
        .to_string();
    assert!(e.contains("--resume"), "{e}");

    let (_, newest, _) = load_latest(dir.path(), &dev()).expect("load");
    let g = newest.join(files::GENERATOR);
    let mut bytes = std::fs::read(&g).expect("read");
    let n = bytes.len();
    bytes[n - 10] ^= 0xff;
    std::fs::write(&g, &bytes).expect("write");
    let (gan, used, skipped) = load_latest(dir.path(), &dev()).expect("falls back");
    assert_ne!(used, newest);
    assert_eq!(gan.progress.epoch, 1);
    assert_eq!(skipped.len(), 1);
    assert!(
        skipped[0].contains("checksum mismatch") && skipped[0].contains("generator.safetensors"),
        "{skipped:?}"
    );

    // truncate that one too: back to the initial checkpoint written when the run started
    let d = used.join(files::DISCRIMINATOR);
    let bytes = std::fs::read(&d).expect("read");
    std::fs::write(&d, &bytes[..bytes.len() / 2]).expect("write");
    let (gan, initial, skipped) = load_latest(dir.path(), &dev()).expect("falls back");
    assert_eq!((gan.progress.epoch, gan.progress.step), (0, 0));
    assert_eq!(skipped.len(), 2);

    // and the initial one: nothing verifies, the error names the problem
    let d = initial.join(files::DISCRIMINATOR);
    let bytes = std::fs::read(&d).expect("read");
    std::fs::write(&d, &bytes[..bytes.len() / 2]).expect("write");
    let e = load_latest(dir.path(), &dev())
        .err()
        .expect("no valid checkpoint")
        .to_string();
    assert!(
        e.contains("no checkpoint verifies") && e.contains("discriminator.safetensors"),
        "{e}"
    );
}

#[test]
fn the_authors_monitor_ll_channel_scores_validation_data_every_epoch() {
    let s = common::mnist();
    for on in [true, false] {
        let dir = tempfile::tempdir().expect("tempdir");
        let cfg = small(&["epochs=2", &format!("monitor_ll={on}")]);
        let run = Run::create(dir.path(), cfg, common::train_subset(2000), &dev())
            .expect("run")
            .with_eval_data(gan::train::EvalData {
                valid: s.valid.clone(),
                test: s.test.clone(),
                classifier: None,
            });
        let mut run = run;
        let mut rec = Record::default();
        run.train(&mut rec).expect("train");
        assert_eq!(rec.epochs.len(), 2);
        for m in &rec.epochs {
            match (on, m.valid_ll) {
                // 100 kernels at sigma 0.2 on 784 pixels: a few hundred nats below the
                // protocol's best, never NaN
                (true, Some(v)) => assert!(v.is_finite() && v < 500.0 && v > -2000.0, "{m:?}"),
                (false, None) => {}
                other => panic!("monitor_ll {on}: {other:?}"),
            }
        }
        // and it is in the CSV as its own column
        let csv = std::fs::read_to_string(dir.path().join(files::METRICS_CSV)).expect("csv");
        assert!(csv.lines().next().expect("header").contains(",valid_ll,"));
    }
    // without validation images it is an error, not a silent gap
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = small(&["epochs=1", "monitor_ll=true"]);
    let mut run = Run::create(dir.path(), cfg, common::train_subset(2000), &dev()).expect("run");
    let e = run.train(&mut Silent).expect_err("no validation data");
    assert!(
        e.to_string()
            .contains("monitor_ll needs the validation images"),
        "{e}"
    );
}
