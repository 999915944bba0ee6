//! Momentum SGD exactly as the authors' pylearn2 ran it: the `Momentum` learning rule,
//! `ExponentialDecay` of the learning rate per update and `MomentumAdjustor` per epoch.

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::optim::GradientsParams;
use burn::tensor::Tensor;

use crate::config::OptimConfig;

/// G's learning rate at its update number `step` (0-based): `max(min_lr, lr /
/// lr_decay^step)` (pylearn2 `ExponentialDecay`: the first update uses the base rate).
pub fn learning_rate_at(cfg: &OptimConfig, step: u64) -> f64 {
    (cfg.lr / cfg.lr_decay.powf(step as f64)).max(cfg.min_lr)
}

/// D's learning rate at its update number `step`: G's schedule times `d_lr_ratio` (the two
/// time-scale update rule of Heusel et al. 2017 when it is not 1).
pub fn d_learning_rate_at(cfg: &OptimConfig, step: u64) -> f64 {
    learning_rate_at(cfg, step) * cfg.d_lr_ratio
}

/// Momentum during epoch `epoch` (0-based), as pylearn2's `MomentumAdjustor` sets it: the
/// adjustor runs once before the first epoch and after every epoch, counting its calls, so
/// epoch `e` trains with the momentum of call `c = e + 1`: `momentum` until `c` reaches
/// `momentum_start`, then linear in `c` to `final_momentum` at `momentum_saturate`. With the
/// paper's start 1 and saturate 250: `0.5 + 0.2 * e / 249` during epoch `e`, 0.7 from the
/// 250th epoch (`e = 249`) on.
pub fn momentum_at(cfg: &OptimConfig, epoch: u64) -> f64 {
    let calls = epoch.saturating_add(1);
    let w = cfg.momentum_saturate.saturating_sub(cfg.momentum_start);
    if w == 0 {
        return if calls >= cfg.momentum_start {
            cfg.final_momentum
        } else {
            cfg.momentum
        };
    }
    let alpha = ((calls as f64 - cfg.momentum_start as f64) / w as f64).clamp(0.0, 1.0);
    cfg.momentum * (1.0 - alpha) + alpha * cfg.final_momentum
}

/// Optimizer state for one network: the velocity of each parameter (momentum SGD; Adam's
/// first moment) and, for Adam and RMSProp, the second moment.
///
/// Momentum SGD update (pylearn2 `Momentum`): `v <- mu v - lr g`, `theta <- theta + v`. With
/// a constant learning rate this is PyTorch's SGD with momentum (dampening 0) up to the scale
/// of v. Adam and RMSProp: [`MomentumSgd::step_adaptive`].
#[derive(Default)]
pub struct MomentumSgd {
    velocity: GradientsParams,
    second: GradientsParams,
}

/// The adaptive update rules, as PyTorch writes them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Adaptive {
    /// Adam (Kingma & Ba 2015): `m <- b1 m + (1 - b1) g`, `v <- b2 v + (1 - b2) g^2`,
    /// `theta <- theta - lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)`.
    Adam {
        /// First-moment decay.
        beta1: f64,
        /// Second-moment decay.
        beta2: f64,
        /// Added to the denominator.
        eps: f64,
    },
    /// RMSProp without momentum (Tieleman & Hinton 2012): `v <- a v + (1 - a) g^2`,
    /// `theta <- theta - lr g / (sqrt(v) + eps)`.
    RmsProp {
        /// Smoothing constant.
        alpha: f64,
        /// Added to the denominator.
        eps: f64,
    },
}

impl MomentumSgd {
    /// Fresh state (zero velocity).
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies one update with the given learning rate and momentum; parameters without a
    /// gradient are left untouched.
    pub fn step<M: Module>(
        &mut self,
        module: M,
        mut grads: GradientsParams,
        lr: f64,
        momentum: f64,
    ) -> M {
        module.map(&mut UpdateMapper {
            grads: &mut grads,
            first: &mut self.velocity,
            second: &mut self.second,
            lr,
            rule: Rule::Momentum(momentum),
        })
    }

