//! The fast training step for the MLP players: the same mathematics as the burn models in
//! [`crate::models`], with the least work it requires.
//!
//! - one GEMM per layer and direction, with bias + activation (+ dropout mask) fused into a
//!   single pass over its output;
//! - maxout records the winning piece in the forward pass; its backward pass touches only the
//!   winners that dropout kept (a tenth of the pre-maxout values for the paper's D), as sparse
//!   products ([`sparse`]) instead of dense GEMMs;
//! - no weight gradients for D in the generator's backward pass (only the gradient with
//!   respect to D's input);
//! - momentum updates in place; every buffer reused from step to step.
//!
//! The burn modules stay the one model definition: an [`Engine`] is built from them
//! ([`Engine::from_modules`]) and written back ([`Engine::write_modules`]) for sampling and
//! checkpoints; the random streams are consumed in exactly the order of the burn path, so
//! both give the same numbers (a test checks losses and weights against burn's autodiff).

pub mod conv;
pub mod cpu;
pub mod gemm;
pub mod int8;
pub mod sparse;

use gemm::{Trans, matmul};
use rayon::prelude::*;
use sparse::MaxoutGrad;

use crate::config::{DiscriminatorConfig, NoiseConfig};
use crate::loss::GanLoss;
use crate::loss::sigmoid_f64;
use crate::models::{MlpDiscriminator, MlpGenerator, noise_values};
use crate::nn::dropout_fill;
use crate::rng::Rng;

/// One affine layer `[d_in] -> [d_out]` with its momentum buffers and gradient.
#[derive(Clone, Debug)]
pub struct Dense {
    /// Weights, row-major `[d_in, d_out]` (burn's layout), or `[d_out, d_in]` when
    /// `transposed` (D's maxout layers: their sparse backward pass reads rows of `W^T`).
    pub w: Vec<f32>,
    /// Bias `[d_out]`.
    pub b: Vec<f32>,
    /// Velocity of `w`.
    pub vw: Vec<f32>,
    /// Velocity of `b`.
    pub vb: Vec<f32>,
    gw: Vec<f32>,
    gb: Vec<f32>,
    /// Input width.
    pub d_in: usize,
    /// Output width.
    pub d_out: usize,
    /// Whether `w` (and its velocity and gradient) are stored `[d_out, d_in]`.
    pub transposed: bool,
    /// Maxout pieces: above 1, the outputs (rows of a transposed `w`, and `b`) are stored
    /// piece-major, `q * units + u` for burn's `u * pieces + q`, so the maxout pass compares
    /// contiguous runs of units (it vectorizes).
    pub pieces: usize,
}

/// Rows `u * pieces + q` (each `len` wide) of `src` reordered to `q * units + u`, or back
/// with `inverse`.
fn piece_major(src: &[f32], units: usize, pieces: usize, len: usize, inverse: bool) -> Vec<f32> {
    let mut out = vec![0.0; src.len()];
    for u in 0..units {
        for q in 0..pieces {
            let (a, b) = ((u * pieces + q) * len, (q * units + u) * len);
            let (from, to) = if inverse { (b, a) } else { (a, b) };
            out[to..to + len].copy_from_slice(&src[from..from + len]);
        }
    }
    out
}

/// `src` (`rows x cols`, row-major) transposed.
fn transpose(src: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut out = vec![0.0; src.len()];
    for (r, row) in src.chunks_exact(cols.max(1)).enumerate().take(rows) {
        for (c, &v) in row.iter().enumerate() {
            out[c * rows + r] = v;
        }
    }
    out
}

impl Dense {
    #[allow(clippy::too_many_arguments)]
    fn new(
        w: Vec<f32>,
        b: Vec<f32>,
        vw: Vec<f32>,
        vb: Vec<f32>,
        d_in: usize,
        d_out: usize,
        transposed: bool,
        pieces: usize,
    ) -> Self {
        let (mut w, mut vw) = if transposed {
            (transpose(&w, d_in, d_out), transpose(&vw, d_in, d_out))
        } else {
            (w, vw)
        };
        let (mut b, mut vb) = (b, vb);
        if pieces > 1 {
            assert!(
                transposed && d_out.is_multiple_of(pieces),
                "Dense: maxout layout"
            );
            let units = d_out / pieces;
            w = piece_major(&w, units, pieces, d_in, false);
            vw = piece_major(&vw, units, pieces, d_in, false);
            b = piece_major(&b, units, pieces, 1, false);
            vb = piece_major(&vb, units, pieces, 1, false);
        }
        Self {
            transposed,
            pieces,
            gw: vec![0.0; w.len()],
            gb: vec![0.0; b.len()],
            w,
            b,
            vw,
            vb,
            d_in,
            d_out,
        }
    }

