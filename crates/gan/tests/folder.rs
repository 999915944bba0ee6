//! Image folders as datasets: the bundled emoji folder, the cache, and broken folders.

use std::path::{Path, PathBuf};

use gan::data::folder::{FolderOptions, OnBroken, load_folder};

fn emoji() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/emoji-noto-64")
}

fn png(path: &Path, img: image::DynamicImage) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    img.save(path).expect("save png");
}

#[test]
fn the_emoji_folder_loads_with_its_categories_as_classes() {
    let opts = FolderOptions {
        size: 64,
        channels: 3,
        ..Default::default()
    };
    let (set, report) = load_folder(&emoji(), &opts).expect("emoji");
    assert_eq!(
        (set.len(), set.channels, set.rows, set.cols),
        (3786, 3, 64, 64)
    );
    assert_eq!(report.images, 3786);
    assert_eq!(report.ignored, 2, "README.md and index.csv");
    assert!(report.skipped.is_empty());
    assert_eq!(report.classes.len(), 10);
    assert_eq!(report.classes[0], "activities");
    assert_eq!(report.classes[9], "travel-places");
    // per-class counts from the folder's README
    let count = |name: &str| {
        let k = report
            .classes
            .iter()
            .position(|c| c == name)
            .expect("class") as u8;
        set.labels.iter().filter(|&&l| l == k).count()
    };
    assert_eq!(
        (count("people-body"), count("flags"), count("component")),
        (2261, 270, 5)
    );
    // transparent corners are composited onto white (the default background)
    let d = set.dim();
    let s = 64 * 64;
    let white_corners = (0..set.len())
        .filter(|&i| (0..3).all(|c| set.bytes[i * d + c * s] == 255))
        .count();
    assert!(
        white_corners > 3000,
        "{white_corners} of 3786 corners white"
    );
    // and the picture has colour: some pixel differs between channels
    assert!((0..s).any(|p| set.bytes[p] != set.bytes[s + p]));
}

#[test]
fn a_second_load_comes_from_the_cache_until_the_folder_changes() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (i, name) in ["a/1.png", "a/2.png", "b/3.png"].iter().enumerate() {
        let v = (i * 80) as u8;
        png(
            &dir.path().join(name),
            image::DynamicImage::ImageLuma8(image::GrayImage::from_pixel(8, 8, image::Luma([v]))),
        );
    }
    let opts = FolderOptions {
        size: 4,
        ..Default::default()
    };
    let (first, r1) = load_folder(dir.path(), &opts).expect("first");
    assert!(!r1.cached);
    let (second, r2) = load_folder(dir.path(), &opts).expect("second");
    assert!(r2.cached);
    assert_eq!(
        (first.bytes.clone(), first.labels.clone()),
        (second.bytes, second.labels)
    );
    assert_eq!(first.labels, vec![0, 0, 1]);
    assert_eq!(&first.bytes[..16], &[0u8; 16]);
    assert!(first.bytes[32..48].iter().all(|&b| b == 160));
    // a changed file is decoded again, with its new content
    png(
        &dir.path().join("b/3.png"),
        image::DynamicImage::ImageLuma8(image::GrayImage::from_pixel(9, 9, image::Luma([7]))),
    );
    let (third, r3) = load_folder(dir.path(), &opts).expect("third");
    assert!(!r3.cached);
    assert!(third.bytes[32..48].iter().all(|&b| b == 7));
    // other options, another key
    let grey2 = FolderOptions { size: 2, ..opts };
    let (small, r4) = load_folder(dir.path(), &grey2).expect("small");
    assert!(!r4.cached && small.rows == 2);
}

