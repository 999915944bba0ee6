//! The four demonstrations of `gan theory`: each trains a one-dimensional GAN (or part of
//! one), measures what Section 4 of the paper predicts, and returns the numbers together with
//! the curves its figure draws.

use serde::Serialize;

use super::density::{Grid, Kde, Mixture1d};
use super::toy::{Noise1d, Optimizer1d, ToyConfig, ToyGan};
use super::{jensen_shannon, optimal_discriminator, value_at_optimum, virtual_criterion};
use crate::error::Result;
use crate::loss::{GanLoss, value_function};

/// Settings shared by the experiments.
#[derive(Clone, Debug)]
pub struct TheoryOptions {
    /// The data density (default N(4, 0.5^2), as drawn in the paper's Figure 1).
    pub data: Mixture1d,
    /// Seed of every random draw.
    pub seed: u64,
    /// Multiplies every training length (1.0 = the defaults; smaller is faster and rougher).
    pub scale: f64,
    /// Generator samples behind each kernel density estimate of p_g.
    pub kde_samples: usize,
}

impl TheoryOptions {
    /// Defaults: N(4, 0.5^2), seed 1, full length, 50,000 samples per density estimate.
    pub fn new(data: Mixture1d) -> Self {
        Self {
            data,
            seed: 1,
            scale: 1.0,
            kde_samples: 50_000,
        }
    }

    fn steps(&self, n: usize) -> usize {
        ((n as f64 * self.scale).round() as usize).max(1)
    }
}

/// Curves of one panel: densities and discriminator on a grid, and the map z -> G(z).
#[derive(Clone, Debug, Default)]
pub struct Panel {
    /// Title.
    pub title: String,
    /// Grid points.
    pub xs: Vec<f64>,
    /// p_data at the points.
    pub p_data: Vec<f64>,
    /// p_g (kernel density estimate, or exact) at the points.
    pub p_g: Vec<f64>,
    /// The trained D(x) at the points.
    pub d: Vec<f64>,
    /// D*(x) of eq. (6) at the points (empty when not drawn).
    pub d_star: Vec<f64>,
    /// (z, G(z)) for evenly spaced z in [-1, 1] (empty when not drawn).
    pub mapping: Vec<(f64, f64)>,
}

/// Where the mixture (p_data + p_g) / 2 carries at least 2% of its peak density: the points
/// over which D is compared with its prediction (elsewhere D has seen no samples).
fn support(p_data: &[f64], p_g: &[f64]) -> Vec<bool> {
    let m: Vec<f64> = p_data.iter().zip(p_g).map(|(a, b)| 0.5 * (a + b)).collect();
    let peak = m.iter().cloned().fold(0.0, f64::max);
    m.iter().map(|&v| v >= 0.02 * peak).collect()
}

/// Max and mean of |a - b| over the masked points.
fn abs_diff(a: &[f64], b: &[f64], mask: &[bool]) -> (f64, f64) {
    let d: Vec<f64> = (0..a.len())
        .filter(|&i| mask[i])
        .map(|i| (a[i] - b[i]).abs())
        .collect();
    let max = d.iter().cloned().fold(0.0, f64::max);
    (max, d.iter().sum::<f64>() / d.len().max(1) as f64)
}

fn bounds(mask: &[bool], xs: &[f64]) -> (f64, f64) {
    let first = mask.iter().position(|&m| m).unwrap_or(0);
    let last = mask.iter().rposition(|&m| m).unwrap_or(xs.len() - 1);
    (xs[first], xs[last])
}

/// The state of a toy GAN drawn as a panel, with p_g estimated from fresh samples.
struct Snapshot {
    panel: Panel,
    grid: Grid,
    kde_bandwidth: f64,
}

