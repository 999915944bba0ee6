//! The paper's Table 1 metric: a Gaussian Parzen-window estimate of the test-set
//! log-likelihood, with the window width chosen on validation data (the authors' protocol).
//!
//! log p(x) = log( (1/N) sum_i exp(-|x - mu_i|^2 / (2 sigma^2)) ) - d log(sigma sqrt(2 pi))
//!
//! Squared distances come from one float32 GEMM per chunk of points
//! (|x|^2 + |mu|^2 - 2 x.mu), are computed once and reused for every sigma, and the
//! log-mean-exp subtracts the row maximum so it never under- or overflows. For small sigmas
//! (the test pass) and byte images, exact 8-bit integer dot products (AVX-512 VNNI) with a
//! rigorous error bound first rule out the kernels that cannot reach e^-40 of the nearest
//! one; the rest are computed exactly, in float64 (see [`log_likelihoods`]).

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::fast::gemm::{Trans, matmul};
use crate::fast::int8::{self, Bounds, Kernel, PackedI8, PaddedU8};

/// The authors' grid: 10 widths logarithmically spaced in [0.1, 1] (`np.logspace(-1, 0, 10)`).
pub fn default_sigmas() -> Vec<f64> {
    (0..10).map(|i| 10f64.powf(-1.0 + i as f64 / 9.0)).collect()
}

/// Result of the protocol.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ParzenReport {
    /// Mean log-likelihood of the test points, in nats.
    pub test_ll: f64,
    /// Its standard error, std / sqrt(n).
    pub test_se: f64,
    /// The window width used.
    pub sigma: f64,
    /// Number of kernels (samples) in the window.
    pub n_kernels: usize,
    /// Number of test points.
    pub n_test: usize,
    /// Number of validation points used to choose sigma (0 when sigma was given).
    pub n_valid: usize,
    /// Mean validation log-likelihood for each candidate sigma, as (sigma, nats).
    pub valid_ll_by_sigma: Vec<(f64, f64)>,
}

/// Exponent below which a kernel's term is dropped from the log-mean-exp (e^-40 = 4e-18).
const SKIP: f64 = 40.0;

/// Points per GEMM chunk (bounds memory to chunk x n_kernels floats).
const CHUNK: usize = 1000;

/// Widest window, in squared distance (`SKIP * 2 sigma^2` for the largest sigma), for which
/// kernels are screened with integer dot products first (sigma up to about 0.32: the test
/// pass of the protocol; the validation pass over the whole grid goes dense).
pub const SCREEN_WINDOW: f64 = 8.0;

/// Points per screening task (their bytes stay in L2 while the packed kernels stream past).
const SCREEN_BLOCK: usize = 64;

/// How [`log_likelihoods_with`] computes the distances.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParzenPath {
    /// One float32 GEMM over every (point, kernel) pair ([`log_likelihoods_dense`]).
    Dense,
    /// Integer screening with the given dot-product kernel, then exact float64 distances to
    /// the kernels that can matter (see [`log_likelihoods`]). Needs byte points, finite
    /// kernels and a window of at most [`SCREEN_WINDOW`] (sigma up to about 0.32).
    Screened(Kernel),
}

/// Log-likelihood of each row of `x` under a Parzen window on `kernels`, for each sigma.
/// Returns `out[s][i]` for sigma `s` and point `i`.
///
/// When the points are images of bytes (`b / 255`, as every dataset here is), this process
/// runs AVX-512 VNNI ([`int8::available`]) and every sigma is small, the kernels are
/// screened first: exact integer dot products of the point's bytes with an 8-bit
/// quantization of each kernel, plus a rigorous bound on the quantization error, give an
/// interval for every squared distance; only kernels whose interval can fall within the
/// e^-40 cut of the nearest kernel are then computed exactly, in float64. The set of kernels
/// summed is the one [`log_likelihoods_dense`] sums, so both give the same numbers (a test
/// checks it). Elsewhere (no VNNI, or `GAN_SIMD=portable`) the dense float32 GEMM runs: the
/// portable integer kernel is exact but slower than the GEMM.
///
/// # Shapes
/// `kernels`: `n_k * d` values, `x`: `n_x * d` values.
pub fn log_likelihoods(
    kernels: &[f32],
    x: &[f32],
    d: usize,
    sigmas: &[f64],
) -> Result<Vec<Vec<f64>>> {
    check(kernels, x, d, sigmas)?;
    if int8::available()
        && let Ok((bytes, window)) = screen_inputs(kernels, x, sigmas)
    {
        return screened(Kernel::Vnni, kernels, x, &bytes, d, sigmas, window);
    }
    log_likelihoods_dense(kernels, x, d, sigmas)
}

