//! The fused CPU engine of the DCGAN pairs ([`crate::models::dcgan`]): every convolution an
//! im2col (or col2im) and one GEMM ([`super::gemm`]), batch normalisation fused with its
//! activation in one pass per channel, Adam or momentum SGD on flat buffers reused from
//! step to step. burn's autodiff on the same modules is the reference it is tested against
//! (`tests/conv_engine.rs`).
//!
//! Activations are stored channel-major with the images innermost, `[c, h, w, n]`
//! ("CHWN"): a convolution's output is then one `[c_out, h * w * n]` product, each
//! channel's batch statistics are one contiguous row, every copy of im2col / col2im moves
//! a pixel's `n` values at once, and `dcgan-28`'s projection `[c0 * 7 * 7, n]` is already
//! its first activation.
//!
//! What it trains is exactly Algorithm 1 as the burn engine runs it for these models: the
//! D step draws z, runs G in training mode (its batch statistics, and its running
//! statistics move), and D on the real and the fake batch in separate passes; the G step
//! draws z and runs G and D in training mode, D's weights fixed.

use burn::module::{Param, ParamId};
use burn::nn::BatchNorm;
use burn::nn::conv::{Conv2d, ConvTranspose2d};
use burn::optim::GradientsParams;
use burn::tensor::{Tensor, TensorData};
use rayon::prelude::*;

use super::gemm::{Trans, matmul, matmul_nt_accumulate};
use super::{d_logit_grad, g_logit_grad, host, resize};
use crate::config::NoiseConfig;
use crate::loss::GanLoss;
use crate::models::dcgan::{DcganDiscriminator, DcganGenerator};
use crate::models::noise_values;
use crate::rng::Rng;

/// Kernel side of every DCGAN convolution.
const K: usize = 4;
/// Kernel positions.
const KK: usize = K * K;
/// Images per pass of [`ConvEngine::generate`] (bounds the column buffers).
pub const SAMPLE_CHUNK: usize = 256;
/// LeakyReLU's slope in D (Radford et al. 2016).
const LEAK: f32 = 0.2;

/// A `4 x 4` convolution's geometry: input `c x h x w`, stride, padding, output `ho x wo`.
/// A transposed convolution is the adjoint of the convolution of its output geometry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geom {
    /// Input channels (of the convolution; a transposed convolution's output channels).
    pub c: usize,
    /// Input height.
    pub h: usize,
    /// Input width.
    pub w: usize,
    /// Stride.
    pub stride: usize,
    /// Zero padding on every side.
    pub pad: usize,
    /// Output height.
    pub ho: usize,
    /// Output width.
    pub wo: usize,
}

impl Geom {
    /// The geometry of a `4 x 4` convolution over `c x h x w` (None when the kernel does
    /// not fit).
    pub fn new(c: usize, h: usize, w: usize, stride: usize, pad: usize) -> Option<Self> {
        let (hp, wp) = (h + 2 * pad, w + 2 * pad);
        if hp < K || wp < K || stride == 0 {
            return None;
        }
        Some(Self {
            c,
            h,
            w,
            stride,
            pad,
            ho: (hp - K) / stride + 1,
            wo: (wp - K) / stride + 1,
        })
    }

    fn rows(&self) -> usize {
        self.c * KK
    }

    /// The outputs `lo..hi` (of `out`) whose input under kernel tap `k` lies inside an axis
    /// of `size` values (input `o * stride + k - pad`).
    fn span(&self, k: usize, size: usize, out: usize) -> (usize, usize) {
        let s = self.stride;
        let lo = if k >= self.pad {
            0
        } else {
            (self.pad - k).div_ceil(s)
        };
        let hi = match (size + self.pad).checked_sub(k + 1) {
            Some(last) => (last / s + 1).min(out),
            None => 0,
        };
        (lo.min(hi), hi)
    }
}

/// The columns of a convolution: `x` is `[c, h, w, n]` (CHWN), `col` becomes
/// `[c * 16, ho * wo * n]` with row `(ci, ki, kj)` holding, for every output position
/// `(oy, ox)` and image, the input under that tap (zero in the padding). With the images
/// innermost every copy moves a whole pixel's `n` values (a stride-1 row: a run of pixels).
pub fn im2col(x: &[f32], n: usize, g: Geom, col: &mut Vec<f32>) {
    let (orow, irow) = (g.wo * n, g.w * n);
    let cols = g.ho * orow;
    resize(col, g.rows() * cols);
    let (s, p) = (g.stride, g.pad);
    let plane = g.h * irow;
    col.par_chunks_mut(cols).enumerate().for_each(|(r, row)| {
        let (c, ki, kj) = (r / KK, (r / K) % K, r % K);
        let (ylo, yhi) = g.span(ki, g.h, g.ho);
        let (xlo, xhi) = g.span(kj, g.w, g.wo);
        let xc = &x[c * plane..(c + 1) * plane];
        row[..ylo * orow].fill(0.0);
        row[yhi * orow..].fill(0.0);
        for oy in ylo..yhi {
            let o = &mut row[oy * orow..(oy + 1) * orow];
            let iy = oy * s + ki - p;
            let src = &xc[iy * irow..(iy + 1) * irow];
            o[..xlo * n].fill(0.0);
            o[xhi * n..].fill(0.0);
            if s == 1 {
                let ix = xlo + kj - p;
                o[xlo * n..xhi * n].copy_from_slice(&src[ix * n..(ix + xhi - xlo) * n]);
            } else {
                for ox in xlo..xhi {
                    let ix = ox * s + kj - p;
                    o[ox * n..(ox + 1) * n].copy_from_slice(&src[ix * n..(ix + 1) * n]);
                }
            }
        }
    });
}

/// `dst += src`, elementwise.
fn add_into(dst: &mut [f32], src: &[f32]) {
    for (d, &v) in dst.iter_mut().zip(src) {
        *d += v;
    }
}

/// The adjoint of [`im2col`]: sums the columns `col` (`[c * 16, ho * wo * n]`) back into
/// `x` (`[c, h, w, n]`, overwritten). One task per input row `(ci, iy)` gathers the taps
/// that land on it, so every output value is one sum in a fixed order.
pub fn col2im(col: &[f32], n: usize, g: Geom, x: &mut Vec<f32>) {
    let (orow, irow) = (g.wo * n, g.w * n);
    let cols = g.ho * orow;
    let (s, p) = (g.stride, g.pad);
    resize(x, g.c * g.h * irow);
    x.par_chunks_mut(irow).enumerate().for_each(|(t, dst)| {
        let (c, iy) = (t / g.h, t % g.h);
        dst.fill(0.0);
        for ki in 0..K {
            // the output row oy with oy s + ki - p = iy, if any
            let Some(q) = (iy + p).checked_sub(ki) else {
                continue;
            };
            let oy = q / s;
            if q % s != 0 || oy >= g.ho {
                continue;
            }
            for kj in 0..K {
                let (xlo, xhi) = g.span(kj, g.w, g.wo);
                if xlo >= xhi {
                    continue;
                }
                let r = c * KK + ki * K + kj;
                let src = &col[r * cols + oy * orow..r * cols + (oy + 1) * orow];
                if s == 1 {
                    let ix = xlo + kj - p;
                    add_into(
                        &mut dst[ix * n..(ix + xhi - xlo) * n],
                        &src[xlo * n..xhi * n],
                    );
                } else {
                    for ox in xlo..xhi {
                        let ix = ox * s + kj - p;
                        add_into(&mut dst[ix * n..(ix + 1) * n], &src[ox * n..(ox + 1) * n]);
                    }
                }
            }
        }
    });
}

