//! Every objective of the paper, written once, from logits, in the numerically stable
//! softplus form (log D = -softplus(-l), log(1 - D) = -softplus(l); never log(sigmoid(l))).

use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

/// The generator's objective.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GanLoss {
    /// Eq. (3)/(4): G minimises E_z[log(1 - D(G(z)))], the saturating objective of the
    /// minimax game.
    Minimax,
    /// Eq. (5): G minimises -E_z[log D(G(z))], the non-saturating objective: same fixed
    /// point, strong gradients when D rejects G's samples.
    NonSaturating,
}

impl GanLoss {
    /// The generator loss to minimise, from D's logits on a fake batch.
    ///
    /// # Shapes
    /// `fake_logits`: `[m, 1]`; result `[1]`.
    pub fn generator_loss(self, fake_logits: Tensor<2>) -> Tensor<1> {
        match self {
            // eq. (3): log(1 - D) = -softplus(l)
            GanLoss::Minimax => softplus(fake_logits).mean().neg(),
            // eq. (5): -log D = softplus(-l)
            GanLoss::NonSaturating => softplus(fake_logits.neg()).mean(),
        }
    }

    /// [`GanLoss::generator_loss`] of one logit, in f64 (for tests and the theory module).
    pub fn generator_loss_scalar(self, fake_logit: f64) -> f64 {
        match self {
            GanLoss::Minimax => -softplus_f64(fake_logit),
            GanLoss::NonSaturating => softplus_f64(-fake_logit),
        }
    }

    /// Config / CLI name of the loss.
    pub fn name(self) -> &'static str {
        match self {
            GanLoss::Minimax => "minimax",
            GanLoss::NonSaturating => "non-saturating",
        }
    }
}

/// The discriminator loss: minus one half of eq. (2),
/// `-(1/2) (E_x[log D(x)] + E_z[log(1 - D(G(z)))])
///   = (1/2) (E softplus(-l_real) + E softplus(l_fake))`.
/// The factor 1/2 is the authors' (`d_obj = 0.5 * (cost(real, 1) + cost(fake, 0))`) and sets
/// D's effective learning rate.
///
/// # Shapes
/// `real_logits`: `[m, 1]`, `fake_logits`: `[n, 1]`; result `[1]`.
pub fn discriminator_loss(real_logits: Tensor<2>, fake_logits: Tensor<2>) -> Tensor<1> {
    (softplus(real_logits.neg()).mean() + softplus(fake_logits).mean()).mul_scalar(0.5)
}

/// Eq. (4), the value function V(D, G) = E_x[log D(x)] + E_z[log(1 - D(G(z)))], estimated
/// from logits on a real and a fake batch (f64, for reporting and the theory checks).
pub fn value_function(real_logits: &[f32], fake_logits: &[f32]) -> f64 {
    let mean = |v: &[f32], f: &dyn Fn(f64) -> f64| {
        v.iter().map(|&l| f(l as f64)).sum::<f64>() / v.len().max(1) as f64
    };
    mean(real_logits, &|l| -softplus_f64(-l)) + mean(fake_logits, &|l| -softplus_f64(l))
}

/// softplus(x) = log(1 + e^x), computed as max(x, 0) + log1p(e^{-|x|}) so it never overflows
/// and keeps full precision for large |x|.
pub fn softplus<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    burn::tensor::activation::relu(x.clone()) + x.abs().neg().exp().log1p()
}

/// softplus in f64, same stable form.
pub fn softplus_f64(x: f64) -> f64 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

/// The logistic sigmoid in f64, stable for large |x|.
pub fn sigmoid_f64(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}
