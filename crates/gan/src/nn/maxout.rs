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
        self.forward_normalised(x, None)
    }

    /// [`Maxout::forward`] with the linear map's weight spectrally normalised when `sn` is
    /// given (the whole `[units * pieces, d_in]` matrix, as PyTorch's `spectral_norm` of the
    /// `Linear` would).
    pub fn forward_normalised(&self, x: Tensor<2>, sn: Option<&super::SpectralNorm>) -> Tensor<2> {
        let [m, _] = x.dims();
        let z = super::spectral::linear(&self.linear, sn, x);
        z.reshape([m, self.units, self.pieces])
            .max_dim(2)
            .reshape([m, self.units])
    }

    /// [`Maxout::forward`] that also returns which piece won each unit, as a `[m, units *
    /// pieces]` 0/1 mask in the linear layer's column order (no gradient flows through it).
    pub fn forward_with_winners(&self, x: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        let [m, _] = x.dims();
        let shape = [m, self.units, self.pieces];
        let z = self.linear.forward(x).reshape(shape);
        let top = z.clone().max_dim(2);
        let winners = z
            .greater_equal(top.clone().expand(shape))
            .float()
            .reshape([m, self.units * self.pieces]);
        (top.reshape([m, self.units]), winners)
    }

    /// The vector-Jacobian product of the layer at fixed winners: the gradient with respect
    /// to the input from `g`, the gradient with respect to the output. Differentiable in the
    /// layer's weights (what a gradient penalty needs); the biases only choose the winners.
    ///
    /// # Shapes
    /// `g`: `[m, units]`, `winners`: `[m, units * pieces]` -> `[m, d_in]`.
    pub fn backward_input(&self, g: Tensor<2>, winners: Tensor<2>) -> Tensor<2> {
        let [m, _] = g.dims();
        let spread = g
            .unsqueeze_dim::<3>(2)
            .expand([m, self.units, self.pieces])
            .reshape([m, self.units * self.pieces])
            * winners;
        spread.matmul(self.linear.weight.val().transpose())
    }
}