/// `[rows, cols]` -> `[cols, rows]` (row-major), e.g. NCHW `[n, c h w]` <-> CHWN.
pub fn transpose(src: &[f32], rows: usize, cols: usize, dst: &mut Vec<f32>) {
    resize(dst, rows * cols);
    if rows == 0 {
        return;
    }
    dst.par_chunks_mut(rows).enumerate().for_each(|(j, out)| {
        for (i, o) in out.iter_mut().enumerate() {
            *o = src[i * cols + j];
        }
    });
}

/// One trainable tensor: its values, gradient and optimizer state, flat in burn's layout.
struct Tensorf {
    id: ParamId,
    dims: Vec<usize>,
    w: Vec<f32>,
    g: Vec<f32>,
    m: Vec<f32>,
    v: Vec<f32>,
}

/// The optimizer states an engine reads and writes: the velocity (Adam's first moment) and
/// Adam's second moment, by parameter id.
pub struct States<'a> {
    /// Momentum SGD's velocity or Adam's first moment.
    pub first: &'a GradientsParams,
    /// Adam's second moment.
    pub second: &'a GradientsParams,
}

impl Tensorf {
    fn from<const D: usize>(p: &Param<Tensor<D>>, s: &States) -> Self {
        let t = p.val();
        let dims = t.dims().to_vec();
        let w = host(t);
        let n = w.len();
        let state =
            |g: &GradientsParams| g.get::<D>(p.id).map(host).unwrap_or_else(|| vec![0.0; n]);
        Self {
            id: p.id,
            dims,
            g: vec![0.0; n],
            m: state(s.first),
            v: state(s.second),
            w,
        }
    }

    fn write<const D: usize>(
        &self,
        p: &mut Param<Tensor<D>>,
        first: &mut GradientsParams,
        second: &mut GradientsParams,
        adam: bool,
    ) {
        let device = p.val().device();
        let dims: [usize; D] = std::array::from_fn(|i| self.dims[i]);
        let t = Tensor::<D>::from_data(TensorData::new(self.w.clone(), dims), &device);
        *p = p.clone().map(|_| t.require_grad());
        let inner = device.clone().without_autodiff();
        let state = |v: &Vec<f32>| Tensor::<D>::from_data(TensorData::new(v.clone(), dims), &inner);
        first.register::<D>(self.id, state(&self.m));
        if adam {
            second.register::<D>(self.id, state(&self.v));
        }
    }

    /// Writes a layer's weight and, where both sides have one, its bias.
    fn write_layer<const D: usize>(
        weight: &Tensorf,
        bias: &Option<Tensorf>,
        (w, b): (&mut Param<Tensor<D>>, &mut Option<Param<Tensor<1>>>),
        out: &mut StatesOut,
    ) {
        weight.write(w, out.first, out.second, out.adam);
        if let (Some(src), Some(dst)) = (bias, b) {
            src.write(dst, out.first, out.second, out.adam);
        }
    }

    fn zero_grad(&mut self) {
        self.g.fill(0.0);
    }

    /// One update with this parameter's gradient; the formulas are
    /// [`crate::optim::MomentumSgd::step`] and [`crate::optim::Adaptive::Adam`]'s, on
    /// slices, in the same order of float32 operations.
    fn update(&mut self, lr: f32, rule: Rule, clip: Option<f32>) {
        match rule {
            Rule::Momentum(mu) => {
                for ((w, v), &g) in self.w.iter_mut().zip(&mut self.m).zip(&self.g) {
                    *v = mu * *v + -lr * g;
                    *w += *v;
                }
            }
            Rule::Adam {
                beta1,
                beta2,
                eps,
                t,
            } => {
                let t = t as i32;
                let (c1, c2) = (1.0 - beta1.powi(t), 1.0 - beta2.powi(t));
                let (b1, b2) = (beta1 as f32, beta2 as f32);
                let (k1, k2) = ((1.0 - beta1) as f32, (1.0 - beta2) as f32);
                let (c2, eps, scale) = (c2 as f32, eps as f32, (lr as f64 / c1) as f32);
                for (((w, m), v), &g) in self
                    .w
                    .iter_mut()
                    .zip(&mut self.m)
                    .zip(&mut self.v)
                    .zip(&self.g)
                {
                    *m = *m * b1 + g * k1;
                    *v = *v * b2 + (g * g) * k2;
                    *w -= *m / ((*v / c2).sqrt() + eps) * scale;
                }
            }
        }
        if let Some(c) = clip {
            self.w.iter_mut().for_each(|w| *w = w.clamp(-c, c));
        }
    }
}

/// Where the engine writes optimizer states back: the velocity (Adam's first moment) and,
/// with `adam`, the second moment.
pub struct StatesOut<'a> {
    /// Momentum SGD's velocity or Adam's first moment.
    pub first: &'a mut GradientsParams,
    /// Adam's second moment.
    pub second: &'a mut GradientsParams,
    /// Whether there are second moments to write.
    pub adam: bool,
}

/// The update rule of a fused update ([`Tensorf::update`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Rule {
    /// Momentum SGD (pylearn2's form, [`crate::optim::MomentumSgd`]).
    Momentum(f32),
    /// Adam at this 1-based update number (as [`crate::optim::Adaptive::Adam`] writes it).
    Adam {
        /// First-moment decay.
        beta1: f64,
        /// Second-moment decay.
        beta2: f64,
        /// Added to the denominator.
        eps: f64,
        /// The update number.
        t: u64,
    },
}

/// Partial sums kept apart in [`lane_sum`] and the batch-norm backward pass.
const LANES: usize = 8;

/// `sum_i f(v_i)` in [`LANES`] f64 partial sums, independent chains that vectorise (one
/// running sum is a chain of dependent additions), added at the end.
fn lane_sum(v: &[f32], f: impl Fn(f32) -> f64) -> f64 {
    let mut acc = [0f64; LANES];
    let chunks = v.chunks_exact(LANES);
    let tail: f64 = chunks.remainder().iter().map(|&x| f(x)).sum();
    for c in chunks {
        for i in 0..LANES {
            acc[i] += f(c[i]);
        }
    }
    acc.iter().sum::<f64>() + tail
}

/// `xhat = (v - mean) inv` and `v = act(xhat g + b)` along a row, `act` known at compile
/// time so that the loop vectorises.
fn normalise(
    row: &mut [f32],
    xhat: &mut [f32],
    (mean, inv, g, b): (f32, f32, f32, f32),
    act: impl Fn(f32) -> f32,
) {
    for (v, h) in row.iter_mut().zip(xhat.iter_mut()) {
        *h = (*v - mean) * inv;
        *v = act(*h * g + b);
    }
}

