//! One-dimensional densities with a known closed form (Gaussian mixtures), a quadrature grid
//! and a kernel density estimate, for the checks of the paper's Section 4.

use std::f64::consts::PI;

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::rng::Rng;

/// One Gaussian component of a [`Mixture1d`].
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Component {
    /// Mixture weight (the weights of a mixture sum to 1).
    pub weight: f64,
    /// Mean.
    pub mean: f64,
    /// Standard deviation (> 0).
    pub std: f64,
}

/// A mixture of one-dimensional Gaussians: the data densities of the theory experiments.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Mixture1d {
    components: Vec<Component>,
}

/// The standard normal density.
fn phi(u: f64) -> f64 {
    (-0.5 * u * u).exp() / (2.0 * PI).sqrt()
}

impl Mixture1d {
    /// A single Gaussian N(mean, std^2).
    pub fn gaussian(mean: f64, std: f64) -> Result<Self> {
        Self::new(vec![Component {
            weight: 1.0,
            mean,
            std,
        }])
    }

    /// A mixture; weights are normalised to sum to 1.
    pub fn new(mut components: Vec<Component>) -> Result<Self> {
        if components.is_empty() {
            return Err(Error::Invalid(
                "a mixture needs at least one component".into(),
            ));
        }
        for c in &components {
            if !(c.std.is_finite() && c.std > 0.0) {
                return Err(Error::Invalid(format!(
                    "standard deviation must be positive and finite, got {}",
                    c.std
                )));
            }
            if !(c.weight.is_finite() && c.weight > 0.0 && c.mean.is_finite()) {
                return Err(Error::Invalid(format!(
                    "weights must be positive and means finite, got weight {} mean {}",
                    c.weight, c.mean
                )));
            }
        }
        let total: f64 = components.iter().map(|c| c.weight).sum();
        for c in &mut components {
            c.weight /= total;
        }
        Ok(Self { components })
    }

    /// Parses `N(4,0.5)` or a mixture such as `0.3*N(-2,0.5)+0.7*N(2,1)` (spaces allowed;
    /// a component without a weight has weight 1 before normalisation).
    pub fn parse(spec: &str) -> Result<Self> {
        let bad = |why: &str| {
            Error::Invalid(format!(
                "density '{spec}': {why} (expected e.g. 'N(4,0.5)' or '0.5*N(-2,0.5)+0.5*N(2,0.5)')"
            ))
        };
        let s: String = spec.chars().filter(|c| !c.is_whitespace()).collect();
        if s.is_empty() {
            return Err(bad("empty"));
        }
        let mut comps = Vec::new();
        for term in s.split('+') {
            let (w, g) = match term.split_once('*') {
                Some((w, g)) => (w.parse::<f64>().map_err(|_| bad("bad weight"))?, g),
                None => (1.0, term),
            };
            let inner = g
                .strip_prefix("N(")
                .and_then(|r| r.strip_suffix(')'))
                .ok_or_else(|| bad("each term must look like N(mean,std)"))?;
            let (m, sd) = inner
                .split_once(',')
                .ok_or_else(|| bad("N needs two numbers"))?;
            let mean = m.parse::<f64>().map_err(|_| bad("bad mean"))?;
            let std = sd
                .parse::<f64>()
                .map_err(|_| bad("bad standard deviation"))?;
            comps.push(Component {
                weight: w,
                mean,
                std,
            });
        }
        Self::new(comps).map_err(|e| bad(&e.to_string()))
    }

    /// The components (weights normalised).
    pub fn components(&self) -> &[Component] {
        &self.components
    }

    /// The density at `x`.
    pub fn pdf(&self, x: f64) -> f64 {
        self.components
            .iter()
            .map(|c| c.weight * phi((x - c.mean) / c.std) / c.std)
            .sum()
    }

    /// The mean of the mixture.
    pub fn mean(&self) -> f64 {
        self.components.iter().map(|c| c.weight * c.mean).sum()
    }

    /// The standard deviation of the mixture.
    pub fn std(&self) -> f64 {
        let m = self.mean();
        let second: f64 = self
            .components
            .iter()
            .map(|c| c.weight * (c.std * c.std + c.mean * c.mean))
            .sum();
        (second - m * m).max(0.0).sqrt()
    }

