//! `.npy` arrays (the `--samples` input of `gan eval parzen`).
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = gan::npy::parse_npy_f32(data, Path::new("fuzz.npy"));
});