/// The batch-norm backward pass's first sweep along a row: `d *= slope(y)` (the gradient
/// through the activation, from its output `y`), returning `sum d` and `sum d xhat`, each in
/// [`LANES`] f64 partial sums (independent chains) with the row's tail added after them;
/// `slope` known at compile time so that the loop vectorises.
fn through_act(d: &mut [f32], y: &[f32], xhat: &[f32], slope: impl Fn(f32) -> f32) -> (f64, f64) {
    let step = |dv: &mut f32, y: f32, h: f32, sb: &mut f64, sg: &mut f64| {
        *dv *= slope(y);
        *sb += *dv as f64;
        *sg += (*dv * h) as f64;
    };
    let (mut sb, mut sg) = ([0f64; LANES], [0f64; LANES]);
    let mut chunks = d.chunks_exact_mut(LANES);
    for ((dc, yc), xc) in (&mut chunks)
        .zip(y.chunks_exact(LANES))
        .zip(xhat.chunks_exact(LANES))
    {
        for i in 0..LANES {
            step(&mut dc[i], yc[i], xc[i], &mut sb[i], &mut sg[i]);
        }
    }
    let tail = d.len() - d.len() % LANES;
    let (mut sb, mut sg) = (sb.iter().sum::<f64>(), sg.iter().sum::<f64>());
    for ((dv, &yv), &h) in d[tail..].iter_mut().zip(&y[tail..]).zip(&xhat[tail..]) {
        step(dv, yv, h, &mut sb, &mut sg);
    }
    (sb, sg)
}

/// A bias on an activation of `b.len()` equal rows, one per feature: `y[j, ..] += b[j]`.
fn add_bias(y: &mut [f32], b: &[f32]) {
    let len = y.len() / b.len();
    y.par_chunks_mut(len)
        .zip(b)
        .for_each(|(row, &bv)| row.iter_mut().for_each(|v| *v += bv));
}

/// A bias's gradient from the gradient at its output (`g.len()` equal rows, one per
/// feature): `g[j] += sum dy[j, ..]`, each sum in f64.
fn add_row_sums(g: &mut [f32], dy: &[f32]) {
    let len = dy.len() / g.len();
    for (gb, row) in g.iter_mut().zip(dy.chunks(len)) {
        *gb += row.iter().map(|&v| v as f64).sum::<f64>() as f32;
    }
}

/// Batch normalisation in training mode (burn's `BatchNorm`: biased batch variance,
/// `epsilon`, running statistics `(1 - momentum) r + momentum s`), over rows: each of the
/// `gamma.len()` features is one contiguous row of the activation.
struct Bn {
    gamma: Tensorf,
    beta: Tensorf,
    running_mean: Vec<f32>,
    running_var: Vec<f32>,
    momentum: f32,
    epsilon: f32,
}

/// What a batch-norm pass keeps for its backward pass.
#[derive(Default)]
struct BnCache {
    xhat: Vec<f32>,
    inv_std: Vec<f32>,
}

/// The activation fused after a batch normalisation (or a layer without one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Act {
    Relu,
    Leaky,
}

impl Act {
    fn apply(self, x: f32) -> f32 {
        match self {
            Act::Relu => x.max(0.0),
            Act::Leaky => {
                if x > 0.0 {
                    x
                } else {
                    LEAK * x
                }
            }
        }
    }

    /// The derivative, from the activation's output (its sign is the input's).
    fn slope(self, y: f32) -> f32 {
        match (self, y > 0.0) {
            (_, true) => 1.0,
            (Act::Relu, false) => 0.0,
            (Act::Leaky, false) => LEAK,
        }
    }
}

impl Bn {
    fn from(b: &BatchNorm, s: &States) -> Self {
        Self {
            gamma: Tensorf::from(&b.gamma, s),
            beta: Tensorf::from(&b.beta, s),
            running_mean: host(b.running_mean.value_sync()),
            running_var: host(b.running_var.value_sync()),
            momentum: b.momentum as f32,
            epsilon: b.epsilon as f32,
        }
    }

    fn write(
        &self,
        b: &mut BatchNorm,
        first: &mut GradientsParams,
        second: &mut GradientsParams,
        adam: bool,
    ) {
        self.gamma.write(&mut b.gamma, first, second, adam);
        self.beta.write(&mut b.beta, first, second, adam);
        let device = b.running_mean.value_sync().device();
        let c = self.running_mean.len();
        let t = |v: &Vec<f32>| Tensor::<1>::from_data(TensorData::new(v.clone(), [c]), &device);
        b.running_mean.update(t(&self.running_mean));
        b.running_var.update(t(&self.running_var));
        // settle the update (burn keeps it per thread until synchronised)
        let _ = (b.running_mean.value_sync(), b.running_var.value_sync());
    }

    /// Normalises each row of `x` in place, then applies `act`: in training mode with its
    /// batch statistics (kept in `cache` for the backward pass, and returned, for
    /// [`Bn::absorb`]), in evaluation mode with the running statistics.
    fn forward(
        &self,
        x: &mut [f32],
        act: Act,
        cache: &mut BnCache,
        train: bool,
    ) -> Vec<(f32, f32)> {
        let c = self.gamma.w.len();
        let len = x.len() / c;
        if !train {
            x.par_chunks_mut(len).enumerate().for_each(|(j, row)| {
                let inv = 1.0 / (self.running_var[j] + self.epsilon).sqrt();
                let (m, g, b) = (self.running_mean[j], self.gamma.w[j], self.beta.w[j]);
                for v in row.iter_mut() {
                    *v = act.apply((*v - m) * inv * g + b);
                }
            });
            return Vec::new();
        }
        resize(&mut cache.xhat, x.len());
        resize(&mut cache.inv_std, c);
        let stats: Vec<(f32, f32)> = x
            .par_chunks_mut(len)
            .zip(cache.xhat.par_chunks_mut(len))
            .enumerate()
            .map(|(j, (row, xhat))| {
                let mean = (lane_sum(row, |v| v as f64) / len as f64) as f32;
                let var = (lane_sum(row, |v| {
                    let d = (v - mean) as f64;
                    d * d
                }) / len as f64) as f32;
                let inv = 1.0 / (var + self.epsilon).sqrt();
                let (g, b) = (self.gamma.w[j], self.beta.w[j]);
                let at = (mean, inv, g, b);
                match act {
                    Act::Relu => normalise(row, xhat, at, |x| Act::Relu.apply(x)),
                    Act::Leaky => normalise(row, xhat, at, |x| Act::Leaky.apply(x)),
                }
                (mean, var)
            })
            .collect();
        for (j, (_, var)) in stats.iter().enumerate() {
            cache.inv_std[j] = 1.0 / (var + self.epsilon).sqrt();
        }
        stats
    }

    /// Moves the running statistics towards a training pass's batch statistics.
    fn absorb(&mut self, stats: &[(f32, f32)]) {
        let mo = self.momentum;
        for (j, &(mean, var)) in stats.iter().enumerate() {
            self.running_mean[j] = self.running_mean[j] * (1.0 - mo) + mean * mo;
            self.running_var[j] = self.running_var[j] * (1.0 - mo) + var * mo;
        }
    }

