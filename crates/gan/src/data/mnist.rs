//! MNIST-format datasets (MNIST, Fashion-MNIST): loading, checks, and the paper's split.

use std::ops::Range;
use std::path::{Path, PathBuf};

use super::idx::read_idx;
use crate::error::{Error, Result};

/// A set of images, one flattened `[channels, rows, cols]` row per image (channel-major, as
/// tensors take them), with labels. Pixels are kept as bytes (a quarter of the memory of
/// f32) and read as `byte / 255` in [0, 1].
#[derive(Clone, Debug)]
pub struct ImageSet {
    /// Pixel bytes, `len() * dim()` values in 0..=255.
    pub bytes: Vec<u8>,
    /// One class label per image (0 where the source has none).
    pub labels: Vec<u8>,
    /// Image height.
    pub rows: usize,
    /// Image width.
    pub cols: usize,
    /// Channels: 1 (grey) or 3 (RGB).
    pub channels: usize,
}

impl ImageSet {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True when the set holds no image.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Values per image (`channels * rows * cols`).
    pub fn dim(&self) -> usize {
        self.channels * self.rows * self.cols
    }

    /// The shape of one image, `[channels, rows, cols]`.
    pub fn shape(&self) -> crate::error::Result<crate::models::ImageShape> {
        crate::models::ImageShape::new(self.channels, self.rows, self.cols)
    }

    /// The pixels of image `i`, in [0, 1], appended to `out`.
    pub fn push_image(&self, i: usize, out: &mut Vec<f32>) {
        let d = self.dim();
        out.extend(self.bytes[i * d..(i + 1) * d].iter().map(|&b| to_unit(b)));
    }

    /// The pixels of image `i`, in [0, 1].
    pub fn image(&self, i: usize) -> Vec<f32> {
        let mut v = Vec::with_capacity(self.dim());
        self.push_image(i, &mut v);
        v
    }

    /// All pixels in [0, 1], row-major (`len() * dim()` values; allocates them).
    pub fn pixels(&self) -> Vec<f32> {
        self.bytes.iter().map(|&b| to_unit(b)).collect()
    }

    /// The pixels of the first `n` images (or all, if fewer), in [0, 1].
    pub fn first_pixels(&self, n: usize) -> Vec<f32> {
        let end = n.min(self.len()) * self.dim();
        self.bytes[..end].iter().map(|&b| to_unit(b)).collect()
    }

    /// A copy of images `range`.
    pub fn subset(&self, range: Range<usize>) -> Result<ImageSet> {
        if range.start > range.end || range.end > self.len() {
            return Err(Error::Invalid(format!(
                "range {}..{} outside a set of {} images",
                range.start,
                range.end,
                self.len()
            )));
        }
        let d = self.dim();
        Ok(ImageSet {
            bytes: self.bytes[range.start * d..range.end * d].to_vec(),
            labels: self.labels[range.clone()].to_vec(),
            rows: self.rows,
            cols: self.cols,
            channels: self.channels,
        })
    }

    /// Keeps images `0..at` and returns the rest as a set of their own (no copy of the kept
    /// part).
    ///
    /// # Panics
    /// When `at > len()` (a programming error).
    pub fn split_off(&mut self, at: usize) -> ImageSet {
        let d = self.dim();
        ImageSet {
            bytes: self.bytes.split_off(at * d),
            labels: self.labels.split_off(at),
            rows: self.rows,
            cols: self.cols,
            channels: self.channels,
        }
    }

    /// A copy of the images at `indices`, in that order.
    ///
    /// # Panics
    /// When an index is out of range (a programming error).
    pub fn select(&self, indices: &[usize]) -> ImageSet {
        let d = self.dim();
        let mut bytes = Vec::with_capacity(indices.len() * d);
        for &i in indices {
            bytes.extend_from_slice(&self.bytes[i * d..(i + 1) * d]);
        }
        ImageSet {
            bytes,
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
            rows: self.rows,
            cols: self.cols,
            channels: self.channels,
        }
    }

    /// Per-pixel mean over the set.
    pub fn pixel_means(&self) -> Vec<f32> {
        let d = self.dim();
        let mut sum = vec![0f64; d];
        for row in self.bytes.chunks_exact(d) {
            for (s, &p) in sum.iter_mut().zip(row) {
                *s += to_unit(p) as f64;
            }
        }
        let n = self.len().max(1) as f64;
        sum.into_iter().map(|s| (s / n) as f32).collect()
    }
}

/// A pixel byte as a value in [0, 1].
#[inline]
fn to_unit(b: u8) -> f32 {
    b as f32 / 255.0
}

