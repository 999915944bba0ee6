//! Any folder of images as a dataset: PNG and JPEG, found recursively, decoded once and
//! cached.
//!
//! Every image is composited onto a background where it has alpha, converted to grey or RGB,
//! centre-cropped to a square and resized to `size x size` with a triangle (bilinear) filter
//! (`image::imageops::FilterType::Triangle`); images of any size or colour type (grey, RGB,
//! RGBA, palette, 16-bit) therefore come out alike. Grey is the luma of `image`'s
//! `to_luma8` (Rec. 709 weights 0.2126 R + 0.7152 G + 0.0722 B). Files are read in sorted
//! path order, so the dataset is the same on every machine. With `labels`, each first-level
//! subfolder is a class (sorted names, 0, 1, ...), as torchvision's `ImageFolder`.
//!
//! A file that does not decode, is larger than [`MAX_SIDE`] pixels a side or would need more
//! than [`MAX_ALLOC`] bytes (a decompression bomb) is an error naming it, or, with
//! [`OnBroken::Skip`], counted and reported in [`FolderReport`]; files that are not PNG or
//! JPEG by name are counted as ignored. An empty folder is an error: a dataset never comes
//! out silently smaller than the folder.
//!
//! The decoded set is cached under [`cache_dir`] keyed by the folder's path, every file's
//! name, size and modification time, and the options; any change to the folder or the
//! options makes a new key, so a stale cache is never read.

use std::io::Write;
use std::path::{Path, PathBuf};

use image::imageops::FilterType;
use serde::{Deserialize, Serialize};

use super::ImageSet;
use crate::error::{Error, Result};

/// Largest width or height accepted before decoding.
pub const MAX_SIDE: u32 = 8192;
/// Most memory one image may need to decode.
pub const MAX_ALLOC: u64 = 256 << 20;

/// What to do with a file that does not decode.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnBroken {
    /// Stop with an error naming the file (the default).
    #[default]
    Error,
    /// Leave it out, and count and name it in the report.
    Skip,
}

/// How a folder becomes images.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FolderOptions {
    /// Side of the square images produced.
    pub size: usize,
    /// 1 (grey) or 3 (RGB).
    pub channels: usize,
    /// Colour that transparent pixels are composited onto (RGB).
    pub background: [u8; 3],
    /// Class labels from the first-level subfolders.
    pub labels: bool,
    /// Broken files: error or skip.
    pub on_broken: OnBroken,
}

impl Default for FolderOptions {
    fn default() -> Self {
        Self {
            size: 28,
            channels: 1,
            background: [255, 255, 255],
            labels: true,
            on_broken: OnBroken::Error,
        }
    }
}

/// What loading a folder found.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FolderReport {
    /// Images decoded into the set.
    pub images: usize,
    /// Files skipped as broken, with the reason (only with [`OnBroken::Skip`]).
    pub skipped: Vec<String>,
    /// Files ignored because their names are not PNG or JPEG.
    pub ignored: usize,
    /// Class names, by label (empty without labels).
    pub classes: Vec<String>,
    /// Whether the set came from the cache.
    pub cached: bool,
}

/// Where decoded folders are cached: `$GAN_CACHE`, else `$XDG_CACHE_HOME/gan`, else
/// `~/.cache/gan`, else the system's temporary directory.
pub fn cache_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("GAN_CACHE") {
        return PathBuf::from(d);
    }
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME") {
        return PathBuf::from(d).join("gan");
    }
    if let Some(h) = std::env::var_os("HOME") {
        return PathBuf::from(h).join(".cache/gan");
    }
    std::env::temp_dir().join("gan-cache")
}

/// Whether `dir` looks like an image folder (it holds a PNG or JPEG, at most two levels
/// down) rather than an MNIST-format directory.
pub fn is_image_folder(dir: &Path) -> bool {
    let Ok(files) = list(dir) else { return false };
    files.iter().any(|f| is_image_name(f))
}

fn is_image_name(p: &Path) -> bool {
    matches!(
        p.extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref(),
        Some("png" | "jpg" | "jpeg")
    )
}