    /// Back through `act` (from its output `y`) and the normalisation: `d` holds the
    /// gradient at the activation's output and becomes the gradient at the normalisation's
    /// input; the scale and shift gradients accumulate when `weights`.
    fn backward(&mut self, d: &mut [f32], y: &[f32], act: Act, cache: &BnCache, weights: bool) {
        let c = self.gamma.w.len();
        let len = d.len() / c;
        let sums: Vec<(f32, f32)> = d
            .par_chunks_mut(len)
            .zip(y.par_chunks(len))
            .zip(cache.xhat.par_chunks(len))
            .enumerate()
            .map(|(j, ((dr, yr), xr))| {
                let (sb, sg) = match act {
                    Act::Relu => through_act(dr, yr, xr, |y| Act::Relu.slope(y)),
                    Act::Leaky => through_act(dr, yr, xr, |y| Act::Leaky.slope(y)),
                };
                let (sb, sg) = (sb as f32, sg as f32);
                let k = self.gamma.w[j] * cache.inv_std[j] / len as f32;
                let n = len as f32;
                for (dv, &h) in dr.iter_mut().zip(xr) {
                    *dv = k * (n * *dv - sb - h * sg);
                }
                (sb, sg)
            })
            .collect();
        if weights {
            for (j, (sb, sg)) in sums.into_iter().enumerate() {
                self.beta.g[j] += sb;
                self.gamma.g[j] += sg;
            }
        }
    }

    fn tensors(&mut self) -> [&mut Tensorf; 2] {
        [&mut self.gamma, &mut self.beta]
    }
}

/// A `4 x 4` convolution or transposed convolution (weights `[c_out, c_in * 16]` or
/// `[c_in, c_out * 16]`, burn's layouts), with an optional bias.
struct ConvLayer {
    weight: Tensorf,
    bias: Option<Tensorf>,
    /// The convolution's geometry (a transposed layer's: that of its adjoint).
    geom: Geom,
    c_in: usize,
    c_out: usize,
    transposed: bool,
}

impl ConvLayer {
    fn conv(l: &Conv2d, h: usize, w: usize, s: &States) -> Option<Self> {
        let [c_out, c_in, kh, kw] = l.weight.val().dims();
        (kh == K && kw == K && l.stride[0] == l.stride[1]).then_some(())?;
        let pad = match &l.padding {
            burn::nn::PaddingConfig2d::Explicit(a, b, c, d) if a == b && b == c && c == d => *a,
            burn::nn::PaddingConfig2d::Valid => 0,
            _ => return None,
        };
        Some(Self {
            weight: Tensorf::from(&l.weight, s),
            bias: l.bias.as_ref().map(|b| Tensorf::from(b, s)),
            geom: Geom::new(c_in, h, w, l.stride[0], pad)?,
            c_in,
            c_out,
            transposed: false,
        })
    }

    fn conv_t(l: &ConvTranspose2d, h: usize, w: usize, s: &States) -> Option<Self> {
        let [c_in, c_out, kh, kw] = l.weight.val().dims();
        let ok = kh == K
            && kw == K
            && l.stride[0] == l.stride[1]
            && l.padding[0] == l.padding[1]
            && l.padding_out == [0, 0]
            && l.dilation == [1, 1]
            && l.groups == 1;
        ok.then_some(())?;
        let (stride, pad) = (l.stride[0], l.padding[0]);
        // the output side of a transposed convolution: (h - 1) s - 2 p + 4
        let (ho, wo) = (
            ((h - 1) * stride + K).checked_sub(2 * pad)?,
            ((w - 1) * stride + K).checked_sub(2 * pad)?,
        );
        let geom = Geom::new(c_out, ho, wo, stride, pad)?;
        (geom.ho == h && geom.wo == w).then_some(())?;
        Some(Self {
            weight: Tensorf::from(&l.weight, s),
            bias: l.bias.as_ref().map(|b| Tensorf::from(b, s)),
            geom,
            c_in,
            c_out,
            transposed: true,
        })
    }

    /// Output `(h, w)`.
    fn out_side(&self) -> (usize, usize) {
        if self.transposed {
            (self.geom.h, self.geom.w)
        } else {
            (self.geom.ho, self.geom.wo)
        }
    }

    /// `y = layer(x)` for `x` `[c_in, h, w, n]`; `col` keeps what the backward pass needs
    /// (the input's columns of a convolution).
    fn forward(&self, x: &[f32], n: usize, col: &mut Vec<f32>, y: &mut Vec<f32>) {
        let g = self.geom;
        let kdim = self.c_in * KK;
        if self.transposed {
            let cols = n * g.ho * g.wo;
            // columns [c_out * 16, h_in w_in n] = W' x, then summed into the image
            resize(col, self.c_out * KK * cols);
            matmul(
                col,
                &self.weight.w,
                Trans::Yes,
                x,
                Trans::No,
                self.c_out * KK,
                self.c_in,
                cols,
                false,
            );
            col2im(col, n, g, y);
        } else {
            let cols = n * g.ho * g.wo;
            im2col(x, n, g, col);
            resize(y, self.c_out * cols);
            matmul(
                y,
                &self.weight.w,
                Trans::No,
                col,
                Trans::No,
                self.c_out,
                kdim,
                cols,
                false,
            );
        }
        if let Some(b) = &self.bias {
            add_bias(y, &b.w);
        }
    }

    /// Back through the layer: `dy` `[c_out, ho, wo, n]` at its output; the weight (and bias)
    /// gradients accumulate when `weights`, and `dx` gets the input's gradient when given.
    /// `x` and `col` are what [`ConvLayer::forward`] saw and kept; `work` is scratch.
    #[allow(clippy::too_many_arguments)]
    fn backward(
        &mut self,
        dy: &[f32],
        x: &[f32],
        col: &[f32],
        n: usize,
        weights: bool,
        dx: Option<&mut Vec<f32>>,
        work: &mut Vec<f32>,
    ) {
        let g = self.geom;
        if weights && let Some(b) = &mut self.bias {
            add_row_sums(&mut b.g, dy);
        }
        let cols = n * g.ho * g.wo;
        if self.transposed {
            // the columns of dy; dW [c_in, c_out 16] += x dcol', dx = W dcol
            im2col(dy, n, g, work);
            if weights {
                matmul_nt_accumulate(
                    &mut self.weight.g,
                    x,
                    work,
                    self.c_in,
                    cols,
                    self.c_out * KK,
                );
            }
            if let Some(dx) = dx {
                resize(dx, self.c_in * cols);
                matmul(
                    dx,
                    &self.weight.w,
                    Trans::No,
                    work,
                    Trans::No,
                    self.c_in,
                    self.c_out * KK,
                    cols,
                    false,
                );
            }
        } else {
            // dW [c_out, c_in 16] += dy col', dcol = W' dy, dx = col2im(dcol)
            let kdim = self.c_in * KK;
            if weights {
                matmul_nt_accumulate(&mut self.weight.g, dy, col, self.c_out, cols, kdim);
            }
            if let Some(dx) = dx {
                resize(work, kdim * cols);
                matmul(
                    work,
                    &self.weight.w,
                    Trans::Yes,
                    dy,
                    Trans::No,
                    kdim,
                    self.c_out,
                    cols,
                    false,
                );
                col2im(work, n, g, dx);
            }
        }
    }

    fn tensors(&mut self) -> Vec<&mut Tensorf> {
        std::iter::once(&mut self.weight)
            .chain(self.bias.as_mut())
            .collect()
    }
}

/// A dense layer `y = x W + b` with burn's `[in, out]` weight, applied feature-major:
/// `x` `[in, n]` -> `y` `[out, n]`.
struct DenseLayer {
    weight: Tensorf,
    bias: Option<Tensorf>,
    d_in: usize,
    d_out: usize,
}

