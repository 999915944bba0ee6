//! Layers the paper needs that the tensor library lacks: maxout, dropout with masks drawn
//! from our own (checkpointable) random stream, and the paper's uniform initialisation.

mod dropout;
mod init;
mod maxout;

pub use dropout::{DropoutMask, dropout_mask, dropout_values};
pub use init::uniform_linear;
pub use maxout::Maxout;
