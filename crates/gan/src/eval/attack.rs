//! Adversarial examples by the fast gradient sign method (Goodfellow et al. 2015):
//! `x' = clip(x + epsilon sign(grad_x loss), 0, 1)`, against the reference classifier and
//! against a GAN's discriminator.

use burn::nn::loss::CrossEntropyLossConfig;
use burn::tensor::{Device, Int, Tensor, TensorData};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::loss::softplus;
use crate::models::MlpDiscriminator;
use crate::models::lenet::LeNet;

fn host(t: Tensor<2>) -> Result<Vec<f32>> {
    t.into_data()
        .try_into_vec::<f32>()
        .map_err(|e| Error::Invalid(format!("reading a tensor: {e:?}")))
}

/// The sign of the gradient of the summed loss with respect to the input, computed by
/// `loss_of` on an autodiff `device`.
fn gradient_sign(
    x: &[f32],
    n: usize,
    d: usize,
    device: &Device,
    loss_of: impl Fn(Tensor<2>) -> Tensor<1>,
) -> Result<Vec<f32>> {
    let xt = Tensor::<2>::from_data(TensorData::new(x.to_vec(), [n, d]), device).require_grad();
    let grads = loss_of(xt.clone()).backward();
    let g = xt
        .grad(&grads)
        .ok_or_else(|| Error::Invalid("no input gradient (is the device autodiff?)".into()))?;
    host(g.sign())
}

/// `clip(x + eps * s, 0, 1)`.
pub fn perturb(x: &[f32], sign: &[f32], eps: f32) -> Vec<f32> {
    x.iter()
        .zip(sign)
        .map(|(&v, &s)| (v + eps * s).clamp(0.0, 1.0))
        .collect()
}

/// One row of an FGSM table.
#[derive(Clone, Debug, Serialize)]
pub struct FgsmRow {
    /// The perturbation budget (L-infinity).
    pub epsilon: f32,
    /// Accuracy on the perturbed inputs.
    pub accuracy: f64,
    /// Mean L2 norm of the perturbation actually applied (after clipping to [0, 1]).
    pub mean_l2: f64,
    /// Largest L-infinity norm of the perturbation applied.
    pub max_linf: f64,
}

fn norms(x: &[f32], adv: &[f32], d: usize) -> (f64, f64) {
    let n = x.len() / d;
    let mut l2 = 0.0;
    let mut linf = 0f64;
    for (a, b) in x.chunks_exact(d).zip(adv.chunks_exact(d)) {
        let mut s = 0.0;
        for (p, q) in a.iter().zip(b) {
            let t = (q - p) as f64;
            s += t * t;
            linf = linf.max(t.abs());
        }
        l2 += s.sqrt();
    }
    (l2 / n.max(1) as f64, linf)
}

/// For each epsilon: perturb `x` along `sign`, count the rows `correct` still gets right,
/// and measure the perturbation.
fn fgsm_table(
    x: &[f32],
    sign: &[f32],
    d: usize,
    epsilons: &[f32],
    correct: impl Fn(&[f32]) -> Result<usize>,
) -> Result<Vec<FgsmRow>> {
    let n = x.len() / d;
    epsilons
        .iter()
        .map(|&eps| {
            let adv = perturb(x, sign, eps);
            let right = correct(&adv)?;
            let (mean_l2, max_linf) = norms(x, &adv, d);
            Ok(FgsmRow {
                epsilon: eps,
                accuracy: right as f64 / n.max(1) as f64,
                mean_l2,
                max_linf,
            })
        })
        .collect()
}

/// FGSM against a classifier living on an autodiff `device`: for each epsilon, the
/// accuracy on `x` (`[n, 784]`, labels `y`) perturbed to increase the cross-entropy.
/// Returns the table and the gradient signs (for pictures).
pub fn fgsm_classifier(
    model: &LeNet,
    x: &[f32],
    y: &[u8],
    epsilons: &[f32],
    device: &Device,
) -> Result<(Vec<FgsmRow>, Vec<f32>)> {
    let (n, d) = (y.len(), 784);
    if x.len() != n * d {
        return Err(Error::Invalid(format!(
            "{} pixel values for {n} labels of 784 pixels",
            x.len()
        )));
    }
    let ce = CrossEntropyLossConfig::new().init(device);
    let labels: Vec<i64> = y.iter().map(|&c| c as i64).collect();
    let yt = Tensor::<1, Int>::from_data(TensorData::new(labels, [n]), device);
    let sign = gradient_sign(x, n, d, device, |xt| {
        ce.forward(model.forward(xt), yt.clone())
    })?;
    let rows = fgsm_table(x, &sign, d, epsilons, |adv| {
        let probs = crate::classifier::probabilities(model, adv)?;
        Ok(crate::classifier::argmax_rows(&probs)
            .iter()
            .zip(y)
            .filter(|(a, b)| **a == **b as usize)
            .count())
    })?;
    Ok((rows, sign))
}

/// FGSM against a discriminator (evaluation mode, on an autodiff `device`): `real` images
/// are pushed to look fake (ascending -log D(x)), `fake` ones to look real (ascending
/// -log(1 - D(x))); "accuracy" is the fraction D still gets right (D > 1/2 on real, < 1/2 on
/// fake). Returns one table per set.
pub fn fgsm_discriminator(
    d: &MlpDiscriminator,
    real: &[f32],
    fake: &[f32],
    dim: usize,
    epsilons: &[f32],
    device: &Device,
) -> Result<(Vec<FgsmRow>, Vec<FgsmRow>)> {
    let table = |x: &[f32], is_real: bool| -> Result<Vec<FgsmRow>> {
        let n = x.len() / dim;
        let sign = gradient_sign(x, n, dim, device, |xt| {
            let l = d.forward(xt, None);
            // -log D = softplus(-l) for real images, -log(1 - D) = softplus(l) for fakes
            if is_real {
                softplus(l.neg()).sum()
            } else {
                softplus(l).sum()
            }
        })?;
        fgsm_table(x, &sign, dim, epsilons, |adv| {
            let logits = host(
                d.forward(
                    Tensor::<2>::from_data(TensorData::new(adv.to_vec(), [n, dim]), device),
                    None,
                )
                .inner(),
            )?;
            Ok(logits
                .iter()
                .filter(|&&l| if is_real { l > 0.0 } else { l < 0.0 })
                .count())
        })
    };
    Ok((table(real, true)?, table(fake, false)?))
}
