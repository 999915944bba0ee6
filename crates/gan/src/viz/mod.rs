//! Pictures: image grids, training curves and the theory figures, as PNG.

mod adversarial;
mod curves;
mod grid;
pub mod report;
mod theory;

pub use adversarial::{AdversarialExample, save_adversarial_figure};
pub use curves::{
    StepSeries, curves_image, curves_svg, read_metrics, save_comparison, save_curves,
    step_curves_svg,
};
pub use grid::{grid_image, save_grid, to_byte};
pub use theory::{
    save_density_panels, save_saturation_plot, save_scatter, save_scatter_panels, save_value_plot,
};