/// The path [`log_likelihoods`] would take here, for reports and benchmarks.
pub fn chosen_path(kernels: &[f32], x: &[f32], sigmas: &[f64]) -> ParzenPath {
    if int8::available() && screen_inputs(kernels, x, sigmas).is_ok() {
        ParzenPath::Screened(Kernel::Vnni)
    } else {
        ParzenPath::Dense
    }
}

/// [`log_likelihoods`] by the given path. A screened path that cannot apply (points that
/// are not bytes, non-finite kernels, a wide window) or a kernel this CPU lacks is an error,
/// never a silent change of path.
pub fn log_likelihoods_with(
    path: ParzenPath,
    kernels: &[f32],
    x: &[f32],
    d: usize,
    sigmas: &[f64],
) -> Result<Vec<Vec<f64>>> {
    check(kernels, x, d, sigmas)?;
    match path {
        ParzenPath::Dense => log_likelihoods_dense(kernels, x, d, sigmas),
        ParzenPath::Screened(kernel) => {
            if !kernel.runs_here() {
                return Err(Error::Invalid(format!(
                    "parzen: the {kernel:?} screening kernel cannot run on this CPU"
                )));
            }
            let (bytes, window) = screen_inputs(kernels, x, sigmas).map_err(Error::Invalid)?;
            screened(kernel, kernels, x, &bytes, d, sigmas, window)
        }
    }
}

/// What the screened path needs, or why it cannot apply: the points' bytes and the e^-40
/// cut of the widest sigma as a squared distance (at most [`SCREEN_WINDOW`]), with finite
/// kernels.
fn screen_inputs(
    kernels: &[f32],
    x: &[f32],
    sigmas: &[f64],
) -> std::result::Result<(Vec<u8>, f64), String> {
    let widest = sigmas.iter().fold(0f64, |a, &s| a.max(s));
    let window = SKIP * 2.0 * widest * widest;
    if window > SCREEN_WINDOW || !kernels.iter().all(|v| v.is_finite()) {
        return Err(format!(
            "parzen: the screened path needs finite kernels and sigma <= {:.3} \
             (widest given: {widest})",
            (SCREEN_WINDOW / (2.0 * SKIP)).sqrt()
        ));
    }
    let bytes = as_bytes(x).ok_or_else(|| {
        "parzen: the screened path needs points stored as bytes / 255".to_string()
    })?;
    Ok((bytes, window))
}

/// [`log_likelihoods`] by one float32 GEMM over every (point, kernel) pair: the reference
/// the screened path is checked against, and the path for wide windows and non-byte points.
pub fn log_likelihoods_dense(
    kernels: &[f32],
    x: &[f32],
    d: usize,
    sigmas: &[f64],
) -> Result<Vec<Vec<f64>>> {
    check(kernels, x, d, sigmas)?;
    let n_k = kernels.len() / d;
    let n_x = x.len() / d;
    let mu_sq: Vec<f32> = kernels.chunks_exact(d).map(sq_norm).collect();
    let log_norm = log_norms(n_k, d, sigmas);
    let mut out = vec![Vec::with_capacity(n_x); sigmas.len()];
    // one buffer for every chunk's dot products, x . mu^T (f32 GEMM, kernels transposed in
    // place by the GEMM's strides)
    let mut dots = vec![0f32; CHUNK.min(n_x).max(1) * n_k];
    for chunk in x.chunks(CHUNK * d) {
        let c = chunk.len() / d;
        matmul(
            &mut dots,
            chunk,
            Trans::No,
            kernels,
            Trans::Yes,
            c,
            d,
            n_k,
            false,
        );
        let rows: Vec<Vec<f64>> = dots[..c * n_k]
            .par_chunks_exact_mut(n_k)
            .zip(chunk.par_chunks_exact(d))
            .map(|(dist, xi)| {
                let x_sq = sq_norm(xi);
                // squared distances |x|^2 + |mu|^2 - 2 x.mu, in place
                for (v, &m) in dist.iter_mut().zip(&mu_sq) {
                    *v = (x_sq + m - 2.0 * *v).max(0.0);
                }
                log_mean_exp(dist, sigmas, &log_norm)
            })
            .collect();
        for r in rows {
            for (s, v) in r.into_iter().enumerate() {
                out[s].push(v);
            }
        }
    }
    Ok(out)
}

