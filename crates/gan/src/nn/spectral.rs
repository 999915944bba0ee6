//! Spectral normalisation (Miyato et al. 2018, "Spectral Normalization for Generative
//! Adversarial Networks", Algorithm 1): a layer's weight divided by its largest singular
//! value, `W_SN = W / sigma(W)`, sigma estimated by power iteration with a persistent
//! vector `u`.
//!
//! The weight is read as the matrix `[rows, cols]` of PyTorch's `spectral_norm` (`dim = 0`):
//! a convolution's `[c_out, c_in, kh, kw]` as `[c_out, c_in kh kw]`, a linear layer's
//! `[out, in]` (burn stores `[in, out]`: its transpose). One iteration
//! `v <- W^T u / |W^T u|`, `u <- W v / |W v|` runs, without gradients, before each update
//! of the discriminator ([`SpectralNorm::power_iteration`]); every forward pass uses
//! `sigma = u^T W v` with `u`, `v` held fixed, so the gradient reaches `W` through sigma as
//! in the paper (eq. 12) and in PyTorch. At construction 15 iterations run, as PyTorch's
//! `parametrizations.spectral_norm` does, so the first steps already see a good estimate.

use burn::module::{Module, Param};
use burn::nn::conv::Conv2d;
use burn::nn::{Linear, PaddingConfig2d};
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Device, Tensor, TensorData};

use crate::rng::Rng;

/// PyTorch's `eps` of the normalisation `x / max(|x|, eps)`.
const EPS: f32 = 1e-12;

/// Power iterations at construction (PyTorch's `parametrizations.spectral_norm`).
const INIT_ITERATIONS: usize = 15;

/// The persistent vectors of one spectrally normalised weight (buffers: never trained, kept
/// in checkpoints).
#[derive(Module, Debug)]
pub struct SpectralNorm {
    /// The left singular vector estimate, `rows` values.
    pub u: Param<Tensor<1>>,
    /// The right singular vector estimate, `cols` values.
    pub v: Param<Tensor<1>>,
}

fn buffer(values: Vec<f32>, device: &Device) -> Param<Tensor<1>> {
    let n = values.len();
    Param::from_tensor(Tensor::from_data(TensorData::new(values, [n]), device))
        .set_require_grad(false)
}

/// `x / max(|x|, eps)`.
fn normalize(x: Tensor<1>) -> Tensor<1> {
    let norm = x.clone().powi_scalar(2).sum().sqrt().clamp_min(EPS);
    x / norm
}

impl SpectralNorm {
    /// Random unit `u`, `v` (N(0, 1) draws from `rng`, normalised), then 15 power
    /// iterations on `weight` (`[rows, cols]`).
    pub fn new(weight: Tensor<2>, rng: &mut Rng, device: &Device) -> Self {
        let [rows, cols] = weight.dims();
        let mut draw = |n: usize| {
            let v: Vec<f32> = (0..n).map(|_| rng.normal()).collect();
            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(EPS);
            v.into_iter().map(|x| x / norm).collect::<Vec<f32>>()
        };
        let (u, v) = (draw(rows), draw(cols));
        let mut sn = Self {
            u: buffer(u, device),
            v: buffer(v, device),
        };
        for _ in 0..INIT_ITERATIONS {
            sn.power_iteration(weight.clone());
        }
        sn
    }

    /// One power iteration on `weight` (`[rows, cols]`), without gradients.
    pub fn power_iteration(&mut self, weight: Tensor<2>) {
        let w = weight.detach();
        let [rows, cols] = w.dims();
        let u = self.u.val().detach().reshape([rows, 1]);
        let v = normalize(w.clone().transpose().matmul(u).reshape([cols]));
        let u = normalize(w.matmul(v.clone().reshape([cols, 1])).reshape([rows]));
        self.u = self.u.clone().map(|_| u.detach());
        self.v = self.v.clone().map(|_| v.detach());
    }

    /// `sigma = u^T W v` (`[1]`), differentiable in `weight`.
    pub fn sigma(&self, weight: Tensor<2>) -> Tensor<1> {
        let [rows, cols] = weight.dims();
        let u = self.u.val().detach().reshape([1, rows]);
        let v = self.v.val().detach().reshape([cols, 1]);
        u.matmul(weight).matmul(v).reshape([1])
    }

    /// `weight / sigma`, for a weight of any rank whose matrix is `matrix`.
    pub fn normalized<const D: usize>(&self, weight: Tensor<D>, matrix: Tensor<2>) -> Tensor<D> {
        let sigma = self.sigma(matrix);
        let shape = [1; D];
        weight / sigma.reshape(shape)
    }
}

