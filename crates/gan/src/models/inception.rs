//! InceptionV3 as the FID reference computes it: `pytorch-fid`'s `fid_inception_v3` (Seitzer,
//! the TF-Inception graph of Heusel et al. 2017 ported to PyTorch), its parameter names, its
//! `FIDInceptionA` / `FIDInceptionC` / `FIDInceptionE_1` / `FIDInceptionE_2` blocks
//! (TensorFlow's average pooling that leaves the padding out of the count, the max-pooling in
//! the last block's pool branch) and its input path: bilinear resize to 299 x 299 with
//! PyTorch's `align_corners = False` convention ([`resize_bilinear`]), then `2 x - 1`.
//!
//! Weights come from a file the user has ([`Inception::load`]): `pytorch-fid`'s
//! `pt_inception-2015-12-05-6726825d.pth` read directly, or a safetensors copy with the same
//! names. Nothing is downloaded.
//!
//! Batch norm runs in evaluation mode (the running statistics, eps 0.001, as the port).

// the fields carry the state dict's names (`Mixed_5b`, `Conv2d_1a_3x3`), so the file loads
// without a key map
#![allow(non_snake_case)]

use std::path::Path;

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{AvgPool2dConfig, MaxPool2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::store::ModuleSnapshot;
use burn::tensor::activation::relu;
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Device, Tensor};

use crate::error::{Error, Result};

/// Side of the network's input.
pub const INPUT_SIDE: usize = 299;
/// Width of the pool3 features (the FID's).
pub const FEATURE_DIM: usize = 2048;
/// Outputs of the classifier (the Inception Score's; 1,008 in the TF graph).
pub const LOGIT_DIM: usize = 1008;
/// The file `pytorch-fid` downloads (from its GitHub release `fid_weights`), and its SHA-256.
pub const WEIGHTS_FILE: &str = "pt_inception-2015-12-05-6726825d.pth";
/// SHA-256 of [`WEIGHTS_FILE`] (its name carries the first 8 hex digits).
pub const WEIGHTS_SHA256: &str = "6726825d0af5f729cebd5821db510b11b1cfad8faad88a03f1befd49fb9129b2";

/// torchvision's `BasicConv2d`: a convolution without bias, batch norm (eps 0.001), ReLU.
#[derive(Module, Debug)]
pub struct BasicConv {
    /// The convolution.
    pub conv: Conv2d,
    /// Its batch norm.
    pub bn: BatchNorm,
}

impl BasicConv {
    fn new(c_in: usize, c_out: usize, k: [usize; 2], stride: usize, pad: [usize; 2]) -> Self {
        let device = Device::flex();
        Self {
            conv: Conv2dConfig::new([c_in, c_out], k)
                .with_stride([stride, stride])
                .with_padding(PaddingConfig2d::Explicit(pad[0], pad[1], pad[0], pad[1]))
                .with_bias(false)
                .init(&device),
            bn: BatchNormConfig::new(c_out).with_epsilon(1e-3).init(&device),
        }
    }

    /// The convolution with the batch norm's affine map of its running statistics folded in,
    /// then ReLU.
    ///
    /// # Shapes
    /// `[n, c_in, h, w]` -> `[n, c_out, h', w']`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let bn = &self.bn;
        let scale = bn.gamma.val() / bn.running_var.value().add_scalar(bn.epsilon).sqrt();
        let shift = bn.beta.val() - bn.running_mean.value() * scale.clone();
        let [c_out, ..] = self.conv.weight.dims();
        let w = self.conv.weight.val() * scale.reshape([c_out, 1, 1, 1]);
        let pad = match &self.conv.padding {
            PaddingConfig2d::Explicit(top, left, ..) => [*top, *left],
            _ => [0, 0],
        };
        relu(conv2d(
            x,
            w,
            Some(shift),
            ConvOptions::new(self.conv.stride, pad, [1, 1], 1),
        ))
    }
}

fn conv1(c_in: usize, c_out: usize) -> BasicConv {
    BasicConv::new(c_in, c_out, [1, 1], 1, [0, 0])
}

fn conv_k(c_in: usize, c_out: usize, k: [usize; 2], pad: [usize; 2]) -> BasicConv {
    BasicConv::new(c_in, c_out, k, 1, pad)
}

