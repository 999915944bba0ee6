//! The fused DCGAN engine (`gan::fast::conv`) against burn's autodiff on the same modules:
//! the same step statistics, and the same weights, running statistics and optimizer states
//! after training, for every layout.

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::{Device, Tensor};
use gan::config::{Engine, NoiseKind, OptimKind, TrainConfig};
use gan::models::dcgan::{
    DcganConfig, DcganDiscriminator, DcganGenerator, DcganLayout, dcgan_pair,
};
use gan::rng::Rng;
use gan::train::Gan;

type Pair = Gan<DcganGenerator, DcganDiscriminator>;

fn config(engine: Engine, adam: bool, batch: usize) -> TrainConfig {
    let mut cfg = TrainConfig::preset("mnist-dcgan", &[]).expect("preset");
    cfg.engine = engine;
    cfg.batch_size = batch;
    cfg.noise.dim = 12;
    cfg.noise.kind = NoiseKind::Gaussian;
    if !adam {
        // plain gradient steps: the weights' change is the gradient itself
        cfg.optimizer.kind = OptimKind::Sgd;
        cfg.optimizer.lr = 0.05;
        cfg.optimizer.momentum = 0.5;
        cfg.optimizer.final_momentum = 0.5;
    }
    cfg
}

fn pair(
    engine: Engine,
    (layout, hidden): (DcganLayout, usize),
    channels: usize,
    adam: bool,
    batch: usize,
) -> Pair {
    let dev = Device::flex().autodiff();
    let d = DcganConfig {
        layout,
        noise_dim: 12,
        channels,
        ngf: 6,
        ndf: 5,
        classes: 0,
        d_batch_norm: true,
        hidden,
        spectral_norm: false,
    };
    let (g, dd) = dcgan_pair(&d, &mut Rng::new(7), &dev).expect("pair");
    let mut cfg = config(engine, adam, batch);
    cfg.data.image_size = layout.side();
    cfg.data.channels = channels;
    Gan::from_models(cfg, d.shape().expect("shape"), g, dd, &dev).expect("gan")
}

/// Real batches in [0, 1]: smooth random images (a fixed stream, not the model's).
fn batches(n: usize, len: usize, count: usize) -> Vec<Vec<f32>> {
    let mut rng = Rng::new(99);
    (0..count)
        .map(|_| (0..n * len).map(|_| rng.uniform()).collect())
        .collect()
}

/// Every float tensor of a module (parameters and running statistics), in visit order.
struct Values(Vec<(usize, Vec<f32>)>);

impl ModuleVisitor for Values {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let v = param
            .val()
            .inner()
            .into_data()
            .try_into_vec::<f32>()
            .expect("f32");
        self.0.push((self.0.len(), v));
    }
}

fn values<M: Module>(m: &M) -> Vec<(usize, Vec<f32>)> {
    let mut v = Values(Vec::new());
    m.visit(&mut v);
    v.0
}

/// Largest difference between two modules' tensors, relative to `scale`, with the tensor
/// where it is.
fn worst(a: &[(usize, Vec<f32>)], b: &[(usize, Vec<f32>)]) -> (f32, usize) {
    assert_eq!(a.len(), b.len(), "different tensor counts");
    let mut out = (0f32, 0);
    for ((i, x), (_, y)) in a.iter().zip(b) {
        assert_eq!(x.len(), y.len(), "tensor {i}");
        for (p, q) in x.iter().zip(y) {
            let d = (p - q).abs() / (1.0 + p.abs().max(q.abs()));
            if d > out.0 {
                out = (d, *i);
            }
        }
    }
    out
}