#[test]
fn every_kind_of_png_and_jpeg_comes_out_alike() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = |n: &str| dir.path().join("c").join(n);
    // grey, RGB, RGBA (half transparent), 16-bit grey, a JPEG, of different sizes
    png(
        &p("grey.png"),
        image::DynamicImage::ImageLuma8(image::GrayImage::from_pixel(10, 6, image::Luma([100]))),
    );
    png(
        &p("rgb.png"),
        image::DynamicImage::ImageRgb8(image::RgbImage::from_pixel(
            5,
            5,
            image::Rgb([100, 100, 100]),
        )),
    );
    png(
        &p("rgba.png"),
        image::DynamicImage::ImageRgba8(image::RgbaImage::from_pixel(
            7,
            7,
            image::Rgba([0, 0, 0, 128]),
        )),
    );
    png(
        &p("wide16.png"),
        image::DynamicImage::ImageLuma16(image::ImageBuffer::from_pixel(
            12,
            4,
            image::Luma([100u16 * 257]),
        )),
    );
    png(
        &p("photo.jpg"),
        image::DynamicImage::ImageRgb8(image::RgbImage::from_pixel(
            16,
            16,
            image::Rgb([100, 100, 100]),
        )),
    );
    let opts = FolderOptions {
        size: 4,
        background: [255, 255, 255],
        ..Default::default()
    };
    let (set, report) = load_folder(dir.path(), &opts).expect("mixed");
    assert_eq!(report.images, 5);
    let img = |i: usize| &set.bytes[i * 16..(i + 1) * 16];
    // sorted: grey.png, photo.jpg, rgb.png, rgba.png, wide16.png
    for i in [0, 2, 4] {
        assert!(img(i).iter().all(|&b| b == 100), "image {i}: {:?}", img(i));
    }
    assert!(
        img(1).iter().all(|&b| b.abs_diff(100) <= 3),
        "jpeg: {:?}",
        img(1)
    );
    // black at alpha 128 over white: 255 * (1 - 128/255) = 127
    assert!(img(3).iter().all(|&b| b == 127), "rgba: {:?}", img(3));
}

#[test]
fn broken_folders_get_clear_errors_or_counted_skips() {
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = FolderOptions {
        size: 4,
        ..Default::default()
    };
    // empty folder
    let e = load_folder(dir.path(), &opts)
        .expect_err("empty")
        .to_string();
    assert!(e.contains("no image could be read"), "{e}");
    // a broken PNG among good ones; a text file
    let good =
        image::DynamicImage::ImageLuma8(image::GrayImage::from_pixel(4, 4, image::Luma([9])));
    png(&dir.path().join("k/good.png"), good.clone());
    png(&dir.path().join("k/good2.png"), good);
    std::fs::write(
        dir.path().join("k/broken.png"),
        b"\x89PNG\r\n\x1a\nnot really",
    )
    .expect("write");
    std::fs::write(dir.path().join("k/notes.txt"), b"hello").expect("write");
    let e = load_folder(dir.path(), &opts)
        .expect_err("broken")
        .to_string();
    assert!(
        e.contains("broken.png") && e.contains("does not decode") && e.contains("on_broken"),
        "{e}"
    );
    let skip = FolderOptions {
        on_broken: OnBroken::Skip,
        ..opts.clone()
    };
    let (set, report) = load_folder(dir.path(), &skip).expect("skip");
    assert_eq!((set.len(), report.skipped.len(), report.ignored), (2, 1, 1));
    assert!(
        report.skipped[0].contains("does not decode"),
        "{:?}",
        report.skipped
    );
    // a decompression bomb: a valid PNG header claiming 100,000 x 100,000 pixels
    let mut bomb = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR".to_vec();
    let ihdr = [
        &100_000u32.to_be_bytes()[..],
        &100_000u32.to_be_bytes()[..],
        &[8, 0, 0, 0, 0],
    ]
    .concat();
    let crc = {
        let mut h = flate2::Crc::new();
        h.update(b"IHDR");
        h.update(&ihdr);
        h.sum()
    };
    bomb.extend_from_slice(&ihdr);
    bomb.extend_from_slice(&crc.to_be_bytes());
    std::fs::write(dir.path().join("k/bomb.png"), &bomb).expect("write");
    std::fs::remove_file(dir.path().join("k/broken.png")).expect("rm");
    let e = load_folder(dir.path(), &opts)
        .expect_err("bomb")
        .to_string();
    assert!(
        e.contains("bomb.png") && e.contains("larger than allowed"),
        "{e}"
    );
    std::fs::remove_file(dir.path().join("k/bomb.png")).expect("rm");
    // a file outside the class folders, with labels on
    png(
        &dir.path().join("loose.png"),
        image::DynamicImage::ImageLuma8(image::GrayImage::from_pixel(4, 4, image::Luma([1]))),
    );
    let e = load_folder(dir.path(), &opts)
        .expect_err("loose")
        .to_string();
    assert!(e.contains("loose.png") && e.contains("subfolders"), "{e}");
    let unlabelled = FolderOptions {
        labels: false,
        ..opts.clone()
    };
    assert_eq!(
        load_folder(dir.path(), &unlabelled)
            .expect("no labels")
            .0
            .len(),
        3
    );
    // bad options
    let e = load_folder(
        dir.path(),
        &FolderOptions {
            channels: 2,
            ..opts
        },
    )
    .expect_err("channels")
    .to_string();
    assert!(e.contains("data.channels = 2"), "{e}");
}