fn max_pool(x: Tensor<4>, k: usize, stride: usize, pad: usize) -> Tensor<4> {
    MaxPool2dConfig::new([k, k])
        .with_strides([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
        .init()
        .forward(x)
}

/// TensorFlow's 3 x 3, stride 1, pad 1 average: the padding left out of the count.
fn avg_pool_tf(x: Tensor<4>) -> Tensor<4> {
    AvgPool2dConfig::new([3, 3])
        .with_strides([1, 1])
        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
        .with_count_include_pad(false)
        .init()
        .forward(x)
}

/// `FIDInceptionA` (Mixed_5b, 5c, 5d).
#[derive(Module, Debug)]
pub struct BlockA {
    branch1x1: BasicConv,
    branch5x5_1: BasicConv,
    branch5x5_2: BasicConv,
    branch3x3dbl_1: BasicConv,
    branch3x3dbl_2: BasicConv,
    branch3x3dbl_3: BasicConv,
    branch_pool: BasicConv,
}

impl BlockA {
    fn new(c_in: usize, pool_features: usize) -> Self {
        Self {
            branch1x1: conv1(c_in, 64),
            branch5x5_1: conv1(c_in, 48),
            branch5x5_2: conv_k(48, 64, [5, 5], [2, 2]),
            branch3x3dbl_1: conv1(c_in, 64),
            branch3x3dbl_2: conv_k(64, 96, [3, 3], [1, 1]),
            branch3x3dbl_3: conv_k(96, 96, [3, 3], [1, 1]),
            branch_pool: conv1(c_in, pool_features),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let b1 = self.branch1x1.forward(x.clone());
        let b5 = self
            .branch5x5_2
            .forward(self.branch5x5_1.forward(x.clone()));
        let b3 = self.branch3x3dbl_3.forward(
            self.branch3x3dbl_2
                .forward(self.branch3x3dbl_1.forward(x.clone())),
        );
        let bp = self.branch_pool.forward(avg_pool_tf(x));
        Tensor::cat(vec![b1, b5, b3, bp], 1)
    }
}

/// torchvision's `InceptionB` (Mixed_6a): the grid 35 -> 17.
#[derive(Module, Debug)]
pub struct BlockB {
    branch3x3: BasicConv,
    branch3x3dbl_1: BasicConv,
    branch3x3dbl_2: BasicConv,
    branch3x3dbl_3: BasicConv,
}

impl BlockB {
    fn new(c_in: usize) -> Self {
        Self {
            branch3x3: BasicConv::new(c_in, 384, [3, 3], 2, [0, 0]),
            branch3x3dbl_1: conv1(c_in, 64),
            branch3x3dbl_2: conv_k(64, 96, [3, 3], [1, 1]),
            branch3x3dbl_3: BasicConv::new(96, 96, [3, 3], 2, [0, 0]),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let b3 = self.branch3x3.forward(x.clone());
        let bd = self.branch3x3dbl_3.forward(
            self.branch3x3dbl_2
                .forward(self.branch3x3dbl_1.forward(x.clone())),
        );
        let bp = max_pool(x, 3, 2, 0);
        Tensor::cat(vec![b3, bd, bp], 1)
    }
}

/// `FIDInceptionC` (Mixed_6b to 6e): factorised 7 x 7 convolutions.
#[derive(Module, Debug)]
pub struct BlockC {
    branch1x1: BasicConv,
    branch7x7_1: BasicConv,
    branch7x7_2: BasicConv,
    branch7x7_3: BasicConv,
    branch7x7dbl_1: BasicConv,
    branch7x7dbl_2: BasicConv,
    branch7x7dbl_3: BasicConv,
    branch7x7dbl_4: BasicConv,
    branch7x7dbl_5: BasicConv,
    branch_pool: BasicConv,
}

impl BlockC {
    fn new(c_in: usize, c7: usize) -> Self {
        let (row, col) = (([1, 7], [0, 3]), ([7, 1], [3, 0]));
        Self {
            branch1x1: conv1(c_in, 192),
            branch7x7_1: conv1(c_in, c7),
            branch7x7_2: conv_k(c7, c7, row.0, row.1),
            branch7x7_3: conv_k(c7, 192, col.0, col.1),
            branch7x7dbl_1: conv1(c_in, c7),
            branch7x7dbl_2: conv_k(c7, c7, col.0, col.1),
            branch7x7dbl_3: conv_k(c7, c7, row.0, row.1),
            branch7x7dbl_4: conv_k(c7, c7, col.0, col.1),
            branch7x7dbl_5: conv_k(c7, 192, row.0, row.1),
            branch_pool: conv1(c_in, 192),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let b1 = self.branch1x1.forward(x.clone());
        let mut b7 = self.branch7x7_1.forward(x.clone());
        for c in [&self.branch7x7_2, &self.branch7x7_3] {
            b7 = c.forward(b7);
        }
        let mut bd = self.branch7x7dbl_1.forward(x.clone());
        for c in [
            &self.branch7x7dbl_2,
            &self.branch7x7dbl_3,
            &self.branch7x7dbl_4,
            &self.branch7x7dbl_5,
        ] {
            bd = c.forward(bd);
        }
        let bp = self.branch_pool.forward(avg_pool_tf(x));
        Tensor::cat(vec![b1, b7, bd, bp], 1)
    }
}

/// torchvision's `InceptionD` (Mixed_7a): the grid 17 -> 8.
#[derive(Module, Debug)]
pub struct BlockD {
    branch3x3_1: BasicConv,
    branch3x3_2: BasicConv,
    branch7x7x3_1: BasicConv,
    branch7x7x3_2: BasicConv,
    branch7x7x3_3: BasicConv,
    branch7x7x3_4: BasicConv,
}

impl BlockD {
    fn new(c_in: usize) -> Self {
        Self {
            branch3x3_1: conv1(c_in, 192),
            branch3x3_2: BasicConv::new(192, 320, [3, 3], 2, [0, 0]),
            branch7x7x3_1: conv1(c_in, 192),
            branch7x7x3_2: conv_k(192, 192, [1, 7], [0, 3]),
            branch7x7x3_3: conv_k(192, 192, [7, 1], [3, 0]),
            branch7x7x3_4: BasicConv::new(192, 192, [3, 3], 2, [0, 0]),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let b3 = self
            .branch3x3_2
            .forward(self.branch3x3_1.forward(x.clone()));
        let mut b7 = self.branch7x7x3_1.forward(x.clone());
        for c in [
            &self.branch7x7x3_2,
            &self.branch7x7x3_3,
            &self.branch7x7x3_4,
        ] {
            b7 = c.forward(b7);
        }
        let bp = max_pool(x, 3, 2, 0);
        Tensor::cat(vec![b3, b7, bp], 1)
    }
}

/// `FIDInceptionE_1` (Mixed_7b, average pooling) and `FIDInceptionE_2` (Mixed_7c, the port's
/// max-pooling in the pool branch).
#[derive(Module, Debug)]
pub struct BlockE {
    branch1x1: BasicConv,
    branch3x3_1: BasicConv,
    branch3x3_2a: BasicConv,
    branch3x3_2b: BasicConv,
    branch3x3dbl_1: BasicConv,
    branch3x3dbl_2: BasicConv,
    branch3x3dbl_3a: BasicConv,
    branch3x3dbl_3b: BasicConv,
    branch_pool: BasicConv,
    max_pool: bool,
}

impl BlockE {
    fn new(c_in: usize, max_pool: bool) -> Self {
        Self {
            branch1x1: conv1(c_in, 320),
            branch3x3_1: conv1(c_in, 384),
            branch3x3_2a: conv_k(384, 384, [1, 3], [0, 1]),
            branch3x3_2b: conv_k(384, 384, [3, 1], [1, 0]),
            branch3x3dbl_1: conv1(c_in, 448),
            branch3x3dbl_2: conv_k(448, 384, [3, 3], [1, 1]),
            branch3x3dbl_3a: conv_k(384, 384, [1, 3], [0, 1]),
            branch3x3dbl_3b: conv_k(384, 384, [3, 1], [1, 0]),
            branch_pool: conv1(c_in, 192),
            max_pool,
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let b1 = self.branch1x1.forward(x.clone());
        let b3 = self.branch3x3_1.forward(x.clone());
        let b3 = Tensor::cat(
            vec![
                self.branch3x3_2a.forward(b3.clone()),
                self.branch3x3_2b.forward(b3),
            ],
            1,
        );
        let bd = self
            .branch3x3dbl_2
            .forward(self.branch3x3dbl_1.forward(x.clone()));
        let bd = Tensor::cat(
            vec![
                self.branch3x3dbl_3a.forward(bd.clone()),
                self.branch3x3dbl_3b.forward(bd),
            ],
            1,
        );
        let pooled = match self.max_pool {
            true => max_pool(x, 3, 1, 1),
            false => avg_pool_tf(x),
        };
        let bp = self.branch_pool.forward(pooled);
        Tensor::cat(vec![b1, b3, bd, bp], 1)
    }
}

/// The FID Inception network, its fields named as `pytorch-fid`'s state dict.
#[derive(Module, Debug)]
pub struct Inception {
    Conv2d_1a_3x3: BasicConv,
    Conv2d_2a_3x3: BasicConv,
    Conv2d_2b_3x3: BasicConv,
    Conv2d_3b_1x1: BasicConv,
    Conv2d_4a_3x3: BasicConv,
    Mixed_5b: BlockA,
    Mixed_5c: BlockA,
    Mixed_5d: BlockA,
    Mixed_6a: BlockB,
    Mixed_6b: BlockC,
    Mixed_6c: BlockC,
    Mixed_6d: BlockC,
    Mixed_6e: BlockC,
    Mixed_7a: BlockD,
    Mixed_7b: BlockE,
    Mixed_7c: BlockE,
    fc: Linear,
}

/// What one pass gives: the pool3 features and, when asked, the outputs of each block.
pub struct InceptionOutput {
    /// The 2,048-d pool3 features, `[n, 2048]`.
    pub features: Tensor<2>,
    /// The 1,008 logits (`fc` on the features, bias included), `[n, 1008]`.
    pub logits: Tensor<2>,
    /// The logits without `fc`'s bias (torch-fidelity's `logits_unbiased`, what its
    /// Inception Score reads), `[n, 1008]`.
    pub logits_unbiased: Tensor<2>,
    /// With `trace`: the name and output of every stage, in order.
    pub stages: Vec<(&'static str, Tensor<4>)>,
}

impl Inception {
    /// The network with placeholder weights (to be loaded).
    pub fn untrained() -> Self {
        Self {
            Conv2d_1a_3x3: BasicConv::new(3, 32, [3, 3], 2, [0, 0]),
            Conv2d_2a_3x3: conv_k(32, 32, [3, 3], [0, 0]),
            Conv2d_2b_3x3: conv_k(32, 64, [3, 3], [1, 1]),
            Conv2d_3b_1x1: conv1(64, 80),
            Conv2d_4a_3x3: conv_k(80, 192, [3, 3], [0, 0]),
            Mixed_5b: BlockA::new(192, 32),
            Mixed_5c: BlockA::new(256, 64),
            Mixed_5d: BlockA::new(288, 64),
            Mixed_6a: BlockB::new(288),
            Mixed_6b: BlockC::new(768, 128),
            Mixed_6c: BlockC::new(768, 160),
            Mixed_6d: BlockC::new(768, 160),
            Mixed_6e: BlockC::new(768, 192),
            Mixed_7a: BlockD::new(768),
            Mixed_7b: BlockE::new(1280, false),
            Mixed_7c: BlockE::new(2048, true),
            fc: LinearConfig::new(FEATURE_DIM, LOGIT_DIM).init(&Device::flex()),
        }
    }

    /// The network with the weights of `path`: `pytorch-fid`'s `.pth` (PyTorch's zip
    /// format) or a `.safetensors` file with the same names. Every parameter must be there
    /// with its shape (only `num_batches_tracked`, which evaluation never reads, may be left
    /// over); a missing file says where the weights come from.
    pub fn load(path: &Path) -> Result<Self> {
        if !path.is_file() {
            return Err(Error::checkpoint(
                path,
                format!(
                    "no such file. The FID Inception weights are pytorch-fid's {WEIGHTS_FILE} \
                     (its GitHub release `fid_weights`, SHA-256 {WEIGHTS_SHA256}); download it \
                     once and pass its path (nothing is downloaded at run time)"
                ),
            ));
        }
        let mut net = Self::untrained();
        let is_pth = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("pth") || e.eq_ignore_ascii_case("pt"));
        let result = if is_pth {
            let mut store = burn::store::PytorchStore::from_file(path).allow_partial(true);
            net.load_from(&mut store).map_err(|e| e.to_string())
        } else {
            let mut store = burn::store::SafetensorsStore::from_file(path)
                .with_from_adapter(burn::store::PyTorchToBurnAdapter)
                .allow_partial(true);
            net.load_from(&mut store).map_err(|e| e.to_string())
        };
        let result = result.map_err(|e| Error::checkpoint(path, format!("cannot read: {e}")))?;
        // evaluation never reads the batch-norm step counters
        crate::checkpoint::check_applied(&result, path, |n| n.ends_with("num_batches_tracked"))
            .map_err(|e| Error::checkpoint(path, format!("not the FID Inception weights: {e}")))?;
        Ok(net)
    }

    /// Features and logits of images already at 299 x 299 in [-1, 1]; with `trace`, every
    /// stage's output too.
    ///
    /// # Shapes
    /// `x`: `[n, 3, 299, 299]`.
    pub fn forward(&self, x: Tensor<4>, trace: bool) -> InceptionOutput {
        let mut stages = Vec::new();
        let mut keep = |name: &'static str, t: &Tensor<4>| {
            if trace {
                stages.push((name, t.clone()));
            }
        };
        let mut h = x;
        for (name, c) in [
            ("Conv2d_1a_3x3", &self.Conv2d_1a_3x3),
            ("Conv2d_2a_3x3", &self.Conv2d_2a_3x3),
            ("Conv2d_2b_3x3", &self.Conv2d_2b_3x3),
        ] {
            h = c.forward(h);
            keep(name, &h);
        }
        h = max_pool(h, 3, 2, 0);
        keep("maxpool1", &h);
        for (name, c) in [
            ("Conv2d_3b_1x1", &self.Conv2d_3b_1x1),
            ("Conv2d_4a_3x3", &self.Conv2d_4a_3x3),
        ] {
            h = c.forward(h);
            keep(name, &h);
        }
        h = max_pool(h, 3, 2, 0);
        keep("maxpool2", &h);
        for (name, b) in [
            ("Mixed_5b", &self.Mixed_5b),
            ("Mixed_5c", &self.Mixed_5c),
            ("Mixed_5d", &self.Mixed_5d),
        ] {
            h = b.forward(h);
            keep(name, &h);
        }
        h = self.Mixed_6a.forward(h);
        keep("Mixed_6a", &h);
        for (name, b) in [
            ("Mixed_6b", &self.Mixed_6b),
            ("Mixed_6c", &self.Mixed_6c),
            ("Mixed_6d", &self.Mixed_6d),
            ("Mixed_6e", &self.Mixed_6e),
        ] {
            h = b.forward(h);
            keep(name, &h);
        }
        h = self.Mixed_7a.forward(h);
        keep("Mixed_7a", &h);
        h = self.Mixed_7b.forward(h);
        keep("Mixed_7b", &h);
        h = self.Mixed_7c.forward(h);
        keep("Mixed_7c", &h);
        let [n, c, hh, ww] = h.dims();
        let features = h.reshape([n, c, hh * ww]).mean_dim(2).reshape([n, c]);
        let logits_unbiased = features.clone().matmul(self.fc.weight.val());
        let logits = self.fc.forward(features.clone());
        InceptionOutput {
            features,
            logits,
            logits_unbiased,
            stages,
        }
    }
}

/// PyTorch's `F.interpolate(mode = "bilinear", align_corners = False)` of one channel
/// (`src`, `h x w`) to `out_h x out_w`: the source coordinate of output pixel `i` is
/// `(i + 0.5) in / out - 0.5`, clamped at 0, between pixels `floor` and `floor + 1` (the
/// last one repeated at the edge).
pub fn resize_bilinear(src: &[f32], h: usize, w: usize, out_h: usize, out_w: usize) -> Vec<f32> {
    let taps = |n_in: usize, n_out: usize| -> Vec<(usize, usize, f32)> {
        let scale = n_in as f32 / n_out as f32;
        (0..n_out)
            .map(|i| {
                let s = ((i as f32 + 0.5) * scale - 0.5).max(0.0);
                let i0 = (s.floor() as usize).min(n_in - 1);
                let i1 = (i0 + 1).min(n_in - 1);
                (i0, i1, s - i0 as f32)
            })
            .collect()
    };
    let (ty, tx) = (taps(h, out_h), taps(w, out_w));
    let mut out = Vec::with_capacity(out_h * out_w);
    for &(y0, y1, ly) in &ty {
        for &(x0, x1, lx) in &tx {
            let top = src[y0 * w + x0] * (1.0 - lx) + src[y0 * w + x1] * lx;
            let bottom = src[y1 * w + x0] * (1.0 - lx) + src[y1 * w + x1] * lx;
            out.push(top * (1.0 - ly) + bottom * ly);
        }
    }
    out
}

/// The network's input from images in [0, 1] (`n` images of `channels x h x w`, channels
/// first): grey images replicated to three channels, each channel resized to 299 x 299
/// ([`resize_bilinear`]), then mapped to [-1, 1] (`pytorch-fid`'s `normalize_input`).
///
/// # Shapes
/// Result `[n, 3, 299, 299]`.
pub fn prepare(images: &[f32], channels: usize, h: usize, w: usize, device: &Device) -> Tensor<4> {
    let n = images.len() / (channels * h * w).max(1);
    let side = INPUT_SIDE;
    let mut out = Vec::with_capacity(n * 3 * side * side);
    for img in images.chunks_exact(channels * h * w) {
        for c in 0..3 {
            let plane = &img[(c % channels) * h * w..(c % channels + 1) * h * w];
            let resized = if (h, w) == (side, side) {
                plane.to_vec()
            } else {
                resize_bilinear(plane, h, w, side, side)
            };
            out.extend(resized.into_iter().map(|v| 2.0 * v - 1.0));
        }
    }
    Tensor::from_data(
        burn::tensor::TensorData::new(out, [n, 3, side, side]),
        device,
    )
}