/// The train / validation / test split of the paper.
#[derive(Clone, Debug)]
pub struct Splits {
    /// Training images (MNIST: train file 0..50000).
    pub train: ImageSet,
    /// Validation images (MNIST: train file 50000..60000).
    pub valid: ImageSet,
    /// The test file.
    pub test: ImageSet,
}

/// Finds `stem` or `stem.gz` in `dir`.
fn locate(dir: &Path, stem: &str) -> Result<PathBuf> {
    for name in [stem.to_string(), format!("{stem}.gz")] {
        let p = dir.join(&name);
        if p.is_file() {
            return Ok(p);
        }
    }
    let hint = if dir.to_string_lossy().contains("fashion-mnist") {
        "; install Fashion-MNIST with: apt-get install dataset-fashion-mnist"
    } else {
        ""
    };
    Err(Error::data(
        dir.join(format!("{stem}.gz")),
        format!(
            "missing: {} has neither {stem} nor {stem}.gz (expected an MNIST-format directory){hint}",
            dir.display()
        ),
    ))
}

/// Loads one images + labels pair and checks they agree.
pub fn load_pair(images: &Path, labels: &Path) -> Result<ImageSet> {
    let img = read_idx(images)?;
    if img.dims.len() != 3 {
        return Err(Error::data(
            images,
            format!(
                "expected 3 dimensions [n, rows, cols], found {:?}",
                img.dims
            ),
        ));
    }
    let lab = read_idx(labels)?;
    if lab.dims.len() != 1 {
        return Err(Error::data(
            labels,
            format!("expected 1 dimension [n] for labels, found {:?}", lab.dims),
        ));
    }
    if lab.dims[0] != img.dims[0] {
        return Err(Error::data(
            labels,
            format!(
                "{} labels but {} has {} images",
                lab.dims[0],
                images.display(),
                img.dims[0]
            ),
        ));
    }
    Ok(ImageSet {
        bytes: img.data,
        labels: lab.data,
        rows: img.dims[1],
        cols: img.dims[2],
        channels: 1,
    })
}

/// The environment variable naming the root that relative data paths (the presets'
/// `data/mnist`) are also looked up under.
pub const ROOT_ENV: &str = "GAN_ROOT";

/// Where a data directory is: `dir` itself when it exists (absolute, or relative to the
/// current directory); for a relative path that does not exist there, the same path under
/// `$GAN_ROOT`, then under the source tree this library was built from (where the bundled
/// `data/` lives, so `cargo install --path crates/gan-cli` runs its presets from any
/// directory). The first that exists wins; none: `dir` unchanged (the error names it).
pub fn resolve_dir(dir: &Path) -> PathBuf {
    if dir.is_absolute() || dir.exists() {
        return dir.to_path_buf();
    }
    let built_from = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    std::env::var_os(ROOT_ENV)
        .map(PathBuf::from)
        .into_iter()
        .chain([built_from])
        .map(|root| root.join(dir))
        .find(|p| p.exists())
        .unwrap_or_else(|| dir.to_path_buf())
}

/// Loads an MNIST-format directory (found by [`resolve_dir`]) and splits its training file
/// at `train_end` (the paper: 50,000 for training, the remaining 10,000 for validation).
pub fn load_splits(dir: &Path, train_end: usize) -> Result<Splits> {
    let resolved = resolve_dir(dir);
    let dir = resolved.as_path();
    let train_all = load_pair(
        &locate(dir, "train-images-idx3-ubyte")?,
        &locate(dir, "train-labels-idx1-ubyte")?,
    )?;
    let test = load_pair(
        &locate(dir, "t10k-images-idx3-ubyte")?,
        &locate(dir, "t10k-labels-idx1-ubyte")?,
    )?;
    if (train_all.rows, train_all.cols) != (test.rows, test.cols) {
        return Err(Error::data(
            dir,
            format!(
                "train images are {}x{} but test images are {}x{}",
                train_all.rows, train_all.cols, test.rows, test.cols
            ),
        ));
    }
    if train_end == 0 || train_end >= train_all.len() {
        return Err(Error::Config(format!(
            "data.train_end = {train_end} must be in 1..{} for {}",
            train_all.len(),
            dir.display()
        )));
    }
    // Split in place: MNIST's train file is never held twice.
    let mut train = train_all;
    let valid = train.split_off(train_end);
    train.bytes.shrink_to_fit();
    train.labels.shrink_to_fit();
    Ok(Splits { train, valid, test })
}