/// The vectors of a discriminator's normalised layers, one per weight matrix of `matrices`
/// (in its order), drawn from `rng` after every weight so the weights stay those of the
/// same seed without normalisation; none when `on` is false.
pub fn layers(
    on: bool,
    matrices: Vec<Tensor<2>>,
    rng: &mut Rng,
    device: &Device,
) -> Vec<SpectralNorm> {
    match on {
        true => matrices
            .into_iter()
            .map(|w| SpectralNorm::new(w, rng, device))
            .collect(),
        false => Vec::new(),
    }
}

/// One power iteration of each layer's vectors on its weight matrix (`matrices` is only
/// called when there are vectors, so a discriminator without normalisation does no work).
pub fn iterate(sn: &mut [SpectralNorm], matrices: impl FnOnce() -> Vec<Tensor<2>>) {
    if sn.is_empty() {
        return;
    }
    for (v, w) in sn.iter_mut().zip(matrices()) {
        v.power_iteration(w);
    }
}

/// A convolution's weight `[c_out, c_in, kh, kw]` as the matrix `[c_out, c_in kh kw]`.
pub fn conv_matrix(weight: Tensor<4>) -> Tensor<2> {
    let [o, i, kh, kw] = weight.dims();
    weight.reshape([o, i * kh * kw])
}

/// A burn linear weight `[in, out]` as the matrix `[out, in]` (PyTorch's layout).
pub fn linear_matrix(weight: Tensor<2>) -> Tensor<2> {
    weight.transpose()
}

/// A linear layer's output, its weight spectrally normalised when `sn` is given.
///
/// # Shapes
/// `x`: `[m, in]` -> `[m, out]`.
pub fn linear(l: &Linear, sn: Option<&SpectralNorm>, x: Tensor<2>) -> Tensor<2> {
    let Some(sn) = sn else {
        return l.forward(x);
    };
    let w = l.weight.val();
    let y = x.matmul(sn.normalized(w.clone(), linear_matrix(w)));
    match &l.bias {
        Some(b) => y + b.val().unsqueeze_dim(0),
        None => y,
    }
}

