//! The paper's Section 4 on one-dimensional data: each experiment checks a prediction of the
//! theory within a stated tolerance. Shortened runs (`scale`) keep the suite quick; the CLI's
//! full-length runs are tighter (README, "The theory, checked").

use gan::theory::Mixture1d;
use gan::theory::experiments::{TheoryOptions, figure1, optimal_d, saturation, value};

fn opts(scale: f64) -> TheoryOptions {
    let mut o = TheoryOptions::new(Mixture1d::parse("N(4,0.5)").expect("valid density"));
    o.scale = scale;
    o.kde_samples = 20_000;
    o
}

#[test]
fn a_trained_discriminator_approaches_the_optimal_one() {
    // Proposition 1 / eq. (6): D -> p_data / (p_data + p_g) for a frozen G
    let r = optimal_d(&opts(0.5)).expect("experiment runs");
    assert!(r.max_abs_diff < 0.08, "max |D - D*| = {}", r.max_abs_diff);
    assert!(
        r.mean_abs_diff < 0.03,
        "mean |D - D*| = {}",
        r.mean_abs_diff
    );
    assert!(r.weighted_abs_diff < 0.03);
    // the comparison covers the data's bulk (N(4, 0.5): +-1 std at least)
    assert!(r.support.0 < 3.5 && r.support.1 > 4.5, "{:?}", r.support);
}

#[test]
fn value_at_the_trained_discriminator_is_minus_log_4_plus_twice_the_jsd() {
    // Theorem 1: max_D V(D, G) = -log 4 + 2 JSD(p_data || p_g)
    let r = value(&opts(0.3)).expect("experiment runs");
    assert_eq!(r.rows.len(), 5);
    for row in &r.rows {
        assert!(
            row.gap.abs() < 0.02,
            "{}: V(D, G) = {} vs -log 4 + 2 JSD = {}",
            row.generator,
            row.v_trained_monte_carlo,
            row.criterion
        );
        assert!((row.v_optimal_quadrature - row.criterion).abs() < 2e-3);
        assert!(row.jsd >= -1e-9 && row.jsd <= 2f64.ln() + 1e-6);
    }
    // generators ordered from far to near: the JSD falls, so does V
    for w in r.rows.windows(2) {
        assert!(w[1].jsd < w[0].jsd, "{} !< {}", w[1].jsd, w[0].jsd);
    }
    // p_g = p_data: D = 1/2 everywhere and V = -log 4
    let last = r.rows.last().expect("experiment runs");
    assert!(last.jsd.abs() < 1e-9);
    assert!(
        last.max_abs_d_minus_half < 0.03,
        "{}",
        last.max_abs_d_minus_half
    );
    assert!((last.v_trained_monte_carlo + 4f64.ln()).abs() < 2e-3);
    // a far generator: JSD near log 2, V near 0
    assert!(r.rows[0].jsd > 0.68 && r.rows[0].v_trained_monte_carlo > -0.02);
}

#[test]
fn figure_1_training_brings_p_g_to_p_data_and_d_to_one_half() {
    let r = figure1(&opts(0.5)).expect("experiment runs");
    assert_eq!(r.panels.len(), 4);
    // (b): D trained with G frozen is closer to D* than in (a)
    let dd = &r.mean_abs_d_minus_d_star_by_panel;
    assert!(dd[1] < dd[0], "{dd:?}");
    // (d): p_g close to p_data, D close to 1/2 where the data are
    assert!(r.final_jsd < 0.06, "final JSD {}", r.final_jsd);
    assert!(r.final_jsd < r.jsd_by_panel[0], "{:?}", r.jsd_by_panel);
    assert!(
        r.final_data_mean_abs_d_minus_half < 0.08,
        "E|D - 1/2| = {}",
        r.final_data_mean_abs_d_minus_half
    );
    // the history starts at the shifted, collapsed generator
    assert!(r.jsd_history[0].1 > 0.3, "{:?}", r.jsd_history[0]);
}

#[test]
fn the_minimax_loss_saturates_where_the_non_saturating_one_does_not() {
    let r = saturation(&opts(0.5)).expect("experiment runs");
    assert!(
        r.initial_d_of_g < 0.02,
        "D not confident: {}",
        r.initial_d_of_g
    );
    assert!(r.grad_norm_ratio > 50.0, "ratio {}", r.grad_norm_ratio);
    let (mm, ns) = (&r.runs[0], &r.runs[1]);
    assert_eq!(
        (mm.loss.as_str(), ns.loss.as_str()),
        ("minimax", "non-saturating")
    );
    // same steps, same start (5 std from the data): one arrives, the other barely moves
    assert!(
        ns.final_mean_gap_in_stds < 1.0,
        "{}",
        ns.final_mean_gap_in_stds
    );
    assert!(
        mm.final_mean_gap_in_stds > 3.0,
        "{}",
        mm.final_mean_gap_in_stds
    );
}
