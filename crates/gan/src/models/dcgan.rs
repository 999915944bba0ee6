//! Convolutional players (Radford et al. 2016, "DCGAN"), behind the library's traits:
//!
//! - `dcgan-28` for 28 x 28 data, the InfoGAN MNIST layout (Chen et al. 2016):
//!   G: Linear(z, 2 ngf * 7 * 7), BN, ReLU, ConvT(2 ngf, ngf, 4, 2, 1), BN, ReLU,
//!   ConvT(ngf, C, 4, 2, 1), tanh; D: Conv(C, ndf, 4, 2, 1), LeakyReLU 0.2,
//!   Conv(ndf, 2 ndf, 4, 2, 1), BN, LeakyReLU 0.2, Linear(2 ndf * 7 * 7, 1). With
//!   ngf = ndf = 64 the widths are the layout's 64 and 128. With `hidden = h > 0` it is
//!   InfoGAN's full MNIST model (Chen et al. 2016, appendix C.1): G starts with
//!   Linear(z, h), BN, ReLU before its projection, and D ends with Linear(2 ndf * 7 * 7, h),
//!   BN, LeakyReLU 0.2 before its output (1024 in InfoGAN).
//! - `dcgan-32` and `dcgan-64`: pytorch/examples' `dcgan` (`dcgan-64`) and the same with one
//!   block fewer (`dcgan-32`): G from z through ConvT(4, 1, 0) then ConvT(4, 2, 1) blocks with
//!   BN + ReLU, widths ngf * 8/4/2/1 (64) or 4/2/1 (32), tanh output; D the mirror with
//!   Conv(4, 2, 1), BN from the second block, LeakyReLU 0.2, and a final Conv(4, 1, 0) to one
//!   logit. No biases (as in pytorch/examples: every layer but the last is followed by BN).
//!
//! Weights are drawn from N(0, 0.02) and BN scales from N(1, 0.02) with zero shifts
//! (pytorch/examples' `weights_init`), from the caller's random stream; the `dcgan-28`
//! layers that no BN follows (D's first convolution and its linear output, G's last
//! transposed convolution, G's linear input) keep biases, initialised to zero. Both players
//! work in [-1, 1] ([`PixelRange::Symmetric`]); D sees the real and the fake batch in
//! separate passes, so its batch statistics are those of one kind of image, as DCGAN trains.

use burn::module::{Module, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::{leaky_relu, relu, tanh};
use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use super::base::{Discriminator, Generator, ImageShape, PixelRange};
use crate::error::{Error, Result};
use crate::nn::SpectralNorm;
use crate::nn::spectral::{self, conv_matrix, linear_matrix};
use crate::rng::Rng;

/// The three layouts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DcganLayout {
    /// 28 x 28 images (InfoGAN's MNIST model).
    Dcgan28,
    /// 32 x 32 images.
    Dcgan32,
    /// 64 x 64 images (pytorch/examples' dcgan).
    Dcgan64,
}

impl DcganLayout {
    /// The side of the images it makes.
    pub fn side(self) -> usize {
        match self {
            DcganLayout::Dcgan28 => 28,
            DcganLayout::Dcgan32 => 32,
            DcganLayout::Dcgan64 => 64,
        }
    }

    /// Multiples of the base width of the blocks, widest first (G's order; D mirrors it).
    fn widths(self) -> &'static [usize] {
        match self {
            DcganLayout::Dcgan28 => &[2, 1],
            DcganLayout::Dcgan32 => &[4, 2, 1],
            DcganLayout::Dcgan64 => &[8, 4, 2, 1],
        }
    }
}

