//! The adversarial-example picture: original, perturbation (amplified), adversarial image,
//! with the classifier's label and confidence under each.

use std::path::Path;

use plotters::prelude::*;

use super::curves::{ensure_font, err, write_png};
use crate::error::Result;

/// One example of the figure.
pub struct AdversarialExample {
    /// The original image (784 values in [0, 1]).
    pub original: Vec<f32>,
    /// The adversarial image.
    pub adversarial: Vec<f32>,
    /// Caption under the original, e.g. "7 (99.8%)".
    pub original_caption: String,
    /// Caption under the adversarial image.
    pub adversarial_caption: String,
}

/// Draws one row per example: original | perturbation (sign, grey = 0) | adversarial.
pub fn save_adversarial_figure(path: &Path, rows: &[AdversarialExample], eps: f32) -> Result<()> {
    ensure_font();
    let (px, cell) = (6u32, 28u32 * 6);
    let (col_w, row_h) = (cell + 90, cell + 40);
    let (width, height) = (3 * col_w + 20, rows.len() as u32 * row_h + 40);
    let mut buf = vec![0u8; (width * height * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let title = format!("FGSM, epsilon = {eps}: x + epsilon sign(grad_x loss)");
        root.draw(&Text::new(title, (10, 8), ("sans-serif", 16)))
            .map_err(err)?;
        let grey = |v: f32| {
            let g = (v.clamp(0.0, 1.0) * 255.0).round() as u8;
            RGBColor(g, g, g)
        };
        for (r, ex) in rows.iter().enumerate() {
            let top = 36 + r as u32 * row_h;
            let pert: Vec<f32> = ex
                .original
                .iter()
                .zip(&ex.adversarial)
                .map(|(a, b)| 0.5 + 0.5 * (b - a) / eps.max(1e-6))
                .collect();
            let panels = [
                (&ex.original, ex.original_caption.as_str()),
                (&pert, "perturbation (amplified)"),
                (&ex.adversarial, ex.adversarial_caption.as_str()),
            ];
            for (c, (img, caption)) in panels.iter().enumerate() {
                let left = 10 + c as u32 * col_w;
                for (i, &v) in img.iter().enumerate() {
                    let (y, x) = ((i / 28) as u32, (i % 28) as u32);
                    let x0 = (left + x * px) as i32;
                    let y0 = (top + y * px) as i32;
                    root.draw(&Rectangle::new(
                        [(x0, y0), (x0 + px as i32, y0 + px as i32)],
                        grey(v).filled(),
                    ))
                    .map_err(err)?;
                }
                root.draw(&Text::new(
                    caption.to_string(),
                    (left as i32, (top + cell + 4) as i32),
                    ("sans-serif", 14),
                ))
                .map_err(err)?;
            }
        }
        root.present().map_err(err)?;
    }
    write_png(path, width, height, buf)
}