/// `hidden`: the width of `dcgan-28`'s InfoGAN hidden layers (0: none).
fn compare(
    (layout, hidden): (DcganLayout, usize),
    channels: usize,
    adam: bool,
    steps: usize,
    tol: f32,
) {
    let batch = 8;
    let side = layout.side();
    let data = batches(batch, channels * side * side, steps);
    let mut fast = pair(Engine::Fast, (layout, hidden), channels, adam, batch);
    let mut burn = pair(Engine::Burn, (layout, hidden), channels, adam, batch);
    let g0 = values(&fast.generator);
    let (mut moved, mut stats_gap) = (0f32, 0f64);
    for x in &data {
        let a = fast.train_step(std::slice::from_ref(x)).expect("fast step");
        let b = burn.train_step(std::slice::from_ref(x)).expect("burn step");
        for (p, q) in [
            (a.d_loss, b.d_loss),
            (a.g_loss, b.g_loss),
            (a.d_real, b.d_real),
            (a.d_fake, b.d_fake),
        ] {
            stats_gap = stats_gap.max((p - q).abs() / (1.0 + q.abs()));
        }
    }
    fast.sync_modules();
    let what = format!("{layout:?} (hidden {hidden}) {channels} channel(s), adam {adam}");
    assert!(
        stats_gap < 1e-4,
        "{what}: step statistics differ by {stats_gap}"
    );
    for (name, a, b) in [
        // valid(): burn's running statistics as they are after their last update (a visit
        // of the training module can see them one update behind)
        (
            "G",
            values(&fast.generator.valid()),
            values(&burn.generator.valid()),
        ),
        (
            "D",
            values(&fast.discriminator.valid()),
            values(&burn.discriminator.valid()),
        ),
        (
            "G's first moments",
            values(&fast.opt_g.velocity_module(&fast.generator)),
            values(&burn.opt_g.velocity_module(&burn.generator)),
        ),
        (
            "D's first moments",
            values(&fast.opt_d.velocity_module(&fast.discriminator)),
            values(&burn.opt_d.velocity_module(&burn.discriminator)),
        ),
    ] {
        let (mut a, mut b) = (a, b);
        if name == "G" && adam && layout == DcganLayout::Dcgan28 {
            // G's projection bias feeds a batch norm, which removes it: its gradient is zero
            // up to rounding, and Adam turns rounding noise into steps of the learning rate
            // with either sign. Both copies stay within Adam's bound (lr per step from 0).
            let bound = steps as f32 * 2e-4 * 1.01;
            for v in [&a[1].1, &b[1].1] {
                assert!(
                    v.iter().all(|x| x.abs() <= bound),
                    "{what}: projection bias"
                );
            }
            a.remove(1);
            b.remove(1);
        }
        let (gap, at) = worst(&a, &b);
        assert!(gap < tol, "{what}: {name} differ by {gap} (tensor {at})");
    }
    if adam {
        let (gap, at) = worst(
            &values(&fast.opt_g.second_moment_module(&fast.generator)),
            &values(&burn.opt_g.second_moment_module(&burn.generator)),
        );
        assert!(
            gap < tol,
            "{what}: G's second moments differ by {gap} ({at})"
        );
    }
    // and the comparison is not of two untrained copies
    let (m, _) = worst(&g0, &values(&fast.generator));
    moved = moved.max(m);
    assert!(moved > 10.0 * tol, "{what}: G moved only {moved}");
    // samples (evaluation mode: the running statistics) agree
    let (sa, sb) = (fast.sample(6, 3).expect("s"), burn.sample(6, 3).expect("s"));
    let gap = sa
        .iter()
        .zip(&sb)
        .map(|(p, q)| (p - q).abs())
        .fold(0f32, f32::max);
    assert!(gap < 10.0 * tol, "{what}: samples differ by {gap}");
}

#[test]
fn the_fused_dcgan_28_step_matches_burn_autodiff() {
    // momentum SGD: every weight's change is its gradient, so this checks each gradient
    compare((DcganLayout::Dcgan28, 0), 1, false, 3, 2e-4);
}

#[test]
fn the_fused_infogan_28_step_matches_burn_autodiff() {
    // dcgan-28 with InfoGAN's hidden fully connected layers (conv.hidden): G's first and
    // D's last layer, each with batch norm
    compare((DcganLayout::Dcgan28, 9), 1, false, 3, 2e-4);
}

#[test]
fn the_fused_dcgan_32_step_matches_burn_autodiff_in_colour() {
    compare((DcganLayout::Dcgan32, 0), 3, false, 3, 2e-4);
}

#[test]
fn the_fused_engine_matches_burn_with_adam() {
    // Adam's first steps move every weight by about the learning rate (2e-4) whatever the
    // gradient's size, so weights are compared at half of it (the projection's running
    // mean carries the noise of its bias, see compare)
    compare((DcganLayout::Dcgan28, 0), 1, true, 4, 1e-4);
    compare((DcganLayout::Dcgan64, 0), 3, true, 2, 1e-4);
}
