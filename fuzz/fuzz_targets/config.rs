//! TOML training configs, with and without `--set` overrides.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = gan::config::TrainConfig::from_toml_str(text, &[], "fuzz.toml");
    // the same text as a --set override of the paper's preset
    let _ = gan::config::TrainConfig::preset("mnist-paper", &[text.to_string()]);
});