impl DenseLayer {
    fn from(l: &burn::nn::Linear, s: &States) -> Self {
        let [d_in, d_out] = l.weight.val().dims();
        Self {
            weight: Tensorf::from(&l.weight, s),
            bias: l.bias.as_ref().map(|b| Tensorf::from(b, s)),
            d_in,
            d_out,
        }
    }

    fn tensors(&mut self) -> Vec<&mut Tensorf> {
        std::iter::once(&mut self.weight)
            .chain(self.bias.as_mut())
            .collect()
    }

    /// `y [out, n] = W' x (+ b)`, the input `[in, n]` (`tx = Trans::No`) or `[n, in]`
    /// (`Trans::Yes`).
    fn forward(&self, x: &[f32], tx: Trans, n: usize, y: &mut Vec<f32>) {
        resize(y, self.d_out * n);
        matmul(
            y,
            &self.weight.w,
            Trans::Yes,
            x,
            tx,
            self.d_out,
            self.d_in,
            n,
            false,
        );
        if let Some(b) = &self.bias {
            add_bias(y, &b.w);
        }
    }

    /// Back through [`DenseLayer::forward`] from `dy [out, n]`: the weight gradients
    /// accumulate when `weights`; with `dx`, the input's gradient `[in, n]` is written there.
    fn backward(
        &mut self,
        dy: &[f32],
        x: &[f32],
        tx: Trans,
        n: usize,
        weights: bool,
        dx: Option<&mut Vec<f32>>,
    ) {
        if weights {
            // dW [in, out] += x dy'
            matmul(
                &mut self.weight.g,
                x,
                tx,
                dy,
                Trans::Yes,
                self.d_in,
                n,
                self.d_out,
                true,
            );
            if let Some(b) = &mut self.bias {
                add_row_sums(&mut b.g, dy);
            }
        }
        if let Some(dx) = dx {
            // dx [in, n] = W dy
            resize(dx, self.d_in * n);
            matmul(
                dx,
                &self.weight.w,
                Trans::No,
                dy,
                Trans::No,
                self.d_in,
                self.d_out,
                n,
                false,
            );
        }
    }
}

/// G's activations of the last forward pass.
#[derive(Default)]
struct GCache {
    /// The noise, `[n, z]` row-major.
    z: Vec<f32>,
    /// InfoGAN's hidden layer: its output `[h, n]` (BN and ReLU applied) and batch norm.
    hidden: Vec<f32>,
    hidden_bn: BnCache,
    /// `dcgan-28`: the projection's batch norm (its output, BN and ReLU applied, is
    /// `acts[0]`).
    proj_bn: BnCache,
    /// The input of every transposed convolution (CHWN), and after the last one G's image
    /// (tanh output, CHWN).
    acts: Vec<Vec<f32>>,
    cols: Vec<Vec<f32>>,
    bns: Vec<BnCache>,
}

/// D's activations of the last forward pass.
#[derive(Default)]
struct DCache {
    /// The input of every convolution (CHWN), then the last features.
    acts: Vec<Vec<f32>>,
    cols: Vec<Vec<f32>>,
    bns: Vec<BnCache>,
    out_col: Vec<f32>,
    /// InfoGAN's hidden layer: its output `[h, n]` (BN and LeakyReLU applied), its batch
    /// norm, and the gradient at its output.
    hidden: Vec<f32>,
    hidden_bn: BnCache,
    hidden_grad: Vec<f32>,
}

/// The fused engine's copy of a DCGAN pair: weights, gradients, optimizer states and the
/// buffers of the last passes.
pub struct ConvEngine {
    noise_dim: usize,
    channels: usize,
    side: usize,
    // G
    /// InfoGAN's hidden layer, before the projection (`conv.hidden`).
    g_hidden: Option<(DenseLayer, Bn)>,
    project: Option<(DenseLayer, Bn)>,
    start: (usize, usize),
    ups: Vec<ConvLayer>,
    g_bns: Vec<Bn>,
    // D
    downs: Vec<ConvLayer>,
    d_bns: Vec<Bn>,
    /// InfoGAN's hidden layer, after the convolutions (`conv.hidden`).
    d_hidden: Option<(DenseLayer, Bn)>,
    out_linear: Option<DenseLayer>,
    out_conv: Option<ConvLayer>,
    gc: GCache,
    dc: DCache,
    work: Vec<f32>,
    grad_a: Vec<f32>,
    grad_b: Vec<f32>,
    /// WGAN's clipping of D's weights after each update.
    pub d_clip: Option<f32>,
}

/// Why a pair cannot train on the fused engine.
fn unsupported(what: &str) -> crate::error::Error {
    crate::error::Error::Config(format!(
        "the fused DCGAN engine does not implement {what}; set engine = \"burn\""
    ))
}

impl ConvEngine {
    /// The engine for an unconditional DCGAN pair (images `channels x side x side`), its
    /// optimizer states from `g_state` / `d_state` (zeros where a parameter has none).
    pub fn from_modules(
        g: &DcganGenerator,
        d: &DcganDiscriminator,
        g_state: States,
        d_state: States,
        noise_dim: usize,
        channels: usize,
        side: usize,
    ) -> crate::error::Result<Self> {
        if d.embed.is_some() {
            return Err(unsupported("a conditional (projection) pair"));
        }
        if !d.sn.is_empty() {
            return Err(unsupported("spectral normalisation"));
        }
        let bad = || unsupported("this layer shape");
        let dense = |l: &Option<burn::nn::Linear>, b: &Option<BatchNorm>, s: &States| match (l, b) {
            (Some(l), Some(b)) => Ok(Some((DenseLayer::from(l, s), Bn::from(b, s)))),
            (None, None) => Ok(None),
            _ => Err(unsupported("a fully connected layer without batch norm")),
        };
        let g_hidden = dense(&g.hidden, &g.hidden_bn, &g_state)?;
        let project = dense(&g.project, &g.project_bn, &g_state)?;
        let d_hidden = dense(&d.hidden, &d.hidden_bn, &d_state)?;
        let start = (g.start_channels, g.start_side);
        let mut ups = Vec::new();
        let mut s = start.1;
        for l in &g.ups {
            let layer = ConvLayer::conv_t(l, s, s, &g_state).ok_or_else(bad)?;
            s = layer.out_side().0;
            ups.push(layer);
        }
        if s != side || g.bns.len() + 1 != ups.len() {
            return Err(bad());
        }
        let g_bns = g.bns.iter().map(|b| Bn::from(b, &g_state)).collect();
        let mut downs = Vec::new();
        let mut s = side;
        for l in &d.downs {
            let layer = ConvLayer::conv(l, s, s, &d_state).ok_or_else(bad)?;
            s = layer.out_side().0;
            downs.push(layer);
        }
        if d.bns.len() + 1 != downs.len() {
            return Err(bad());
        }
        let d_bns = d.bns.iter().map(|b| Bn::from(b, &d_state)).collect();
        let out_linear = d.out_linear.as_ref().map(|l| DenseLayer::from(l, &d_state));
        let out_conv = match &d.out_conv {
            Some(c) => Some(ConvLayer::conv(c, s, s, &d_state).ok_or_else(bad)?),
            None => None,
        };
        if out_linear.is_some() == out_conv.is_some() {
            return Err(bad());
        }
        Ok(Self {
            noise_dim,
            channels,
            side,
            g_hidden,
            project,
            start,
            ups,
            g_bns,
            downs,
            d_bns,
            d_hidden,
            out_linear,
            out_conv,
            gc: GCache::default(),
            dc: DCache::default(),
            work: Vec::new(),
            grad_a: Vec::new(),
            grad_b: Vec::new(),
            d_clip: None,
        })
    }

