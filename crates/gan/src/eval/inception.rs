//! FID and Inception Score in the features of the FID Inception
//! ([`crate::models::inception`]), comparable with published numbers: the Fréchet distance
//! of pool3 statistics (Heusel et al. 2017, [`crate::eval::quality::frechet_from_stats`]),
//! statistics read from and written to `pytorch-fid`'s `.npz` (`mu`, `sigma`, float64), the
//! Inception Score on the unbiased logits ([`crate::eval::quality::inception_score`]).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use burn::tensor::Device;

use crate::error::{Error, Result};
use crate::eval::quality::{frechet_from_stats, mean_cov};
use crate::models::ImageShape;
use crate::models::inception::{FEATURE_DIM, Inception, LOGIT_DIM, prepare};
use crate::npy::{npy_bytes_f64, parse_npy_f64};

/// Mean and covariance (n - 1) of a feature set: what `pytorch-fid` stores.
#[derive(Clone, Debug, PartialEq)]
pub struct FidStats {
    /// The mean, `dim` values.
    pub mu: Vec<f64>,
    /// The covariance, `dim x dim`, row-major.
    pub sigma: Vec<f64>,
    /// The feature width.
    pub dim: usize,
}

impl FidStats {
    /// The statistics of `[n, dim]` features.
    pub fn of_features(features: &[f32], dim: usize) -> Result<Self> {
        let (mu, sigma) = mean_cov(features, dim)?;
        Ok(Self { mu, sigma, dim })
    }

    /// The Fréchet distance to `other`.
    pub fn frechet(&self, other: &FidStats) -> Result<f64> {
        if self.dim != other.dim {
            return Err(Error::Invalid(format!(
                "Fréchet distance between {}-d and {}-d statistics",
                self.dim, other.dim
            )));
        }
        Ok(frechet_from_stats(
            &self.mu,
            &self.sigma,
            &other.mu,
            &other.sigma,
            self.dim,
        ))
    }

    /// Reads a `pytorch-fid` statistics file (`.npz` with arrays `mu` `[d]` and `sigma`
    /// `[d, d]`, stored or deflated, as `numpy.savez` / `savez_compressed` write them).
    pub fn read_npz(path: &Path) -> Result<Self> {
        let bad = |why: String| Error::data(path, why);
        let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        let mut zip =
            zip::ZipArchive::new(file).map_err(|e| bad(format!("not a .npz (zip) file: {e}")))?;
        let mut array = |name: &str| -> Result<(Vec<usize>, Vec<f64>)> {
            let mut entry = zip.by_name(&format!("{name}.npy")).map_err(|_| {
                bad(format!(
                    "has no array `{name}` (pytorch-fid's mu and sigma)"
                ))
            })?;
            let mut bytes = Vec::new();
            entry
                .read_to_end(&mut bytes)
                .map_err(|e| bad(format!("cannot read `{name}`: {e}")))?;
            parse_npy_f64(&bytes, &path.join(format!("{name}.npy")))
        };
        let (ms, mu) = array("mu")?;
        let (ss, sigma) = array("sigma")?;
        let d = mu.len();
        if ms != [d] || ss != [d, d] {
            return Err(bad(format!(
                "mu has shape {ms:?} and sigma {ss:?}; expected [d] and [d, d]"
            )));
        }
        Ok(Self { mu, sigma, dim: d })
    }

    /// Writes the statistics as `pytorch-fid` does (`mu`, `sigma`, float64, in a `.npz`;
    /// stored, which `numpy.load` reads), to a temporary file renamed over `path` when
    /// complete.
    pub fn write_npz(&self, path: &Path) -> Result<()> {
        let tmp = path.with_extension("npz.partial");
        let write = || -> std::io::Result<()> {
            let file = std::fs::File::create(&tmp)?;
            let mut zip = zip::ZipWriter::new(file);
            let opts = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Stored)
                .large_file(true);
            for (name, shape, data) in [
                ("mu.npy", vec![self.dim], &self.mu),
                ("sigma.npy", vec![self.dim, self.dim], &self.sigma),
            ] {
                zip.start_file(name, opts)?;
                zip.write_all(&npy_bytes_f64(&shape, data))?;
            }
            zip.finish()?.sync_all()
        };
        write().map_err(|e| Error::io(&tmp, e))?;
        std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
    }
}

/// The SHA-256 of a file, lower-case hex (the weights' identity in every report).
pub fn sha256_file(path: &Path) -> Result<String> {
    use sha2::Digest;
    let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut hasher = sha2::Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// Where the statistics of `test` are cached (under [`crate::data::folder::cache_dir`]):
/// keyed by the weights' hash and the images' shape and bytes, so changed data or weights
/// are computed again.
pub fn stats_cache_path(weights_sha256: &str, test: &crate::data::ImageSet) -> PathBuf {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    h.update(weights_sha256.as_bytes());
    h.update(format!("{}x{}x{}", test.channels, test.rows, test.cols).as_bytes());
    h.update(&test.bytes);
    let key: String = h.finalize()[..12]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    crate::data::folder::cache_dir()
        .join("fid-stats")
        .join(format!("inception-{key}.npz"))
}

/// What the network gives for a set of images.
pub struct Activations {
    /// `[n, 2048]` pool3 features.
    pub features: Vec<f32>,
    /// `[n, 1008]` logits without `fc`'s bias (the Inception Score's input).
    pub logits: Vec<f32>,
}

/// Pool3 features and unbiased logits of images in [0, 1] (`[n, channels x h x w]`,
/// channels first), `batch` at a time; `progress` hears the images done so far.
pub fn activations(
    net: &Inception,
    images: &[f32],
    shape: ImageShape,
    batch: usize,
    progress: &mut dyn FnMut(usize),
) -> Result<Activations> {
    let [c, h, w] = shape.dims();
    let per = c * h * w;
    if per == 0 || !images.len().is_multiple_of(per) || !(c == 1 || c == 3) {
        return Err(Error::Invalid(format!(
            "Inception features need grey or RGB images; got {} values for images of {c} x \
             {h} x {w}",
            images.len()
        )));
    }
    let device = Device::flex();
    let n = images.len() / per;
    let mut out = Activations {
        features: Vec::with_capacity(n * FEATURE_DIM),
        logits: Vec::with_capacity(n * LOGIT_DIM),
    };
    let host = |t: burn::tensor::Tensor<2>| -> Result<Vec<f32>> {
        t.into_data()
            .try_into_vec::<f32>()
            .map_err(|e| Error::Invalid(format!("{e:?}")))
    };
    for (i, chunk) in images.chunks(batch.max(1) * per).enumerate() {
        let o = net.forward(prepare(chunk, c, h, w, &device), false);
        out.features.extend(host(o.features)?);
        out.logits.extend(host(o.logits_unbiased)?);
        progress((i * batch.max(1) + chunk.len() / per).min(n));
    }
    Ok(out)
}