    /// Applies one Adam or RMSProp update; `t` is the 1-based number of this update (Adam's
    /// bias correction). Parameters without a gradient are left untouched.
    pub fn step_adaptive<M: Module>(
        &mut self,
        module: M,
        mut grads: GradientsParams,
        lr: f64,
        rule: Adaptive,
        t: u64,
    ) -> M {
        module.map(&mut UpdateMapper {
            grads: &mut grads,
            first: &mut self.velocity,
            second: &mut self.second,
            lr,
            rule: Rule::Adaptive(rule, t.max(1)),
        })
    }

    /// An independent copy of the state of `module`'s optimizer (the velocities and second
    /// moments, zeros where none yet, which update alike).
    pub fn fork<M: Module>(&self, module: &M) -> Self {
        let mut copy = Self::new();
        copy.load_velocity_module(&self.velocity_module(module));
        copy.load_second_moment_module(&self.second_moment_module(module));
        copy
    }

    /// The second moments laid out as a copy of `module` (zeros where none yet), for saving.
    pub fn second_moment_module<M: Module>(&self, module: &M) -> M {
        state_as_module(&self.second, module)
    }

    /// Restores the second moments from a module laid out like the trained one.
    pub fn load_second_moment_module<M: Module>(&mut self, second: &M) {
        self.second = collect_params(second);
    }

    /// The velocity of each parameter, by parameter id.
    pub fn velocity(&self) -> &GradientsParams {
        &self.velocity
    }

    /// Mutable access to the velocities (the fast engine writes its state back here).
    pub fn velocity_mut(&mut self) -> &mut GradientsParams {
        &mut self.velocity
    }

    /// Adam's and RMSProp's second moments, by parameter id.
    pub fn second(&self) -> &GradientsParams {
        &self.second
    }

    /// Both states, mutable: the velocity (Adam's first moment) and the second moment.
    pub fn states_mut(&mut self) -> (&mut GradientsParams, &mut GradientsParams) {
        (&mut self.velocity, &mut self.second)
    }

    /// The velocity laid out as a copy of `module` (zeros where none yet), for saving.
    pub fn velocity_module<M: Module>(&self, module: &M) -> M {
        state_as_module(&self.velocity, module)
    }

    /// Restores the velocity from a module laid out like the trained one (same parameter ids,
    /// e.g. a clone of it with the saved velocity loaded).
    pub fn load_velocity_module<M: Module>(&mut self, velocity: &M) {
        self.velocity = collect_params(velocity);
    }
}

/// Per-parameter optimizer state laid out as a copy of `module` (zeros where none yet).
fn state_as_module<M: Module>(state: &GradientsParams, module: &M) -> M {
    module
        .clone()
        .map(&mut VelocityAsParams { velocity: state })
}

/// Every parameter of `module`, by parameter id (the inverse of [`state_as_module`]).
fn collect_params<M: Module>(module: &M) -> GradientsParams {
    let mut v = CollectParams {
        out: GradientsParams::new(),
    };
    module.visit(&mut v);
    v.out
}

/// Which update [`UpdateMapper`] applies: momentum SGD with this momentum, or an adaptive
/// rule at this (1-based) update number.
enum Rule {
    Momentum(f64),
    Adaptive(Adaptive, u64),
}

/// Updates every parameter that has a gradient, keeping its optimizer state by parameter id:
/// `first` is the SGD velocity or Adam's first moment, `second` the second moment.
struct UpdateMapper<'a> {
    grads: &'a mut GradientsParams,
    first: &'a mut GradientsParams,
    second: &'a mut GradientsParams,
    lr: f64,
    rule: Rule,
}