/// What a DCGAN pair is built from.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DcganConfig {
    /// The layout (and so the image side).
    pub layout: DcganLayout,
    /// Noise dimensions (100 in the DCGAN paper).
    pub noise_dim: usize,
    /// Image channels (1 grey, 3 RGB).
    pub channels: usize,
    /// G's base width (64).
    pub ngf: usize,
    /// D's base width (64).
    pub ndf: usize,
    /// Classes of a conditional pair (0: unconditional). G sees the one-hot label appended
    /// to z (its first layer's weights on it are a learned class embedding); D is a
    /// projection discriminator (Miyato & Koyama 2018): the logit plus the inner product of
    /// a learned class embedding with D's last features.
    pub classes: usize,
    /// Batch normalisation in D (DCGAN's; SNGAN's D has none).
    pub d_batch_norm: bool,
    /// `dcgan-28` only: the width of InfoGAN's fully connected hidden layer, first in G and
    /// last in D (0: none, the layout above).
    pub hidden: usize,
    /// Spectral normalisation of every convolution and linear layer of D, the projection's
    /// embedding included (Miyato et al. 2018; [`crate::nn::spectral`]).
    pub spectral_norm: bool,
}

impl DcganConfig {
    /// The shape of the images of this pair.
    pub fn shape(&self) -> Result<ImageShape> {
        let s = self.layout.side();
        ImageShape::new(self.channels, s, s)
    }

    fn check(&self) -> Result<()> {
        for (key, v) in [
            ("noise dimensions", self.noise_dim),
            ("channels", self.channels),
            ("ngf", self.ngf),
            ("ndf", self.ndf),
        ] {
            if v == 0 {
                return Err(Error::Config(format!("dcgan: {key} must be at least 1")));
            }
        }
        if self.hidden > 0 && self.layout != DcganLayout::Dcgan28 {
            return Err(Error::Config(
                "dcgan: a hidden fully connected layer (conv.hidden) is dcgan-28's (InfoGAN's \
                 MNIST model); set conv.hidden = 0 for dcgan-32 and dcgan-64"
                    .into(),
            ));
        }
        Ok(())
    }
}

/// `n` values from N(mean, 0.02) (pytorch/examples' `weights_init`).
fn normal(n: usize, mean: f32, rng: &mut Rng) -> Vec<f32> {
    (0..n).map(|_| mean + 0.02 * rng.normal()).collect()
}

fn param<const D: usize>(values: Vec<f32>, dims: [usize; D], device: &Device) -> Param<Tensor<D>> {
    Param::from_tensor(Tensor::from_data(TensorData::new(values, dims), device))
}

/// pytorch/examples' `weights_init` for one layer: the weight of shape `dims` from
/// N(0, 0.02), the bias (when the layer has one, `out` values) zero.
fn init_layer<const D: usize>(
    weight: &mut Param<Tensor<D>>,
    bias: &mut Option<Param<Tensor<1>>>,
    dims: [usize; D],
    out: usize,
    rng: &mut Rng,
    device: &Device,
) {
    *weight = param(normal(dims.iter().product(), 0.0, rng), dims, device);
    if let Some(b) = bias {
        *b = param(vec![0.0; out], [out], device);
    }
}

/// A `4 x 4` convolution (`stride`, `pad`) with N(0, 0.02) weights.
fn conv(
    c_in: usize,
    c_out: usize,
    (stride, pad): (usize, usize),
    bias: bool,
    rng: &mut Rng,
    device: &Device,
) -> Conv2d {
    let mut c = Conv2dConfig::new([c_in, c_out], [4, 4])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
        .with_bias(bias)
        .init(device);
    init_layer(
        &mut c.weight,
        &mut c.bias,
        [c_out, c_in, 4, 4],
        c_out,
        rng,
        device,
    );
    c
}

/// A `4 x 4` transposed convolution (`stride`, `pad`) with N(0, 0.02) weights.
fn conv_t(
    c_in: usize,
    c_out: usize,
    (stride, pad): (usize, usize),
    bias: bool,
    rng: &mut Rng,
    device: &Device,
) -> ConvTranspose2d {
    let mut c = ConvTranspose2dConfig::new([c_in, c_out], [4, 4])
        .with_stride([stride, stride])
        .with_padding([pad, pad])
        .with_bias(bias)
        .init(device);
    init_layer(
        &mut c.weight,
        &mut c.bias,
        [c_in, c_out, 4, 4],
        c_out,
        rng,
        device,
    );
    c
}

