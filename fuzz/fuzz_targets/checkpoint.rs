//! Checkpoint weights (safetensors) loaded into a small generator and discriminator.
#![no_main]

use std::path::Path;

use burn::tensor::Device;
use gan::checkpoint::module_from_bytes;
use gan::config::TrainConfig;
use gan::models::{Discriminator, Generator};
use gan::rng::Rng;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let cfg = TrainConfig::preset(
        "mnist-fast",
        &["generator.hidden=[4]".into(), "discriminator.hidden=[3]".into()],
    )
    .expect("a valid preset");
    let device = Device::flex();
    let mut rng = Rng::new(0);
    let mut g = Generator::new(&cfg.generator, 2, 6, None, &mut rng, &device);
    let _ = module_from_bytes(&mut g, data.to_vec(), Path::new("generator.safetensors"));
    let mut d = Discriminator::new(&cfg.discriminator, 6, &mut rng, &device);
    let _ = module_from_bytes(&mut d, data.to_vec(), Path::new("discriminator.safetensors"));
});