/// CIFAR-10 binary files with `per` records each: image i of batch b is a flat colour
/// (red = 10 * b + i, green = 100, blue = 200) with label (b + i) % 10.
fn cifar10(dir: &Path, per: usize) {
    let record = |label: u8, r: u8| {
        let mut v = vec![label];
        v.extend(std::iter::repeat_n(r, 1024));
        v.extend(std::iter::repeat_n(100, 1024));
        v.extend(std::iter::repeat_n(200, 1024));
        v
    };
    for b in 0..6 {
        let name = if b < 5 {
            format!("data_batch_{}.bin", b + 1)
        } else {
            "test_batch.bin".to_string()
        };
        let bytes: Vec<u8> = (0..per)
            .flat_map(|i| record(((b + i) % 10) as u8, (10 * b + i) as u8))
            .collect();
        std::fs::write(dir.join(name), bytes).expect("write");
    }
}

#[test]
fn cifar_binary_files_load_in_channel_order_and_through_the_data_section() {
    let dir = tempfile::tempdir().expect("tempdir");
    cifar10(dir.path(), 4);
    let rgb = FolderOptions {
        size: 32,
        channels: 3,
        ..Default::default()
    };
    let (train, test) = gan::data::cifar::load_cifar(dir.path(), &rgb).expect("cifar");
    assert_eq!((train.len(), test.len(), train.dim()), (20, 4, 3 * 32 * 32));
    // file 3 (b = 2), image 1: red 21, then green 100, blue 200, label 3
    let i = 2 * 4 + 1;
    let img = &train.bytes[i * 3072..(i + 1) * 3072];
    assert!(img[..1024].iter().all(|&v| v == 21) && img[1024..2048].iter().all(|&v| v == 100));
    assert!(img[2048..].iter().all(|&v| v == 200));
    assert_eq!(train.labels[i], 3);
    // grey at 28 x 28: Rec. 709 luma of (21, 100, 200) = 0.2126*21 + 0.7152*100 + 0.0722*200
    let mut cfg = gan::config::DataConfig::new(dir.path().display().to_string());
    cfg.channels = 1;
    let (splits, _) = gan::data::load_data(&cfg).expect("through the data section");
    assert_eq!((splits.train.rows, splits.train.channels), (28, 1));
    // 20 training images: train_end 50000 is above, so the last 10% (2) are validation
    assert_eq!(
        (splits.train.len(), splits.valid.len(), splits.test.len()),
        (18, 2, 4)
    );
    let luma = 0.2126 * 21.0 + 0.7152 * 100.0 + 0.0722 * 200.0;
    let got = splits.train.bytes[i * 784] as f64;
    assert!((got - luma).abs() <= 1.5, "{got} vs {luma}");
    // a truncated file and a bad label name the file and the problem
    let f = dir.path().join("data_batch_3.bin");
    let bytes = std::fs::read(&f).expect("read");
    std::fs::write(&f, &bytes[..bytes.len() - 7]).expect("truncate");
    let e = gan::data::cifar::load_cifar(dir.path(), &rgb)
        .expect_err("truncated")
        .to_string();
    assert!(
        e.contains("data_batch_3.bin") && e.contains("3073-byte CIFAR records"),
        "{e}"
    );
    let mut bad = bytes.clone();
    bad[0] = 12;
    std::fs::write(&f, &bad).expect("write");
    let e = gan::data::cifar::load_cifar(dir.path(), &rgb)
        .expect_err("label")
        .to_string();
    assert!(e.contains("label 12") && e.contains("CIFAR-10"), "{e}");
    std::fs::write(&f, &bytes).expect("restore");
    std::fs::remove_file(dir.path().join("test_batch.bin")).expect("rm");
    let e = gan::data::cifar::load_cifar(dir.path(), &rgb)
        .expect_err("no test")
        .to_string();
    assert!(e.contains("test_batch.bin"), "{e}");
}