/// Batch normalisation of `c` features, scales N(1, 0.02), shifts 0.
fn bn(c: usize, rng: &mut Rng, device: &Device) -> BatchNorm {
    let mut b = BatchNormConfig::new(c).init(device);
    b.gamma = param(normal(c, 1.0, rng), [c], device);
    b.beta = param(vec![0.0; c], [c], device);
    b
}

/// A linear map with N(0, 0.02) weights (and zero biases, with `bias`).
fn linear(d_in: usize, d_out: usize, bias: bool, rng: &mut Rng, device: &Device) -> Linear {
    let mut l = LinearConfig::new(d_in, d_out).with_bias(bias).init(device);
    init_layer(
        &mut l.weight,
        &mut l.bias,
        [d_in, d_out],
        d_out,
        rng,
        device,
    );
    l
}

/// G of a DCGAN layout.
#[derive(Module, Debug)]
pub struct DcganGenerator {
    /// `dcgan-28` with `hidden > 0`: InfoGAN's first layer, Linear(z, hidden), and its
    /// batch normalisation (ReLU follows).
    pub hidden: Option<Linear>,
    /// Its batch normalisation.
    pub hidden_bn: Option<BatchNorm>,
    /// `dcgan-28`: the linear input layer (after `hidden`, when there is one) and its batch
    /// normalisation.
    pub project: Option<Linear>,
    /// Its batch normalisation (over the `2 ngf * 7 * 7` features).
    pub project_bn: Option<BatchNorm>,
    /// The transposed convolutions, the last one making the image.
    pub ups: Vec<ConvTranspose2d>,
    /// Batch normalisation after every transposed convolution but the last.
    pub bns: Vec<BatchNorm>,
    /// Channels of the first feature map (`dcgan-28`: `2 ngf`).
    pub start_channels: usize,
    /// Side of the first feature map (`dcgan-28`: 7).
    pub start_side: usize,
}

/// D of a DCGAN layout.
#[derive(Module, Debug)]
pub struct DcganDiscriminator {
    /// The strided convolutions.
    pub downs: Vec<Conv2d>,
    /// Batch normalisation after every convolution but the first.
    pub bns: Vec<BatchNorm>,
    /// `dcgan-28` with `hidden > 0`: InfoGAN's last hidden layer, Linear(features, hidden),
    /// its batch normalisation (with `d_batch_norm`; else the layer has a bias) and
    /// LeakyReLU 0.2.
    pub hidden: Option<Linear>,
    /// Its batch normalisation.
    pub hidden_bn: Option<BatchNorm>,
    /// `dcgan-28`: the linear output.
    pub out_linear: Option<Linear>,
    /// `dcgan-32` / `dcgan-64`: the final `4 x 4` convolution to one logit.
    pub out_conv: Option<Conv2d>,
    /// A conditional D's class embedding (the projection), one weight per last feature.
    pub embed: Option<Linear>,
    /// With spectral normalisation, the power-iteration vectors of each layer: the
    /// convolutions in order, then the output layer, then the embedding (empty without).
    pub sn: Vec<SpectralNorm>,
}

