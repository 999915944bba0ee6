//! The FID Inception against `pytorch-fid` (issue 20): the same synthetic weights on both
//! sides (a formula of each parameter's name and index, `golden/inception/make_golden.py`),
//! written here as a safetensors file in PyTorch's names and read by the loader users call,
//! then three images (28 x 28 grey, 32 x 32 RGB, 299 x 299 RGB) through every block; the
//! Fréchet distance and the Inception Score against the reference formulas in float64.
//!
//! Tolerances (float32, stated): every stage's mean and standard deviation within 1e-5 of
//! the reference relative to that stage's standard deviation, its first values within 2e-5
//! of the same scale; features and logits within 1e-5 relative to their largest magnitude.
//! Reached on this machine: stages within 6e-6 standard deviations, features 3.5e-7,
//! logits 1.8e-6.

use std::collections::BTreeMap;
use std::path::Path;

use burn::tensor::{Device, Tensor};
use gan::checkpoint::module_to_bytes;
use gan::eval::quality::{frechet_distance, inception_score};
use gan::models::inception::{FEATURE_DIM, Inception, LOGIT_DIM, prepare};
use serde_json::Value;

fn fnv1a(name: &str) -> u64 {
    let mut h: u64 = 0xCBF2_9CE4_8422_2325;
    for b in name.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01B3);
    }
    h
}

/// The script's `uniform`: 24-bit values in [0, 1), exact in float32.
fn uniform(name: &str, n: usize) -> Vec<f32> {
    let seed = fnv1a(name);
    (0..n as u64)
        .map(|i| {
            let mut x = seed.wrapping_add(i).wrapping_add(0x9E37_79B9_7F4A_7C15);
            x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            x ^= x >> 31;
            (x >> 40) as f32 / (1u32 << 24) as f32
        })
        .collect()
}

/// The script's `synthetic` weights of one parameter.
fn synthetic(name: &str, shape: &[usize]) -> Vec<f32> {
    let n: usize = shape.iter().product();
    let u = uniform(name, n);
    let s = |u: f32| 2.0f32 * u - 1.0f32;
    if name.ends_with("conv.weight") || name == "fc.weight" {
        let fan_in: usize = shape[1..].iter().product();
        let bound = (6.0f64 / fan_in as f64).sqrt() as f32;
        u.into_iter().map(|u| s(u) * bound).collect()
    } else if name.ends_with("bn.weight") {
        u.into_iter().map(|u| 1.0f32 + 0.2f32 * s(u)).collect()
    } else if name.ends_with("bn.bias") || name.ends_with("bn.running_mean") {
        u.into_iter().map(|u| 0.2f32 * s(u)).collect()
    } else if name.ends_with("bn.running_var") {
        u.into_iter().map(|u| 0.5f32 + u).collect()
    } else if name == "fc.bias" {
        u.into_iter().map(|u| 0.1f32 * s(u)).collect()
    } else {
        panic!("no synthetic weights for {name}")
    }
}

/// The network's own safetensors layout (PyTorch names and shapes, from the checkpoint
/// writer) refilled with the synthetic weights, written to `path`.
fn write_synthetic_weights(path: &Path) {
    let bytes = module_to_bytes(&Inception::untrained(), path).expect("serialise");
    let n = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes")) as usize;
    let header: BTreeMap<String, Value> = serde_json::from_slice(&bytes[8..8 + n]).expect("header");
    let mut data = bytes[8 + n..].to_vec();
    let mut count = 0;
    for (name, info) in &header {
        if name == "__metadata__" {
            continue;
        }
        assert_eq!(info["dtype"], "F32", "{name}");
        let shape: Vec<usize> = info["shape"]
            .as_array()
            .expect("shape")
            .iter()
            .map(|v| v.as_u64().expect("dim") as usize)
            .collect();
        let start = info["data_offsets"][0].as_u64().expect("offset") as usize;
        for (i, v) in synthetic(name, &shape).into_iter().enumerate() {
            data[start + 4 * i..start + 4 * i + 4].copy_from_slice(&v.to_le_bytes());
        }
        count += 1;
    }
    // 94 convolutions with their batch norms (5 tensors each) and fc's weight and bias
    assert_eq!(count, 94 * 5 + 2);
    let mut out = bytes[..8 + n].to_vec();
    out.extend(data);
    std::fs::write(path, out).expect("write");
}

fn host<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_into_vec::<f32>().expect("f32")
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().expect("number"))
        .collect()
}

fn golden() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/inception/golden.json");
    serde_json::from_slice(&std::fs::read(path).expect("golden.json")).expect("json")
}

/// Largest |got - want| over `scale`.
fn worst(got: &[f32], want: &[f64], scale: f64) -> f64 {
    assert_eq!(got.len(), want.len());
    got.iter()
        .zip(want)
        .map(|(&g, &w)| (g as f64 - w).abs() / scale)
        .fold(0.0, f64::max)
}

