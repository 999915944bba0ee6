//! GPU devices against the CPU: one `mnist-dcgan` step on `--device wgpu` (burn's wgpu
//! backend; a software Vulkan driver such as lavapipe is enough) gives the CPU's statistics
//! to float32 tolerance. Built without the `wgpu` feature, the test is listed as ignored.

mod common;

use common::{run, text};

fn one_step(dir: &std::path::Path, device: &str) -> serde_json::Value {
    let out = dir.join(device);
    let o = run(&[
        "train",
        "--preset",
        "mnist-dcgan",
        "--set",
        "engine=\"burn\"",
        "--set",
        "data.train_end=64",
        "--set",
        "eval_every=0",
        "--epochs",
        "1",
        "--device",
        device,
        "--json",
        "--out",
        out.to_str().expect("utf8"),
    ]);
    assert!(o.status.success(), "{device}: {}", text(&o));
    serde_json::from_slice(&o.stdout).expect("one JSON line")
}

#[test]
#[cfg_attr(
    not(feature = "wgpu"),
    ignore = "built without the wgpu feature (cargo test -p gan-cli --features wgpu)"
)]
fn a_dcgan_step_on_wgpu_matches_the_cpu() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (cpu, gpu) = (one_step(dir.path(), "cpu"), one_step(dir.path(), "wgpu"));
    for k in ["d_loss", "g_loss", "d_real", "d_fake"] {
        let (a, b) = (
            cpu[k].as_f64().expect("number"),
            gpu[k].as_f64().expect("number"),
        );
        assert!(
            (a - b).abs() <= 1e-5 * (1.0 + a.abs()),
            "{k}: cpu {a} wgpu {b}"
        );
    }
}