impl ModuleMapper for UpdateMapper<'_> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let (id, tensor, mapper) = param.consume();
        let Some(grad) = self.grads.remove::<D>(id) else {
            return Param::from_mapped_value(id, tensor, mapper);
        };
        let require_grad = tensor.is_require_grad();
        let inner = tensor.inner();
        let decay = |old: Option<Tensor<D>>, new: Tensor<D>, b: f64| match old {
            Some(o) => o.mul_scalar(b) + new.mul_scalar(1.0 - b),
            None => new.mul_scalar(1.0 - b),
        };
        let updated = match self.rule {
            Rule::Momentum(momentum) => {
                let step = grad.mul_scalar(-self.lr);
                let v = match self.first.remove::<D>(id) {
                    Some(v) if momentum != 0.0 => v.mul_scalar(momentum) + step,
                    _ => step,
                };
                self.first.register(id, v.clone());
                inner + v
            }
            Rule::Adaptive(Adaptive::Adam { beta1, beta2, eps }, t) => {
                let m = decay(self.first.remove::<D>(id), grad.clone(), beta1);
                let v = decay(self.second.remove::<D>(id), grad.powi_scalar(2), beta2);
                let t = t as i32;
                let (c1, c2) = (1.0 - beta1.powi(t), 1.0 - beta2.powi(t));
                let step = m
                    .clone()
                    .div(v.clone().div_scalar(c2).sqrt().add_scalar(eps));
                self.first.register(id, m);
                self.second.register(id, v);
                inner - step.mul_scalar(self.lr / c1)
            }
            Rule::Adaptive(Adaptive::RmsProp { alpha, eps }, _) => {
                let v = decay(
                    self.second.remove::<D>(id),
                    grad.clone().powi_scalar(2),
                    alpha,
                );
                let step = grad.div(v.clone().sqrt().add_scalar(eps));
                self.second.register(id, v);
                inner - step.mul_scalar(self.lr)
            }
        };
        let mut t = Tensor::from_inner(updated);
        if require_grad {
            t = t.require_grad();
        }
        Param::from_mapped_value(id, t, mapper)
    }
}

struct VelocityAsParams<'a> {
    velocity: &'a GradientsParams,
}

impl ModuleMapper for VelocityAsParams<'_> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let (id, tensor, mapper) = param.consume();
        // a buffer that trains without gradients (batch-norm running statistics) keeps its
        // value: burn's RunningState is shared between clones and mapped in place, so a zero
        // written here would reach the live module
        if !tensor.is_require_grad() && self.velocity.get::<D>(id).is_none() {
            return Param::from_mapped_value(id, tensor, mapper);
        }
        let v = self
            .velocity
            .get::<D>(id)
            .unwrap_or_else(|| tensor.clone().inner().zeros_like());
        Param::from_mapped_value(id, v, mapper)
    }
}

struct CollectParams {
    out: GradientsParams,
}

impl ModuleVisitor for CollectParams {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        // trainable parameters only: buffers (batch-norm running statistics) have no
        // optimizer state
        let value = param.val();
        if !value.is_require_grad() {
            return;
        }
        let id: ParamId = param.id;
        self.out.register(id, value.inner());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paper() -> OptimConfig {
        OptimConfig {
            kind: crate::config::OptimKind::Sgd,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            lr: 0.1,
            d_lr_ratio: 1.0,
            lr_decay: 1.000004,
            min_lr: 1e-6,
            momentum: 0.5,
            final_momentum: 0.7,
            momentum_start: 1,
            momentum_saturate: 250,
        }
    }

    #[test]
    fn adam_and_rmsprop_match_hand_computed_updates() {
        use burn::nn::Linear;
        let dev = burn::tensor::Device::flex().autodiff();
        let mut rng = crate::rng::Rng::new(1);
        for (rule, expect) in [
            // Adam, two updates with gradients 0.5 then -0.25 (python, PyTorch's formula):
            // t=1: m=.05 v=.00025 -> step .1*(.05/.1)/(sqrt(.00025/.001)+1e-8) = 0.1
            // t=2: m=.02 v=.0003122 -> .1*(.02/.19)/(sqrt(.0003122/.001999)+1e-8) = 0.026636
            (
                Adaptive::Adam {
                    beta1: 0.9,
                    beta2: 0.999,
                    eps: 1e-8,
                },
                1.0 - 0.1 - 0.026_636,
            ),
            // RMSProp alpha .99: v1=.0025 -> step .1*.5/.05 = 1.0;
            // v2=.002475+.000625=.0031 -> step .1*(-.25)/.0556776 = -0.449013
            (
                Adaptive::RmsProp {
                    alpha: 0.99,
                    eps: 1e-8,
                },
                1.0 - 1.0 + 0.449_013,
            ),
        ] {
            let mut lin: Linear = crate::nn::uniform_linear(1, 1, 0.0, None, &mut rng, &dev);
            lin.weight = Param::from_tensor(Tensor::<2>::ones([1, 1], &dev));
            let mut opt = MomentumSgd::new();
            for (t, g) in [(1u64, 0.5f32), (2, -0.25)] {
                let x = Tensor::<2>::ones([1, 1], &dev);
                // d(g * w x)/dw = g
                let loss = lin.forward(x).mul_scalar(g).sum();
                let grads = GradientsParams::from_grads(loss.backward(), &lin);
                lin = opt.step_adaptive(lin, grads, 0.1, rule, t);
            }
            let w = lin.weight.val().into_scalar::<f32>() as f64;
            assert!((w - expect).abs() < 1e-4, "{rule:?}: {w} vs {expect}");
        }
    }

