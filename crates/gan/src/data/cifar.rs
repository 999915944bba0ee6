//! The CIFAR-10 and CIFAR-100 binary formats (Krizhevsky 2009, the "binary version").
//!
//! CIFAR-10: `data_batch_1.bin` .. `data_batch_5.bin` and `test_batch.bin`, each a sequence
//! of 3,073-byte records: the label (0-9), then 1,024 red, 1,024 green and 1,024 blue bytes
//! of a 32 x 32 image, row-major. CIFAR-100: `train.bin` and `test.bin`, records of 3,074
//! bytes: the coarse label (0-19), the fine label (0-99, the one used here), then the same
//! 3,072 pixel bytes. The images go through the same crop / resize / grey step as an image
//! folder's ([`super::folder`]), so `data.image_size` and `data.channels` apply.

use std::path::{Path, PathBuf};

use super::ImageSet;
use super::folder::{FolderOptions, to_tensor_bytes};
use crate::error::{Error, Result};

const PIXELS: usize = 3 * 32 * 32;

/// Which CIFAR a directory holds: its training files, its test file and the label bytes per
/// record; `None` when it is not a CIFAR binary directory.
fn layout(dir: &Path) -> Option<(Vec<PathBuf>, PathBuf, usize)> {
    if dir.join("data_batch_1.bin").is_file() {
        let train = (1..=5)
            .map(|i| dir.join(format!("data_batch_{i}.bin")))
            .collect();
        return Some((train, dir.join("test_batch.bin"), 1));
    }
    if dir.join("train.bin").is_file() {
        return Some((vec![dir.join("train.bin")], dir.join("test.bin"), 2));
    }
    None
}

/// Whether `dir` holds CIFAR-10 or CIFAR-100 binary files.
pub fn is_cifar(dir: &Path) -> bool {
    layout(dir).is_some()
}

/// The training and test images of a CIFAR binary directory.
pub fn load_cifar(dir: &Path, opts: &FolderOptions) -> Result<(ImageSet, ImageSet)> {
    let (train_files, test_file, label_bytes) = layout(dir).ok_or_else(|| {
        Error::data(
            dir,
            "neither data_batch_1.bin (CIFAR-10) nor train.bin (CIFAR-100)",
        )
    })?;
    let mut train = empty(opts);
    for f in &train_files {
        read_records(f, label_bytes, opts, &mut train)?;
    }
    let mut test = empty(opts);
    read_records(&test_file, label_bytes, opts, &mut test)?;
    Ok((train, test))
}

fn empty(opts: &FolderOptions) -> ImageSet {
    ImageSet {
        bytes: Vec::new(),
        labels: Vec::new(),
        rows: opts.size,
        cols: opts.size,
        channels: opts.channels,
    }
}

fn read_records(
    path: &Path,
    label_bytes: usize,
    opts: &FolderOptions,
    out: &mut ImageSet,
) -> Result<()> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let record = label_bytes + PIXELS;
    if bytes.is_empty() || !bytes.len().is_multiple_of(record) {
        return Err(Error::data(
            path,
            format!(
                "{} bytes is not a whole number of {record}-byte CIFAR records (truncated?)",
                bytes.len()
            ),
        ));
    }
    let classes = if label_bytes == 1 { 10 } else { 100 };
    for (i, r) in bytes.chunks_exact(record).enumerate() {
        let label = r[label_bytes - 1];
        if label as usize >= classes {
            return Err(Error::data(
                path,
                format!(
                    "record {i}: label {label}, CIFAR-{classes} has 0..{}",
                    classes - 1
                ),
            ));
        }
        let px = &r[label_bytes..];
        let mut rgb = image::RgbImage::new(32, 32);
        for (j, p) in rgb.pixels_mut().enumerate() {
            *p = image::Rgb([px[j], px[1024 + j], px[2048 + j]]);
        }
        out.bytes.extend_from_slice(&to_tensor_bytes(rgb, opts));
        out.labels.push(label);
    }
    Ok(())
}
