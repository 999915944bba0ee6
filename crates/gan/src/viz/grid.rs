use std::path::Path;

use image::GrayImage;

use crate::error::{Error, Result};

/// Lays out `n` images of `h x w` pixels (values in [0, 1], row-major, one after another)
/// in a grid `ncols` wide with a 2-pixel dark gutter.
pub fn grid_image(images: &[f32], h: usize, w: usize, ncols: usize) -> Result<GrayImage> {
    let d = h * w;
    if d == 0 || ncols == 0 || images.is_empty() || !images.len().is_multiple_of(d) {
        return Err(Error::Invalid(format!(
            "grid needs a positive number of {h}x{w} images and columns, got {} values and {ncols} columns",
            images.len()
        )));
    }
    let n = images.len() / d;
    let nrows = n.div_ceil(ncols);
    let pad = 2;
    let width = (ncols * (w + pad) + pad) as u32;
    let height = (nrows * (h + pad) + pad) as u32;
    let mut img = GrayImage::from_pixel(width, height, image::Luma([40]));
    for (k, pixels) in images.chunks_exact(d).enumerate() {
        let (r, c) = (k / ncols, k % ncols);
        let (x0, y0) = (pad + c * (w + pad), pad + r * (h + pad));
        for y in 0..h {
            for x in 0..w {
                let v = (pixels[y * w + x].clamp(0.0, 1.0) * 255.0).round() as u8;
                img.put_pixel((x0 + x) as u32, (y0 + y) as u32, image::Luma([v]));
            }
        }
    }
    Ok(img)
}

/// Writes a grid of images (see [`grid_image`]) to a PNG file.
pub fn save_grid(path: &Path, images: &[f32], h: usize, w: usize, ncols: usize) -> Result<()> {
    let img = grid_image(images, h, w, ncols)?;
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    img.save(path)
        .map_err(|e| Error::io(path, std::io::Error::other(e.to_string())))
}