/// A `.npy` file of uint8 values with the given shape (written by hand: the project's writer
/// writes float32 only).
fn npy_u8(path: &Path, shape: &[usize], data: &[u8]) {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let mut header = format!(
        "{{'descr': '|u1', 'fortran_order': False, 'shape': ({}), }}",
        dims.join(", ")
    );
    let unpadded = 10 + header.len() + 1;
    header.push_str(&" ".repeat(unpadded.next_multiple_of(64) - unpadded));
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    std::fs::write(path, out).expect("write npy");
}

#[test]
fn npy_image_arrays_load_in_any_of_the_three_layouts() {
    use gan::data::npy_images::load_npy_images;
    let dir = tempfile::tempdir().expect("tempdir");
    let rgb = FolderOptions {
        size: 2,
        channels: 3,
        ..Default::default()
    };
    // 2 images of 2 x 2; image k, pixel p, channel c holds 100 k + 10 p + c
    let value = |k: usize, p: usize, c: usize| (100 * k + 10 * p + c) as u8;
    let hwc: Vec<u8> = (0..2)
        .flat_map(|k| (0..4).flat_map(move |p| (0..3).map(move |c| value(k, p, c))))
        .collect();
    let chw: Vec<u8> = (0..2)
        .flat_map(|k| (0..3).flat_map(move |c| (0..4).map(move |p| value(k, p, c))))
        .collect();
    let (a, b) = (dir.path().join("hwc.npy"), dir.path().join("chw.npy"));
    npy_u8(&a, &[2, 2, 2, 3], &hwc);
    npy_u8(&b, &[2, 3, 2, 2], &chw);
    let from_hwc = load_npy_images(&a, &rgb).expect("hwc");
    let from_chw = load_npy_images(&b, &rgb).expect("chw");
    assert_eq!(from_hwc.bytes, chw, "stored channel-major");
    assert_eq!(from_chw.bytes, chw);
    // grey [n, h, w] and float in [0, 1]
    let g = dir.path().join("grey.npy");
    gan::npy::write_npy_f32(&g, &[0.0, 1.0, 0.5, 0.25, 1.0, 1.0, 0.0, 0.0], 2, 4).expect("npy");
    let e = load_npy_images(&g, &rgb).expect_err("2-D").to_string();
    assert!(e.contains("expected [n, h, w]"), "{e}");
    npy_u8(&g, &[2, 2, 2], &[0, 255, 128, 64, 255, 255, 0, 0]);
    let grey = load_npy_images(
        &g,
        &FolderOptions {
            size: 2,
            ..Default::default()
        },
    )
    .expect("grey");
    assert_eq!(grey.bytes, vec![0, 255, 128, 64, 255, 255, 0, 0]);
    // a shape that could be either layout, and floats outside [0, 1]
    let amb = dir.path().join("amb.npy");
    npy_u8(&amb, &[1, 3, 4, 3], &[0; 36]);
    let e = load_npy_images(&amb, &rgb)
        .expect_err("ambiguous")
        .to_string();
    assert!(e.contains("cannot tell the channel axis"), "{e}");
    // through the data section: a .npy path, split 80/10/10
    let many = dir.path().join("many.npy");
    npy_u8(&many, &[50, 4, 4], &vec![7u8; 50 * 16]);
    let mut cfg = gan::config::DataConfig::new(many.display().to_string());
    cfg.image_size = 4;
    let (s, _) = gan::data::load_data(&cfg).expect("npy data");
    assert_eq!((s.train.len(), s.valid.len(), s.test.len()), (40, 5, 5));
}
