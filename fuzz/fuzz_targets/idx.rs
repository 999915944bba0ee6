//! IDX files, raw or gzip: any bytes give an array or an error, never a panic.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = Path::new("fuzz.idx");
    if let Ok(bytes) = gan::data::idx::gunzip_if_gzip(data.to_vec(), path) {
        let _ = gan::data::parse_idx(&bytes, path);
    }
});