    /// An interval holding all but a negligible part of the mass (every component's mean
    /// +- `k` standard deviations).
    pub fn range(&self, k: f64) -> (f64, f64) {
        let lo = self
            .components
            .iter()
            .map(|c| c.mean - k * c.std)
            .fold(f64::INFINITY, f64::min);
        let hi = self
            .components
            .iter()
            .map(|c| c.mean + k * c.std)
            .fold(f64::NEG_INFINITY, f64::max);
        (lo, hi)
    }

    /// `n` independent draws.
    pub fn sample(&self, n: usize, rng: &mut Rng) -> Vec<f32> {
        (0..n)
            .map(|_| {
                let mut u = rng.uniform() as f64;
                let mut pick = self.components[self.components.len() - 1];
                for c in &self.components {
                    if u < c.weight {
                        pick = *c;
                        break;
                    }
                    u -= c.weight;
                }
                (pick.mean + pick.std * rng.normal() as f64) as f32
            })
            .collect()
    }
}

/// An evenly spaced grid on `[lo, hi]` with an odd number of points, for Simpson's rule.
#[derive(Clone, Debug, PartialEq)]
pub struct Grid {
    lo: f64,
    hi: f64,
    n: usize,
}

impl Grid {
    /// `n` points (rounded up to an odd number, at least 3) from `lo` to `hi`.
    pub fn new(lo: f64, hi: f64, n: usize) -> Result<Self> {
        if !(lo.is_finite() && hi.is_finite() && hi > lo) {
            return Err(Error::Invalid(format!(
                "grid needs lo < hi, got [{lo}, {hi}]"
            )));
        }
        let n = (n.max(3)) | 1;
        Ok(Self { lo, hi, n })
    }

    /// The spacing between points.
    pub fn step(&self) -> f64 {
        (self.hi - self.lo) / (self.n - 1) as f64
    }

    /// The points.
    pub fn xs(&self) -> Vec<f64> {
        (0..self.n)
            .map(|i| self.lo + i as f64 * self.step())
            .collect()
    }

    /// Number of points.
    pub fn len(&self) -> usize {
        self.n
    }

    /// Never true (a grid has at least 3 points); here for clippy's sake.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// `(lo, hi)`.
    pub fn bounds(&self) -> (f64, f64) {
        (self.lo, self.hi)
    }

    /// Simpson's rule: the integral over the grid of a function given by its values at the
    /// points.
    pub fn integrate(&self, f: &[f64]) -> f64 {
        debug_assert_eq!(f.len(), self.n);
        let h = self.step();
        let inner: f64 = f[1..self.n - 1]
            .iter()
            .enumerate()
            .map(|(i, v)| if i % 2 == 0 { 4.0 * v } else { 2.0 * v })
            .sum();
        h / 3.0 * (f[0] + f[self.n - 1] + inner)
    }
}

/// A Gaussian kernel density estimate of a set of samples, with Silverman's rule-of-thumb
/// bandwidth `0.9 min(std, IQR / 1.34) n^(-1/5)` unless one is given.
#[derive(Clone, Debug)]
pub struct Kde {
    sorted: Vec<f64>,
    bandwidth: f64,
}

impl Kde {
    /// Fits the estimate. Errors on an empty or non-finite sample set.
    pub fn new(samples: &[f32], bandwidth: Option<f64>) -> Result<Self> {
        if samples.is_empty() {
            return Err(Error::Invalid(
                "kernel density estimate of no samples".into(),
            ));
        }
        if let Some(i) = samples.iter().position(|v| !v.is_finite()) {
            return Err(Error::Invalid(format!(
                "sample {i} is {} (not finite)",
                samples[i]
            )));
        }
        let mut sorted: Vec<f64> = samples.iter().map(|&v| v as f64).collect();
        sorted.sort_by(f64::total_cmp);
        let bandwidth = match bandwidth {
            Some(h) if h > 0.0 && h.is_finite() => h,
            Some(h) => return Err(Error::Invalid(format!("bandwidth must be > 0, got {h}"))),
            None => silverman(&sorted),
        };
        Ok(Self { sorted, bandwidth })
    }

