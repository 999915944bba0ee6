use burn::module::Param;
use burn::nn::Linear;
use burn::tensor::{Device, Tensor, TensorData};

use crate::rng::Rng;

/// A linear layer `[d_in] -> [d_out]` with weights uniform in [-range, range] (pylearn2's
/// `irange`) and the given bias (zeros when `None`).
pub fn uniform_linear(
    d_in: usize,
    d_out: usize,
    range: f32,
    bias: Option<Vec<f32>>,
    rng: &mut Rng,
    device: &Device,
) -> Linear {
    let w: Vec<f32> = (0..d_in * d_out)
        .map(|_| rng.uniform_range(-range, range))
        .collect();
    let b = bias.unwrap_or_else(|| vec![0.0; d_out]);
    Linear {
        weight: Param::from_tensor(Tensor::from_data(TensorData::new(w, [d_in, d_out]), device)),
        bias: Some(Param::from_tensor(Tensor::from_data(
            TensorData::new(b, [d_out]),
            device,
        ))),
    }
}
