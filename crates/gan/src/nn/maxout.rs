use burn::module::Module;
use burn::nn::Linear;
use burn::tensor::{Device, Tensor};

use crate::rng::Rng;

/// Maxout layer (Goodfellow et al. 2013): `units` outputs, each the maximum of `pieces`
/// affine pieces. Pieces of one unit are consecutive columns of the linear layer
/// (pylearn2's layout: unit j = max_i z[:, j * pieces + i]).
#[derive(Module, Debug)]
pub struct Maxout {
    /// The affine map to `units * pieces` values.
    pub linear: Linear,
    /// Output units.
    pub units: usize,
    /// Pieces per unit.
    pub pieces: usize,
}

impl Maxout {
    /// A maxout layer with weights uniform in [-range, range] and zero biases.
    pub fn new(
        d_in: usize,
        units: usize,
        pieces: usize,
        range: f32,
        rng: &mut Rng,
        device: &Device,
    ) -> Self {
        Self {
            linear: super::uniform_linear(d_in, units * pieces, range, None, rng, device),
            units,
            pieces,
        }
    }

    /// # Shapes
    /// `x`: `[m, d_in]` -> `[m, units]`.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let [m, _] = x.dims();
        let z = self.linear.forward(x);
        z.reshape([m, self.units, self.pieces])
            .max_dim(2)
            .reshape([m, self.units])
    }
}