/// A fresh DCGAN pair for `cfg`, weights from `rng`.
pub fn dcgan_pair(
    cfg: &DcganConfig,
    rng: &mut Rng,
    device: &Device,
) -> Result<(DcganGenerator, DcganDiscriminator)> {
    cfg.check()?;
    let widths = cfg.layout.widths();
    let (gw, dw): (Vec<usize>, Vec<usize>) = (
        widths.iter().map(|w| w * cfg.ngf).collect(),
        widths.iter().rev().map(|w| w * cfg.ndf).collect(),
    );
    let c = cfg.channels;
    let g = match cfg.layout {
        DcganLayout::Dcgan28 => {
            let features = gw[0] * 7 * 7;
            let z_in = cfg.noise_dim + cfg.classes;
            let (hidden, hidden_bn) = match cfg.hidden {
                0 => (None, None),
                h => (
                    Some(linear(z_in, h, true, rng, device)),
                    Some(bn(h, rng, device)),
                ),
            };
            let project_in = if cfg.hidden > 0 { cfg.hidden } else { z_in };
            DcganGenerator {
                hidden,
                hidden_bn,
                project: Some(linear(project_in, features, true, rng, device)),
                project_bn: Some(bn(features, rng, device)),
                ups: vec![
                    conv_t(gw[0], gw[1], (2, 1), false, rng, device),
                    conv_t(gw[1], c, (2, 1), true, rng, device),
                ],
                bns: vec![bn(gw[1], rng, device)],
                start_channels: gw[0],
                start_side: 7,
            }
        }
        _ => {
            let z_in = cfg.noise_dim + cfg.classes;
            let mut ups = vec![conv_t(z_in, gw[0], (1, 0), false, rng, device)];
            let mut bns = vec![bn(gw[0], rng, device)];
            for pair in gw.windows(2) {
                ups.push(conv_t(pair[0], pair[1], (2, 1), false, rng, device));
                bns.push(bn(pair[1], rng, device));
            }
            ups.push(conv_t(gw[gw.len() - 1], c, (2, 1), false, rng, device));
            DcganGenerator {
                hidden: None,
                hidden_bn: None,
                project: None,
                project_bn: None,
                ups,
                bns,
                start_channels: z_in,
                start_side: 1,
            }
        }
    };
    let dcgan28 = cfg.layout == DcganLayout::Dcgan28;
    let mut downs = vec![conv(c, dw[0], (2, 1), dcgan28, rng, device)];
    let mut bns = Vec::new();
    for pair in dw.windows(2) {
        // without batch norm the convolution has a bias (SNGAN's D)
        downs.push(conv(
            pair[0],
            pair[1],
            (2, 1),
            !cfg.d_batch_norm,
            rng,
            device,
        ));
        if cfg.d_batch_norm {
            bns.push(bn(pair[1], rng, device));
        }
    }
    let last = dw[dw.len() - 1];
    // D's last features: 2 ndf x 7 x 7 (dcgan-28; `hidden` after the hidden layer) or
    // k ndf x 4 x 4; the projection's class embedding has one weight per feature
    let conv_features = last * if dcgan28 { 7 * 7 } else { 4 * 4 };
    let (hidden, hidden_bn) = match cfg.hidden {
        0 => (None, None),
        h => (
            Some(linear(conv_features, h, !cfg.d_batch_norm, rng, device)),
            cfg.d_batch_norm.then(|| bn(h, rng, device)),
        ),
    };
    let features = if cfg.hidden > 0 {
        cfg.hidden
    } else {
        conv_features
    };
    let embed = (cfg.classes > 0).then(|| linear(cfg.classes, features, false, rng, device));
    let mut d = if dcgan28 {
        DcganDiscriminator {
            downs,
            bns,
            hidden,
            hidden_bn,
            out_linear: Some(linear(features, 1, true, rng, device)),
            out_conv: None,
            embed,
            sn: Vec::new(),
        }
    } else {
        DcganDiscriminator {
            downs,
            bns,
            hidden: None,
            hidden_bn: None,
            out_linear: None,
            out_conv: Some(conv(last, 1, (1, 0), !cfg.d_batch_norm, rng, device)),
            embed,
            sn: Vec::new(),
        }
    };
    d.sn = spectral::layers(cfg.spectral_norm, d.sn_matrices(), rng, device);
    Ok((g, d))
}