    /// Writes the engine's G (weights, running statistics) into `g`, and its optimizer
    /// states into `out`.
    pub fn write_generator(&self, g: &mut DcganGenerator, out: &mut StatesOut) {
        if let (Some((p, pb)), Some(gp), Some(gb)) =
            (&self.g_hidden, &mut g.hidden, &mut g.hidden_bn)
        {
            Tensorf::write_layer(&p.weight, &p.bias, (&mut gp.weight, &mut gp.bias), out);
            pb.write(gb, out.first, out.second, out.adam);
        }
        if let (Some((p, pb)), Some(gp), Some(gb)) =
            (&self.project, &mut g.project, &mut g.project_bn)
        {
            Tensorf::write_layer(&p.weight, &p.bias, (&mut gp.weight, &mut gp.bias), out);
            pb.write(gb, out.first, out.second, out.adam);
        }
        for (l, gl) in self.ups.iter().zip(&mut g.ups) {
            Tensorf::write_layer(&l.weight, &l.bias, (&mut gl.weight, &mut gl.bias), out);
        }
        for (b, gb) in self.g_bns.iter().zip(&mut g.bns) {
            b.write(gb, out.first, out.second, out.adam);
        }
    }

    /// Writes the engine's D into `d`, and its optimizer states into `out`.
    pub fn write_discriminator(&self, d: &mut DcganDiscriminator, out: &mut StatesOut) {
        for (l, dl) in self.downs.iter().zip(&mut d.downs) {
            Tensorf::write_layer(&l.weight, &l.bias, (&mut dl.weight, &mut dl.bias), out);
        }
        for (b, db) in self.d_bns.iter().zip(&mut d.bns) {
            b.write(db, out.first, out.second, out.adam);
        }
        if let (Some((p, pb)), Some(dp), Some(db)) =
            (&self.d_hidden, &mut d.hidden, &mut d.hidden_bn)
        {
            Tensorf::write_layer(&p.weight, &p.bias, (&mut dp.weight, &mut dp.bias), out);
            pb.write(db, out.first, out.second, out.adam);
        }
        if let (Some(l), Some(dl)) = (&self.out_linear, &mut d.out_linear) {
            Tensorf::write_layer(&l.weight, &l.bias, (&mut dl.weight, &mut dl.bias), out);
        }
        if let (Some(l), Some(dl)) = (&self.out_conv, &mut d.out_conv) {
            Tensorf::write_layer(&l.weight, &l.bias, (&mut dl.weight, &mut dl.bias), out);
        }
    }

    /// G's trainable weights as they train, by parameter id (burn's layouts): what G's
    /// weight average reads after each step.
    pub fn generator_weights(&self) -> Vec<(ParamId, &[f32])> {
        let mut v: Vec<&Tensorf> = Vec::new();
        for (p, b) in self.g_hidden.iter().chain(&self.project) {
            v.push(&p.weight);
            v.extend(&p.bias);
            v.extend([&b.gamma, &b.beta]);
        }
        for l in &self.ups {
            v.push(&l.weight);
            v.extend(&l.bias);
        }
        for b in &self.g_bns {
            v.extend([&b.gamma, &b.beta]);
        }
        v.into_iter().map(|t| (t.id, t.w.as_slice())).collect()
    }

    fn g_tensors(&mut self) -> Vec<&mut Tensorf> {
        let mut v = Vec::new();
        for (p, b) in self.g_hidden.iter_mut().chain(&mut self.project) {
            v.extend(p.tensors());
            v.extend(b.tensors());
        }
        for l in &mut self.ups {
            v.extend(l.tensors());
        }
        for b in &mut self.g_bns {
            v.extend(b.tensors());
        }
        v
    }

    fn d_tensors(&mut self) -> Vec<&mut Tensorf> {
        let mut v = Vec::new();
        for l in &mut self.downs {
            v.extend(l.tensors());
        }
        for b in &mut self.d_bns {
            v.extend(b.tensors());
        }
        if let Some((p, b)) = &mut self.d_hidden {
            v.extend(p.tensors());
            v.extend(b.tensors());
        }
        if let Some(l) = &mut self.out_linear {
            v.extend(l.tensors());
        }
        if let Some(l) = &mut self.out_conv {
            v.extend(l.tensors());
        }
        v
    }

    /// G in training mode on the noise in `self.gc.z` (`n` rows): the image ends in
    /// `self.gc.acts.last()` (CHWN, in [-1, 1]).
    fn g_forward(&mut self, n: usize) {
        let mut gc = std::mem::take(&mut self.gc);
        let stats = self.g_pass(&mut gc, n, true);
        self.gc = gc;
        let mut stats = stats.into_iter();
        for (_, bn) in self.g_hidden.iter_mut().chain(&mut self.project) {
            bn.absorb(&stats.next().unwrap_or_default());
        }
        for (bn, st) in self.g_bns.iter_mut().zip(stats) {
            bn.absorb(&st);
        }
    }

    /// G on the noise in `gc.z` (`n` rows), in training mode (batch statistics, returned
    /// per batch norm: the hidden layer's and the projection's first) or evaluation mode
    /// (running statistics); the image ends in `gc.acts.last()` (CHWN, in [-1, 1]).
    fn g_pass(&self, gc: &mut GCache, n: usize, train: bool) -> Vec<Vec<(f32, f32)>> {
        let layers = self.ups.len();
        let mut stats = Vec::new();
        gc.acts.resize_with(layers + 1, Vec::new);
        gc.cols.resize_with(layers, Vec::new);
        gc.bns.resize_with(layers, BnCache::default);
        let (c0, s0) = self.start;
        match &self.project {
            Some((p, bn)) => {
                // InfoGAN's hidden layer: [h, n] = W' z' (+ b), BN + ReLU
                let input = match &self.g_hidden {
                    Some((l, hbn)) => {
                        l.forward(&gc.z, Trans::Yes, n, &mut gc.hidden);
                        stats.push(hbn.forward(
                            &mut gc.hidden,
                            Act::Relu,
                            &mut gc.hidden_bn,
                            train,
                        ));
                        (&gc.hidden, Trans::No)
                    }
                    None => (&gc.z, Trans::Yes),
                };
                // [f, n] = W' x (+ b), BN + ReLU per feature: [c0, s0, s0, n] (CHWN)
                let a0 = &mut gc.acts[0];
                p.forward(input.0, input.1, n, a0);
                stats.push(bn.forward(a0, Act::Relu, &mut gc.proj_bn, train));
            }
            None => {
                // z [n, c0] -> [c0, n] (1 x 1 images)
                debug_assert_eq!(s0, 1);
                transpose(&gc.z, n, c0, &mut gc.acts[0]);
            }
        }
        for i in 0..layers {
            let (before, after) = gc.acts.split_at_mut(i + 1);
            self.ups[i].forward(&before[i], n, &mut gc.cols[i], &mut after[0]);
            if i + 1 < layers {
                stats.push(self.g_bns[i].forward(&mut after[0], Act::Relu, &mut gc.bns[i], train));
            }
        }
        let out = &mut gc.acts[layers];
        out.par_iter_mut().for_each(|v| *v = v.tanh());
        stats
    }