#[test]
fn the_network_gives_pytorch_fids_outputs_through_every_block() {
    let dir = tempfile::tempdir().expect("dir");
    let weights = dir.path().join("synthetic.safetensors");
    write_synthetic_weights(&weights);
    let net = Inception::load(&weights).expect("load");
    let gold = golden();
    let device = Device::flex();
    for (k, image) in gold["images"]
        .as_array()
        .expect("images")
        .iter()
        .enumerate()
    {
        let shape: Vec<usize> = floats(&image["shape"])
            .into_iter()
            .map(|v| v as usize)
            .collect();
        let (c, h, w) = (shape[0], shape[1], shape[2]);
        // the script's inputs: "input-<k>" from the same generator
        let pixels = uniform(&format!("input-{k}"), c * h * w);
        let out = net.forward(prepare(&pixels, c, h, w, &device), true);
        let stages = image["stages"].as_array().expect("stages");
        assert_eq!(out.stages.len(), stages.len());
        for ((name, t), want) in out.stages.into_iter().zip(stages) {
            assert_eq!(name, want["name"].as_str().expect("name"), "image {k}");
            let dims: Vec<usize> = t.dims()[1..].to_vec();
            let want_dims: Vec<usize> = floats(&want["shape"])
                .into_iter()
                .map(|v| v as usize)
                .collect();
            assert_eq!(dims, want_dims, "image {k} {name}");
            let v = host(t);
            let n = v.len() as f64;
            let mean = v.iter().map(|&x| x as f64).sum::<f64>() / n;
            let std =
                (v.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
            let (wm, ws) = (
                want["mean"].as_f64().expect("mean"),
                want["std"].as_f64().expect("std"),
            );
            let first = worst(&v[..8], &floats(&want["first"]), ws);
            eprintln!(
                "image {k} {name:>14}: mean {mean:.6} (ref {wm:.6}), std {std:.6} (ref \
                 {ws:.6}), first values off by {first:.1e} std"
            );
            assert!((mean - wm).abs() < 1e-5 * ws, "image {k} {name}: mean");
            assert!((std - ws).abs() < 1e-5 * ws, "image {k} {name}: std");
            assert!(first < 2e-5, "image {k} {name}: first values {first}");
        }
        for (what, t, dim) in [
            ("features", out.features, FEATURE_DIM),
            ("logits", out.logits, LOGIT_DIM),
            ("logits_unbiased", out.logits_unbiased, LOGIT_DIM),
        ] {
            let want = floats(&image[what]);
            assert_eq!(want.len(), dim);
            let scale = want.iter().fold(0f64, |m, v| m.max(v.abs()));
            let err = worst(&host(t), &want, scale);
            eprintln!("image {k} {what}: largest error {err:.1e} of the largest value");
            assert!(err < 1e-5, "image {k} {what}: {err}");
        }
    }
}

#[test]
fn frechet_distance_and_inception_score_match_the_reference_formulas() {
    let gold = golden();
    let rows = |v: &Value| -> Vec<f32> {
        v.as_array()
            .expect("rows")
            .iter()
            .flat_map(|r| floats(r).into_iter().map(|x| x as f32))
            .collect()
    };
    let f = &gold["frechet"];
    let got = frechet_distance(&rows(&f["a"]), &rows(&f["b"]), 16).expect("fid");
    let want = f["distance"].as_f64().expect("distance");
    // pytorch_fid.fid_score.calculate_frechet_distance (scipy's sqrtm) in float64
    assert!((got - want).abs() < 1e-8 * want, "{got} vs {want}");
    let s = &gold["inception_score"];
    let (mean, std) = inception_score(&rows(&s["logits"]), 20, 10).expect("is");
    let (wm, ws) = (
        s["mean"].as_f64().expect("mean"),
        s["std"].as_f64().expect("std"),
    );
    // torch-fidelity's isc_features_to_metric (shuffle off) in float64
    assert!((mean - wm).abs() < 1e-10 * wm, "{mean} vs {wm}");
    assert!((std - ws).abs() < 1e-9 * ws, "{std} vs {ws}");
}

#[test]
fn missing_or_wrong_weights_are_named_with_where_they_come_from() {
    let dir = tempfile::tempdir().expect("dir");
    let e = Inception::load(&dir.path().join("pt_inception-2015-12-05-6726825d.pth"))
        .expect_err("no file")
        .to_string();
    assert!(
        e.contains("pt_inception-2015-12-05-6726825d.pth") && e.contains("SHA-256"),
        "{e}"
    );
    // a safetensors file of another network
    let other = dir.path().join("lenet.safetensors");
    let lenet = gan::models::lenet::LeNet::new(&mut gan::rng::Rng::new(1), &Device::flex());
    std::fs::write(&other, module_to_bytes(&lenet, &other).expect("bytes")).expect("write");
    let e = Inception::load(&other)
        .expect_err("not inception")
        .to_string();
    assert!(
        e.contains("lenet.safetensors") && e.contains("not the FID Inception"),
        "{e}"
    );
    // a truncated file
    let cut = dir.path().join("cut.safetensors");
    std::fs::write(&cut, b"\x10\x00\x00\x00\x00\x00\x00\x00{\"a\":").expect("write");
    let e = Inception::load(&cut).expect_err("truncated").to_string();
    assert!(e.contains("cut.safetensors"), "{e}");
}
