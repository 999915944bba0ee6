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
    /// Least squares (LSGAN, Mao et al. 2017, eq. 2 with a = 0, b = c = 1): D minimises
    /// (1/2) E[(D(x) - 1)^2] + (1/2) E[D(G(z))^2], G minimises (1/2) E[(D(G(z)) - 1)^2],
    /// D's raw output in place of the logit.
    Lsgan,
    /// Hinge (Lim & Ye 2017; Miyato et al. 2018): D minimises E[max(0, 1 - D(x))] +
    /// E[max(0, 1 + D(G(z)))], G minimises -E[D(G(z))].
    Hinge,
    /// Wasserstein (Arjovsky et al. 2017): the critic minimises E[D(G(z))] - E[D(x)], G
    /// minimises -E[D(G(z))]; the critic's weights are clipped (`discriminator.clip`).
    Wgan,
    /// Wasserstein with gradient penalty (WGAN-GP, Gulrajani et al. 2017, eq. 3): the WGAN
    /// objectives, the critic's loss plus [`gradient_penalty`] on random interpolates of real
    /// and fake points instead of weight clipping.
    WganGp,
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
            GanLoss::Lsgan => fake_logits
                .sub_scalar(1.0)
                .powi_scalar(2)
                .mean()
                .mul_scalar(0.5),
            GanLoss::Hinge | GanLoss::Wgan | GanLoss::WganGp => fake_logits.mean().neg(),
        }
    }

    /// [`GanLoss::generator_loss`] of one logit, in f64 (for tests and the theory module).
    pub fn generator_loss_scalar(self, fake_logit: f64) -> f64 {
        match self {
            GanLoss::Minimax => -softplus_f64(fake_logit),
            GanLoss::NonSaturating => softplus_f64(-fake_logit),
            GanLoss::Lsgan => 0.5 * (fake_logit - 1.0).powi(2),
            GanLoss::Hinge | GanLoss::Wgan | GanLoss::WganGp => -fake_logit,
        }
    }

    /// The discriminator's loss to minimise, from its outputs on a real and a fake batch:
    /// eq. (2) (negated, with the authors' factor 1/2) for the paper's two losses, the
    /// objectives named on each variant otherwise.
    ///
    /// # Shapes
    /// `real_logits`: `[m, 1]`, `fake_logits`: `[n, 1]`; result `[1]`.
    pub fn discriminator_loss(self, real_logits: Tensor<2>, fake_logits: Tensor<2>) -> Tensor<1> {
        match self {
            GanLoss::Minimax | GanLoss::NonSaturating => {
                discriminator_loss(real_logits, fake_logits)
            }
            GanLoss::Lsgan => (real_logits.sub_scalar(1.0).powi_scalar(2).mean()
                + fake_logits.powi_scalar(2).mean())
            .mul_scalar(0.5),
            GanLoss::Hinge => {
                burn::tensor::activation::relu(real_logits.neg().add_scalar(1.0)).mean()
                    + burn::tensor::activation::relu(fake_logits.add_scalar(1.0)).mean()
            }
            // the critic part of WGAN-GP; the trainer adds the penalty
            GanLoss::Wgan | GanLoss::WganGp => fake_logits.mean() - real_logits.mean(),
        }
    }

    /// [`GanLoss::discriminator_loss`] in f64 from host values (for reporting and tests).
    pub fn discriminator_loss_scalar(self, real: &[f32], fake: &[f32]) -> f64 {
        let mean = |v: &[f32], f: &dyn Fn(f64) -> f64| {
            v.iter().map(|&l| f(l as f64)).sum::<f64>() / v.len().max(1) as f64
        };
        match self {
            GanLoss::Minimax | GanLoss::NonSaturating => {
                0.5 * (mean(real, &|l| softplus_f64(-l)) + mean(fake, &softplus_f64))
            }
            GanLoss::Lsgan => 0.5 * (mean(real, &|l| (l - 1.0).powi(2)) + mean(fake, &|l| l * l)),
            GanLoss::Hinge => {
                mean(real, &|l| (1.0 - l).max(0.0)) + mean(fake, &|l| (1.0 + l).max(0.0))
            }
            GanLoss::Wgan | GanLoss::WganGp => mean(fake, &|l| l) - mean(real, &|l| l),
        }
    }

    /// True for the paper's two losses, whose D output is a logit of a probability.
    pub fn is_paper_loss(self) -> bool {
        matches!(self, GanLoss::Minimax | GanLoss::NonSaturating)
    }

    /// Config / CLI name of the loss.
    pub fn name(self) -> &'static str {
        match self {
            GanLoss::Minimax => "minimax",
            GanLoss::NonSaturating => "non-saturating",
            GanLoss::Lsgan => "lsgan",
            GanLoss::Hinge => "hinge",
            GanLoss::Wgan => "wgan",
            GanLoss::WganGp => "wgan-gp",
        }
    }

    /// Every loss, in the order the documentation lists them.
    pub const ALL: [GanLoss; 6] = [
        GanLoss::Minimax,
        GanLoss::NonSaturating,
        GanLoss::Lsgan,
        GanLoss::Hinge,
        GanLoss::Wgan,
        GanLoss::WganGp,
    ];

    /// The loss called `name` (its config / CLI name), or an error listing the names.
    pub fn from_name(name: &str) -> crate::error::Result<Self> {
        Self::ALL
            .into_iter()
            .find(|l| l.name() == name)
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|l| l.name()).collect();
                crate::error::Error::Invalid(format!(
                    "unknown loss {name:?}; available: {}",
                    names.join(", ")
                ))
            })
    }
}

/// WGAN-GP's penalty (Gulrajani et al. 2017, eq. 3): `lambda * E[(|grad_x D(x_hat)|_2 - 1)^2]`,
/// from the critic's input gradients at the interpolates `x_hat = e x + (1 - e) G(z)`,
/// `e ~ U[0, 1]`. `input_grad` must be a differentiable function of D's parameters (see
/// [`crate::models::Discriminator::input_gradient`]); a tiny constant inside the square root
/// keeps its gradient finite at zero.
///
/// # Shapes
/// `input_grad`: `[m, d]`; result `[1]`.
pub fn gradient_penalty(input_grad: Tensor<2>, lambda: f32) -> Tensor<1> {
    let norm = input_grad
        .powi_scalar(2)
        .sum_dim(1)
        .add_scalar(1e-12)
        .sqrt();
    norm.sub_scalar(1.0)
        .powi_scalar(2)
        .mean()
        .mul_scalar(lambda)
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