fn check(kernels: &[f32], x: &[f32], d: usize, sigmas: &[f64]) -> Result<()> {
    if d == 0
        || kernels.is_empty()
        || !kernels.len().is_multiple_of(d)
        || !x.len().is_multiple_of(d)
    {
        return Err(Error::Invalid(format!(
            "parzen: {} kernel values and {} point values do not split into rows of {d}",
            kernels.len(),
            x.len()
        )));
    }
    if let Some(s) = sigmas.iter().find(|s| !(s.is_finite() && **s > 0.0)) {
        return Err(Error::Invalid(format!(
            "parzen: sigma {s} must be positive"
        )));
    }
    Ok(())
}

/// `log N + d log(sigma sqrt(2 pi))` for each sigma: the normalizer of the window.
fn log_norms(n_k: usize, d: usize, sigmas: &[f64]) -> Vec<f64> {
    sigmas
        .iter()
        .map(|s| (n_k as f64).ln() + d as f64 * (s * (2.0 * std::f64::consts::PI).sqrt()).ln())
        .collect()
}

/// log p(x) for each sigma from the squared distances of x to the kernels that can matter:
/// log sum_i exp(-dist_i / (2 sigma^2)) - log_norm, shifted by the largest term
/// exp(-min / (2 sigma^2)) so it never under- or overflows. Terms below e^-40 of the largest
/// change the sum by less than n * 4e-18 relative (below f64 rounding for n < 10^4): their
/// exp is skipped.
fn log_mean_exp<T: Copy + Into<f64>>(dist: &[T], sigmas: &[f64], log_norm: &[f64]) -> Vec<f64> {
    let min = dist.iter().fold(f64::INFINITY, |a, &v| a.min(v.into()));
    sigmas
        .iter()
        .zip(log_norm)
        .map(|(s, ln)| {
            let inv = 1.0 / (2.0 * s * s);
            let cut = min + SKIP / inv;
            let sum: f64 = dist
                .iter()
                .map(|&v| v.into())
                .filter(|&v| v <= cut)
                .map(|v| (-(v - min) * inv).exp())
                .sum();
            -min * inv + sum.ln() - ln
        })
        .collect()
}

/// The bytes `b` of points stored as `b / 255`, or `None` when some value is not of that form.
fn as_bytes(x: &[f32]) -> Option<Vec<u8>> {
    x.iter()
        .map(|&v| {
            let b = (v * 255.0).round();
            ((0.0..=255.0).contains(&b) && (b as u8) as f32 / 255.0 == v).then_some(b as u8)
        })
        .collect()
}

