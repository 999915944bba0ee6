//! Pictures: image grids as PNG.

mod grid;

pub use grid::{grid_image, save_grid};
