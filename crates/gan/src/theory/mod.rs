//! The paper's Section 4, made checkable on one-dimensional data with a known density.
//!
//! The formulas of the theory live here, once each: the optimal discriminator (eq. 6, the
//! paper's Proposition 1), the value function in density form (eq. 4), the Jensen-Shannon
//! divergence and the virtual training criterion `C(G) = -log 4 + 2 JSD` (Theorem 1).
//! [`experiments`] runs the four demonstrations behind `gan theory`.

mod density;
pub mod experiments;
mod toy;

pub use density::{Component, Grid, Kde, Mixture1d};
pub use toy::{Mlp1d, Noise1d, Optimizer1d, ToyConfig, ToyGan};

/// Eq. (6) (the paper's Proposition 1, its eq. 2): for a fixed G the discriminator that
/// maximises V(D, G) is `D*(x) = p_data(x) / (p_data(x) + p_g(x))`. Where both densities
/// vanish D* is undefined and 1/2 is returned.
pub fn optimal_discriminator(p_data: f64, p_g: f64) -> f64 {
    let s = p_data + p_g;
    if s > 0.0 { p_data / s } else { 0.5 }
}

/// `p log q` with the convention `0 log q = 0` (densities that vanish contribute nothing).
fn p_log(p: f64, q: f64) -> f64 {
    if p > 0.0 { p * q.ln() } else { 0.0 }
}

/// Eq. (4) in density form: `V(D, G) = ∫ p_data(x) log D(x) + p_g(x) log(1 - D(x)) dx`,
/// by quadrature on `grid` from the values of the densities and of D at its points.
pub fn value_quadrature(grid: &Grid, p_data: &[f64], p_g: &[f64], d: &[f64]) -> f64 {
    let f: Vec<f64> = (0..grid.len())
        .map(|i| p_log(p_data[i], d[i]) + p_log(p_g[i], 1.0 - d[i]))
        .collect();
    grid.integrate(&f)
}

/// Eq. (4) at the optimal discriminator (eq. 6), by quadrature: with D* = p_data / (p_data +
/// p_g) and 1 - D* = p_g / (p_data + p_g) written as such,
/// `V(D*, G) = ∫ p_data log(p_data / (p_data + p_g)) + p_g log(p_g / (p_data + p_g)) dx`.
/// Finite even where the densities barely overlap, where evaluating `log(1 - D*)` from a D*
/// that rounds to 1 gives `-inf`.
pub fn value_at_optimum(grid: &Grid, p_data: &[f64], p_g: &[f64]) -> f64 {
    let f: Vec<f64> = p_data
        .iter()
        .zip(p_g)
        .map(|(&a, &b)| {
            let s = a + b;
            if s > 0.0 {
                p_log(a, a / s) + p_log(b, b / s)
            } else {
                0.0
            }
        })
        .collect();
    grid.integrate(&f)
}

/// `KL(p || q) = ∫ p log(p / q) dx` in nats, by quadrature (infinite if q vanishes where p
/// does not).
pub fn kl_divergence(grid: &Grid, p: &[f64], q: &[f64]) -> f64 {
    let f: Vec<f64> = p
        .iter()
        .zip(q)
        .map(|(&p, &q)| {
            if p <= 0.0 {
                0.0
            } else if q <= 0.0 {
                f64::INFINITY
            } else {
                p * (p / q).ln()
            }
        })
        .collect();
    grid.integrate(&f)
}

/// The Jensen-Shannon divergence `JSD(p || q) = KL(p || m) / 2 + KL(q || m) / 2`,
/// `m = (p + q) / 2`, in nats (between 0 and log 2), by quadrature.
pub fn jensen_shannon(grid: &Grid, p: &[f64], q: &[f64]) -> f64 {
    let m: Vec<f64> = p.iter().zip(q).map(|(a, b)| 0.5 * (a + b)).collect();
    0.5 * kl_divergence(grid, p, &m) + 0.5 * kl_divergence(grid, q, &m)
}

