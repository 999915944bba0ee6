//! An exponential moving average of the generator's weights: the shadow copy that
//! Karras et al. (2018, "Progressive Growing of GANs", sec. 3 and appendix A.1) sample from,
//! analysed by Yazıcı et al. (2019, "The Unusual Effectiveness of Averaging in GAN
//! Training"), and kept by StyleGAN2-ADA, BigGAN and StudioGAN.
//!
//! After every generator update, each trainable parameter's shadow `s` moves towards the
//! weight `w`: `s <- w + beta (s - w)` (StyleGAN2-ADA's `p_ema.copy_(p.lerp(p_ema, beta))`).
//! The shadow is keyed by parameter id, like the optimizers' states, so it serves any
//! generator, trained by burn's autodiff or by a fused engine. Buffers that are not trained
//! by gradients (batch-norm running statistics) have no shadow: a module built from the
//! shadow ([`Ema::apply`]) keeps the live generator's buffers, as StyleGAN2-ADA's training
//! loop copies `G.buffers()` into `G_ema` after every update.

use std::collections::HashMap;

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::tensor::{Tensor, TensorData};

use crate::error::{Error, Result};

/// When and how fast the shadow follows the weights.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EmaSchedule {
    /// The decay beta (0.999 in Karras et al.; StyleGAN2-ADA's half-life of 10k images at
    /// batch 64 is beta = 0.9956).
    pub decay: f64,
    /// Generator updates before the average starts; until then the shadow is a copy of the
    /// weights (BigGAN's `ema_start`).
    pub start: u64,
    /// TensorFlow's `ExponentialMovingAverage(num_updates=t)` warm-up: the decay of the
    /// `t`-th update after the start is `min(decay, (1 + t) / (10 + t))`, so the shadow
    /// forgets the untrained initial weights within the first few hundred updates.
    pub warmup: bool,
}

impl EmaSchedule {
    /// The decay applied after generator update number `g_updates` (1-based: the count of
    /// updates done, this one included).
    pub fn beta(&self, g_updates: u64) -> f32 {
        if g_updates <= self.start {
            return 0.0;
        }
        let t = (g_updates - self.start) as f64;
        let beta = if self.warmup {
            self.decay.min((1.0 + t) / (10.0 + t))
        } else {
            self.decay
        };
        beta as f32
    }
}

/// One parameter's shadow.
#[derive(Clone, Debug)]
struct Shadow {
    dims: Vec<usize>,
    values: Vec<f32>,
}

/// The shadow weights of a module's trainable parameters, by parameter id.
#[derive(Clone, Debug, Default)]
pub struct Ema {
    shadow: HashMap<ParamId, Shadow>,
}

/// `s <- w + beta (s - w)` for every element: one update of the average.
pub fn lerp_towards(shadow: &mut [f32], weight: &[f32], beta: f32) {
    for (s, &w) in shadow.iter_mut().zip(weight) {
        *s = w + beta * (*s - w);
    }
}

impl Ema {
    /// A shadow equal to `module`'s trainable parameters (the start of the average, or a
    /// shadow read back from a checkpoint file laid out like the generator).
    pub fn from_module<M: Module>(module: &M) -> Self {
        let mut v = Collect {
            out: HashMap::new(),
        };
        module.visit(&mut v);
        Self {
            shadow: v
                .out
                .into_iter()
                .map(|(id, (dims, values))| (id, Shadow { dims, values }))
                .collect(),
        }
    }

    /// Parameters in the shadow.
    pub fn len(&self) -> usize {
        self.shadow.len()
    }

    /// Whether the shadow holds no parameter.
    pub fn is_empty(&self) -> bool {
        self.shadow.is_empty()
    }

    /// One update from the current weights (each trainable parameter's values in burn's
    /// layout, by id); every parameter of the shadow must be given, with its size.
    pub fn update<'a>(
        &mut self,
        weights: impl IntoIterator<Item = (ParamId, &'a [f32])>,
        beta: f32,
    ) -> Result<()> {
        let mut seen = 0;
        for (id, w) in weights {
            let s = self.shadow.get_mut(&id).ok_or_else(|| {
                Error::Invalid(format!("G's EMA has no shadow of parameter {id}"))
            })?;
            if s.values.len() != w.len() {
                return Err(Error::Invalid(format!(
                    "G's EMA: parameter {id} has {} values, its shadow {}",
                    w.len(),
                    s.values.len()
                )));
            }
            lerp_towards(&mut s.values, w, beta);
            seen += 1;
        }
        if seen != self.shadow.len() {
            return Err(Error::Invalid(format!(
                "G's EMA was given {seen} of its {} parameters",
                self.shadow.len()
            )));
        }
        Ok(())
    }

    /// [`Ema::update`] from the parameters of a module (the burn engine's generator).
    pub fn update_from_module<M: Module>(&mut self, module: &M, beta: f32) -> Result<()> {
        let current = Ema::from_module(module);
        self.update(
            current
                .shadow
                .iter()
                .map(|(id, s)| (*id, s.values.as_slice())),
            beta,
        )
    }