    #[test]
    fn momentum_sgd_matches_hand_computed_updates() {
        use burn::nn::Linear;
        // pylearn2's Momentum rule, v <- mu v - lr g, theta <- theta + v, from theta = 1:
        // (g, mu, lr) = (0.5, 0.5, 0.1): v = -0.05,                 theta = 0.95
        //               (0.3, 0.7, 0.1): v = 0.7 * -0.05 - 0.03 = -0.065, theta = 0.885
        //               (-1, 0.5, 0.05): v = 0.5 * -0.065 + 0.05 = 0.0175, theta = 0.9025
        // (PyTorch's SGD, v <- mu v + g, theta <- theta - lr v, would give 0.95, 0.885, 0.91875
        // here: the two differ once the learning rate changes)
        let dev = burn::tensor::Device::flex().autodiff();
        let mut rng = crate::rng::Rng::new(1);
        let mut lin: Linear = crate::nn::uniform_linear(1, 1, 0.0, None, &mut rng, &dev);
        lin.weight = Param::from_tensor(Tensor::<2>::ones([1, 1], &dev));
        let mut opt = MomentumSgd::new();
        let mut got = Vec::new();
        for (g, mu, lr) in [(0.5f32, 0.5, 0.1), (0.3, 0.7, 0.1), (-1.0, 0.5, 0.05)] {
            let x = Tensor::<2>::ones([1, 1], &dev);
            let loss = lin.forward(x).mul_scalar(g).sum();
            let grads = GradientsParams::from_grads(loss.backward(), &lin);
            lin = opt.step(lin, grads, lr, mu);
            got.push(lin.weight.val().into_scalar::<f32>() as f64);
        }
        for (g, want) in got.iter().zip([0.95, 0.885, 0.9025]) {
            assert!((g - want).abs() < 1e-6, "{got:?}");
        }
    }

    #[test]
    fn schedules_follow_pylearn2() {
        let c = paper();
        assert_eq!(learning_rate_at(&c, 0), 0.1);
        // 0.1 / 1.000004^500000 = 0.1 * e^(-1.9999960...) (python: 0.1 / 1.000004**500000)
        assert!((learning_rate_at(&c, 500_000) - 0.013_533_582).abs() < 1e-8);
        assert_eq!(learning_rate_at(&c, u64::MAX / 2), 1e-6);
        // pylearn2's MomentumAdjustor(start=1, saturate=250, final_momentum=.7) with
        // init_momentum .5: _count is 1 before epoch 0 and e + 1 during epoch e;
        // alpha = (count - 1) / 249 (python: [.5 * (1 - a) + .7 * a for a in (0, 1/249,
        // 124/249, 248/249, 1)])
        assert_eq!(momentum_at(&c, 0), 0.5);
        assert!((momentum_at(&c, 1) - 0.500_803_212_851_406).abs() < 1e-12);
        assert!((momentum_at(&c, 124) - 0.599_598_393_574_297).abs() < 1e-12);
        assert!((momentum_at(&c, 248) - 0.699_196_787_148_594).abs() < 1e-12);
        assert!((momentum_at(&c, 249) - 0.7).abs() < 1e-15);
        assert_eq!(momentum_at(&c, 1000), 0.7);
    }
}
