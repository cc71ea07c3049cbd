//! Experiment TOML files: parsed or rejected with the file (and, for a bad
//! key, its line), never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let p = Path::new("fuzz.toml");
    if let Err(e) = parana::experiment::config::Experiment::parse(text, p) {
        assert!(e.to_string().contains("fuzz.toml"), "{e}");
    }
});