/// Each kernel as `c + s q + r`: a centre, a step, 8-bit codes `q` in [-127, 127] and a
/// residual `r` known only through its largest magnitude and its Euclidean norm. For a point
/// of bytes `b` (x = b / 255), x . mu = (c |b|_1 + s b.q + b.r) / 255 with
/// |b.r| <= min(|b|_1 max|r|, |b|_2 |r|_2): the bounds' coefficients are those, doubled
/// (the squared distance has -2 x.mu), plus slack for float32 rounding here and in the
/// exact distance.
fn quantize(kernels: &[f32], d: usize) -> (PackedI8, Bounds) {
    let n_k = kernels.len() / d;
    let parts: Vec<(Vec<i8>, [f64; 4])> = kernels
        .par_chunks_exact(d)
        .map(|mu| {
            let (lo, hi) = mu
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &v| {
                    (l.min(v as f64), h.max(v as f64))
                });
            let centre = 0.5 * (lo + hi);
            let step = (hi - lo) / 254.0;
            let (mut r_max, mut r_sq) = (0f64, 0f64);
            let q = mu
                .iter()
                .map(|&v| {
                    let q = if step > 0.0 {
                        ((v as f64 - centre) / step).round().clamp(-127.0, 127.0)
                    } else {
                        0.0
                    };
                    let r = v as f64 - (centre + step * q);
                    r_max = r_max.max(r.abs());
                    r_sq += r * r;
                    q as i8
                })
                .collect();
            (q, [centre, step, r_max, r_sq.sqrt()])
        })
        .collect();
    let mut codes = Vec::with_capacity(n_k * d);
    let mut b = Bounds {
        sq: kernels.chunks_exact(d).map(sq_norm).collect(),
        rel: 1e-4,
        abs: 1e-3,
        ..Bounds::default()
    };
    for (q, [centre, step, r_max, r_norm]) in parts {
        codes.extend_from_slice(&q);
        b.c.push((2.0 * centre / 255.0) as f32);
        b.s.push((2.0 * step / 255.0) as f32);
        // rounded up a little, so the f32 coefficient never understates the bound
        b.rm.push((2.0 * r_max / 255.0 * (1.0 + 1e-6)) as f32);
        b.rn.push((2.0 * r_norm / 255.0 * (1.0 + 1e-6)) as f32);
    }
    (PackedI8::pack(&codes, n_k, d), b)
}

/// The screened path of [`log_likelihoods`] (see there); `bytes` are the points' bytes,
/// `window` the e^-40 cut of the widest sigma as a squared distance.
fn screened(
    kernel: Kernel,
    kernels: &[f32],
    x: &[f32],
    bytes: &[u8],
    d: usize,
    sigmas: &[f64],
    window: f64,
) -> Result<Vec<Vec<f64>>> {
    let n_k = kernels.len() / d;
    let n_x = x.len() / d;
    let log_norm = log_norms(n_k, d, sigmas);
    let (packed, bounds) = quantize(kernels, d);
    let points = PaddedU8::new(bytes, n_x, d);
    let stride = packed.stride();
    // rows whose screen keeps more kernels than this go to the dense GEMM instead (a
    // collapsed generator puts every kernel near every point: exact float64 distances to all
    // of them would cost ten times the GEMM)
    let most = n_k / 8;
    // the bounds' AVX-512 form goes with the VNNI kernel (the same arithmetic)
    let avx512 = kernel == Kernel::Vnni;
    let blocks: Vec<Vec<Option<Vec<f64>>>> = (0..n_x.div_ceil(SCREEN_BLOCK))
        .into_par_iter()
        .map(|blk| {
            let rows = blk * SCREEN_BLOCK..((blk + 1) * SCREEN_BLOCK).min(n_x);
            let mut ints = vec![0i32; rows.len() * stride];
            int8::dots(kernel, &mut ints, &points, rows.clone(), &packed);
            let mut lower = vec![0f32; n_k];
            let mut dist = Vec::new();
            rows.clone()
                .zip(ints.chunks_exact(stride))
                .map(|(i, int_row)| {
                    let xi = &x[i * d..(i + 1) * d];
                    let bi = &bytes[i * d..(i + 1) * d];
                    let x_sq = sq_norm(xi);
                    let l1: f64 = bi.iter().map(|&b| b as f64).sum();
                    let l2: f64 = bi.iter().map(|&b| (b as f64).powi(2)).sum::<f64>().sqrt();
                    let upper_min =
                        bounds.lower(avx512, &mut lower, int_row, x_sq, l1 as f32, l2 as f32);
                    // the nearest kernel's distance is at most upper_min: every kernel within
                    // the window of it has its lower bound under upper_min + window
                    let limit = upper_min + window as f32;
                    if lower.iter().filter(|&&lo| lo <= limit).count() > most {
                        return None;
                    }
                    dist.clear();
                    for (j, &lo) in lower.iter().enumerate() {
                        if lo <= limit {
                            let mu = &kernels[j * d..(j + 1) * d];
                            dist.push(sq_dist_f64(xi, mu));
                        }
                    }
                    Some(log_mean_exp(&dist, sigmas, &log_norm))
                })
                .collect()
        })
        .collect();
    let rows: Vec<Option<Vec<f64>>> = blocks.into_iter().flatten().collect();
    let crowded: Vec<usize> = (0..n_x).filter(|&i| rows[i].is_none()).collect();
    let mut dense = Vec::new();
    if !crowded.is_empty() {
        let subset: Vec<f32> = crowded
            .iter()
            .flat_map(|&i| x[i * d..(i + 1) * d].iter().copied())
            .collect();
        dense = log_likelihoods_dense(kernels, &subset, d, sigmas)?;
    }
    let mut out = vec![Vec::with_capacity(n_x); sigmas.len()];
    let mut next_dense = 0;
    for r in rows {
        let values = r.unwrap_or_else(|| {
            next_dense += 1;
            dense.iter().map(|col| col[next_dense - 1]).collect()
        });
        for (s, v) in values.into_iter().enumerate() {
            out[s].push(v);
        }
    }
    Ok(out)
}