impl Generator for DcganGenerator {
    /// DCGAN's G; a conditional G sees the one-hot label appended to z.
    fn images(&self, z: Tensor<2>, labels: Option<Tensor<2>>) -> Tensor<4> {
        let z = match labels {
            Some(y) => Tensor::cat(vec![z, y], 1),
            None => z,
        };
        let [n, _] = z.dims();
        let (c0, s0) = (self.start_channels, self.start_side);
        let z = match (&self.hidden, &self.hidden_bn) {
            (Some(l), Some(b)) => relu(b.forward(l.forward(z))),
            _ => z,
        };
        let mut h = match (&self.project, &self.project_bn) {
            (Some(p), Some(b)) => relu(b.forward(p.forward(z))).reshape([n, c0, s0, s0]),
            _ => z.reshape([n, c0, s0, s0]),
        };
        let last = self.ups.len() - 1;
        for (i, up) in self.ups.iter().enumerate() {
            h = up.forward(h);
            h = match self.bns.get(i) {
                Some(b) if i < last => relu(b.forward(h)),
                _ => h,
            };
        }
        tanh(h)
    }

    fn range(&self) -> PixelRange {
        PixelRange::Symmetric
    }
}

impl DcganDiscriminator {
    /// The weight matrices spectral normalisation reads (PyTorch's `dim = 0` layout), in the
    /// order of [`DcganDiscriminator::sn`]: the convolutions, the output layer, the
    /// embedding, then the hidden linear layer.
    fn sn_matrices(&self) -> Vec<Tensor<2>> {
        let mut m: Vec<Tensor<2>> = self
            .downs
            .iter()
            .chain(&self.out_conv)
            .map(|c| conv_matrix(c.weight.val()))
            .collect();
        m.extend(
            self.out_linear
                .iter()
                .chain(&self.embed)
                .chain(&self.hidden)
                .map(|l| linear_matrix(l.weight.val())),
        );
        m
    }

    /// The vectors of layer `i` in [`DcganDiscriminator::sn`] order, when normalised.
    fn sn_of(&self, i: usize) -> Option<&SpectralNorm> {
        self.sn.get(i)
    }
}

impl Discriminator for DcganDiscriminator {
    type Draw = ();

    fn draw(&self, _n: usize, _rng: &mut Rng, _device: &Device) {}

    /// One power iteration of every spectrally normalised layer.
    fn power_iteration(&mut self) {
        // the vectors aside while the weights are read
        let mut sn = std::mem::take(&mut self.sn);
        spectral::iterate(&mut sn, || self.sn_matrices());
        self.sn = sn;
    }

    /// The logit; a conditional (projection) D adds `<embed(y), phi(x)>`, phi the last
    /// features.
    fn logits(&self, x: Tensor<4>, labels: Option<Tensor<2>>, _draw: Option<&()>) -> Tensor<2> {
        let [n, ..] = x.dims();
        let mut h = x;
        let n_down = self.downs.len();
        for (i, down) in self.downs.iter().enumerate() {
            h = spectral::conv(down, self.sn_of(i), h);
            if i > 0
                && let Some(b) = self.bns.get(i - 1)
            {
                h = b.forward(h);
            }
            h = leaky_relu(h, 0.2);
        }
        let [_, c, hh, ww] = h.dims();
        // sn order: the convolutions, the output layer, the embedding, the hidden layer
        let embed_sn = n_down + 1;
        let hidden_sn = embed_sn + usize::from(self.embed.is_some());
        // the last features, flat: after the hidden layer when there is one
        let flat = h.clone().reshape([n, c * hh * ww]);
        let flat = match &self.hidden {
            Some(l) => {
                let f = spectral::linear(l, self.sn_of(hidden_sn), flat);
                let f = match &self.hidden_bn {
                    Some(b) => b.forward(f),
                    None => f,
                };
                leaky_relu(f, 0.2)
            }
            None => flat,
        };
        let projection = match (&self.embed, labels) {
            (Some(e), Some(y)) => {
                Some((spectral::linear(e, self.sn_of(embed_sn), y) * flat.clone()).sum_dim(1))
            }
            _ => None,
        };
        let out = self.sn_of(n_down);
        let logit = match (&self.out_linear, &self.out_conv) {
            (Some(l), _) => spectral::linear(l, out, flat),
            (None, Some(conv)) => spectral::conv(conv, out, h).reshape([n, 1]),
            (None, None) => h.reshape([n, 1]),
        };
        match projection {
            Some(p) => logit + p,
            None => logit,
        }
    }