    /// The bandwidth in use.
    pub fn bandwidth(&self) -> f64 {
        self.bandwidth
    }

    /// The estimated density at each of `xs` (kernels beyond 8 bandwidths are skipped:
    /// their weight is below 1e-14 of the peak).
    pub fn pdf(&self, xs: &[f64]) -> Vec<f64> {
        let h = self.bandwidth;
        let n = self.sorted.len() as f64;
        xs.par_iter()
            .map(|&x| {
                let a = self.sorted.partition_point(|&s| s < x - 8.0 * h);
                let b = self.sorted.partition_point(|&s| s <= x + 8.0 * h);
                self.sorted[a..b]
                    .iter()
                    .map(|&s| phi((x - s) / h))
                    .sum::<f64>()
                    / (n * h)
            })
            .collect()
    }
}

fn silverman(sorted: &[f64]) -> f64 {
    let n = sorted.len() as f64;
    let mean = sorted.iter().sum::<f64>() / n;
    let std = (sorted.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
    let q = |p: f64| sorted[((p * (n - 1.0)).round() as usize).min(sorted.len() - 1)];
    let iqr = (q(0.75) - q(0.25)) / 1.34;
    let spread = if iqr > 0.0 { std.min(iqr) } else { std };
    (0.9 * spread * n.powf(-0.2)).max(1e-6)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mixture_parses_normalises_and_integrates_to_one() {
        let m = Mixture1d::parse("0.3*N(-2, 0.5) + 0.9*N(2,1)").expect("valid test input");
        assert!((m.components()[0].weight - 0.25).abs() < 1e-12);
        let (lo, hi) = m.range(10.0);
        let g = Grid::new(lo, hi, 4001).expect("valid test input");
        let p: Vec<f64> = g.xs().iter().map(|&x| m.pdf(x)).collect();
        assert!((g.integrate(&p) - 1.0).abs() < 1e-9);
        // mean and std against the closed form
        assert!((m.mean() - (0.25 * -2.0 + 0.75 * 2.0)).abs() < 1e-12);
        let second = 0.25 * (0.25 + 4.0) + 0.75 * (1.0 + 4.0);
        assert!((m.std() - (second - 1.0f64).sqrt()).abs() < 1e-12);
        for bad in [
            "", "N(1)", "N(1,0)", "N(1,-2)", "x*N(1,1)", "G(1,1)", "N(a,1)",
        ] {
            assert!(Mixture1d::parse(bad).is_err(), "{bad} should not parse");
        }
    }

    #[test]
    fn samples_follow_the_density() {
        let m = Mixture1d::parse("N(4,0.5)").expect("valid test input");
        let s = m.sample(200_000, &mut Rng::new(1));
        let mean = s.iter().map(|&v| v as f64).sum::<f64>() / s.len() as f64;
        let var = s.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / s.len() as f64;
        assert!((mean - 4.0).abs() < 0.01, "mean {mean}");
        assert!((var.sqrt() - 0.5).abs() < 0.01, "std {}", var.sqrt());
    }

    #[test]
    fn kde_of_many_samples_approaches_the_density() {
        let m = Mixture1d::parse("0.5*N(-1,0.3)+0.5*N(1,0.3)").expect("valid test input");
        let s = m.sample(100_000, &mut Rng::new(2));
        let kde = Kde::new(&s, None).expect("valid test input");
        let g = Grid::new(-3.0, 3.0, 601).expect("valid test input");
        let xs = g.xs();
        let est = kde.pdf(&xs);
        assert!((g.integrate(&est) - 1.0).abs() < 1e-3);
        let l1: Vec<f64> = xs
            .iter()
            .zip(&est)
            .map(|(&x, e)| (m.pdf(x) - e).abs())
            .collect();
        // total variation distance of the estimate from the truth
        let tv = 0.5 * g.integrate(&l1);
        assert!(tv < 0.03, "TV {tv}");
        assert!(Kde::new(&[], None).is_err());
        assert!(Kde::new(&[1.0, f32::NAN], None).is_err());
    }
}