fn snapshot(
    gan: &mut ToyGan,
    opts: &TheoryOptions,
    title: &str,
    lo: f64,
    hi: f64,
) -> Result<Snapshot> {
    let grid = Grid::new(lo, hi, 801)?;
    let xs = grid.xs();
    let p_data: Vec<f64> = xs.iter().map(|&x| opts.data.pdf(x)).collect();
    let (p_g, kde_bandwidth) = match &gan.fixed_fake {
        Some(p) => (xs.iter().map(|&x| p.pdf(x)).collect(), 0.0),
        None => {
            let kde = Kde::new(&gan.sample(opts.kde_samples), None)?;
            (kde.pdf(&xs), kde.bandwidth())
        }
    };
    let d = gan.d_prob(&xs);
    let d_star = p_data
        .iter()
        .zip(&p_g)
        .map(|(&a, &b)| optimal_discriminator(a, b))
        .collect();
    let zs: Vec<f32> = (0..=20).map(|i| -1.0 + i as f32 * 0.1).collect();
    let mapping = if gan.fixed_fake.is_some() || gan.cfg.noise != Noise1d::Uniform {
        Vec::new()
    } else {
        zs.iter()
            .zip(gan.generate(&zs))
            .map(|(&z, x)| (z as f64, x as f64))
            .collect()
    };
    Ok(Snapshot {
        panel: Panel {
            title: title.to_string(),
            xs,
            p_data,
            p_g,
            d,
            d_star,
            mapping,
        },
        grid,
        kde_bandwidth,
    })
}

/// JSD(p_data || p_g) with p_g estimated from `opts.kde_samples` fresh samples of G, on a
/// grid that covers both densities and resolves the estimate (spacing at most a quarter of
/// its bandwidth, so a collapsed generator is integrated correctly too).
fn jsd_now(gan: &mut ToyGan, opts: &TheoryOptions) -> Result<f64> {
    let s = gan.sample(opts.kde_samples);
    let kde = Kde::new(&s, None)?;
    let h = kde.bandwidth();
    let (smin, smax) = s.iter().fold((f64::MAX, f64::MIN), |(a, b), &v| {
        (a.min(v as f64), b.max(v as f64))
    });
    let (dlo, dhi) = opts.data.range(8.0);
    let (lo, hi) = (dlo.min(smin - 8.0 * h), dhi.max(smax + 8.0 * h));
    let n = (((hi - lo) / (h / 4.0)) as usize).clamp(2001, 400_001);
    let grid = Grid::new(lo, hi, n)?;
    let xs = grid.xs();
    let p_data: Vec<f64> = xs.iter().map(|&x| opts.data.pdf(x)).collect();
    Ok(jensen_shannon(&grid, &p_data, &kde.pdf(&xs)))
}

fn toy(opts: &TheoryOptions, noise: Noise1d) -> Result<ToyGan> {
    let mut cfg = ToyConfig::new(opts.data.clone(), opts.seed);
    cfg.noise = noise;
    ToyGan::new(cfg)
}

/// The plotted range: the data's +-4 std and the generator's given moments' +-4 std.
fn plot_range(opts: &TheoryOptions, g_mean: f64, g_std: f64) -> (f64, f64) {
    let (lo, hi) = opts.data.range(4.0);
    (lo.min(g_mean - 4.0 * g_std), hi.max(g_mean + 4.0 * g_std))
}

/// Result of `optimal-d`.
#[derive(Clone, Debug, Serialize)]
pub struct OptimalD {
    /// Mean of the frozen generator's samples.
    pub generator_mean: f64,
    /// Standard deviation of the frozen generator's samples.
    pub generator_std: f64,
    /// Discriminator steps taken.
    pub d_steps: usize,
    /// Bandwidth of the density estimate of p_g.
    pub kde_bandwidth: f64,
    /// The interval compared: where (p_data + p_g) / 2 is at least 2% of its peak.
    pub support: (f64, f64),
    /// max |D(x) - D*(x)| over the support.
    pub max_abs_diff: f64,
    /// mean |D(x) - D*(x)| over the support (evenly spaced points).
    pub mean_abs_diff: f64,
    /// ∫ (p_data + p_g) / 2 |D - D*| dx: the difference where the samples are.
    pub weighted_abs_diff: f64,
    /// The curves drawn.
    #[serde(skip)]
    pub panel: Panel,
}

/// Experiment 1: freeze a generator, train D towards convergence, compare D with
/// D* = p_data / (p_data + p_g) (eq. 6), p_g estimated from generator samples.
pub fn optimal_d(opts: &TheoryOptions) -> Result<OptimalD> {
    let mut gan = toy(opts, Noise1d::Gaussian)?;
    let (m, s) = (opts.data.mean(), opts.data.std());
    let (g_mean, g_std) = (m - 1.0 * s, 1.5 * s);
    gan.set_generator_moments(g_mean, g_std);
    let d_steps = opts.steps(3000);
    gan.train_d(d_steps);
    let (lo, hi) = plot_range(opts, g_mean, g_std);
    let snap = snapshot(&mut gan, opts, "D after training vs D*", lo, hi)?;
    let p = &snap.panel;
    let mask = support(&p.p_data, &p.p_g);
    let (max_abs_diff, mean_abs_diff) = abs_diff(&p.d, &p.d_star, &mask);
    let w: Vec<f64> = (0..p.xs.len())
        .map(|i| 0.5 * (p.p_data[i] + p.p_g[i]) * (p.d[i] - p.d_star[i]).abs())
        .collect();
    Ok(OptimalD {
        generator_mean: g_mean,
        generator_std: g_std,
        d_steps,
        kde_bandwidth: snap.kde_bandwidth,
        support: bounds(&mask, &p.xs),
        max_abs_diff,
        mean_abs_diff,
        weighted_abs_diff: snap.grid.integrate(&w),
        panel: snap.panel,
    })
}