    /// The weights, their velocity, the bias and its velocity in burn's layout
    /// (`[d_in, d_out]`, outputs unit-major).
    fn burn_layout(&self) -> [Vec<f32>; 4] {
        let (mut w, mut vw, mut b, mut vb) = (
            self.w.clone(),
            self.vw.clone(),
            self.b.clone(),
            self.vb.clone(),
        );
        if self.pieces > 1 {
            let units = self.d_out / self.pieces;
            w = piece_major(&w, units, self.pieces, self.d_in, true);
            vw = piece_major(&vw, units, self.pieces, self.d_in, true);
            b = piece_major(&b, units, self.pieces, 1, true);
            vb = piece_major(&vb, units, self.pieces, 1, true);
        }
        if self.transposed {
            w = transpose(&w, self.d_out, self.d_in);
            vw = transpose(&vw, self.d_out, self.d_in);
        }
        [w, vw, b, vb]
    }

    /// How the forward GEMM reads `w` as a `[d_in, d_out]` operand.
    fn trans(&self) -> Trans {
        if self.transposed {
            Trans::Yes
        } else {
            Trans::No
        }
    }

    /// `v <- mu v - lr g; theta <- theta + v` (pylearn2 `Momentum`), in place.
    fn update(&mut self, lr: f32, mu: f32) {
        const CHUNK: usize = UPDATE_PAR_MIN / 2;
        let step = |(w, v): (&mut [f32], &mut [f32]), g: &[f32]| {
            for ((w, v), g) in w.iter_mut().zip(v.iter_mut()).zip(g) {
                *v = mu * *v - lr * g;
                *w += *v;
            }
        };
        if self.w.len() >= UPDATE_PAR_MIN {
            self.w
                .par_chunks_mut(CHUNK)
                .zip(self.vw.par_chunks_mut(CHUNK))
                .zip(self.gw.par_chunks(CHUNK))
                .for_each(|(wv, g)| step(wv, g));
        } else {
            step((&mut self.w, &mut self.vw), &self.gw);
        }
        for ((b, v), g) in self.b.iter_mut().zip(&mut self.vb).zip(&self.gb) {
            *v = mu * *v - lr * g;
            *b += *v;
        }
    }

    /// Weight and bias gradients from the layer input `x` `[m, d_in]` and output gradient
    /// `dz` `[m, d_out]`.
    fn grads(&mut self, x: &[f32], dz: &[f32], m: usize) {
        if self.transposed {
            matmul(
                &mut self.gw,
                dz,
                Trans::Yes,
                x,
                Trans::No,
                self.d_out,
                m,
                self.d_in,
                false,
            );
        } else {
            matmul(
                &mut self.gw,
                x,
                Trans::Yes,
                dz,
                Trans::No,
                self.d_in,
                m,
                self.d_out,
                false,
            );
        }
        self.gb.fill(0.0);
        for row in dz.chunks_exact(self.d_out) {
            for (g, d) in self.gb.iter_mut().zip(row) {
                *g += d;
            }
        }
    }
}

pub(crate) fn resize(v: &mut Vec<f32>, n: usize) {
    v.resize(n, 0.0);
}

/// One row of the maxout pass: (row, ((pre-activations, winners), outputs)).
type MaxoutRow<'a> = (usize, ((&'a [f32], &'a mut [u8]), &'a mut [f32]));

/// Elementwise passes over at least this many values run on the thread pool.
pub const PAR_MIN: usize = 1 << 14;

/// Weights per layer from which the momentum update is split across threads.
pub const UPDATE_PAR_MIN: usize = 1 << 16;

/// `f(o, a)` for matching elements of `out` and `a`, on the pool when large.
fn apply2(out: &mut [f32], a: &[f32], f: impl Fn(&mut f32, f32) + Sync) {
    let chunk = |(o, a): (&mut [f32], &[f32])| o.iter_mut().zip(a).for_each(|(o, &a)| f(o, a));
    if out.len() >= PAR_MIN {
        out.par_chunks_mut(PAR_MIN / 2)
            .zip(a.par_chunks(PAR_MIN / 2))
            .for_each(chunk);
    } else {
        chunk((out, a));
    }
}

/// `f(o, a, b)` for matching elements of `out`, `a` and `b`, on the pool when large.
fn apply3(out: &mut [f32], a: &[f32], b: &[f32], f: impl Fn(&mut f32, f32, f32) + Sync) {
    let chunk = |((o, a), b): ((&mut [f32], &[f32]), &[f32])| {
        o.iter_mut()
            .zip(a)
            .zip(b)
            .for_each(|((o, &a), &b)| f(o, a, b))
    };
    if out.len() >= PAR_MIN {
        out.par_chunks_mut(PAR_MIN / 2)
            .zip(a.par_chunks(PAR_MIN / 2))
            .zip(b.par_chunks(PAR_MIN / 2))
            .for_each(chunk);
    } else {
        chunk(((out, a), b));
    }
}

/// `f(r, row)` for each `width`-wide row `r` of `buf`, on the pool when large.
fn for_rows(buf: &mut [f32], width: usize, f: impl Fn(usize, &mut [f32]) + Sync) {
    if buf.len() >= PAR_MIN {
        buf.par_chunks_exact_mut(width)
            .enumerate()
            .for_each(|(r, row)| f(r, row));
    } else {
        buf.chunks_exact_mut(width)
            .enumerate()
            .for_each(|(r, row)| f(r, row));
    }
}

