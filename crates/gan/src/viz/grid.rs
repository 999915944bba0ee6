use std::path::Path;

use image::{DynamicImage, GrayImage, RgbImage};

use crate::error::{Error, Result};
use crate::models::ImageShape;

/// A value in [0, 1] as a byte (clamped, rounded): the one place samples become pixels.
pub fn to_byte(v: f32) -> u8 {
    (v.clamp(0.0, 1.0) * 255.0).round() as u8
}

/// Lays out `n` images of `shape` (values in [0, 1], each channels first, one after another)
/// in a grid `ncols` wide with a 2-pixel dark gutter: a grey PNG for one channel, RGB for
/// three.
pub fn grid_image(images: &[f32], shape: ImageShape, ncols: usize) -> Result<DynamicImage> {
    let d = shape.len();
    let [c, h, w] = shape.dims();
    if d == 0 || ncols == 0 || images.is_empty() || !images.len().is_multiple_of(d) {
        return Err(Error::Invalid(format!(
            "grid needs a positive number of {shape} images and columns, got {} values and \
             {ncols} columns",
            images.len()
        )));
    }
    if c != 1 && c != 3 {
        return Err(Error::Invalid(format!(
            "a grid shows grey (1 channel) or RGB (3 channels) images, not {c} channels"
        )));
    }
    let n = images.len() / d;
    let nrows = n.div_ceil(ncols);
    let pad = 2;
    let width = (ncols * (w + pad) + pad) as u32;
    let height = (nrows * (h + pad) + pad) as u32;
    let at = |k: usize, y: usize, x: usize| {
        let (r, col) = (k / ncols, k % ncols);
        (
            (pad + col * (w + pad) + x) as u32,
            (pad + r * (h + pad) + y) as u32,
        )
    };
    if c == 1 {
        let mut img = GrayImage::from_pixel(width, height, image::Luma([40]));
        for (k, pixels) in images.chunks_exact(d).enumerate() {
            for y in 0..h {
                for x in 0..w {
                    let (px, py) = at(k, y, x);
                    img.put_pixel(px, py, image::Luma([to_byte(pixels[y * w + x])]));
                }
            }
        }
        return Ok(DynamicImage::ImageLuma8(img));
    }
    let mut img = RgbImage::from_pixel(width, height, image::Rgb([40, 40, 40]));
    let plane = h * w;
    for (k, pixels) in images.chunks_exact(d).enumerate() {
        for y in 0..h {
            for x in 0..w {
                let i = y * w + x;
                let rgb = [0, 1, 2].map(|ch| to_byte(pixels[ch * plane + i]));
                let (px, py) = at(k, y, x);
                img.put_pixel(px, py, image::Rgb(rgb));
            }
        }
    }
    Ok(DynamicImage::ImageRgb8(img))
}

/// [`grid_image`] saved as a PNG at `path` (parent directories created).
pub fn save_grid(path: &Path, images: &[f32], shape: ImageShape, ncols: usize) -> Result<()> {
    let img = grid_image(images, shape, ncols)?;
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    img.save(path)
        .map_err(|e| Error::io(path, std::io::Error::other(e.to_string())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_grids_put_each_channel_plane_in_its_colour() {
        // two 1 x 2 RGB images, channels first: image 0 is (red, green), image 1 (blue, white)
        let shape = ImageShape::new(3, 1, 2).expect("shape");
        let images = [
            1.0, 0.0, 0.0, 1.0, 0.0, 0.0, // image 0: R plane, G plane, B plane
            0.0, 1.0, 0.0, 1.0, 1.0, 1.0, // image 1
        ];
        let img = grid_image(&images, shape, 2).expect("grid").to_rgb8();
        // gutter 2: image 0 at x 2..4, image 1 at x 6..8, row y = 2
        assert_eq!(img.get_pixel(2, 2).0, [255, 0, 0]);
        assert_eq!(img.get_pixel(3, 2).0, [0, 255, 0]);
        assert_eq!(img.get_pixel(6, 2).0, [0, 0, 255]);
        assert_eq!(img.get_pixel(7, 2).0, [255, 255, 255]);
        assert_eq!(img.get_pixel(0, 0).0, [40, 40, 40]);
        let grey =
            grid_image(&[0.5, 1.0], ImageShape::grey(1, 2).expect("shape"), 1).expect("grid");
        assert!(matches!(grey, DynamicImage::ImageLuma8(_)));
        assert_eq!(grey.to_luma8().get_pixel(3, 2).0, [255]);
        let four = ImageShape::new(4, 1, 1).expect("shape");
        assert!(grid_image(&[0.0; 4], four, 1).is_err());
    }
}
