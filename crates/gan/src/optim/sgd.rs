//! Momentum SGD exactly as the authors' pylearn2 ran it: the `Momentum` learning rule,
//! `ExponentialDecay` of the learning rate per update and `MomentumAdjustor` per epoch.

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::optim::GradientsParams;
use burn::tensor::Tensor;

use crate::config::OptimConfig;

/// Learning rate of update number `step` (0-based): `max(min_lr, lr / lr_decay^step)`
/// (pylearn2 `ExponentialDecay`: the first update uses the base rate).
pub fn learning_rate_at(cfg: &OptimConfig, step: u64) -> f64 {
    (cfg.lr / cfg.lr_decay.powf(step as f64)).max(cfg.min_lr)
}

/// Momentum during epoch `epoch` (0-based = epochs seen before it): `momentum` until
/// `momentum_start`, then linear to `final_momentum` at `momentum_saturate`
/// (pylearn2 `MomentumAdjustor`).
pub fn momentum_at(cfg: &OptimConfig, epoch: u64) -> f64 {
    let w = cfg.momentum_saturate.saturating_sub(cfg.momentum_start);
    if w == 0 {
        return if epoch >= cfg.momentum_start {
            cfg.final_momentum
        } else {
            cfg.momentum
        };
    }
    let alpha = ((epoch as f64 - cfg.momentum_start as f64) / w as f64).clamp(0.0, 1.0);
    cfg.momentum * (1.0 - alpha) + alpha * cfg.final_momentum
}

/// Momentum SGD state for one network: the velocity of each parameter.
///
/// Update (pylearn2 `Momentum`): `v <- mu v - lr g`, `theta <- theta + v`. With a constant
/// learning rate this is PyTorch's SGD with momentum (dampening 0) up to the scale of v.
#[derive(Default)]
pub struct MomentumSgd {
    velocity: GradientsParams,
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
        let mut mapper = SgdMapper {
            grads: &mut grads,
            velocity: &mut self.velocity,
            lr,
            momentum,
        };
        module.map(&mut mapper)
    }

    /// The velocity of each parameter, by parameter id.
    pub fn velocity(&self) -> &GradientsParams {
        &self.velocity
    }

    /// Mutable access to the velocities (the fast engine writes its state back here).
    pub fn velocity_mut(&mut self) -> &mut GradientsParams {
        &mut self.velocity
    }

    /// The velocity laid out as a copy of `module` (zeros where none yet), for saving.
    pub fn velocity_module<M: Module>(&self, module: &M) -> M {
        module.clone().map(&mut VelocityAsParams {
            velocity: &self.velocity,
        })
    }

    /// Restores the velocity from a module laid out like the trained one (same parameter ids,
    /// e.g. a clone of it with the saved velocity loaded).
    pub fn load_velocity_module<M: Module>(&mut self, velocity: &M) {
        let mut v = CollectParams {
            out: GradientsParams::new(),
        };
        velocity.visit(&mut v);
        self.velocity = v.out;
    }
}

struct SgdMapper<'a> {
    grads: &'a mut GradientsParams,
    velocity: &'a mut GradientsParams,
    lr: f64,
    momentum: f64,
}

impl ModuleMapper for SgdMapper<'_> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let (id, tensor, mapper) = param.consume();
        let Some(grad) = self.grads.remove::<D>(id) else {
            return Param::from_mapped_value(id, tensor, mapper);
        };
        let require_grad = tensor.is_require_grad();
        let inner = tensor.inner();
        let step = grad.mul_scalar(-self.lr);
        let v = match self.velocity.remove::<D>(id) {
            Some(v) if self.momentum != 0.0 => v.mul_scalar(self.momentum) + step,
            _ => step,
        };
        let updated = inner + v.clone();
        self.velocity.register(id, v);
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
        let id: ParamId = param.id;
        self.out.register(id, param.val().inner());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paper() -> OptimConfig {
        OptimConfig {
            lr: 0.1,
            lr_decay: 1.000004,
            min_lr: 1e-6,
            momentum: 0.5,
            final_momentum: 0.7,
            momentum_start: 1,
            momentum_saturate: 250,
        }
    }

    #[test]
    fn schedules_follow_pylearn2() {
        let c = paper();
        assert_eq!(learning_rate_at(&c, 0), 0.1);
        // 0.1 / 1.000004^500000 = 0.1 * e^(-1.9999960...) (python: 0.1 / 1.000004**500000)
        assert!((learning_rate_at(&c, 500_000) - 0.013_533_582).abs() < 1e-8);
        assert_eq!(learning_rate_at(&c, u64::MAX / 2), 1e-6);
        assert_eq!(momentum_at(&c, 0), 0.5);
        assert_eq!(momentum_at(&c, 1), 0.5);
        assert!((momentum_at(&c, 125) - (0.5 + 0.2 * 124.0 / 249.0)).abs() < 1e-12);
        assert_eq!(momentum_at(&c, 250), 0.7);
        assert_eq!(momentum_at(&c, 1000), 0.7);
    }
}