/// G forward on `m` noise rows in `gc.z`; keeps activations; output in `gc.out`. Bias and
/// activation (ReLU, sigmoid for the last layer) in one pass over each GEMM output.
fn g_forward(g: &[Dense], gc: &mut GCache, m: usize) {
    let n = g.len();
    gc.hidden.resize_with(n - 1, Vec::new);
    for (i, layer) in g.iter().enumerate() {
        let (prev, rest) = gc.hidden.split_at_mut(i);
        let input: &[f32] = if i == 0 { &gc.z } else { &prev[i - 1] };
        let last = i + 1 == n;
        let out = if last { &mut gc.out } else { &mut rest[0] };
        resize(out, m * layer.d_out);
        matmul(
            out,
            input,
            Trans::No,
            &layer.w,
            Trans::No,
            m,
            layer.d_in,
            layer.d_out,
            false,
        );
        if last {
            for_rows(out, layer.d_out, |_, row| {
                for (v, b) in row.iter_mut().zip(&layer.b) {
                    *v = sigmoid(*v + b);
                }
            });
        } else {
            for_rows(out, layer.d_out, |_, row| {
                for (v, b) in row.iter_mut().zip(&layer.b) {
                    *v = (*v + b).max(0.0);
                }
            });
        }
    }
}

/// `e^x` for `x` in [-87, 88] (clamped outside), to within 2 ulp: Cephes' `expf` (Moshier)
/// without branches, so a loop of it vectorizes (libm's scalar `expf` was 2% of a step).
#[inline(always)]
fn exp_approx(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    // ln 2 split in two, so n * LN2_HI is exact for |n| < 2^9
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // adding and subtracting 1.5 * 2^23 rounds to the nearest integer
    const ROUND: f32 = 12_582_912.0;
    let x = x.clamp(-87.0, 88.0);
    let n = (x * LOG2E + ROUND) - ROUND;
    let r = x - n * LN2_HI - n * LN2_LO;
    let p = ((((1.987_569_2e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2) * r
        + 1.666_666_5e-1)
        * r
        + 0.5;
    let e = 1.0 + r + r * r * p;
    // 2^n through the exponent bits (n in [-126, 127] after the clamp)
    e * f32::from_bits(((n as i32 + 127) as u32) << 23)
}

/// The logistic sigmoid `1 / (1 + e^-a)`, through [`exp_approx`].
#[inline(always)]
fn sigmoid(a: f32) -> f32 {
    1.0 / (1.0 + exp_approx(-a))
}

/// Draws dropout masks of the given (width, keep) for `rows` examples, in order, into
/// reused buffers (an empty mask keeps everything).
fn fill_masks(masks: &mut Vec<Vec<f32>>, widths: &[(usize, f32)], rows: usize, rng: &mut Rng) {
    masks.resize_with(widths.len(), Vec::new);
    for (mask, &(w, keep)) in masks.iter_mut().zip(widths) {
        dropout_fill(mask, rows, w, keep, rng);
    }
}

/// G's activations kept for the backward pass.
#[derive(Default)]
struct GCache {
    z: Vec<f32>,
    hidden: Vec<Vec<f32>>,
    out: Vec<f32>,
    dz: Vec<f32>,
    dh: Vec<f32>,
}

/// D's activations kept for the backward pass.
#[derive(Default)]
struct DCache {
    /// Input after dropout.
    x0: Vec<f32>,
    /// Pre-maxout values of each hidden layer (reused as its gradient buffer).
    z: Vec<Vec<f32>>,
    /// Winning piece of each unit.
    arg: Vec<Vec<u8>>,
    /// Each hidden layer's output after dropout (the next layer's input).
    a: Vec<Vec<f32>>,
    /// Dropout masks: the input's, then each hidden layer's (empty = keep everything).
    masks: Vec<Vec<f32>>,
    logits: Vec<f32>,
    da: Vec<f32>,
    dprev: Vec<f32>,
    /// The nonzeros of a maxout layer's gradient (sparse backward pass).
    sparse: MaxoutGrad,
}

/// The generator and discriminator as dense buffers, with their momentum state.
pub struct Engine {
    /// G's layers: hidden ReLU layers, then the sigmoid output.
    pub g: Vec<Dense>,
    /// D's maxout layers (each `d_out = units * pieces`), then the logit layer.
    pub d: Vec<Dense>,
    /// Maxout pieces.
    pub pieces: usize,
    /// WGAN weight clipping: after each update D's weights and biases are clamped to
    /// [-clip, clip].
    pub d_clip: Option<f32>,
    gc: GCache,
    dc: DCache,
    fake: Vec<f32>,
    dl: Vec<f32>,
}

/// Host copy of a burn tensor.
pub(crate) fn host<const D: usize>(t: burn::tensor::Tensor<D>) -> Vec<f32> {
    t.inner()
        .into_data()
        .try_into_vec::<f32>()
        .unwrap_or_default()
}

fn dense_from(
    l: &burn::nn::Linear,
    vel: Option<(&burn::optim::GradientsParams,)>,
    transposed: bool,
    pieces: usize,
) -> Dense {
    let [d_in, d_out] = l.weight.val().dims();
    let w = host(l.weight.val());
    let b = l
        .bias
        .as_ref()
        .map(|b| host(b.val()))
        .unwrap_or_else(|| vec![0.0; d_out]);
    let (vw, vb) = match (vel, l.bias.as_ref()) {
        (Some((v,)), Some(bias)) => (
            v.get::<2>(l.weight.id)
                .map(host)
                .unwrap_or_else(|| vec![0.0; w.len()]),
            v.get::<1>(bias.id)
                .map(host)
                .unwrap_or_else(|| vec![0.0; d_out]),
        ),
        _ => (vec![0.0; w.len()], vec![0.0; d_out]),
    };
    Dense::new(w, b, vw, vb, d_in, d_out, transposed, pieces)
}

fn write_dense(l: &mut burn::nn::Linear, src: &Dense, vel: &mut burn::optim::GradientsParams) {
    use burn::tensor::{Tensor, TensorData};
    let device = l.weight.val().device();
    let [w, vw, b, vb] = src.burn_layout();
    let w = Tensor::<2>::from_data(TensorData::new(w, [src.d_in, src.d_out]), &device);
    l.weight = l.weight.clone().map(|_| w.require_grad());
    let inner = device.clone().without_autodiff();
    vel.register::<2>(
        l.weight.id,
        Tensor::from_data(TensorData::new(vw, [src.d_in, src.d_out]), &inner),
    );
    if let Some(bias) = l.bias.take() {
        let b = Tensor::<1>::from_data(TensorData::new(b, [src.d_out]), &device);
        let bias = bias.map(|_| b.require_grad());
        vel.register::<1>(
            bias.id,
            Tensor::from_data(TensorData::new(vb, [src.d_out]), &inner),
        );
        l.bias = Some(bias);
    }
}

/// What one fast step measured (logits of the D pass, on the host).
pub struct FastStats {
    /// D's logits on the real rows.
    pub real_logits: Vec<f32>,
    /// D's logits on the fake rows.
    pub fake_logits: Vec<f32>,
    /// Logits of the generator pass (alternating schedule), else empty.
    pub g_logits: Vec<f32>,
}

impl Engine {
    /// Copies the players' weights (and, when given, the optimizers' velocities, keyed by
    /// parameter id) into dense buffers.
    pub fn from_modules(
        g: &MlpGenerator,
        d: &MlpDiscriminator,
        vel_g: Option<&burn::optim::GradientsParams>,
        vel_d: Option<&burn::optim::GradientsParams>,
    ) -> Self {
        let mut gl: Vec<Dense> = g
            .hidden
            .iter()
            .map(|l| dense_from(l, vel_g.map(|v| (v,)), false, 1))
            .collect();
        gl.push(dense_from(&g.output, vel_g.map(|v| (v,)), false, 1));
        let mut dl: Vec<Dense> = d
            .hidden
            .iter()
            .map(|l| dense_from(&l.linear, vel_d.map(|v| (v,)), true, l.pieces))
            .collect();
        dl.push(dense_from(&d.output, vel_d.map(|v| (v,)), false, 1));
        Self {
            g: gl,
            d: dl,
            pieces: d.hidden.first().map(|h| h.pieces).unwrap_or(1),
            d_clip: None,
            gc: GCache::default(),
            dc: DCache::default(),
            fake: Vec::new(),
            dl: Vec::new(),
        }
    }

    /// Writes weights back into the modules (keeping their parameter ids) and the velocities
    /// into the optimizers' state maps.
    /// Writes the engine's generator weights into `g` (not its velocities): what sampling
    /// from a module needs between two [`Engine::write_modules`].
    pub fn write_generator(&self, g: &mut MlpGenerator) {
        let mut scratch = burn::optim::GradientsParams::new();
        let n = g.hidden.len();
        for (l, s) in g.hidden.iter_mut().zip(&self.g) {
            write_dense(l, s, &mut scratch);
        }
        write_dense(&mut g.output, &self.g[n], &mut scratch);
    }

    /// G's weights as they train, by the parameter ids of `g` (the module the engine was
    /// built from; burn's layout): what G's weight average reads after each step.
    pub fn generator_weights<'a>(
        &'a self,
        g: &MlpGenerator,
    ) -> Vec<(burn::module::ParamId, &'a [f32])> {
        let layers = g.hidden.iter().chain(std::iter::once(&g.output));
        let mut out = Vec::new();
        for (l, s) in layers.zip(&self.g) {
            out.push((l.weight.id, s.w.as_slice()));
            if let Some(b) = &l.bias {
                out.push((b.id, s.b.as_slice()));
            }
        }
        out
    }

    pub fn write_modules(
        &self,
        g: &mut MlpGenerator,
        d: &mut MlpDiscriminator,
        vel_g: &mut burn::optim::GradientsParams,
        vel_d: &mut burn::optim::GradientsParams,
    ) {
        let n = g.hidden.len();
        for (l, s) in g.hidden.iter_mut().zip(&self.g) {
            write_dense(l, s, vel_g);
        }
        write_dense(&mut g.output, &self.g[n], vel_g);
        let n = d.hidden.len();
        for (l, s) in d.hidden.iter_mut().zip(&self.d) {
            write_dense(&mut l.linear, s, vel_d);
        }
        write_dense(&mut d.output, &self.d[n], vel_d);
    }

    fn noise_dim(&self) -> usize {
        self.g[0].d_in
    }

    fn data_dim(&self) -> usize {
        self.d[0].d_in
    }

    /// G forward on `m` noise rows in `gc.z`; keeps activations; output in `gc.out`.
    fn g_forward(&mut self, m: usize) {
        g_forward(&self.g, &mut self.gc, m);
    }

    /// G forward on the noise in `gc.z` (`m` rows) while another thread draws D's dropout
    /// masks for `rows` examples (in the burn path's order): the random stream is consumed
    /// as if the masks were drawn after the forward pass (noise first, then masks), and the
    /// GEMMs take the second thread back as soon as the masks are drawn.
    fn g_forward_and_masks(
        &mut self,
        m: usize,
        cfg: &DiscriminatorConfig,
        rows: usize,
        rng: &mut Rng,
    ) {
        let widths = self.mask_widths(cfg);
        let (g, gc, masks) = (&self.g, &mut self.gc, &mut self.dc.masks);
        rayon::join(
            || fill_masks(masks, &widths, rows, rng),
            || g_forward(g, gc, m),
        );
    }

    /// G backward from `dx` (gradient w.r.t. G's output, `[m, data_dim]`); fills weight grads.
    fn g_backward(&mut self, dx: &[f32], m: usize) {
        let n = self.g.len();
        let gc = &mut self.gc;
        resize(&mut gc.dz, dx.len());
        apply3(&mut gc.dz, dx, &gc.out, |d, g, x| *d = g * x * (1.0 - x));
        for i in (0..n).rev() {
            let input: &[f32] = if i == 0 { &gc.z } else { &gc.hidden[i - 1] };
            self.g[i].grads(input, &gc.dz, m);
            if i > 0 {
                let layer = &self.g[i];
                resize(&mut gc.dh, m * layer.d_in);
                matmul(
                    &mut gc.dh,
                    &gc.dz,
                    Trans::No,
                    &layer.w,
                    Trans::Yes,
                    m,
                    layer.d_out,
                    layer.d_in,
                    false,
                );
                // a select, not a conditional store, so it vectorizes (the signs are random)
                apply2(&mut gc.dh, &gc.hidden[i - 1], |d, h| {
                    *d = if h <= 0.0 { 0.0 } else { *d };
                });
                std::mem::swap(&mut gc.dz, &mut gc.dh);
            }
        }
    }

    /// (width, keep) of D's dropout masks: its input's, then each hidden layer's output's.
    fn mask_widths(&self, cfg: &DiscriminatorConfig) -> Vec<(usize, f32)> {
        let nh = self.d.len() - 1;
        std::iter::once((self.data_dim(), cfg.input_keep))
            .chain(
                self.d[..nh]
                    .iter()
                    .map(|l| (l.d_out / self.pieces, cfg.hidden_keep)),
            )
            .collect()
    }

    /// D forward on `rows` inputs `x` with the drawn masks; logits in `dc.logits`.
    fn d_forward(&mut self, x: &[f32], rows: usize) {
        let nh = self.d.len() - 1;
        let p = self.pieces;
        let dc = &mut self.dc;
        dc.z.resize_with(nh, Vec::new);
        dc.arg.resize_with(nh, Vec::new);
        dc.a.resize_with(nh, Vec::new);
        resize(&mut dc.x0, x.len());
        if dc.masks[0].is_empty() {
            dc.x0.copy_from_slice(x);
        } else {
            apply3(&mut dc.x0, x, &dc.masks[0], |o, v, k| *o = v * k);
        }
        for i in 0..nh {
            let layer = &self.d[i];
            let units = layer.d_out / p;
            let input: &[f32] = if i == 0 { &dc.x0 } else { &dc.a[i - 1] };
            resize(&mut dc.z[i], rows * layer.d_out);
            matmul(
                &mut dc.z[i],
                input,
                Trans::No,
                &layer.w,
                layer.trans(),
                rows,
                layer.d_in,
                layer.d_out,
                false,
            );
            dc.arg[i].resize(rows * units, 0);
            resize(&mut dc.a[i], rows * units);
            let mask = &dc.masks[i + 1];
            let bias = &layer.b;
            // bias + maxout (winner recorded, the first on ties) + output dropout, one pass
            // per row; the pieces are stored piece-major, so each comparison runs over
            // contiguous units (no branches: it vectorizes)
            let row = |(r, ((zr, ar), out)): MaxoutRow| {
                // runs of C units: the running max and winner (as f32, so the updates
                // vectorize) stay in two small arrays
                const C: usize = 64;
                let (mut best, mut win) = ([0f32; C], [0f32; C]);
                for u0 in (0..units).step_by(C) {
                    let c = C.min(units - u0);
                    let (best, win) = (&mut best[..c], &mut win[..c]);
                    for ((o, &z), &b) in best.iter_mut().zip(&zr[u0..u0 + c]).zip(&bias[u0..]) {
                        *o = z + b;
                    }
                    win.fill(0.0);
                    for q in 1..p {
                        let at = q * units + u0;
                        let qf = q as f32;
                        for (((o, w), &z), &b) in best
                            .iter_mut()
                            .zip(win.iter_mut())
                            .zip(&zr[at..at + c])
                            .zip(&bias[at..at + c])
                        {
                            // arithmetic, not `if`: LLVM turns a select that may keep the
                            // old value into per-lane conditional stores
                            let v = z + b;
                            let better = f32::from(u8::from(v > *o));
                            *w += better * (qf - *w);
                            *o = o.max(v);
                        }
                    }
                    for (a, &w) in ar[u0..u0 + c].iter_mut().zip(win.iter()) {
                        *a = w as u8;
                    }
                    let o = &mut out[u0..u0 + c];
                    if mask.is_empty() {
                        o.copy_from_slice(best);
                    } else {
                        let k = &mask[r * units + u0..r * units + u0 + c];
                        for ((o, &v), &k) in o.iter_mut().zip(best.iter()).zip(k) {
                            *o = v * k;
                        }
                    }
                }
            };
            let z = &dc.z[i][..rows * layer.d_out];
            if z.len() >= PAR_MIN {
                z.par_chunks_exact(layer.d_out)
                    .zip(dc.arg[i].par_chunks_exact_mut(units))
                    .zip(dc.a[i].par_chunks_exact_mut(units))
                    .enumerate()
                    .for_each(row);
            } else {
                z.chunks_exact(layer.d_out)
                    .zip(dc.arg[i].chunks_exact_mut(units))
                    .zip(dc.a[i].chunks_exact_mut(units))
                    .enumerate()
                    .for_each(row);
            }
        }
        let out = &self.d[nh];
        let input: &[f32] = if nh == 0 { &dc.x0 } else { &dc.a[nh - 1] };
        resize(&mut dc.logits, rows);
        matmul(
            &mut dc.logits,
            input,
            Trans::No,
            &out.w,
            Trans::No,
            rows,
            out.d_in,
            1,
            false,
        );
        for l in dc.logits.iter_mut() {
            *l += out.b[0];
        }
    }

    /// D backward from logit gradients `dl` over rows `r0..r0+rows` of the last forward
    /// pass. With `weights`, fills D's weight gradients; with `data`, leaves the gradient
    /// w.r.t. D's input (after undoing the input dropout) in `dc.dprev`.
    fn d_backward(&mut self, dl: &[f32], r0: usize, rows: usize, weights: bool, data: bool) {
        let nh = self.d.len() - 1;
        let p = self.pieces;
        let data_dim = self.data_dim();
        let dc = &mut self.dc;
        let out_in = self.d[nh].d_in;
        let slice = |w: usize| r0 * w..(r0 + rows) * w;
        if weights {
            let input: &[f32] = if nh == 0 { &dc.x0 } else { &dc.a[nh - 1] };
            let rng = slice(out_in);
            self.d[nh].grads(&input[rng], dl, rows);
        }
        // gradient w.r.t. the logit layer's input: dl (rows x 1) times w^T (1 x d_in)
        resize(&mut dc.da, rows * out_in);
        let w_out = &self.d[nh].w;
        for (row, &g) in dc.da.chunks_exact_mut(out_in).zip(dl) {
            for (o, &w) in row.iter_mut().zip(w_out) {
                *o = g * w;
            }
        }
        for i in (0..nh).rev() {
            let layer_out = self.d[i].d_out;
            let units = layer_out / p;
            let d_in = self.d[i].d_in;
            let need_prev = i > 0 || data;
            let mask = &dc.masks[i + 1];
            let input: &[f32] = if i == 0 { &dc.x0 } else { &dc.a[i - 1] };
            let input = &input[slice(d_in)];
            if p >= 2 {
                // one winner per unit, half the units dropped: list the nonzeros of dz
                dc.sparse
                    .build(&dc.da, mask, &dc.arg[i], r0, rows, units, p);
                if weights {
                    let l = &mut self.d[i];
                    dc.sparse.weight_grads(&mut l.gw, &mut l.gb, input, d_in);
                }
                if need_prev {
                    resize(&mut dc.dprev, rows * d_in);
                    dc.sparse.input_grads(&mut dc.dprev, &self.d[i].w, d_in);
                }
            } else {
                // through this layer's output dropout (one piece: dz is da times the mask)
                let dz = &mut dc.z[i][r0 * layer_out..(r0 + rows) * layer_out];
                if mask.is_empty() {
                    dz.copy_from_slice(&dc.da[..rows * units]);
                } else {
                    let k = &mask[r0 * units..(r0 + rows) * units];
                    apply3(dz, &dc.da, k, |o, a, k| *o = a * k);
                }
                if weights {
                    self.d[i].grads(input, dz, rows);
                }
                if need_prev {
                    resize(&mut dc.dprev, rows * d_in);
                    // the layer's weights are stored [d_out, d_in]
                    matmul(
                        &mut dc.dprev,
                        dz,
                        Trans::No,
                        &self.d[i].w,
                        Trans::No,
                        rows,
                        layer_out,
                        d_in,
                        false,
                    );
                }
            }
            if need_prev && i > 0 {
                std::mem::swap(&mut dc.da, &mut dc.dprev);
            }
        }
        if data && !dc.masks[0].is_empty() {
            let m0 = &dc.masks[0][r0 * data_dim..(r0 + rows) * data_dim];
            apply2(&mut dc.dprev, m0, |g, k| *g *= k);
        }
    }

    fn update_d(&mut self, lr: f32, mu: f32) {
        for l in &mut self.d {
            l.update(lr, mu);
            if let Some(c) = self.d_clip {
                l.w.iter_mut()
                    .chain(l.b.iter_mut())
                    .for_each(|v| *v = v.clamp(-c, c));
            }
        }
    }

    fn update_g(&mut self, lr: f32, mu: f32) {
        for l in &mut self.g {
            l.update(lr, mu);
        }
    }

    /// Output gradients of [`GanLoss::discriminator_loss`] over `m` real then `n` fake rows
    /// ([`d_logit_grad`]).
    fn d_loss_grad(loss: GanLoss, logits: &[f32], m: usize, out: &mut Vec<f32>) {
        resize(out, logits.len());
        let (mf, nf) = (m as f64, (logits.len() - m) as f64);
        for (i, (o, &l)) in out.iter_mut().zip(logits).enumerate() {
            let real = i < m;
            *o = d_logit_grad(loss, l as f64, real, if real { mf } else { nf }) as f32;
        }
    }

    /// Output gradients of the generator loss over `n` fake rows ([`g_logit_grad`]).
    fn g_loss_grad(loss: GanLoss, logits: &[f32], out: &mut Vec<f32>) {
        resize(out, logits.len());
        let n = logits.len() as f64;
        for (o, &l) in out.iter_mut().zip(logits) {
            *o = g_logit_grad(loss, l as f64, n) as f32;
        }
    }

    /// The authors' simultaneous step on the real batch `x` (`m` rows): G(z) once, D on
    /// [real; fake], the D objective on both halves and the G objective on the fake half with
    /// the same masks, both updates from the same parameters.
    #[allow(clippy::too_many_arguments)]
    pub fn simultaneous_step(
        &mut self,
        x: &[f32],
        m: usize,
        noise: &NoiseConfig,
        dcfg: &DiscriminatorConfig,
        loss: GanLoss,
        rng: &mut Rng,
        lr_d: f32,
        lr_g: f32,
        mu: f32,
    ) -> FastStats {
        let d = self.data_dim();
        self.gc.z = noise_values(noise, m, rng);
        debug_assert_eq!(self.gc.z.len(), m * self.noise_dim());
        self.g_forward_and_masks(m, dcfg, 2 * m, rng);
        let mut both = std::mem::take(&mut self.fake);
        both.clear();
        both.extend_from_slice(&x[..m * d]);
        both.extend_from_slice(&self.gc.out);
        self.d_forward(&both, 2 * m);
        self.fake = both;
        let logits = self.dc.logits.clone();
        // G's path first: it needs D's pre-update weights and the cached activations, which
        // the D backward pass overwrites (its dz buffers).
        let mut dl = std::mem::take(&mut self.dl);
        Self::g_loss_grad(loss, &logits[m..], &mut dl);
        self.d_backward(&dl, m, m, false, true);
        let dx = std::mem::take(&mut self.dc.dprev);
        self.g_backward(&dx, m);
        self.dc.dprev = dx;
        Self::d_loss_grad(loss, &logits, m, &mut dl);
        self.d_backward(&dl, 0, 2 * m, true, false);
        self.dl = dl;
        self.update_d(lr_d, mu);
        self.update_g(lr_g, mu);
        FastStats {
            real_logits: logits[..m].to_vec(),
            fake_logits: logits[m..].to_vec(),
            g_logits: Vec::new(),
        }
    }

    /// Algorithm 1's D update on the real batch `x` and a fresh fake batch.
    #[allow(clippy::too_many_arguments)]
    pub fn discriminator_step(
        &mut self,
        loss: GanLoss,
        x: &[f32],
        m: usize,
        noise: &NoiseConfig,
        dcfg: &DiscriminatorConfig,
        rng: &mut Rng,
        lr: f32,
        mu: f32,
    ) -> (Vec<f32>, Vec<f32>) {
        let d = self.data_dim();
        self.gc.z = noise_values(noise, m, rng);
        self.g_forward_and_masks(m, dcfg, 2 * m, rng);
        let mut both = std::mem::take(&mut self.fake);
        both.clear();
        both.extend_from_slice(&x[..m * d]);
        both.extend_from_slice(&self.gc.out);
        self.d_forward(&both, 2 * m);
        self.fake = both;
        let logits = self.dc.logits.clone();
        let mut dl = std::mem::take(&mut self.dl);
        Self::d_loss_grad(loss, &logits, m, &mut dl);
        self.d_backward(&dl, 0, 2 * m, true, false);
        self.dl = dl;
        self.update_d(lr, mu);
        (logits[..m].to_vec(), logits[m..].to_vec())
    }

    /// Algorithm 1's G update on fresh noise through the current D (no D weight gradients).
    #[allow(clippy::too_many_arguments)]
    pub fn generator_step(
        &mut self,
        m: usize,
        noise: &NoiseConfig,
        dcfg: &DiscriminatorConfig,
        loss: GanLoss,
        rng: &mut Rng,
        lr: f32,
        mu: f32,
    ) -> Vec<f32> {
        self.gc.z = noise_values(noise, m, rng);
        self.g_forward_and_masks(m, dcfg, m, rng);
        let fake = std::mem::take(&mut self.gc.out);
        self.d_forward(&fake, m);
        self.gc.out = fake;
        let logits = self.dc.logits.clone();
        let mut dl = std::mem::take(&mut self.dl);
        Self::g_loss_grad(loss, &logits, &mut dl);
        self.d_backward(&dl, 0, m, false, true);
        self.dl = dl;
        let dx = std::mem::take(&mut self.dc.dprev);
        self.g_backward(&dx, m);
        self.dc.dprev = dx;
        self.update_g(lr, mu);
        logits
    }

    /// G(z) for `n` noise rows (evaluation mode), into `out`.
    pub fn generate(&mut self, z: &[f32], out: &mut Vec<f32>) {
        let n = z.len() / self.noise_dim();
        self.gc.z.clear();
        self.gc.z.extend_from_slice(z);
        self.g_forward(n);
        out.clear();
        out.extend_from_slice(&self.gc.out);
    }
}

/// The gradient of the discriminator loss at one logit `l` of a real (or fake) row, of
/// `count` rows of its kind: for the paper's losses, -(1/2) eq. (2): (1/2)(sigmoid(l) - 1)/m
/// for real, (1/2) sigmoid(l)/n for fake; LSGAN (l - 1)/m and l/n; hinge -[l < 1]/m and
/// [l > -1]/n; WGAN -1/m and 1/n ([`GanLoss::discriminator_loss`] is the loss itself).
pub(crate) fn d_logit_grad(loss: GanLoss, l: f64, real: bool, count: f64) -> f64 {
    match (loss, real) {
        (GanLoss::Minimax | GanLoss::NonSaturating, true) => 0.5 * (sigmoid_f64(l) - 1.0) / count,
        (GanLoss::Minimax | GanLoss::NonSaturating, false) => 0.5 * sigmoid_f64(l) / count,
        (GanLoss::Lsgan, true) => (l - 1.0) / count,
        (GanLoss::Lsgan, false) => l / count,
        (GanLoss::Hinge, true) => {
            if l < 1.0 {
                -1.0 / count
            } else {
                0.0
            }
        }
        (GanLoss::Hinge, false) => {
            if l > -1.0 {
                1.0 / count
            } else {
                0.0
            }
        }
        (GanLoss::Wgan | GanLoss::WganGp, true) => -1.0 / count,
        (GanLoss::Wgan | GanLoss::WganGp, false) => 1.0 / count,
    }
}

/// The gradient of the generator loss at one logit of `n` fake rows: eq. (5)
/// -sigmoid(-l)/n, eq. (3) -sigmoid(l)/n, LSGAN (l - 1)/n, hinge and WGAN -1/n.
pub(crate) fn g_logit_grad(loss: GanLoss, l: f64, n: f64) -> f64 {
    match loss {
        GanLoss::NonSaturating => -sigmoid_f64(-l) / n,
        GanLoss::Minimax => -sigmoid_f64(l) / n,
        GanLoss::Lsgan => (l - 1.0) / n,
        GanLoss::Hinge | GanLoss::Wgan | GanLoss::WganGp => -1.0 / n,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_approx_is_within_a_few_ulp_of_exp() {
        let mut worst = 0f64;
        let mut x = -87.0f32;
        while x <= 88.0 {
            let want = (x as f64).exp();
            let got = exp_approx(x) as f64;
            worst = worst.max((got - want).abs() / want);
            x += 0.000_731;
        }
        assert!(worst < 3e-7, "relative error {worst}");
        // clamped outside the range, never infinite or NaN
        assert_eq!(exp_approx(-1000.0), exp_approx(-87.0));
        assert_eq!(exp_approx(1000.0), exp_approx(88.0));
        assert!(exp_approx(88.0).is_finite() && exp_approx(-87.0) > 0.0);
        for a in [-30.0f32, -5.0, -0.3, 0.0, 0.7, 4.0, 30.0] {
            let want = 1.0 / (1.0 + (-a as f64).exp());
            assert!(
                (sigmoid(a) as f64 - want).abs() <= 2e-7 * want,
                "sigmoid({a})"
            );
        }
    }
}