/// Theorem 1: the virtual training criterion `C(G) = max_D V(D, G) = -log 4 + 2 JSD(p_data ||
/// p_g)`; its global minimum -log 4 is reached if and only if `p_g = p_data`.
pub fn virtual_criterion(jsd: f64) -> f64 {
    -(4.0f64).ln() + 2.0 * jsd
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gauss(m: f64, s: f64) -> Mixture1d {
        Mixture1d::gaussian(m, s).expect("valid test input")
    }

    fn on(grid: &Grid, m: &Mixture1d) -> Vec<f64> {
        grid.xs().iter().map(|&x| m.pdf(x)).collect()
    }

    #[test]
    fn kl_of_two_gaussians_matches_the_closed_form() {
        let (p, q) = (gauss(0.0, 1.0), gauss(1.0, 2.0));
        let g = Grid::new(-20.0, 20.0, 4001).expect("valid test input");
        let kl = kl_divergence(&g, &on(&g, &p), &on(&g, &q));
        // KL(N(m1,s1)||N(m2,s2)) = ln(s2/s1) + (s1^2 + (m1-m2)^2) / (2 s2^2) - 1/2
        let exact = 2.0f64.ln() + (1.0 + 1.0) / 8.0 - 0.5;
        assert!((kl - exact).abs() < 1e-9, "{kl} vs {exact}");
    }

    #[test]
    fn jsd_by_quadrature_matches_a_high_resolution_reference_and_its_bounds() {
        let (p, q) = (gauss(4.0, 0.5), gauss(3.0, 1.0));
        let coarse = Grid::new(-4.0, 11.0, 1501).expect("valid test input");
        let fine = Grid::new(-4.0, 11.0, 300_001).expect("valid test input");
        let a = jensen_shannon(&coarse, &on(&coarse, &p), &on(&coarse, &q));
        let b = jensen_shannon(&fine, &on(&fine, &p), &on(&fine, &q));
        assert!((a - b).abs() < 1e-8, "{a} vs {b}");
        assert!(a > 0.0 && a < 2f64.ln());
        // identical densities: 0; disjoint ones: log 2
        let same = jensen_shannon(&coarse, &on(&coarse, &p), &on(&coarse, &p));
        assert!(same.abs() < 1e-12);
        let far = Grid::new(-10.0, 60.0, 20001).expect("valid test input");
        let d = jensen_shannon(
            &far,
            &on(&far, &gauss(0.0, 1.0)),
            &on(&far, &gauss(50.0, 1.0)),
        );
        assert!((d - 2f64.ln()).abs() < 1e-9, "{d}");
    }

    #[test]
    fn optimal_discriminator_and_theorem_1_hold_for_known_densities() {
        let (p, q) = (gauss(4.0, 0.5), gauss(2.5, 0.8));
        let g = Grid::new(-4.0, 10.0, 2801).expect("valid test input");
        let (pd, pg) = (on(&g, &p), on(&g, &q));
        let dstar: Vec<f64> = pd
            .iter()
            .zip(&pg)
            .map(|(&a, &b)| optimal_discriminator(a, b))
            .collect();
        // V(D*, G) written with logs of D*, vs -log 4 + 2 JSD written with KLs
        let v = value_quadrature(&g, &pd, &pg, &dstar);
        let c = virtual_criterion(jensen_shannon(&g, &pd, &pg));
        assert!((v - c).abs() < 1e-9, "{v} vs {c}");
        // D* maximises V: any perturbation lowers it
        for eps in [-0.05, 0.05] {
            let d2: Vec<f64> = dstar
                .iter()
                .map(|d| (d + eps).clamp(1e-9, 1.0 - 1e-9))
                .collect();
            assert!(value_quadrature(&g, &pd, &pg, &d2) < v);
        }
        // p_g = p_data: D* = 1/2 everywhere and V = -log 4
        let half: Vec<f64> = pd.iter().map(|&a| optimal_discriminator(a, a)).collect();
        assert!(half.iter().all(|&d| (d - 0.5).abs() < 1e-15));
        let v0 = value_quadrature(&g, &pd, &pd, &half);
        assert!((v0 + 4f64.ln()).abs() < 1e-9, "{v0}");
        // the optimum in its own form agrees where both are finite...
        assert!((value_at_optimum(&g, &pd, &pg) - v).abs() < 1e-9);
        // ...and stays finite for densities that barely overlap, where D* rounds to 1 and
        // log(1 - D*) is -inf (at x = -2, p_g / p_data = e^-42: D* rounds to 1, p_g > 0)
        let (pd, pg) = (on(&g, &gauss(0.0, 0.5)), on(&g, &gauss(3.0, 0.5)));
        let dstar: Vec<f64> = pd
            .iter()
            .zip(&pg)
            .map(|(&a, &b)| optimal_discriminator(a, b))
            .collect();
        assert_eq!(value_quadrature(&g, &pd, &pg, &dstar), f64::NEG_INFINITY);
        let vf = value_at_optimum(&g, &pd, &pg);
        let c = virtual_criterion(jensen_shannon(&g, &pd, &pg));
        assert!(vf.is_finite() && (vf - c).abs() < 1e-9, "{vf} vs {c}");
    }
}
