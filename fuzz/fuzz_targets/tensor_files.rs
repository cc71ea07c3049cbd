//! Safetensors files read as a model (dense, pruned with masks, or
//! compiled sparse) and as a noise: read or rejected naming the file, never
//! a panic or a huge allocation.
#![no_main]

use libfuzzer_sys::fuzz_target;
use parana::attack::noise_file::Noise;
use parana::tensorfile::TensorFile;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let p = Path::new("fuzz.safetensors");
    let named = |e: parana::Error| assert!(e.to_string().contains("fuzz.safetensors"), "{e}");
    let f = match TensorFile::from_bytes(data, p) {
        Ok(f) => f,
        Err(e) => return named(e),
    };
    match parana::loader::from_tensor_file(&f, p) {
        Ok(m) => {
            if let Err(e) = parana::prune::file::masks_of(&f, &m, p) {
                named(e)
            }
        }
        Err(e) => named(e),
    }
    if let Err(e) = Noise::from_tensor_file(&f, p) {
        named(e)
    }
});
