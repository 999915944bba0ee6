//! Mode-collapse metrics on the standard 2-D mixtures, with the PacGAN protocol (Lin et al.
//! 2018): `ring8`, 8 Gaussians on the unit circle with sigma 0.01, and `grid25`, means on
//! {-4, -2, 0, 2, 4}^2 with sigma 0.05. A sample is high quality when it lies within 3 sigma
//! of its nearest mode; a mode is captured when it has at least one high-quality sample; the
//! reverse KL compares the histogram of high-quality samples over modes with the uniform one.

use serde::Serialize;

use crate::error::{Error, Result};
use crate::rng::Rng;

/// A mixture of equally weighted isotropic 2-D Gaussians.
#[derive(Clone, Debug, PartialEq)]
pub struct Mixture2d {
    /// Name (`ring8`, `grid25`).
    pub name: &'static str,
    /// The means.
    pub means: Vec<[f32; 2]>,
    /// The common standard deviation.
    pub sigma: f32,
}

impl Mixture2d {
    /// 8 modes on the unit circle, sigma 0.01.
    pub fn ring8() -> Self {
        let means = (0..8)
            .map(|i| {
                let a = i as f32 * std::f32::consts::TAU / 8.0;
                [a.cos(), a.sin()]
            })
            .collect();
        Self {
            name: "ring8",
            means,
            sigma: 0.01,
        }
    }

    /// 25 modes on {-4, -2, 0, 2, 4}^2, sigma 0.05.
    pub fn grid25() -> Self {
        let v = [-4.0f32, -2.0, 0.0, 2.0, 4.0];
        let means = v
            .iter()
            .flat_map(|&x| v.iter().map(move |&y| [x, y]))
            .collect();
        Self {
            name: "grid25",
            means,
            sigma: 0.05,
        }
    }

    /// `ring8` or `grid25` by name.
    pub fn by_name(name: &str) -> Result<Self> {
        match name {
            "ring8" => Ok(Self::ring8()),
            "grid25" => Ok(Self::grid25()),
            other => Err(Error::Invalid(format!(
                "unknown 2-D mixture '{other}' (known: ring8, grid25)"
            ))),
        }
    }

    /// `n` samples as `[n, 2]` row-major values.
    pub fn sample(&self, n: usize, rng: &mut Rng) -> Vec<f32> {
        let mut out = Vec::with_capacity(2 * n);
        for _ in 0..n {
            let m = self.means[rng.below(self.means.len())];
            out.push(m[0] + self.sigma * rng.normal());
            out.push(m[1] + self.sigma * rng.normal());
        }
        out
    }
}

/// The PacGAN mode statistics of a sample set.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ModeReport {
    /// Which mixture.
    pub data: String,
    /// Samples scored.
    pub n_samples: usize,
    /// Modes with at least one high-quality sample.
    pub modes_captured: usize,
    /// Modes of the mixture.
    pub n_modes: usize,
    /// Percentage of samples within 3 sigma of their nearest mode.
    pub high_quality_pct: f64,
    /// KL(histogram of high-quality samples over modes || uniform), in nats (0: every mode
    /// equally often; log(n_modes): one mode). Infinite cases cannot arise: empty modes
    /// contribute 0 to this direction of the divergence.
    pub reverse_kl: f64,
    /// High-quality samples per mode.
    pub per_mode: Vec<usize>,
}

/// Scores `[n, 2]` samples against the modes of `mix`.
pub fn mode_report(samples: &[f32], mix: &Mixture2d) -> Result<ModeReport> {
    if samples.is_empty() || !samples.len().is_multiple_of(2) {
        return Err(Error::Invalid(format!(
            "{} values do not form [n, 2] samples",
            samples.len()
        )));
    }
    if let Some(i) = samples.iter().position(|v| !v.is_finite()) {
        return Err(Error::Invalid(format!("sample {} is not finite", i / 2)));
    }
    let n = samples.len() / 2;
    let k = mix.means.len();
    let limit = (3.0 * mix.sigma as f64).powi(2);
    let mut per_mode = vec![0usize; k];
    for p in samples.chunks_exact(2) {
        let (best, d2) = mix
            .means
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let (dx, dy) = ((p[0] - m[0]) as f64, (p[1] - m[1]) as f64);
                (i, dx * dx + dy * dy)
            })
            .fold((0, f64::INFINITY), |b, c| if c.1 < b.1 { c } else { b });
        if d2 <= limit {
            per_mode[best] += 1;
        }
    }
    let hq: usize = per_mode.iter().sum();
    let reverse_kl = if hq == 0 {
        0.0
    } else {
        per_mode
            .iter()
            .filter(|&&c| c > 0)
            .map(|&c| {
                let q = c as f64 / hq as f64;
                q * (q * k as f64).ln()
            })
            .sum()
    };
    Ok(ModeReport {
        data: mix.name.to_string(),
        n_samples: n,
        modes_captured: per_mode.iter().filter(|&&c| c > 0).count(),
        n_modes: k,
        high_quality_pct: 100.0 * hq as f64 / n as f64,
        reverse_kl,
        per_mode,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_from_the_mixture_captures_every_mode_uniformly() {
        for mix in [Mixture2d::ring8(), Mixture2d::grid25()] {
            let s = mix.sample(100_000, &mut Rng::new(1));
            let r = mode_report(&s, &mix).expect("report");
            assert_eq!(r.modes_captured, r.n_modes);
            // 3 sigma in 2-D holds 1 - e^{-9/2} = 98.9% of a Gaussian's mass
            assert!(
                (r.high_quality_pct - 98.89).abs() < 0.2,
                "{}",
                r.high_quality_pct
            );
            assert!(r.reverse_kl < 1e-3, "{}", r.reverse_kl);
        }
    }

    #[test]
    fn a_collapsed_generator_scores_one_mode_and_log_k() {
        let mix = Mixture2d::grid25();
        let one: Vec<f32> = (0..1000).flat_map(|_| [2.0, -2.0]).collect();
        let r = mode_report(&one, &mix).expect("report");
        assert_eq!((r.modes_captured, r.high_quality_pct), (1, 100.0));
        assert!((r.reverse_kl - 25f64.ln()).abs() < 1e-12);
        // samples between modes are not high quality
        let between: Vec<f32> = (0..10).flat_map(|_| [1.0, 1.0]).collect();
        let r = mode_report(&between, &mix).expect("report");
        assert_eq!((r.modes_captured, r.high_quality_pct), (0, 0.0));
        assert!(mode_report(&[1.0], &mix).is_err());
        assert!(mode_report(&[1.0, f32::NAN], &mix).is_err());
        assert!(Mixture2d::by_name("ring9").is_err());
    }
}