    /// Back through G from `d` (the gradient at its image, CHWN; consumed), accumulating
    /// every weight gradient.
    fn g_backward(&mut self, d: &mut Vec<f32>, n: usize) {
        let layers = self.ups.len();
        let gc = &self.gc;
        d.par_iter_mut()
            .zip(gc.acts[layers].par_iter())
            .for_each(|(g, &y)| *g *= 1.0 - y * y);
        let mut dx = std::mem::take(&mut self.grad_b);
        for i in (0..layers).rev() {
            let need_dx = i > 0 || self.project.is_some();
            self.ups[i].backward(
                d,
                &gc.acts[i],
                &gc.cols[i],
                n,
                true,
                need_dx.then_some(&mut dx),
                &mut self.work,
            );
            if !need_dx {
                break;
            }
            if i > 0 {
                self.g_bns[i - 1].backward(&mut dx, &gc.acts[i], Act::Relu, &gc.bns[i - 1], true);
            }
            std::mem::swap(d, &mut dx);
        }
        if let Some((p, bn)) = &mut self.project {
            // d is [c0, s0, s0, n], the projection's [f, n]: back through ReLU + BN, then
            // the linear map (from the hidden layer [h, n] or the noise [n, z])
            bn.backward(d, &gc.acts[0], Act::Relu, &gc.proj_bn, true);
            match &mut self.g_hidden {
                Some((l, hbn)) => {
                    p.backward(d, &gc.hidden, Trans::No, n, true, Some(&mut dx));
                    hbn.backward(&mut dx, &gc.hidden, Act::Relu, &gc.hidden_bn, true);
                    l.backward(&dx, &gc.z, Trans::Yes, n, true, None);
                }
                None => p.backward(d, &gc.z, Trans::Yes, n, true, None),
            }
        }
        self.grad_b = dx;
    }

    /// D in training mode on `x` (`n` images, CHWN, in [-1, 1]): the logits.
    fn d_forward(&mut self, x: &[f32], n: usize) -> Vec<f32> {
        let layers = self.downs.len();
        let dc = &mut self.dc;
        dc.acts.resize_with(layers + 1, Vec::new);
        dc.cols.resize_with(layers, Vec::new);
        dc.bns.resize_with(layers, BnCache::default);
        resize(&mut dc.acts[0], x.len());
        dc.acts[0].copy_from_slice(x);
        for i in 0..layers {
            let (before, after) = dc.acts.split_at_mut(i + 1);
            let y = &mut after[0];
            self.downs[i].forward(&before[i], n, &mut dc.cols[i], y);
            if i > 0 {
                let st = self.d_bns[i - 1].forward(y, Act::Leaky, &mut dc.bns[i], true);
                self.d_bns[i - 1].absorb(&st);
            } else {
                y.par_iter_mut().for_each(|v| *v = Act::Leaky.apply(*v));
            }
        }
        if let Some((l, bn)) = &mut self.d_hidden {
            // InfoGAN's hidden layer: [h, n] = W' a (+ b), BN + LeakyReLU
            l.forward(&dc.acts[layers], Trans::No, n, &mut dc.hidden);
            let st = bn.forward(&mut dc.hidden, Act::Leaky, &mut dc.hidden_bn, true);
            bn.absorb(&st);
        }
        let feats = match self.d_hidden {
            Some(_) => &dc.hidden,
            None => &dc.acts[layers],
        };
        if let Some(l) = &self.out_linear {
            // logit[b] = sum_f W[f] a[f, b] + bias: the features [c, h, w, n] are [f, n] with
            // f = (c, y, x), burn's flattening of NCHW
            let bias = l.bias.as_ref().map_or(0.0, |b| b.w[0]);
            let mut logits = vec![0f32; n];
            for (&w, a) in l.weight.w.iter().zip(feats.chunks(n)) {
                for (o, &v) in logits.iter_mut().zip(a) {
                    *o += w * v;
                }
            }
            logits.iter_mut().for_each(|o| *o += bias);
            logits
        } else if let Some(l) = &self.out_conv {
            let mut y = Vec::new();
            l.forward(feats, n, &mut dc.out_col, &mut y);
            y
        } else {
            Vec::new()
        }
    }

    /// Back through D from the logits' gradient `dl`: D's weight gradients accumulate when
    /// `weights`; the image's gradient (CHWN) is returned when `data`.
    fn d_backward(&mut self, dl: &[f32], n: usize, weights: bool, data: bool) -> Vec<f32> {
        let layers = self.downs.len();
        let mut d = std::mem::take(&mut self.grad_a);
        // the gradient at the hidden layer's output, when there is one
        let mut dh = std::mem::take(&mut self.dc.hidden_grad);
        let dc = &self.dc;
        let hidden = self.d_hidden.is_some();
        // the features the output layer reads, and their gradient
        let (feats, dfeats) = match hidden {
            true => (&dc.hidden, &mut dh),
            false => (&dc.acts[layers], &mut d),
        };
        resize(dfeats, feats.len());
        if let Some(l) = &mut self.out_linear {
            // d[f, b] = W[f] dl[b]; dW[f] += sum_b a[f, b] dl[b]
            for ((dr, &w), (a, gw)) in dfeats
                .chunks_mut(n)
                .zip(&l.weight.w)
                .zip(feats.chunks(n).zip(l.weight.g.iter_mut()))
            {
                for (o, &g) in dr.iter_mut().zip(dl) {
                    *o = g * w;
                }
                if weights {
                    *gw += a.iter().zip(dl).map(|(&av, &g)| av * g).sum::<f32>();
                }
            }
            if weights && let Some(b) = &mut l.bias {
                add_row_sums(&mut b.g, dl);
            }
        } else if let Some(l) = &mut self.out_conv {
            l.backward(
                dl,
                feats,
                &dc.out_col,
                n,
                weights,
                Some(dfeats),
                &mut self.work,
            );
        }
        if let Some((l, bn)) = &mut self.d_hidden {
            // back through LeakyReLU + BN and the hidden layer to the last convolution's
            // features [f, n]
            bn.backward(&mut dh, &dc.hidden, Act::Leaky, &dc.hidden_bn, weights);
            l.backward(&dh, &dc.acts[layers], Trans::No, n, weights, Some(&mut d));
        }
        self.dc.hidden_grad = dh;
        let dc = &self.dc;
        let mut dx = std::mem::take(&mut self.grad_b);
        for i in (0..layers).rev() {
            let y = &dc.acts[i + 1];
            if i > 0 {
                self.d_bns[i - 1].backward(&mut d, y, Act::Leaky, &dc.bns[i], weights);
            } else {
                d.par_iter_mut()
                    .zip(y.par_iter())
                    .for_each(|(g, &v)| *g *= Act::Leaky.slope(v));
            }
            let need_dx = i > 0 || data;
            self.downs[i].backward(
                &d,
                &dc.acts[i],
                &dc.cols[i],
                n,
                weights,
                need_dx.then_some(&mut dx),
                &mut self.work,
            );
            if !need_dx {
                break;
            }
            std::mem::swap(&mut d, &mut dx);
        }
        self.grad_b = dx;
        if data {
            d
        } else {
            self.grad_a = d;
            Vec::new()
        }
    }

