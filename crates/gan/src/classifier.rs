//! The reference classifier: training, accuracy, saving and loading, and batched features
//! and class probabilities for the sample-quality metrics.

use std::path::Path;

use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::checkpoint::{module_from_bytes, module_to_bytes, write_atomic};
use crate::data::ImageSet;
use crate::error::{Error, Result};
use crate::models::lenet::{CLASSES, FEATURE_DIM, LeNet};
use crate::rng::Rng;

/// How the classifier is trained.
#[derive(Clone, Debug, PartialEq)]
pub struct ClassifierConfig {
    /// Passes over the training images.
    pub epochs: usize,
    /// Minibatch size.
    pub batch_size: usize,
    /// Adam's learning rate.
    pub lr: f64,
    /// Seed of the initialisation and the shuffling.
    pub seed: u64,
}

impl Default for ClassifierConfig {
    fn default() -> Self {
        Self {
            epochs: 5,
            batch_size: 64,
            lr: 1e-3,
            seed: 1,
        }
    }
}

fn batch_tensor(set: &ImageSet, idx: &[usize], device: &Device) -> Tensor<2> {
    let mut px = Vec::with_capacity(idx.len() * set.dim());
    for &i in idx {
        set.push_image(i, &mut px);
    }
    Tensor::from_data(TensorData::new(px, [idx.len(), set.dim()]), device)
}

fn check_shape(set: &ImageSet) -> Result<()> {
    if (set.channels, set.rows, set.cols) != (1, 28, 28) {
        return Err(Error::Invalid(format!(
            "the classifier takes 28x28 grey images, got {}x{} with {} channel(s)",
            set.rows, set.cols, set.channels
        )));
    }
    Ok(())
}

/// Trains a fresh [`LeNet`] on `train` with Adam and cross-entropy; `on_epoch` receives the
/// epoch number and the mean training loss.
pub fn train_classifier(
    train: &ImageSet,
    cfg: &ClassifierConfig,
    mut on_epoch: impl FnMut(usize, f64),
    mut on_batch: impl FnMut(usize, usize),
) -> Result<LeNet> {
    check_shape(train)?;
    if cfg.epochs == 0 || cfg.batch_size == 0 || cfg.lr.is_nan() || cfg.lr <= 0.0 {
        return Err(Error::Invalid(
            "epochs, batch size and learning rate must be positive".into(),
        ));
    }
    let device = Device::flex().autodiff();
    let mut rng = Rng::new(cfg.seed);
    let mut model = LeNet::new(&mut rng, &device);
    let mut opt = AdamConfig::new().init();
    let loss_fn = CrossEntropyLossConfig::new().init(&device);
    let batches = train.len() / cfg.batch_size;
    for epoch in 1..=cfg.epochs {
        let order = rng.permutation(train.len());
        let mut total = 0.0;
        for b in 0..batches {
            let idx = &order[b * cfg.batch_size..(b + 1) * cfg.batch_size];
            let x = batch_tensor(train, idx, &device);
            let y: Vec<i64> = idx.iter().map(|&i| train.labels[i] as i64).collect();
            let y = Tensor::<1, Int>::from_data(TensorData::new(y, [idx.len()]), &device);
            let loss = loss_fn.forward(model.forward(x), y);
            total += loss.clone().into_scalar::<f32>() as f64;
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = opt.step(cfg.lr, model, grads);
            on_batch(b + 1, batches);
        }
        on_epoch(epoch, total / batches.max(1) as f64);
    }
    Ok(model.valid())
}

/// Runs `f` over `n` rows of `pixels` in chunks of 500, collecting `width` outputs per row.
fn batched(
    pixels: &[f32],
    dim: usize,
    width: usize,
    f: impl Fn(Tensor<2>) -> Tensor<2>,
) -> Result<Vec<f32>> {
    if dim != 784 || !pixels.len().is_multiple_of(dim) {
        return Err(Error::Invalid(format!(
            "expected rows of 784 pixels, got {} values with dim {dim}",
            pixels.len()
        )));
    }
    let device = Device::flex();
    let n = pixels.len() / dim;
    let mut out = Vec::with_capacity(n * width);
    for start in (0..n).step_by(500) {
        let end = (start + 500).min(n);
        let x = Tensor::from_data(
            TensorData::new(pixels[start * dim..end * dim].to_vec(), [end - start, dim]),
            &device,
        );
        let v = f(x)
            .into_data()
            .try_into_vec::<f32>()
            .map_err(|e| Error::Invalid(format!("reading classifier output: {e:?}")))?;
        out.extend(v);
    }
    Ok(out)
}

/// Penultimate-layer features, `[n, 128]` row-major, of `[n, 784]` pixels.
pub fn features(model: &LeNet, pixels: &[f32]) -> Result<Vec<f32>> {
    batched(pixels, 784, FEATURE_DIM, |x| model.features(x))
}

/// Class probabilities (softmax), `[n, 10]` row-major.
pub fn probabilities(model: &LeNet, pixels: &[f32]) -> Result<Vec<f32>> {
    batched(pixels, 784, CLASSES, |x| {
        burn::tensor::activation::softmax(model.forward(x), 1)
    })
}

/// The most probable class of each row of `[n, 10]` probabilities (or logits).
pub fn argmax_rows(p: &[f32]) -> Vec<usize> {
    p.chunks_exact(CLASSES)
        .map(|r| {
            r.iter()
                .enumerate()
                .fold(
                    (0, f32::NEG_INFINITY),
                    |b, (i, &v)| if v > b.1 { (i, v) } else { b },
                )
                .0
        })
        .collect()
}