/// One generator of `value`.
#[derive(Clone, Debug, Serialize)]
pub struct ValueRow {
    /// Which generator.
    pub generator: String,
    /// JSD(p_data || p_g) by quadrature, nats.
    pub jsd: f64,
    /// Theorem 1's prediction C(G) = -log 4 + 2 JSD.
    pub criterion: f64,
    /// V(D*, G) by quadrature of eq. (4) with D* of eq. (6) (equals the criterion up to
    /// quadrature error: the two are written independently).
    pub v_optimal_quadrature: f64,
    /// V(D, G) of the trained D, Monte Carlo over fresh samples (eq. 4).
    pub v_trained_monte_carlo: f64,
    /// `v_trained_monte_carlo - criterion` (<= 0 up to sampling noise: D* is the maximiser).
    pub gap: f64,
    /// mean |D(x) - D*(x)| over the support.
    pub mean_abs_d_minus_d_star: f64,
    /// max |D(x) - 1/2| over the support.
    pub max_abs_d_minus_half: f64,
}

/// Result of `value`.
#[derive(Clone, Debug, Serialize)]
pub struct Value {
    /// -log 4, the global minimum of C(G).
    pub minus_log_4: f64,
    /// Discriminator steps per generator.
    pub d_steps: usize,
    /// Samples per Monte Carlo estimate.
    pub mc_samples: usize,
    /// One row per generator, the last with p_g = p_data.
    pub rows: Vec<ValueRow>,
}

/// Experiment 2: for several frozen generators (the last one p_g = p_data exactly), train D
/// and compare V(D, G) with -log 4 + 2 JSD(p_data || p_g) (Theorem 1).
pub fn value(opts: &TheoryOptions) -> Result<Value> {
    let (m, s) = (opts.data.mean(), opts.data.std());
    let d_steps = opts.steps(3000);
    let mc = 200_000;
    let cases: [(f64, f64); 4] = [(-6.0, 1.0), (-2.0, 1.6), (-0.75, 1.2), (0.0, 1.0)];
    let mut rows = Vec::new();
    for (i, &(dm, ds)) in cases.iter().chain(std::iter::once(&(0.0, 0.0))).enumerate() {
        let mut gan = toy(opts, Noise1d::Gaussian)?;
        let label = if i == cases.len() {
            gan.fixed_fake = Some(opts.data.clone());
            "p_g = p_data (exact)".to_string()
        } else {
            let (gm, gs) = (m + dm * s, ds * s);
            gan.set_generator_moments(gm, gs);
            format!("network, mean {gm:.2}, std {gs:.2}")
        };
        gan.train_d(d_steps);
        let (lo, hi) = plot_range(opts, m + cases[0].0 * s, s);
        let snap = snapshot(&mut gan, opts, &label, lo, hi)?;
        let p = &snap.panel;
        let jsd = jensen_shannon(&snap.grid, &p.p_data, &p.p_g);
        let real = gan.data_batch(mc);
        let fake = gan.sample(mc);
        let to64 = |v: &[f32]| v.iter().map(|&x| x as f64).collect::<Vec<_>>();
        let v_mc = value_function(&gan.d_logit(&to64(&real)), &gan.d_logit(&to64(&fake)));
        let mask = support(&p.p_data, &p.p_g);
        let half = vec![0.5; p.xs.len()];
        let criterion = virtual_criterion(jsd);
        rows.push(ValueRow {
            generator: label,
            jsd,
            criterion,
            v_optimal_quadrature: value_at_optimum(&snap.grid, &p.p_data, &p.p_g),
            v_trained_monte_carlo: v_mc,
            gap: v_mc - criterion,
            mean_abs_d_minus_d_star: abs_diff(&p.d, &p.d_star, &mask).1,
            max_abs_d_minus_half: abs_diff(&p.d, &half, &mask).0,
        });
    }
    Ok(Value {
        minus_log_4: -(4.0f64).ln(),
        d_steps,
        mc_samples: mc,
        rows,
    })
}