/// Every file below `dir`, sorted by path.
fn list(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = std::fs::read_dir(&d).map_err(|e| Error::io(&d, e))?;
        for e in entries {
            let e = e.map_err(|e| Error::io(&d, e))?;
            let p = e.path();
            let name = e.file_name();
            if name.to_string_lossy().starts_with('.') {
                continue;
            }
            let ft = e.file_type().map_err(|e| Error::io(&p, e))?;
            if ft.is_dir() {
                stack.push(p);
            } else if ft.is_file() {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Loads the images below `dir` (from the cache when the folder and options are unchanged).
pub fn load_folder(dir: &Path, opts: &FolderOptions) -> Result<(ImageSet, FolderReport)> {
    if !(opts.channels == 1 || opts.channels == 3) {
        return Err(Error::Config(format!(
            "data.channels = {}: must be 1 (grey) or 3 (RGB)",
            opts.channels
        )));
    }
    if !(1..=1024).contains(&opts.size) {
        return Err(Error::Config(format!(
            "data.image_size = {}: must be in 1..=1024",
            opts.size
        )));
    }
    if !dir.is_dir() {
        return Err(Error::data(dir, "not a directory"));
    }
    let files = list(dir)?;
    let key = cache_key(dir, &files, opts)?;
    let cache = cache_dir().join(format!("folder-{key:016x}.bin"));
    if let Some(hit) = read_cache(&cache) {
        return Ok(hit);
    }
    let (set, report) = decode_all(dir, &files, opts)?;
    // a cache that cannot be written only costs the next run a decode
    let _ = write_cache(&cache, &set, &report);
    Ok((set, report))
}

fn decode_all(
    dir: &Path,
    files: &[PathBuf],
    opts: &FolderOptions,
) -> Result<(ImageSet, FolderReport)> {
    let mut report = FolderReport::default();
    let images: Vec<&PathBuf> = files.iter().filter(|f| is_image_name(f)).collect();
    report.ignored = files.len() - images.len();
    if opts.labels {
        let mut classes: Vec<String> = images.iter().filter_map(|f| class_of(dir, f)).collect();
        classes.sort();
        classes.dedup();
        if let Some(f) = images.iter().find(|f| class_of(dir, f).is_none()) {
            return Err(Error::data(
                f.as_path(),
                "is directly in the folder, but class labels come from first-level \
                 subfolders (move it into one, or set data.labels = false)",
            ));
        }
        if classes.len() > 256 {
            return Err(Error::data(
                dir,
                format!("{} class folders; at most 256", classes.len()),
            ));
        }
        report.classes = classes;
    }
    let (s, c) = (opts.size, opts.channels);
    let mut bytes = Vec::with_capacity(images.len() * c * s * s);
    let mut labels = Vec::with_capacity(images.len());
    for f in images {
        match decode(f, opts) {
            Ok(px) => {
                bytes.extend_from_slice(&px);
                let label = class_of(dir, f)
                    .and_then(|k| report.classes.iter().position(|x| *x == k))
                    .unwrap_or(0);
                labels.push(label as u8);
            }
            Err(e) if opts.on_broken == OnBroken::Skip => report.skipped.push(e.to_string()),
            Err(e) => {
                return Err(Error::data(
                    f.as_path(),
                    format!("{e} (set data.on_broken = \"skip\" to leave such files out)"),
                ));
            }
        }
    }
    if labels.is_empty() {
        return Err(Error::data(
            dir,
            format!(
                "no image could be read ({} PNG/JPEG files skipped as broken, {} other files)",
                report.skipped.len(),
                report.ignored
            ),
        ));
    }
    report.images = labels.len();
    Ok((
        ImageSet {
            bytes,
            labels,
            rows: s,
            cols: s,
            channels: c,
        },
        report,
    ))
}

/// The first-level subfolder of `f` below `dir`.
fn class_of(dir: &Path, f: &Path) -> Option<String> {
    let rel = f.strip_prefix(dir).ok()?;
    let mut parts = rel.components();
    let first = parts.next()?;
    parts.next()?;
    Some(first.as_os_str().to_string_lossy().into_owned())
}

/// One image file as `[channels, size, size]` bytes.
fn decode(path: &Path, opts: &FolderOptions) -> std::result::Result<Vec<u8>, String> {
    let mut reader = image::ImageReader::open(path)
        .map_err(|e| e.to_string())?
        .with_guessed_format()
        .map_err(|e| e.to_string())?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_ALLOC);
    reader.limits(limits);
    let img = reader.decode().map_err(|e| match e {
        image::ImageError::Limits(l) => format!(
            "larger than allowed ({l}; at most {MAX_SIDE} pixels a side and {} MB decoded)",
            MAX_ALLOC >> 20
        ),
        e => format!("does not decode as an image: {e}"),
    })?;
    Ok(to_tensor_bytes(
        composite(&img.to_rgba8(), opts.background),
        opts,
    ))
}

/// `rgba` composited onto `background` (`c a + b (1 - a)` per channel, rounded), in 8-bit
/// RGB.
pub(crate) fn composite(rgba: &image::RgbaImage, background: [u8; 3]) -> image::RgbImage {
    let [br, bg, bb] = background.map(f32::from);
    let mut rgb = image::RgbImage::new(rgba.width(), rgba.height());
    for (o, p) in rgb.pixels_mut().zip(rgba.pixels()) {
        let a = p[3] as f32 / 255.0;
        let mix = |c: u8, b: f32| (c as f32 * a + b * (1.0 - a)).round().clamp(0.0, 255.0) as u8;
        *o = image::Rgb([mix(p[0], br), mix(p[1], bg), mix(p[2], bb)]);
    }
    rgb
}

/// An RGB image centre-cropped to a square, resized to `opts.size` (triangle filter; a
/// no-op at the same size) and laid out `[channels, size, size]`, grey by Rec. 709 luma:
/// the one place every image source turns pictures into training bytes.
pub(crate) fn to_tensor_bytes(rgb: image::RgbImage, opts: &FolderOptions) -> Vec<u8> {
    let (w, h) = rgb.dimensions();
    let side = w.min(h);
    let n = opts.size as u32;
    let square = if w == h {
        rgb
    } else {
        image::imageops::crop_imm(&rgb, (w - side) / 2, (h - side) / 2, side, side).to_image()
    };
    let resized = if side == n {
        square
    } else {
        image::imageops::resize(&square, n, n, FilterType::Triangle)
    };
    let s = opts.size * opts.size;
    if opts.channels == 1 {
        image::DynamicImage::ImageRgb8(resized)
            .to_luma8()
            .into_raw()
    } else {
        // interleaved RGB -> channel-major [3, size, size]
        let raw = resized.into_raw();
        let mut out = vec![0u8; 3 * s];
        for (i, px) in raw.chunks_exact(3).enumerate() {
            for c in 0..3 {
                out[c * s + i] = px[c];
            }
        }
        out
    }
}

fn cache_key(dir: &Path, files: &[PathBuf], opts: &FolderOptions) -> Result<u64> {
    let mut text = format!(
        "v1\n{}\n{}\n",
        std::fs::canonicalize(dir)
            .unwrap_or_else(|_| dir.to_path_buf())
            .display(),
        serde_json::to_string(opts).map_err(|e| Error::Invalid(e.to_string()))?
    );
    for f in files {
        let m = std::fs::metadata(f).map_err(|e| Error::io(f, e))?;
        let mtime = m
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        text.push_str(&format!("{}\t{}\t{mtime}\n", f.display(), m.len()));
    }
    // two CRC-32s of the listing, forwards and with a salt: a 64-bit key
    let a = crate::checkpoint::crc32(text.as_bytes()) as u64;
    let b = crate::checkpoint::crc32(format!("salt{text}").as_bytes()) as u64;
    Ok(a << 32 | b)
}

#[derive(Serialize, Deserialize)]
struct CacheHeader {
    images: usize,
    rows: usize,
    cols: usize,
    channels: usize,
    skipped: Vec<String>,
    ignored: usize,
    classes: Vec<String>,
    crc: u32,
}

const CACHE_MAGIC: &[u8; 8] = b"GANIMG01";

fn write_cache(path: &Path, set: &ImageSet, report: &FolderReport) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let mut body = set.labels.clone();
    body.extend_from_slice(&set.bytes);
    let header = serde_json::to_vec(&CacheHeader {
        images: set.len(),
        rows: set.rows,
        cols: set.cols,
        channels: set.channels,
        skipped: report.skipped.clone(),
        ignored: report.ignored,
        classes: report.classes.clone(),
        crc: crate::checkpoint::crc32(&body),
    })
    .map_err(|e| Error::Invalid(e.to_string()))?;
    let mut out = Vec::with_capacity(16 + header.len() + body.len());
    out.extend_from_slice(CACHE_MAGIC);
    out.extend_from_slice(&(header.len() as u64).to_le_bytes());
    out.extend_from_slice(&header);
    out.extend_from_slice(&body);
    let tmp = path.with_extension(format!("partial-{}", std::process::id()));
    let mut f = std::fs::File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
    f.write_all(&out).map_err(|e| Error::io(&tmp, e))?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}

/// The cached set, or `None` when there is none or it does not verify (then it is decoded
/// again).
fn read_cache(path: &Path) -> Option<(ImageSet, FolderReport)> {
    let bytes = std::fs::read(path).ok()?;
    if bytes.len() < 16 || &bytes[..8] != CACHE_MAGIC {
        return None;
    }
    let hlen = u64::from_le_bytes(bytes[8..16].try_into().ok()?) as usize;
    let header: CacheHeader = serde_json::from_slice(bytes.get(16..16 + hlen)?).ok()?;
    let body = bytes.get(16 + hlen..)?;
    let n = header.images;
    let d = header.channels * header.rows * header.cols;
    if body.len() != n * (d + 1) || crate::checkpoint::crc32(body) != header.crc {
        return None;
    }
    let set = ImageSet {
        labels: body[..n].to_vec(),
        bytes: body[n..].to_vec(),
        rows: header.rows,
        cols: header.cols,
        channels: header.channels,
    };
    let report = FolderReport {
        images: n,
        skipped: header.skipped,
        ignored: header.ignored,
        classes: header.classes,
        cached: true,
    };
    Some((set, report))
}