    /// `module` with its trainable parameters replaced by the shadow (same ids; buffers
    /// such as batch-norm running statistics are the module's own).
    pub fn apply<M: Module>(&self, module: M) -> M {
        module.map(&mut Apply { ema: self })
    }
}

struct Collect {
    out: HashMap<ParamId, (Vec<usize>, Vec<f32>)>,
}

impl ModuleVisitor for Collect {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let value = param.val();
        // trainable parameters only: buffers (batch-norm running statistics) are the live
        // generator's
        if !value.is_require_grad() {
            return;
        }
        let dims = value.dims().to_vec();
        let values = value
            .inner()
            .into_data()
            .try_into_vec::<f32>()
            .unwrap_or_default();
        self.out.insert(param.id, (dims, values));
    }
}

struct Apply<'a> {
    ema: &'a Ema,
}

impl ModuleMapper for Apply<'_> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let (id, tensor, mapper) = param.consume();
        let Some(s) = self.ema.shadow.get(&id).filter(|s| s.dims.len() == D) else {
            return Param::from_mapped_value(id, tensor, mapper);
        };
        let require_grad = tensor.is_require_grad();
        let mut t = Tensor::<D>::from_data(
            TensorData::new(s.values.clone(), s.dims.clone()),
            &tensor.device(),
        );
        if require_grad {
            t = t.require_grad();
        }
        Param::from_mapped_value(id, t, mapper)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    /// The recursion against its closed form: after updates with weights w_1..w_n from a
    /// shadow s_0, s_n = beta^n s_0 + (1 - beta) sum_i beta^(n-i) w_i (constant beta).
    #[test]
    fn the_average_matches_its_closed_form() {
        let beta = 0.9f64;
        let ws: Vec<f64> = (1..=30).map(|i| (i as f64 * 0.37).sin()).collect();
        let s0 = 2.0f64;
        let mut s = [s0 as f32];
        for &w in &ws {
            lerp_towards(&mut s, &[w as f32], beta as f32);
        }
        let n = ws.len() as i32;
        let closed = beta.powi(n) * s0
            + (1.0 - beta)
                * ws.iter()
                    .enumerate()
                    .map(|(i, w)| beta.powi(n - 1 - i as i32) * w)
                    .sum::<f64>();
        assert!((s[0] as f64 - closed).abs() < 1e-5, "{} vs {closed}", s[0]);
    }

    #[test]
    fn the_schedule_copies_before_the_start_and_warms_up() {
        let s = EmaSchedule {
            decay: 0.999,
            start: 100,
            warmup: true,
        };
        assert_eq!(s.beta(1), 0.0);
        assert_eq!(s.beta(100), 0.0);
        // the first update after the start: (1 + 1) / (10 + 1)
        assert!((s.beta(101) - 2.0 / 11.0).abs() < 1e-7);
        // (1 + t) / (10 + t) passes 0.999 at t = 8991
        assert!((s.beta(100 + 9000) - 0.999).abs() < 1e-7);
        let plain = EmaSchedule { warmup: false, ..s };
        assert!((plain.beta(101) - 0.999).abs() < 1e-7);
    }

    #[test]
    fn a_module_round_trips_and_updates_by_parameter_id() {
        let dev = burn::tensor::Device::flex().autodiff();
        let mut rng = Rng::new(3);
        let a: burn::nn::Linear = crate::nn::uniform_linear(3, 2, 0.5, None, &mut rng, &dev);
        let b: burn::nn::Linear = crate::nn::uniform_linear(3, 2, 0.5, None, &mut rng, &dev);
        let mut ema = Ema::from_module(&a);
        assert_eq!(ema.len(), 2);
        // b's values under a's ids: the shadow moves half way to them
        let wb = Ema::from_module(&b);
        let host = |l: &burn::nn::Linear| {
            l.weight
                .val()
                .inner()
                .into_data()
                .try_into_vec::<f32>()
                .expect("test value")
        };
        let (va, vb) = (host(&a), host(&b));
        let bias_b = b
            .bias
            .as_ref()
            .expect("test value")
            .val()
            .inner()
            .into_data()
            .try_into_vec::<f32>()
            .expect("test value");
        ema.update(
            [
                (a.weight.id, vb.as_slice()),
                (a.bias.as_ref().expect("test value").id, bias_b.as_slice()),
            ],
            0.5,
        )
        .expect("test value");
        let moved = ema.apply(a.clone());
        for ((m, x), y) in host(&moved).iter().zip(&va).zip(&vb) {
            assert!((m - 0.5 * (x + y)).abs() < 1e-7);
        }
        assert!(moved.weight.val().is_require_grad());
        // an unknown id, or a missing parameter, is an error
        assert!(ema.update([(b.weight.id, vb.as_slice())], 0.5).is_err());
        assert!(ema.update([(a.weight.id, vb.as_slice())], 0.5).is_err());
        assert_eq!(wb.len(), 2);
    }
}