/// Result of `figure1`.
#[derive(Clone, Debug, Serialize)]
pub struct Figure1 {
    /// JSD(p_data || p_g) at each panel (a)-(d).
    pub jsd_by_panel: Vec<f64>,
    /// mean |D - D*| over the support at each panel.
    pub mean_abs_d_minus_d_star_by_panel: Vec<f64>,
    /// (update count, JSD) through training.
    pub jsd_history: Vec<(usize, f64)>,
    /// JSD at the end.
    pub final_jsd: f64,
    /// E_{x ~ p_data} |D(x) - 1/2| at the end (by quadrature): how far D is from 1/2 where
    /// the data are.
    pub final_data_mean_abs_d_minus_half: f64,
    /// mean |D(x) - 1/2| over the support at the end (evenly spaced points; includes the
    /// tails p_g does not reach, where D* is 1).
    pub final_mean_abs_d_minus_half: f64,
    /// max |D(x) - 1/2| over the support at the end.
    pub final_max_abs_d_minus_half: f64,
    /// The four panels.
    #[serde(skip)]
    pub panels: Vec<Panel>,
}

/// Experiment 3: the paper's Figure 1. (a) a GAN partly trained; (b) D trained towards D*
/// with G frozen; (c) G moved by D's gradient towards regions D calls real; (d) trained on
/// until p_g is close to p_data and D close to 1/2.
pub fn figure1(opts: &TheoryOptions) -> Result<Figure1> {
    let mut gan = toy(opts, Noise1d::Uniform)?;
    let (m, s) = (opts.data.mean(), opts.data.std());
    gan.shift_generator(m - 1.5 * s);
    let (lo, hi) = plot_range(opts, m - 1.5 * s, 0.5 * s);
    let mut history = Vec::new();
    let mut updates = 0usize;
    let probe = |gan: &mut ToyGan, updates: usize, history: &mut Vec<(usize, f64)>| -> Result<()> {
        history.push((updates, jsd_now(gan, opts)?));
        Ok(())
    };
    let mut panels = Vec::new();
    let mut jsds = Vec::new();
    let mut dd = Vec::new();
    let mut take = |gan: &mut ToyGan, title: &str| -> Result<Snapshot> {
        let snap = snapshot(gan, opts, title, lo, hi)?;
        let p = &snap.panel;
        jsds.push(jsd_now(gan, opts)?);
        dd.push(abs_diff(&p.d, &p.d_star, &support(&p.p_data, &p.p_g)).1);
        Ok(snap)
    };
    let chunk = opts.steps(100);
    let mut run = |gan: &mut ToyGan,
                   steps: usize,
                   phase: char,
                   history: &mut Vec<(usize, f64)>|
     -> Result<()> {
        let mut done = 0;
        while done < steps {
            let n = chunk.min(steps - done);
            match phase {
                'b' => gan.train_d(n),
                'c' => gan.train_g(n),
                _ => gan.train(n),
            }
            done += n;
            updates += n;
            probe(gan, updates, history)?;
        }
        Ok(())
    };
    probe(&mut gan, 0, &mut history)?;
    run(&mut gan, opts.steps(600), 'a', &mut history)?;
    panels.push(take(&mut gan, "(a)")?.panel);
    run(&mut gan, opts.steps(1500), 'b', &mut history)?;
    panels.push(take(&mut gan, "(b)")?.panel);
    run(&mut gan, opts.steps(50), 'c', &mut history)?;
    panels.push(take(&mut gan, "(c)")?.panel);
    run(&mut gan, opts.steps(6000), 'd', &mut history)?;
    let last = take(&mut gan, "(d)")?;
    let p = &last.panel;
    let mask = support(&p.p_data, &p.p_g);
    let half = vec![0.5; p.xs.len()];
    let (max_half, mean_half) = abs_diff(&p.d, &half, &mask);
    let weighted: Vec<f64> = (0..p.xs.len())
        .map(|i| p.p_data[i] * (p.d[i] - 0.5).abs())
        .collect();
    let data_mean_half = last.grid.integrate(&weighted);
    panels.push(last.panel);
    Ok(Figure1 {
        final_jsd: *jsds.last().unwrap_or(&f64::NAN),
        jsd_by_panel: jsds,
        mean_abs_d_minus_d_star_by_panel: dd,
        jsd_history: history,
        final_data_mean_abs_d_minus_half: data_mean_half,
        final_mean_abs_d_minus_half: mean_half,
        final_max_abs_d_minus_half: max_half,
        panels,
    })
}

