//! Pictures: image grids as PNG.

mod curves;
mod grid;

pub use curves::{curves_image, save_curves};
pub use grid::{grid_image, save_grid};