/// |a - b|^2 accumulated in float64 (no cancellation: the screened path's exact distances
/// are more accurate than the GEMM form's).
fn sq_dist_f64(a: &[f32], b: &[f32]) -> f64 {
    let mut acc = [0f64; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f64 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(&x, &y)| (x as f64 - y as f64).powi(2))
        .sum();
    for (x, y) in ca.zip(cb) {
        for k in 0..8 {
            let t = x[k] as f64 - y[k] as f64;
            acc[k] += t * t;
        }
    }
    acc.iter().sum::<f64>() + tail
}

fn sq_norm(v: &[f32]) -> f32 {
    v.iter().map(|a| a * a).sum()
}

fn mean_se(v: &[f64]) -> (f64, f64) {
    let n = v.len().max(1) as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
    (mean, var.sqrt() / n.sqrt())
}

/// The full protocol: choose sigma on `valid` (unless `sigma` is given), then score `test`.
pub fn evaluate(
    kernels: &[f32],
    valid: &[f32],
    test: &[f32],
    d: usize,
    sigma: Option<f64>,
) -> Result<ParzenReport> {
    let (sigma, table, n_valid) = match sigma {
        Some(s) => (s, Vec::new(), 0),
        None => {
            let grid = default_sigmas();
            let lls = log_likelihoods(kernels, valid, d, &grid)?;
            let table: Vec<(f64, f64)> = grid
                .iter()
                .zip(&lls)
                .map(|(&s, l)| (s, mean_se(l).0))
                .collect();
            let best = table
                .iter()
                .copied()
                .fold(
                    (f64::NAN, f64::NEG_INFINITY),
                    |b, t| if t.1 > b.1 { t } else { b },
                );
            (best.0, table, valid.len() / d)
        }
    };
    let ll = log_likelihoods(kernels, test, d, &[sigma])?;
    let (test_ll, test_se) = mean_se(&ll[0]);
    Ok(ParzenReport {
        test_ll,
        test_se,
        sigma,
        n_kernels: kernels.len() / d,
        n_test: test.len() / d,
        n_valid,
        valid_ll_by_sigma: table,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_kernel_is_a_gaussian_density() {
        // one kernel at the origin in 2-D: log N(x; 0, s^2 I) = -|x|^2/(2 s^2) - 2 log(s sqrt(2 pi))
        let ll = log_likelihoods(&[0.0, 0.0], &[0.3, -0.4, 0.0, 0.0], 2, &[0.5]).expect("ok");
        let c = 2.0 * (0.5 * (2.0 * std::f64::consts::PI).sqrt()).ln();
        assert!((ll[0][0] - (-0.25 / 0.5 - c)).abs() < 1e-5, "{}", ll[0][0]);
        assert!((ll[0][1] + c).abs() < 1e-6);
    }

    #[test]
    fn far_points_do_not_underflow() {
        // exp(-800) underflows f64; the max-subtracted form still gives the exact value
        let ll = log_likelihoods(&[0.0], &[4.0], 1, &[0.1]).expect("ok");
        let want = -16.0 / 0.02 - (0.1 * (2.0 * std::f64::consts::PI).sqrt()).ln();
        assert!((ll[0][0] - want).abs() < 1e-3, "{} vs {want}", ll[0][0]);
    }

    /// One row of the screening bounds, so its upper bound comes back from `lower`.
    fn one_row(b: &Bounds, j: usize) -> Bounds {
        Bounds {
            sq: vec![b.sq[j]],
            c: vec![b.c[j]],
            s: vec![b.s[j]],
            rm: vec![b.rm[j]],
            rn: vec![b.rn[j]],
            ..b.clone()
        }
    }

    #[test]
    fn screening_interval_holds_every_exact_distance() {
        let (n_k, n_x, d) = (40, 21, 99);
        let mut rng = crate::rng::Rng::new(7);
        let mut uniform = || rng.uniform();
        // kernels of every kind: sigmoid-like in [0, 1], signed, constant, sparse
        let mut kernels: Vec<f32> = Vec::new();
        for j in 0..n_k {
            for _ in 0..d {
                let u = uniform();
                kernels.push(match j % 4 {
                    0 => u,
                    1 => 3.0 * u - 1.0,
                    2 => 0.25,
                    _ => {
                        if u < 0.7 {
                            0.0
                        } else {
                            u
                        }
                    }
                });
            }
        }
        // byte points, mostly zero like MNIST, one all-255 and one all-zero
        let mut bytes: Vec<u8> = (0..n_x * d)
            .map(|_| {
                let u = uniform();
                if u < 0.6 { 0 } else { (u * 255.0) as u8 }
            })
            .collect();
        bytes[..d].fill(255);
        bytes[d..2 * d].fill(0);
        let x: Vec<f32> = bytes.iter().map(|&b| b as f32 / 255.0).collect();
        assert_eq!(as_bytes(&x).as_deref(), Some(&bytes[..]));
        let (packed, bounds) = quantize(&kernels, d);
        let points = PaddedU8::new(&bytes, n_x, d);
        let mut ints = vec![0i32; n_x * packed.stride()];
        int8::dots(Kernel::Portable, &mut ints, &points, 0..n_x, &packed);
        let mut widest = 0f32;
        for i in 0..n_x {
            let (xi, bi) = (&x[i * d..(i + 1) * d], &bytes[i * d..(i + 1) * d]);
            let x_sq = sq_norm(xi);
            let l1: f32 = bi.iter().map(|&b| b as f32).sum();
            let l2 = bi.iter().map(|&b| (b as f32).powi(2)).sum::<f32>().sqrt();
            for j in 0..n_k {
                let exact: f64 = xi
                    .iter()
                    .zip(&kernels[j * d..(j + 1) * d])
                    .map(|(&a, &b)| (a as f64 - b as f64).powi(2))
                    .sum();
                let mut lo = [0f32];
                let row = one_row(&bounds, j);
                let up = row.lower(
                    false,
                    &mut lo,
                    &[ints[i * packed.stride() + j]],
                    x_sq,
                    l1,
                    l2,
                );
                assert!(
                    lo[0] as f64 <= exact && exact <= up as f64,
                    "point {i} kernel {j}: {exact} outside [{}, {up}]",
                    lo[0]
                );
                widest = widest.max(up - lo[0]);
            }
        }
        // and the interval is narrow enough to screen with (distances here are ~10-300)
        assert!(widest < 3.0, "widest interval {widest}");
    }

    #[test]
    fn sigma_grid_is_the_authors() {
        let g = default_sigmas();
        assert_eq!(g.len(), 10);
        assert!((g[0] - 0.1).abs() < 1e-12 && (g[9] - 1.0).abs() < 1e-12);
        assert!((g[2] - 0.166_810_053_7).abs() < 1e-9);
    }
}