/// How one generator loss fared from the same start in `saturation`.
#[derive(Clone, Debug, Serialize)]
pub struct SaturationRun {
    /// The generator loss.
    pub loss: String,
    /// |grad of the loss w.r.t. G's parameters| at the start (D confident).
    pub initial_grad_norm: f64,
    /// (generator step, mean of G's samples, JSD, mean D(G(z))) through training.
    pub history: Vec<(usize, f64, f64, f64)>,
    /// |mean(p_g) - mean(p_data)| / std(p_data) at the end.
    pub final_mean_gap_in_stds: f64,
    /// JSD at the end.
    pub final_jsd: f64,
}

/// Result of `saturation`.
#[derive(Clone, Debug, Serialize)]
pub struct Saturation {
    /// Mean D(G(z)) at the start, after D was trained against the initial G.
    pub initial_d_of_g: f64,
    /// Initial gradient norm under -log D(G(z)) divided by that under log(1 - D(G(z))).
    pub grad_norm_ratio: f64,
    /// The two runs: minimax (eq. 3) and non-saturating (eq. 5).
    pub runs: Vec<SaturationRun>,
    /// Generator steps each run took.
    pub steps: usize,
    /// Mean of the data density.
    pub data_mean: f64,
    /// Standard deviation of the data density.
    pub data_std: f64,
}

/// Experiment 4: early in training, with D confident, the saturating loss log(1 - D(G(z)))
/// gives G almost no gradient while -log D(G(z)) (eq. 5) gives a strong one; train both from
/// the same start with the paper's SGD and see how far each gets.
pub fn saturation(opts: &TheoryOptions) -> Result<Saturation> {
    let mut cfg = ToyConfig::new(opts.data.clone(), opts.seed);
    // G takes plain SGD steps, proportional to its gradient (what saturation is about; Adam
    // would rescale a vanishing gradient); D keeps its Adam and stays confident.
    cfg.optimizer_g = Optimizer1d::Sgd {
        lr: 0.01,
        momentum: 0.5,
    };
    let mut gan = ToyGan::new(cfg)?;
    let (m, s) = (opts.data.mean(), opts.data.std());
    gan.shift_generator(m - 5.0 * s);
    gan.train_d(opts.steps(1000));
    let z = gan.noise(4096);
    let fake: Vec<f64> = gan.generate(&z).iter().map(|&x| x as f64).collect();
    let d_of_g = gan.d_prob(&fake).iter().sum::<f64>() / fake.len() as f64;
    let steps = opts.steps(2000);
    let every = opts.steps(100);
    let mut runs = Vec::new();
    for loss in [GanLoss::Minimax, GanLoss::NonSaturating] {
        let mut g = gan.fork();
        g.cfg.loss = loss;
        let initial_grad_norm = g.g_grad_norm(loss, &z);
        let mut history = Vec::new();
        let mut record = |g: &mut ToyGan, step: usize| -> Result<()> {
            let jsd = jsd_now(g, opts)?;
            let x: Vec<f64> = g.generate(&z).iter().map(|&v| v as f64).collect();
            let mean = x.iter().sum::<f64>() / x.len() as f64;
            let dg = g.d_prob(&x).iter().sum::<f64>() / x.len() as f64;
            history.push((step, mean, jsd, dg));
            Ok(())
        };
        record(&mut g, 0)?;
        let mut done = 0;
        while done < steps {
            let n = every.min(steps - done);
            g.train(n);
            done += n;
            record(&mut g, done)?;
        }
        let (_, mean, jsd, _) = *history.last().unwrap_or(&(0, f64::NAN, f64::NAN, f64::NAN));
        runs.push(SaturationRun {
            loss: loss.name().to_string(),
            initial_grad_norm,
            final_mean_gap_in_stds: (mean - m).abs() / s,
            final_jsd: jsd,
            history,
        });
    }
    Ok(Saturation {
        initial_d_of_g: d_of_g,
        grad_norm_ratio: runs[1].initial_grad_norm / runs[0].initial_grad_norm.max(1e-300),
        runs,
        steps,
        data_mean: m,
        data_std: s,
    })
}
