//! The paper's Table 1 metric: a Gaussian Parzen-window estimate of the test-set
//! log-likelihood, with the window width chosen on validation data (the authors' protocol).
//!
//! log p(x) = log( (1/N) sum_i exp(-|x - mu_i|^2 / (2 sigma^2)) ) - d log(sigma sqrt(2 pi))
//!
//! Squared distances come from one float32 GEMM per chunk of points
//! (|x|^2 + |mu|^2 - 2 x.mu), are computed once and reused for every sigma, and the
//! log-mean-exp subtracts the row maximum so it never under- or overflows.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::fast::gemm::{Trans, matmul};

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

/// Log-likelihood of each row of `x` under a Parzen window on `kernels`, for each sigma.
/// Returns `out[s][i]` for sigma `s` and point `i`.
///
/// # Shapes
/// `kernels`: `n_k * d` values, `x`: `n_x * d` values.
pub fn log_likelihoods(
    kernels: &[f32],
    x: &[f32],
    d: usize,
    sigmas: &[f64],
) -> Result<Vec<Vec<f64>>> {
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
    let n_k = kernels.len() / d;
    let n_x = x.len() / d;
    let mu_sq: Vec<f32> = kernels.chunks_exact(d).map(sq_norm).collect();
    let log_norm: Vec<f64> = sigmas
        .iter()
        .map(|s| (n_k as f64).ln() + d as f64 * (s * (2.0 * std::f64::consts::PI).sqrt()).ln())
        .collect();
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
                let mut min = f32::INFINITY;
                for (v, &m) in dist.iter_mut().zip(&mu_sq) {
                    *v = (x_sq + m - 2.0 * *v).max(0.0);
                    min = min.min(*v);
                }
                let min = min as f64;
                sigmas
                    .iter()
                    .zip(&log_norm)
                    .map(|(s, ln)| {
                        let inv = 1.0 / (2.0 * s * s);
                        // log sum exp(-dist * inv), shifted by the largest term exp(-min * inv).
                        // Terms below e^-40 of the largest change the sum by less than
                        // n * 4e-18 relative (below f64 rounding for n < 10^4): skip their exp.
                        let cut = (min + SKIP / inv) as f32;
                        let sum: f64 = dist
                            .iter()
                            .filter(|&&v| v <= cut)
                            .map(|&v| (-(v as f64 - min) * inv).exp())
                            .sum();
                        -min * inv + sum.ln() - ln
                    })
                    .collect()
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

    #[test]
    fn sigma_grid_is_the_authors() {
        let g = default_sigmas();
        assert_eq!(g.len(), 10);
        assert!((g[0] - 0.1).abs() < 1e-12 && (g[9] - 1.0).abs() < 1e-12);
        assert!((g[2] - 0.166_810_053_7).abs() < 1e-9);
    }
}
