//! A small LeNet-style convolutional classifier for 28 x 28 greyscale images: the feature
//! extractor of the sample-quality metrics and the target of the adversarial examples.

use burn::module::{Module, Param};
use burn::nn::conv::Conv2d;
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Linear, PaddingConfig2d};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor, TensorData};

use crate::nn::uniform_linear;
use crate::rng::Rng;

/// conv 5x5 (1 -> 16) - ReLU - max-pool 2 - conv 5x5 (16 -> 32) - ReLU - max-pool 2 -
/// linear 512 -> 128 - ReLU (the features) - linear 128 -> 10 (logits).
#[derive(Module, Debug)]
pub struct LeNet {
    conv1: Conv2d,
    conv2: Conv2d,
    fc1: Linear,
    fc2: Linear,
    pool: MaxPool2d,
}

/// Width of the penultimate layer: the dimension of the features the metrics compare.
pub const FEATURE_DIM: usize = 128;
/// Number of classes.
pub const CLASSES: usize = 10;

fn uniform(n: usize, bound: f32, rng: &mut Rng) -> Vec<f32> {
    (0..n).map(|_| rng.uniform_range(-bound, bound)).collect()
}

fn conv(c_in: usize, c_out: usize, k: usize, rng: &mut Rng, device: &Device) -> Conv2d {
    let mut c = burn::nn::conv::Conv2dConfig::new([c_in, c_out], [k, k])
        .with_padding(PaddingConfig2d::Valid)
        .init(device);
    // PyTorch's default range, 1/sqrt(fan_in), from our seeded stream
    let bound = 1.0 / ((c_in * k * k) as f32).sqrt();
    c.weight = Param::from_tensor(Tensor::from_data(
        TensorData::new(
            uniform(c_out * c_in * k * k, bound, rng),
            [c_out, c_in, k, k],
        ),
        device,
    ));
    c.bias = Some(Param::from_tensor(Tensor::from_data(
        TensorData::new(uniform(c_out, bound, rng), [c_out]),
        device,
    )));
    c
}

impl LeNet {
    /// A freshly initialised network (seeded).
    pub fn new(rng: &mut Rng, device: &Device) -> Self {
        let conv1 = conv(1, 16, 5, rng, device);
        let conv2 = conv(16, 32, 5, rng, device);
        let b1 = 1.0 / (512f32).sqrt();
        let fc1 = uniform_linear(
            512,
            FEATURE_DIM,
            b1,
            Some(uniform(FEATURE_DIM, b1, rng)),
            rng,
            device,
        );
        let b2 = 1.0 / (FEATURE_DIM as f32).sqrt();
        let fc2 = uniform_linear(
            FEATURE_DIM,
            CLASSES,
            b2,
            Some(uniform(CLASSES, b2, rng)),
            rng,
            device,
        );
        Self {
            conv1,
            conv2,
            fc1,
            fc2,
            pool: MaxPool2dConfig::new([2, 2]).init(),
        }
    }

    /// Penultimate features (after the ReLU).
    ///
    /// # Shapes
    /// `x`: `[n, 784]` pixels in [0, 1] -> `[n, 128]`.
    pub fn features(&self, x: Tensor<2>) -> Tensor<2> {
        let n = x.dims()[0];
        let h = x.reshape([n, 1, 28, 28]);
        let h = self.pool.forward(relu(self.conv1.forward(h)));
        let h = self.pool.forward(relu(self.conv2.forward(h)));
        relu(self.fc1.forward(h.reshape([n, 512])))
    }

    /// Class logits.
    ///
    /// # Shapes
    /// `x`: `[n, 784]` -> `[n, 10]`.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        self.fc2.forward(self.features(x))
    }

    /// Features to logits (the last layer alone).
    ///
    /// # Shapes
    /// `f`: `[n, 128]` -> `[n, 10]`.
    pub fn head(&self, f: Tensor<2>) -> Tensor<2> {
        self.fc2.forward(f)
    }
}
