//! Datasets: MNIST-format files and the paper's split.

pub mod cifar;
mod dataset;
pub mod folder;
pub mod idx;
pub mod mnist;
pub mod npy_images;

pub use dataset::Dataset;
pub use idx::{IdxArray, parse_idx, read_idx};
pub use mnist::{ImageSet, ROOT_ENV, Splits, load_pair, load_splits, resolve_dir};

/// The paper's split of MNIST's 60,000 training images: 0..50000 train, 50000..60000
/// validation (what every command uses unless a run's config says otherwise).
pub const PAPER_TRAIN_END: usize = 50_000;

/// Pixels of a 28 x 28 MNIST-format image (the paper's model's data dimension).
pub const MNIST_DIM: usize = 28 * 28;

/// The shape of an MNIST image: grey, 28 x 28.
pub const MNIST_SHAPE: crate::models::ImageShape = crate::models::ImageShape {
    channels: 1,
    height: 28,
    width: 28,
};

/// Share of an image folder held out for validation, and the same again for test.
pub const FOLDER_HOLDOUT: f64 = 0.1;

/// The splits a run's data section describes (`data.source`, or what `data.dir` holds when
/// it is `auto`): an MNIST-format directory (the paper's split
/// at `train_end`), a CIFAR-10 / CIFAR-100 binary directory ([`cifar`]; its test file, and
/// its training files split at `train_end`, or 90/10 when that is not below their size),
/// an `.npy` array of images ([`npy_images`]), or an image folder ([`folder::load_folder`]) shuffled with a fixed seed
/// (the same split for every run) into 80% training, 10% validation and 10% test images,
/// as is an `.npy` array.
/// The directory is found by [`resolve_dir`]. The report says what a folder held.
pub fn load_data(
    cfg: &crate::config::DataConfig,
) -> crate::error::Result<(Splits, Option<folder::FolderReport>)> {
    let dir = resolve_dir(std::path::Path::new(&cfg.dir));
    let is_npy = dir
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("npy"));
    let opts = folder::FolderOptions {
        size: cfg.image_size,
        channels: cfg.channels,
        background: cfg.background,
        labels: cfg.labels,
        on_broken: cfg.on_broken,
    };
    use crate::config::DataSource;
    let source = match cfg.source {
        DataSource::Auto if cifar::is_cifar(&dir) => DataSource::Cifar,
        DataSource::Auto if is_npy => DataSource::Npy,
        DataSource::Auto if folder::is_image_folder(&dir) => DataSource::Folder,
        DataSource::Auto => DataSource::Idx,
        s => s,
    };
    if source == DataSource::Cifar {
        // the training files split at train_end; at or above their size, the last 10%
        // is validation
        let (mut train, test) = cifar::load_cifar(&dir, &opts)?;
        let n = train.len();
        let end = if cfg.train_end < n {
            cfg.train_end
        } else {
            n - ((n as f64) * FOLDER_HOLDOUT).floor() as usize
        };
        let valid = train.split_off(end);
        return Ok((Splits { train, valid, test }, None));
    }
    let (all, report) = match source {
        DataSource::Npy => (npy_images::load_npy_images(&dir, &opts)?, None),
        DataSource::Folder => {
            let (all, report) = folder::load_folder(&dir, &opts)?;
            (all, Some(report))
        }
        _ => return Ok((load_splits(&dir, cfg.train_end)?, None)),
    };
    let n = all.len();
    let hold = ((n as f64) * FOLDER_HOLDOUT).floor() as usize;
    if hold == 0 {
        return Err(crate::error::Error::data(
            &dir,
            format!("{n} images: too few to hold out validation and test images (at least 10)"),
        ));
    }
    let order = crate::rng::Rng::new(0x5eed_f01d).permutation(n);
    let splits = Splits {
        valid: all.select(&order[..hold]),
        test: all.select(&order[hold..2 * hold]),
        train: all.select(&order[2 * hold..]),
    };
    Ok((splits, report))
}
