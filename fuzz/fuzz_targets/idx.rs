//! IDX images and labels, raw or gzip (the first byte chooses the kind):
//! read or rejected naming the file, never a panic, a hang or a huge
//! allocation.
#![no_main]

use libfuzzer_sys::fuzz_target;
use parana::data::idx::{self, Kind};
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Some((&k, bytes)) = data.split_first() else {
        return;
    };
    let kind = if k & 1 == 0 { Kind::Images } else { Kind::Labels };
    let p = Path::new("fuzz-idx");
    if let Err(e) = idx::parse(p, bytes, kind) {
        assert!(e.to_string().contains("fuzz-idx"), "{e}");
    }
});
