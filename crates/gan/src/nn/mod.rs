//! Layers the paper needs that the tensor library lacks: maxout, dropout with masks drawn
//! from our own (checkpointable) random stream, the paper's uniform initialisation,
//! spectral normalisation (Miyato et al. 2018) and differentiable augmentation (Zhao et al.
//! 2020).

pub mod augment;
mod dropout;
mod init;
mod maxout;
pub mod spectral;

pub use augment::Augment;
pub use dropout::{DropoutMask, dropout_fill, dropout_mask, dropout_values};
pub use init::uniform_linear;
pub use maxout::Maxout;
pub use spectral::SpectralNorm;

/// Clamps every float parameter of `module` to [-c, c] (WGAN's weight clipping); the result
/// holds fresh leaf parameters, ready for the next backward pass.
pub fn clamp_params<M: burn::module::Module>(module: M, c: f32) -> M {
    struct Clamp(f32);
    impl burn::module::ModuleMapper for Clamp {
        fn map_float<const D: usize>(
            &mut self,
            param: burn::module::Param<burn::tensor::Tensor<D>>,
        ) -> burn::module::Param<burn::tensor::Tensor<D>> {
            let c = self.0;
            // weights only: buffers without gradients (batch-norm running statistics) are
            // not the critic's weights, and burn shares them between clones
            if !param.val().is_require_grad() {
                return param;
            }
            param.map(|t| t.clamp(-c, c).detach().require_grad())
        }
    }
    module.map(&mut Clamp(c))
}