/// A convolution's output, its weight spectrally normalised when `sn` is given (explicit
/// padding, as every convolution of the DCGAN models has).
///
/// # Shapes
/// `x`: `[n, c_in, h, w]` -> `[n, c_out, h', w']`.
pub fn conv(c: &Conv2d, sn: Option<&SpectralNorm>, x: Tensor<4>) -> Tensor<4> {
    let Some(sn) = sn else {
        return c.forward(x);
    };
    let w = c.weight.val();
    let w = sn.normalized(w.clone(), conv_matrix(w));
    let pad = match &c.padding {
        PaddingConfig2d::Explicit(top, left, ..) => [*top, *left],
        _ => [0, 0],
    };
    conv2d(
        x,
        w,
        c.bias.as_ref().map(|b| b.val()),
        ConvOptions::new(c.stride, pad, c.dilation, c.groups),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The largest singular value of a small matrix by Jacobi eigenvalues of W^T W in f64
    /// (an independent computation: no power iteration).
    fn top_singular_value(w: &[f64], rows: usize, cols: usize) -> f64 {
        // A = W^T W, symmetric cols x cols
        let mut a = vec![0.0; cols * cols];
        for i in 0..cols {
            for j in 0..cols {
                a[i * cols + j] = (0..rows).map(|r| w[r * cols + i] * w[r * cols + j]).sum();
            }
        }
        // cyclic Jacobi rotations until the off-diagonal vanishes
        for _ in 0..100 {
            let off: f64 = (0..cols)
                .flat_map(|i| (0..cols).filter(move |&j| j != i).map(move |j| (i, j)))
                .map(|(i, j)| a[i * cols + j].powi(2))
                .sum();
            if off < 1e-24 {
                break;
            }
            for p in 0..cols {
                for q in p + 1..cols {
                    let apq = a[p * cols + q];
                    if apq.abs() < 1e-300 {
                        continue;
                    }
                    let theta = (a[q * cols + q] - a[p * cols + p]) / (2.0 * apq);
                    let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                    let t = if theta == 0.0 { 1.0 } else { t };
                    let c = 1.0 / (t * t + 1.0).sqrt();
                    let s = t * c;
                    for k in 0..cols {
                        let (akp, akq) = (a[k * cols + p], a[k * cols + q]);
                        a[k * cols + p] = c * akp - s * akq;
                        a[k * cols + q] = s * akp + c * akq;
                    }
                    for k in 0..cols {
                        let (apk, aqk) = (a[p * cols + k], a[q * cols + k]);
                        a[p * cols + k] = c * apk - s * aqk;
                        a[q * cols + k] = s * apk + c * aqk;
                    }
                }
            }
        }
        (0..cols)
            .map(|i| a[i * cols + i])
            .fold(0.0, f64::max)
            .sqrt()
    }

    fn matrix(rows: usize, cols: usize, seed: u64, dev: &Device) -> (Vec<f64>, Tensor<2>) {
        let mut rng = Rng::new(seed);
        let v: Vec<f32> = (0..rows * cols).map(|_| rng.normal()).collect();
        let t = Tensor::from_data(TensorData::new(v.clone(), [rows, cols]), dev);
        (v.into_iter().map(f64::from).collect(), t)
    }

    #[test]
    fn sigma_converges_to_the_largest_singular_value() {
        let dev = Device::flex();
        for (rows, cols, seed) in [(8, 5, 1), (3, 12, 2), (16, 16, 3)] {
            let (w64, w) = matrix(rows, cols, seed, &dev);
            let want = top_singular_value(&w64, rows, cols);
            let mut sn = SpectralNorm::new(w.clone(), &mut Rng::new(9), &dev);
            for _ in 0..200 {
                sn.power_iteration(w.clone());
            }
            let got = sn.sigma(w.clone()).into_scalar::<f32>() as f64;
            assert!(
                (got - want).abs() < 1e-3 * want,
                "[{rows}, {cols}]: sigma {got} vs the top singular value {want}"
            );
            // the normalised weight has spectral norm 1
            let normed: Vec<f64> = sn
                .normalized(w.clone(), w)
                .into_data()
                .try_into_vec::<f32>()
                .expect("f32")
                .into_iter()
                .map(f64::from)
                .collect();
            let s = top_singular_value(&normed, rows, cols);
            assert!((s - 1.0).abs() < 1e-3, "[{rows}, {cols}]: {s}");
        }
    }

    #[test]
    fn one_iteration_per_step_tracks_a_slowly_changing_weight() {
        // as in training: the weight drifts a little between updates, one iteration each
        let dev = Device::flex();
        let (_, mut w) = matrix(10, 6, 4, &dev);
        let mut sn = SpectralNorm::new(w.clone(), &mut Rng::new(1), &dev);
        let (_, drift) = matrix(10, 6, 5, &dev);
        for _ in 0..50 {
            w = w + drift.clone().mul_scalar(0.002);
            sn.power_iteration(w.clone());
        }
        let w64: Vec<f64> = w
            .clone()
            .into_data()
            .try_into_vec::<f32>()
            .expect("f32")
            .into_iter()
            .map(f64::from)
            .collect();
        let want = top_singular_value(&w64, 10, 6);
        let got = sn.sigma(w).into_scalar::<f32>() as f64;
        assert!((got - want).abs() < 1e-2 * want, "{got} vs {want}");
    }

    #[test]
    fn the_gradient_reaches_the_weight_through_sigma() {
        // d sigma / d W = u v^T (Miyato et al. eq. 12 with u, v fixed): check against a
        // central finite difference of u^T W v
        let dev = Device::flex().autodiff();
        let (_, w) = matrix(4, 3, 6, &dev);
        let sn = SpectralNorm::new(w.clone(), &mut Rng::new(2), &dev);
        let w = w.require_grad();
        let grads = sn.sigma(w.clone()).sum().backward();
        let g = w
            .grad(&grads)
            .expect("a gradient")
            .into_data()
            .try_into_vec::<f32>()
            .expect("f32");
        let host = |t: Tensor<1>| t.into_data().try_into_vec::<f32>().expect("f32");
        let (u, v) = (host(sn.u.val().inner()), host(sn.v.val().inner()));
        let wv = w
            .clone()
            .inner()
            .into_data()
            .try_into_vec::<f32>()
            .expect("f32");
        let f = |wm: &[f32]| -> f64 {
            (0..4)
                .map(|r| {
                    (0..3)
                        .map(|c| u[r] as f64 * wm[r * 3 + c] as f64 * v[c] as f64)
                        .sum::<f64>()
                })
                .sum()
        };
        for i in 0..12 {
            let (mut a, mut b) = (wv.clone(), wv.clone());
            a[i] += 1e-3;
            b[i] -= 1e-3;
            let fd = (f(&a) - f(&b)) / 2e-3;
            assert!((fd - g[i] as f64).abs() < 1e-4, "{i}: {fd} vs {}", g[i]);
        }
    }
}