/// Fraction of `set` classified correctly.
pub fn accuracy(model: &LeNet, set: &ImageSet) -> Result<f64> {
    check_shape(set)?;
    let p = probabilities(model, &set.pixels())?;
    let hits = argmax_rows(&p)
        .iter()
        .zip(&set.labels)
        .filter(|(a, b)| **a == **b as usize)
        .count();
    Ok(hits as f64 / set.len().max(1) as f64)
}

/// Writes the classifier's weights as safetensors (atomically).
pub fn save_classifier(model: &LeNet, path: &Path) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    write_atomic(path, &module_to_bytes(model, path)?)
}

/// Loads classifier weights written by [`save_classifier`].
pub fn load_classifier(path: &Path) -> Result<LeNet> {
    load_classifier_on(path, &Device::flex())
}

/// Loads classifier weights onto `device` (an autodiff device for input gradients).
pub fn load_classifier_on(path: &Path, device: &Device) -> Result<LeNet> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let mut model = LeNet::new(&mut Rng::new(0), device);
    module_from_bytes(&mut model, bytes, path)?;
    Ok(model)
}

/// Where the shipped MNIST classifier lives, relative to the repository root (the binary
/// carries a copy: [`Shipped`]).
pub const SHIPPED_MNIST: &str = "assets/classifier/mnist-lenet.safetensors";

/// Where the shipped Fashion-MNIST classifier lives, relative to the repository root.
pub const SHIPPED_FASHION: &str = "assets/classifier/fashion-lenet.safetensors";

/// A classifier shipped with the toolkit: its weights are compiled into the library, so it
/// is found wherever the binary runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shipped {
    /// LeNet trained on MNIST ([`SHIPPED_MNIST`]).
    Mnist,
    /// LeNet trained on Fashion-MNIST ([`SHIPPED_FASHION`]).
    Fashion,
}

/// CRC-32 of the 10,000 labels of the canonical MNIST test set (`t10k-labels-idx1-ubyte`
/// without its 8-byte header; python: `zlib.crc32(gzip.open(f).read()[8:])`).
const MNIST_TEST_LABELS_CRC: u32 = 0xee86_04d9;
/// The same for Fashion-MNIST's test labels.
const FASHION_TEST_LABELS_CRC: u32 = 0x242b_c73f;

impl Shipped {
    /// Every shipped classifier.
    pub const ALL: [Shipped; 2] = [Shipped::Mnist, Shipped::Fashion];

    /// The name used on the command line and in reports (`mnist`, `fashion`).
    pub fn name(self) -> &'static str {
        match self {
            Shipped::Mnist => "mnist",
            Shipped::Fashion => "fashion",
        }
    }

    /// The dataset it was trained on.
    pub fn dataset(self) -> &'static str {
        match self {
            Shipped::Mnist => "MNIST",
            Shipped::Fashion => "Fashion-MNIST",
        }
    }

    /// The classifier called `name` (`mnist` or `fashion`).
    pub fn from_name(name: &str) -> Option<Shipped> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }

    /// The safetensors weights compiled into the library.
    pub fn bytes(self) -> &'static [u8] {
        match self {
            Shipped::Mnist => include_bytes!("../../../assets/classifier/mnist-lenet.safetensors"),
            Shipped::Fashion => {
                include_bytes!("../../../assets/classifier/fashion-lenet.safetensors")
            }
        }
    }

    /// The classifier, on `device`.
    pub fn load_on(self, device: &Device) -> Result<LeNet> {
        let mut model = LeNet::new(&mut Rng::new(0), device);
        let label = Path::new(match self {
            Shipped::Mnist => SHIPPED_MNIST,
            Shipped::Fashion => SHIPPED_FASHION,
        });
        module_from_bytes(&mut model, self.bytes().to_vec(), label)?;
        Ok(model)
    }

    /// The shipped classifier trained on the dataset whose test split is `test`, recognised
    /// by its labels (the canonical MNIST and Fashion-MNIST test sets); `None` for any other
    /// data, whatever its directory is called.
    pub fn for_test_set(test: &ImageSet) -> Option<Shipped> {
        if (test.channels, test.rows, test.cols) != (1, 28, 28) {
            return None;
        }
        match crate::checkpoint::crc32(&test.labels) {
            MNIST_TEST_LABELS_CRC => Some(Shipped::Mnist),
            FASHION_TEST_LABELS_CRC => Some(Shipped::Fashion),
            _ => None,
        }
    }
}

/// A classifier given on the command line: `mnist` or `fashion` (a shipped one, [`Shipped`])
/// or the path of a safetensors file written by [`save_classifier`]. Returns the model and
/// a description for reports.
pub fn load_spec_on(spec: &str, device: &Device) -> Result<(LeNet, String)> {
    match Shipped::from_name(spec) {
        Some(s) => Ok((s.load_on(device)?, format!("shipped {} LeNet", s.dataset()))),
        None => Ok((
            load_classifier_on(Path::new(spec), device)?,
            format!("LeNet from {spec}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_compiled_in_weights_are_the_files_in_assets() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        for (s, file) in [
            (Shipped::Mnist, SHIPPED_MNIST),
            (Shipped::Fashion, SHIPPED_FASHION),
        ] {
            let on_disk = std::fs::read(root.join(file)).expect("asset");
            assert!(s.bytes() == on_disk.as_slice(), "{file}");
            assert_eq!(Shipped::from_name(s.name()), Some(s));
        }
        assert_eq!(Shipped::from_name("cifar"), None);
    }
}
