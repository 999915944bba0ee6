//! A `.npy` array of images as a dataset: `[n, h, w]` (grey), `[n, h, w, c]` or
//! `[n, c, h, w]` (c = 1 or 3; 4 = RGBA in the channels-last form), uint8 (0..255) or float
//! (pixels in [0, 1]). The layout is read from the shape: a last axis of 1, 3 or 4 is
//! channels-last, otherwise a second axis of 1 or 3 is channels-first; a shape that fits
//! both (or neither) is an error asking for the other layout. Each image goes through the
//! same crop / resize / grey step as an image folder's ([`super::folder`]).

use std::path::Path;

use super::ImageSet;
use super::folder::{FolderOptions, composite, to_tensor_bytes};
use crate::error::{Error, Result};
use crate::npy::{NpyData, read_npy};

/// The images of `path`, labelled 0.
pub fn load_npy_images(path: &Path, opts: &FolderOptions) -> Result<ImageSet> {
    let a = read_npy(path)?;
    let bad = |why: String| Error::data(path, why);
    // (n, h, w, c, channels_last)
    let (n, h, w, c, last) = match a.shape[..] {
        [n, h, w] => (n, h, w, 1, true),
        [n, d1, d2, d3] => {
            let last = matches!(d3, 1 | 3 | 4);
            let first = matches!(d1, 1 | 3);
            match (last, first) {
                (true, false) => (n, d1, d2, d3, true),
                (false, true) => (n, d2, d3, d1, false),
                _ => {
                    return Err(bad(format!(
                        "shape {:?}: cannot tell the channel axis (expected [n, h, w, c] with c \
                         in 1, 3, 4 or [n, c, h, w] with c in 1, 3)",
                        a.shape
                    )));
                }
            }
        }
        _ => {
            return Err(bad(format!(
                "shape {:?}: expected [n, h, w], [n, h, w, c] or [n, c, h, w]",
                a.shape
            )));
        }
    };
    if n == 0 || h == 0 || w == 0 {
        return Err(bad(format!("shape {:?} holds no image", a.shape)));
    }
    let bytes: Vec<u8> = match a.data {
        NpyData::U8(v) => v,
        NpyData::F32(v) => {
            if let Some(x) = v.iter().find(|x| !(0.0..=1.0).contains(*x)) {
                return Err(bad(format!(
                    "float pixels must be in [0, 1] (found {x}); store bytes as uint8"
                )));
            }
            v.iter().map(|x| (x * 255.0).round() as u8).collect()
        }
    };
    let per = h * w * c;
    let mut out = ImageSet {
        bytes: Vec::with_capacity(n * opts.channels * opts.size * opts.size),
        labels: vec![0; n],
        rows: opts.size,
        cols: opts.size,
        channels: opts.channels,
    };
    for img in bytes.chunks_exact(per) {
        let at = |y: usize, x: usize, ch: usize| {
            if last {
                img[(y * w + x) * c + ch]
            } else {
                img[ch * h * w + y * w + x]
            }
        };
        // grey and RGB as opaque RGBA, so every layout goes through the same compositing
        let mut rgba = image::RgbaImage::new(w as u32, h as u32);
        for (i, p) in rgba.pixels_mut().enumerate() {
            let (y, x) = (i / w, i % w);
            *p = match c {
                1 => {
                    let v = at(y, x, 0);
                    image::Rgba([v, v, v, 255])
                }
                3 => image::Rgba([at(y, x, 0), at(y, x, 1), at(y, x, 2), 255]),
                _ => image::Rgba([at(y, x, 0), at(y, x, 1), at(y, x, 2), at(y, x, 3)]),
            };
        }
        let rgb = composite(&rgba, opts.background);
        out.bytes.extend_from_slice(&to_tensor_bytes(rgb, opts));
    }
    Ok(out)
}