    /// The real and the fake batch in separate passes (DCGAN's batch statistics).
    fn logits_real_fake(
        &self,
        real: (Tensor<4>, Option<Tensor<2>>),
        fake: (Tensor<4>, Option<Tensor<2>>),
        _draw: &(),
    ) -> (Tensor<2>, Tensor<2>) {
        (
            self.logits(real.0, real.1, Some(&())),
            self.logits(fake.0, fake.1, Some(&())),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(layout: DcganLayout, channels: usize) -> (DcganGenerator, DcganDiscriminator) {
        let cfg = DcganConfig {
            layout,
            noise_dim: 10,
            channels,
            ngf: 8,
            ndf: 8,
            classes: 0,
            d_batch_norm: true,
            hidden: 0,
            spectral_norm: false,
        };
        dcgan_pair(&cfg, &mut Rng::new(1), &Device::flex()).expect("pair")
    }

    #[test]
    fn every_layout_makes_and_reads_images_of_its_side() {
        let dev = Device::flex();
        for (layout, channels) in [
            (DcganLayout::Dcgan28, 1),
            (DcganLayout::Dcgan32, 3),
            (DcganLayout::Dcgan64, 3),
        ] {
            let (g, d) = pair(layout, channels);
            let s = layout.side();
            let z = Tensor::<2>::from_data(
                TensorData::new(normal(5 * 10, 0.0, &mut Rng::new(2)), [5, 10]),
                &dev,
            );
            let x = g.images(z, None);
            assert_eq!(x.dims(), [5, channels, s, s], "{layout:?}");
            let v = x.clone().into_data().try_into_vec::<f32>().expect("f32");
            assert!(
                v.iter().all(|p| (-1.0..=1.0).contains(p)),
                "{layout:?}: tanh range"
            );
            assert_eq!(d.logits(x, None, None).dims(), [5, 1], "{layout:?}");
            assert_eq!(g.range(), PixelRange::Symmetric);
        }
    }

    #[test]
    fn the_layers_are_the_layouts_with_pytorchs_initialisation() {
        // dcgan-64 with ngf = ndf = 8: G 10 -> 64 -> 32 -> 16 -> 8 -> 3, D 3 -> 8 -> 16 -> 32 ->
        // 64 -> 1, BN everywhere but G's output and D's input and output layers
        let (g, d) = pair(DcganLayout::Dcgan64, 3);
        let g_dims: Vec<[usize; 4]> = g.ups.iter().map(|u| u.weight.dims()).collect();
        assert_eq!(
            g_dims,
            vec![
                [10, 64, 4, 4],
                [64, 32, 4, 4],
                [32, 16, 4, 4],
                [16, 8, 4, 4],
                [8, 3, 4, 4]
            ]
        );
        assert_eq!(g.bns.len(), 4);
        assert!(g.ups.iter().all(|u| u.bias.is_none()));
        let d_dims: Vec<[usize; 4]> = d.downs.iter().map(|c| c.weight.dims()).collect();
        assert_eq!(
            d_dims,
            vec![[8, 3, 4, 4], [16, 8, 4, 4], [32, 16, 4, 4], [64, 32, 4, 4]]
        );
        assert_eq!(d.bns.len(), 3);
        assert_eq!(
            d.out_conv.as_ref().map(|c| c.weight.dims()),
            Some([1, 64, 4, 4])
        );
        // weights N(0, 0.02), BN scales N(1, 0.02): sample moments of the largest layer
        let w = g.ups[1]
            .weight
            .val()
            .into_data()
            .try_into_vec::<f32>()
            .expect("f32");
        let n = w.len() as f64;
        let mean = w.iter().map(|&v| v as f64).sum::<f64>() / n;
        let sd = (w.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n).sqrt();
        assert!(
            mean.abs() < 0.002 && (sd - 0.02).abs() < 0.002,
            "{mean} {sd}"
        );
        let gamma = g.bns[0]
            .gamma
            .val()
            .into_data()
            .try_into_vec::<f32>()
            .expect("f32");
        assert!(gamma.iter().all(|&v| (v - 1.0).abs() < 0.1), "{gamma:?}");
        // dcgan-28: Linear(10, 2 ngf * 49), BN, ConvT(16, 8), BN, ConvT(8, 1); D Conv(1, 8),
        // Conv(8, 16), BN, Linear(16 * 49, 1)
        let (g, d) = pair(DcganLayout::Dcgan28, 1);
        assert_eq!(
            g.project.as_ref().map(|l| l.weight.dims()),
            Some([10, 16 * 49])
        );
        let g_dims: Vec<[usize; 4]> = g.ups.iter().map(|u| u.weight.dims()).collect();
        assert_eq!(g_dims, vec![[16, 8, 4, 4], [8, 1, 4, 4]]);
        let d_dims: Vec<[usize; 4]> = d.downs.iter().map(|c| c.weight.dims()).collect();
        assert_eq!(d_dims, vec![[8, 1, 4, 4], [16, 8, 4, 4]]);
        assert_eq!(
            d.out_linear.as_ref().map(|l| l.weight.dims()),
            Some([16 * 49, 1])
        );
    }

    #[test]
    fn a_conditional_pair_embeds_the_label_in_g_and_projects_it_in_d() {
        let dev = Device::flex();
        let cfg = DcganConfig {
            layout: DcganLayout::Dcgan32,
            noise_dim: 10,
            channels: 3,
            ngf: 8,
            ndf: 8,
            classes: 4,
            d_batch_norm: true,
            hidden: 0,
            spectral_norm: false,
        };
        let (g, d) = dcgan_pair(&cfg, &mut Rng::new(1), &dev).expect("pair");
        assert_eq!(
            g.ups[0].weight.dims(),
            [14, 32, 4, 4],
            "z and the one-hot label"
        );
        assert_eq!(
            d.embed.as_ref().map(|e| e.weight.dims()),
            Some([4, 32 * 16])
        );
        let z = Tensor::<2>::from_data(
            TensorData::new(normal(20, 0.0, &mut Rng::new(2)), [2, 10]),
            &dev,
        );
        let y = |k: usize| crate::models::one_hot(&[k, k], 4, 1.0, &dev);
        // G: the label changes the images; D: logit(x, y) - logit(x) is <embed(y), phi(x)>
        let a = g.images(z.clone(), Some(y(0)));
        let b = g.images(z, Some(y(1)));
        let diff: f32 = (a.clone() - b).abs().max().into_scalar();
        assert!(diff > 1e-4, "the label does not reach G's output");
        let with = d
            .logits(a.clone(), Some(y(2)), None)
            .into_data()
            .try_into_vec::<f32>()
            .expect("f32");
        let without = d
            .logits(a.clone(), None, None)
            .into_data()
            .try_into_vec::<f32>()
            .expect("f32");
        // phi(x): D's last features, recomputed here layer by layer
        let mut h = a;
        for (i, down) in d.downs.iter().enumerate() {
            h = down.forward(h);
            if i > 0 {
                h = d.bns[i - 1].forward(h);
            }
            h = leaky_relu(h, 0.2);
        }
        let phi = h
            .reshape([2, 32 * 16])
            .into_data()
            .try_into_vec::<f32>()
            .expect("f32");
        let e = d
            .embed
            .as_ref()
            .expect("embed")
            .weight
            .val()
            .into_data()
            .try_into_vec::<f32>()
            .expect("f32");
        for r in 0..2 {
            let dot: f32 = (0..512).map(|j| e[2 * 512 + j] * phi[r * 512 + j]).sum();
            assert!(
                (with[r] - without[r] - dot).abs() < 1e-4,
                "{} vs {dot}",
                with[r] - without[r]
            );
        }
    }

    #[test]
    fn infogans_hidden_layers_come_first_in_g_and_last_in_d() {
        let dev = Device::flex();
        let cfg = |layout, d_batch_norm| DcganConfig {
            layout,
            noise_dim: 10,
            channels: 1,
            ngf: 8,
            ndf: 8,
            classes: 0,
            d_batch_norm,
            hidden: 24,
            spectral_norm: false,
        };
        // G: Linear(10, 24), BN, ReLU, Linear(24, 16 * 49), ...; D: ..., Linear(16 * 49, 24),
        // BN, LeakyReLU, Linear(24, 1)
        let (g, d) =
            dcgan_pair(&cfg(DcganLayout::Dcgan28, true), &mut Rng::new(1), &dev).expect("pair");
        assert_eq!(g.hidden.as_ref().map(|l| l.weight.dims()), Some([10, 24]));
        assert_eq!(g.hidden_bn.as_ref().map(|b| b.gamma.dims()), Some([24]));
        assert_eq!(
            g.project.as_ref().map(|l| l.weight.dims()),
            Some([24, 16 * 49])
        );
        assert_eq!(
            d.hidden.as_ref().map(|l| l.weight.dims()),
            Some([16 * 49, 24])
        );
        assert!(d.hidden.as_ref().is_some_and(|l| l.bias.is_none()));
        assert_eq!(d.hidden_bn.as_ref().map(|b| b.gamma.dims()), Some([24]));
        assert_eq!(
            d.out_linear.as_ref().map(|l| l.weight.dims()),
            Some([24, 1])
        );
        let z = Tensor::<2>::from_data(
            TensorData::new(normal(3 * 10, 0.0, &mut Rng::new(2)), [3, 10]),
            &dev,
        );
        let x = g.images(z, None);
        assert_eq!(x.dims(), [3, 1, 28, 28]);
        assert_eq!(d.logits(x, None, None).dims(), [3, 1]);
        // without batch norm in D its hidden layer has a bias
        let (_, d) =
            dcgan_pair(&cfg(DcganLayout::Dcgan28, false), &mut Rng::new(1), &dev).expect("pair");
        assert!(d.hidden_bn.is_none() && d.hidden.is_some_and(|l| l.bias.is_some()));
        // conditional and spectrally normalised: the projection reads the hidden features,
        // and the hidden layer has its own power-iteration vectors
        let mut c = cfg(DcganLayout::Dcgan28, false);
        c.classes = 3;
        c.spectral_norm = true;
        let (g, d) = dcgan_pair(&c, &mut Rng::new(1), &dev).expect("pair");
        assert_eq!(d.embed.as_ref().map(|e| e.weight.dims()), Some([3, 24]));
        // two convolutions, the output layer, the embedding, the hidden layer
        assert_eq!(d.sn.len(), 5);
        let z = Tensor::<2>::from_data(
            TensorData::new(normal(2 * 10, 0.0, &mut Rng::new(2)), [2, 10]),
            &dev,
        );
        let y = crate::models::one_hot(&[0, 2], 3, 1.0, &dev);
        let x = g.images(z, Some(y.clone()));
        assert_eq!(d.logits(x, Some(y), None).dims(), [2, 1]);
        // the other layouts have no such layer
        let e = dcgan_pair(&cfg(DcganLayout::Dcgan32, true), &mut Rng::new(1), &dev)
            .expect_err("refused")
            .to_string();
        assert!(e.contains("conv.hidden") && e.contains("dcgan-28"), "{e}");
    }

    #[test]
    fn a_zero_width_is_refused() {
        let cfg = DcganConfig {
            layout: DcganLayout::Dcgan32,
            noise_dim: 10,
            channels: 3,
            ngf: 0,
            ndf: 8,
            classes: 0,
            d_batch_norm: true,
            hidden: 0,
            spectral_norm: false,
        };
        let e = dcgan_pair(&cfg, &mut Rng::new(1), &Device::flex())
            .expect_err("refused")
            .to_string();
        assert!(e.contains("ngf"), "{e}");
    }
}
