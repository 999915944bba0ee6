//! Runs `examples/custom_models.rs`: a user's convolutional pair through the public traits,
//! trained by the library's loop on the emoji folder, checkpointed, reopened and sampled.

#[path = "../examples/custom_models.rs"]
mod example;

#[test]
fn a_users_convolutional_pair_trains_checkpoints_and_reopens() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("run");
    // 256 training images in batches of 32: 8 iterations of Algorithm 1 (k = 1)
    let o = example::run(&out, 256).expect("the example runs");
    assert_eq!(o.steps, 8);
    // training moved G: the same noise gives other images than before
    let moved = o
        .trained
        .iter()
        .zip(&o.untrained)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    assert!(moved > 1e-3, "G did not change: max difference {moved}");
    // the checkpoint holds the trained state: fresh modules loaded from it sample the same
    assert_eq!(o.reloaded, o.trained);
    assert!(o.trained.iter().all(|v| (0.0..=1.0).contains(v)));
    // a colour grid of 16 x 16 images, and the [3, 16, 16] shape in the checkpoint
    let grid = image::open(out.join("samples.png")).expect("grid");
    assert!(matches!(grid, image::DynamicImage::ImageRgb8(_)));
    assert_eq!((grid.width(), grid.height()), (4 * 18 + 2, 4 * 18 + 2));
    let ckpt = gan::checkpoint::list_checkpoints(&out.join("checkpoints"))[0]
        .1
        .clone();
    let shape = gan::train::checkpoint_image_shape(&ckpt).expect("shape");
    assert_eq!(shape.dims(), [3, 16, 16]);
    assert!(out.join("samples").join("epoch-0001.png").is_file());
    // a pair that makes images of another shape than the data is refused, naming both
    let dev = burn::tensor::Device::flex().autodiff();
    let cfg = example::config().expect("config");
    let wrong = gan::models::ImageShape::new(3, 8, 8).expect("shape");
    let g = gan::train::Gan::from_models(
        cfg.clone(),
        wrong,
        example::ConvG::new(&dev),
        example::ConvD::new(&dev),
        &dev,
    )
    .expect("built");
    let e = g.sample(2, 1).expect_err("refused").to_string();
    assert!(
        e.contains("[2, 3, 16, 16]") && e.contains("[2, 3, 8, 8]"),
        "{e}"
    );
    // the fused engine is the MLP pair's: asking for it with other models is refused
    let mut fast = cfg;
    fast.engine = gan::config::Engine::Fast;
    fast.optimizer.kind = gan::config::OptimKind::Sgd;
    let e = gan::train::Gan::from_models(
        fast,
        wrong,
        example::ConvG::new(&dev),
        example::ConvD::new(&dev),
        &dev,
    )
    .err()
    .expect("refused")
    .to_string();
    assert!(e.contains("engine = \"burn\""), "{e}");
}