    /// NCHW `[n, c, h, w]` in [0, 1] -> CHWN in [-1, 1].
    fn real_chwn(&self, x: &[f32], n: usize) -> Vec<f32> {
        let chw = self.channels * self.side * self.side;
        let sym: Vec<f32> = x
            .iter()
            .map(|&v| crate::models::base::PixelRange::Symmetric.from_unit(v))
            .collect();
        let mut out = Vec::new();
        transpose(&sym, n, chw, &mut out);
        out
    }

    /// Algorithm 1's D update on the real batch `x` (`m` images, `[n, c, h, w]` in [0, 1]):
    /// z from `rng`, G's fake batch, D on the real then the fake batch, one update of D.
    /// Returns D's logits on the real and the fake batch.
    #[allow(clippy::too_many_arguments)]
    pub fn discriminator_step(
        &mut self,
        loss: GanLoss,
        x: &[f32],
        m: usize,
        noise: &NoiseConfig,
        rng: &mut Rng,
        lr: f32,
        rule: Rule,
    ) -> (Vec<f32>, Vec<f32>) {
        self.gc.z = noise_values(noise, m, rng);
        self.g_forward(m);
        let fake = std::mem::take(&mut self.gc.acts[self.ups.len()]);
        let real = self.real_chwn(x, m);
        for t in self.d_tensors() {
            t.zero_grad();
        }
        let (mf, nf) = (m as f64, m as f64);
        let real_logits = self.d_forward(&real, m);
        let dl: Vec<f32> = real_logits
            .iter()
            .map(|&l| d_logit_grad(loss, l as f64, true, mf) as f32)
            .collect();
        self.d_backward(&dl, m, true, false);
        let fake_logits = self.d_forward(&fake, m);
        let dl: Vec<f32> = fake_logits
            .iter()
            .map(|&l| d_logit_grad(loss, l as f64, false, nf) as f32)
            .collect();
        self.d_backward(&dl, m, true, false);
        self.gc.acts[self.ups.len()] = fake;
        let clip = self.d_clip;
        for t in self.d_tensors() {
            t.update(lr, rule, clip);
        }
        (real_logits, fake_logits)
    }

    /// Algorithm 1's G update on fresh noise (`m` samples): returns D's logits on them.
    pub fn generator_step(
        &mut self,
        loss: GanLoss,
        m: usize,
        noise: &NoiseConfig,
        rng: &mut Rng,
        lr: f32,
        rule: Rule,
    ) -> Vec<f32> {
        self.gc.z = noise_values(noise, m, rng);
        self.g_forward(m);
        let fake = std::mem::take(&mut self.gc.acts[self.ups.len()]);
        let logits = self.d_forward(&fake, m);
        self.gc.acts[self.ups.len()] = fake;
        let n = m as f64;
        let dl: Vec<f32> = logits
            .iter()
            .map(|&l| g_logit_grad(loss, l as f64, n) as f32)
            .collect();
        let mut d = self.d_backward(&dl, m, false, true);
        for t in self.g_tensors() {
            t.zero_grad();
        }
        self.g_backward(&mut d, m);
        self.grad_a = d;
        for t in self.g_tensors() {
            t.update(lr, rule, None);
        }
        logits
    }

    /// G in evaluation mode (running statistics) on noise `z` (`[n, noise_dim]` row-major):
    /// `n` images `[c, h, w]` each, in [-1, 1], in chunks of [`SAMPLE_CHUNK`].
    pub fn generate(&self, z: &[f32], n: usize) -> Vec<f32> {
        let mut gc = GCache::default();
        let mut out = Vec::with_capacity(n * self.channels * self.side * self.side);
        let chw = self.channels * self.side * self.side;
        let mut chunk = Vec::new();
        for start in (0..n).step_by(SAMPLE_CHUNK) {
            let m = SAMPLE_CHUNK.min(n - start);
            gc.z.clear();
            gc.z.extend_from_slice(&z[start * self.noise_dim..(start + m) * self.noise_dim]);
            self.g_pass(&mut gc, m, false);
            // CHWN -> NCHW
            transpose(&gc.acts[self.ups.len()], chw, m, &mut chunk);
            out.extend_from_slice(&chunk);
        }
        out
    }

    /// The noise dimension G reads.
    pub fn noise_dim(&self) -> usize {
        self.noise_dim
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// im2col by its definition: column (ci, ki, kj) at output (oy, ox, b) is the input at
    /// (oy s + ki - p, ox s + kj - p), zero outside; CHWN on both sides.
    fn naive_im2col(x: &[f32], n: usize, g: Geom) -> Vec<f32> {
        let cols = n * g.ho * g.wo;
        let mut col = vec![0.0; g.rows() * cols];
        for r in 0..g.rows() {
            let (c, ki, kj) = (r / KK, (r / K) % K, r % K);
            for b in 0..n {
                for oy in 0..g.ho {
                    for ox in 0..g.wo {
                        let iy = (oy * g.stride + ki) as isize - g.pad as isize;
                        let ix = (ox * g.stride + kj) as isize - g.pad as isize;
                        if iy >= 0 && ix >= 0 && (iy as usize) < g.h && (ix as usize) < g.w {
                            col[r * cols + (oy * g.wo + ox) * n + b] =
                                x[((c * g.h + iy as usize) * g.w + ix as usize) * n + b];
                        }
                    }
                }
            }
        }
        col
    }

    #[test]
    fn im2col_matches_its_definition_and_col2im_is_its_adjoint() {
        // the DCGAN geometries (stride 2 pad 1, stride 1 pad 0) and odd ones
        for (c, h, w, s, p, n) in [
            (3, 8, 8, 2, 1, 2),
            (2, 4, 4, 1, 0, 3),
            (1, 7, 5, 2, 1, 2),
            (5, 6, 6, 1, 1, 1),
            (2, 9, 9, 3, 2, 2),
        ] {
            let g = Geom::new(c, h, w, s, p).expect("fits");
            let mut rng = Rng::new(4);
            let x: Vec<f32> = (0..c * n * h * w).map(|_| rng.normal()).collect();
            let mut col = Vec::new();
            im2col(&x, n, g, &mut col);
            assert_eq!(col, naive_im2col(&x, n, g), "{g:?}");
            // <im2col(x), y> = <x, col2im(y)>
            let y: Vec<f32> = (0..col.len()).map(|_| rng.normal()).collect();
            let mut back = Vec::new();
            col2im(&y, n, g, &mut back);
            let lhs: f64 = col.iter().zip(&y).map(|(a, b)| (a * b) as f64).sum();
            let rhs: f64 = x.iter().zip(&back).map(|(a, b)| (a * b) as f64).sum();
            assert!(
                (lhs - rhs).abs() < 1e-3 * (1.0 + lhs.abs()),
                "{g:?}: {lhs} vs {rhs}"
            );
        }
    }

    #[test]
    fn transpose_swaps_rows_and_columns() {
        let src: Vec<f32> = (0..24).map(|i| i as f32).collect();
        let mut dst = Vec::new();
        transpose(&src, 4, 6, &mut dst);
        for i in 0..4 {
            for j in 0..6 {
                assert_eq!(dst[j * 4 + i], src[i * 6 + j]);
            }
        }
    }
}
