//! TensorBoard event files of a run: every window and epoch is there, CRCs check, a resume
//! from an earlier checkpoint repeats no step and gives the values of an uninterrupted run,
//! a damaged file keeps its good records and its original bytes.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use burn::tensor::Device;
use gan::config::TrainConfig;
use gan::train::events::{Event, Kind, What, event_files, read_events};
use gan::train::{Run, Silent, files};

fn dev() -> Device {
    Device::flex().autodiff()
}

fn cfg() -> TrainConfig {
    let o: Vec<String> = [
        "generator.hidden=[32]",
        "discriminator.hidden=[16]",
        "batch_size=50",
        "grid_samples=16",
        "epochs=2",
        "tensorboard_every=2",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    TrainConfig::preset("mnist-fast", &o).expect("valid config")
}

/// The run's events (one file, every CRC checked).
fn events(dir: &Path) -> Vec<Event> {
    let f = event_files(dir);
    assert_eq!(f.len(), 1, "{f:?}");
    let (ev, damage) = read_events(&f[0]).expect("read");
    assert_eq!(damage, None, "{}", f[0].display());
    ev
}

/// Scalar series: tag -> [(step, value)].
fn scalars(ev: &[Event]) -> BTreeMap<String, Vec<(i64, f32)>> {
    let mut out: BTreeMap<String, Vec<(i64, f32)>> = BTreeMap::new();
    for e in ev {
        if let Some(What::Summary(s)) = &e.what {
            for v in &s.value {
                if let Some(Kind::SimpleValue(x)) = v.kind {
                    out.entry(v.tag.clone()).or_default().push((e.step, x));
                }
            }
        }
    }
    out
}

fn images(ev: &[Event]) -> Vec<(i64, i32, i32, usize)> {
    ev.iter()
        .filter_map(|e| match &e.what {
            Some(What::Summary(s)) => Some((e.step, s)),
            _ => None,
        })
        .flat_map(|(step, s)| {
            s.value.iter().filter_map(move |v| match &v.kind {
                Some(Kind::Image(i)) => {
                    Some((step, i.width, i.height, i.encoded_image_string.len()))
                }
                _ => None,
            })
        })
        .collect()
}

#[test]
fn a_run_writes_every_window_and_epoch_and_a_resume_repeats_no_step() {
    let data = common::train_subset(200); // 4 steps of 50 per epoch
    let a = tempfile::tempdir().expect("tempdir");
    Run::create(a.path(), cfg(), data.clone(), &dev())
        .expect("run")
        .train(&mut Silent)
        .expect("train");
    let ev = events(a.path());
    assert!(
        matches!(&ev[0].what, Some(What::FileVersion(v)) if v == "brain.Event:2"),
        "{:?}",
        ev[0]
    );
    let s = scalars(&ev);
    let steps = |tag: &str| s[tag].iter().map(|p| p.0).collect::<Vec<_>>();
    assert_eq!(steps("loss/d"), [2, 4, 6, 8]);
    assert_eq!(steps("d_output/fake"), [2, 4, 6, 8]);
    assert_eq!(steps("epoch/g_loss"), [4, 8]);
    // the epoch's mean D loss is the mean of its two windows of two steps
    let w = &s["loss/d"];
    let e = &s["epoch/d_loss"];
    for (i, (_, mean)) in e.iter().enumerate() {
        let windows = (w[2 * i].1 + w[2 * i + 1].1) / 2.0;
        assert!((windows - mean).abs() < 1e-5, "{windows} vs {mean}");
    }
    // the epoch's grid, as the PNG on disk
    let grid = std::fs::read(a.path().join(files::SAMPLES).join("epoch-0002.png")).expect("png");
    let im = images(&ev);
    assert_eq!(im.len(), 2, "{im:?}");
    assert_eq!(im[1].0, 8);
    assert_eq!(im[1].3, grid.len());
    let decoded = image::load_from_memory(&grid).expect("decodes");
    assert_eq!(
        (im[1].1 as u32, im[1].2 as u32),
        (decoded.width(), decoded.height())
    );

    // b: the same run, its last checkpoint lost (as if killed before it was written):
    // the resume drops the events after step 4 and writes them again
    let b = tempfile::tempdir().expect("tempdir");
    Run::create(b.path(), cfg(), data.clone(), &dev())
        .expect("run")
        .train(&mut Silent)
        .expect("train");
    std::fs::remove_dir_all(b.path().join(files::CHECKPOINTS).join("step-0000000008"))
        .expect("remove");
    let (mut run, _, _) = Run::resume(b.path(), data.clone(), None, &dev()).expect("resume");
    assert_eq!(run.gan.progress.step, 4);
    run.train(&mut Silent).expect("train");
    drop(run);
    let sb = scalars(&events(b.path()));
    assert_eq!(sb.keys().collect::<Vec<_>>(), s.keys().collect::<Vec<_>>());
    for (tag, series) in &s {
        let other = &sb[tag];
        let st: Vec<i64> = other.iter().map(|p| p.0).collect();
        assert_eq!(
            st,
            series.iter().map(|p| p.0).collect::<Vec<_>>(),
            "{tag}: steps"
        );
        // training resumes bit-exactly: the same values (wall-clock series aside)
        if !tag.starts_with("speed/") && tag != "epoch/seconds" {
            assert_eq!(other, series, "{tag}: values after the resume");
        }
    }
    assert_eq!(images(&events(b.path())).len(), 2);
}

#[test]
fn a_damaged_event_file_keeps_its_good_records_and_its_bytes() {
    let data = common::train_subset(200);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut c = cfg();
    c.epochs = 1;
    Run::create(dir.path(), c, data.clone(), &dev())
        .expect("run")
        .train(&mut Silent)
        .expect("train");
    let f = event_files(dir.path()).remove(0);
    let good = read_events(&f).expect("read").0;
    // a torn record at the end, as a kill during a write leaves
    let mut bytes = std::fs::read(&f).expect("read");
    let n = bytes.len();
    bytes.extend_from_slice(&[7, 0, 0, 0, 0, 0, 0, 0, 1, 2]);
    std::fs::write(&f, &bytes).expect("write");
    let (ev, damage) = read_events(&f).expect("read");
    assert_eq!(ev, good);
    let d = damage.expect("damage reported");
    assert!(
        d.contains("torn") && d.contains(&format!("byte {n}")),
        "{d}"
    );
    // a flipped byte inside a record's payload: the CRC finds it
    let mut flipped = bytes.clone();
    flipped[n - 20] ^= 0x40;
    std::fs::write(&f, &flipped).expect("write");
    let (ev, damage) = read_events(&f).expect("read");
    assert!(ev.len() < good.len());
    assert!(damage.expect("damage").contains("CRC"));
    // a resume keeps the good records, and the damaged bytes beside them
    std::fs::write(&f, &bytes).expect("write");
    let (mut run, _, _) = Run::resume(dir.path(), data, Some(2), &dev()).expect("resume");
    run.train(&mut Silent).expect("train");
    drop(run);
    let mut damaged = f.as_os_str().to_owned();
    damaged.push(".damaged");
    assert_eq!(std::fs::read(&damaged).expect("kept"), bytes);
    let after = events(dir.path());
    assert_eq!(&after[..good.len()], &good[..]);
    assert_eq!(scalars(&after)["epoch/epoch"].len(), 2);
}
