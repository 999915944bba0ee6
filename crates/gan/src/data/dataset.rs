//! What the training loop reads: any indexable set of images `[c, h, w]` with optional class
//! labels. [`super::ImageSet`] (every file source: IDX, folders, `.npy`, CIFAR) is one; the
//! 2-D mixtures of the mode-collapse runs ([`crate::toy2d::MixturePoints`]) are another.

use crate::error::Result;
use crate::models::ImageShape;

/// A dataset the training loop ([`crate::train::Run`]) draws its minibatches from: it
/// shuffles `0..len()` every epoch with a seeded permutation and reads images by index.
pub trait Dataset: Send {
    /// The shape of every image.
    fn shape(&self) -> Result<ImageShape>;

    /// Number of images.
    fn len(&self) -> usize;

    /// True when the set holds no image.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends image `i` (`c * h * w` values, channels first) to `out`.
    fn push_image(&self, i: usize, out: &mut Vec<f32>);

    /// The class label of image `i` (0 where the source has none).
    fn label(&self, i: usize) -> u8;

    /// The largest label, `None` for an empty set.
    fn max_label(&self) -> Option<u8> {
        (0..self.len()).map(|i| self.label(i)).max()
    }

    /// Per-value mean over the set (what the paper's G output bias is set from).
    fn pixel_means(&self) -> Result<Vec<f32>> {
        let d = self.shape()?.len();
        let mut sum = vec![0f64; d];
        let mut img = Vec::with_capacity(d);
        for i in 0..self.len() {
            img.clear();
            self.push_image(i, &mut img);
            for (s, &v) in sum.iter_mut().zip(&img) {
                *s += v as f64;
            }
        }
        let n = self.len().max(1) as f64;
        Ok(sum.into_iter().map(|s| (s / n) as f32).collect())
    }
}

impl Dataset for super::ImageSet {
    fn shape(&self) -> Result<ImageShape> {
        super::ImageSet::shape(self)
    }

    fn len(&self) -> usize {
        super::ImageSet::len(self)
    }

    fn push_image(&self, i: usize, out: &mut Vec<f32>) {
        super::ImageSet::push_image(self, i, out)
    }

    fn label(&self, i: usize) -> u8 {
        self.labels[i]
    }

    fn max_label(&self) -> Option<u8> {
        self.labels.iter().copied().max()
    }

    fn pixel_means(&self) -> Result<Vec<f32>> {
        Ok(super::ImageSet::pixel_means(self))
    }
}
