//! A sweep folder's `results.jsonl` (and, when the first byte is odd, its
//! `sweep.json`): read or rejected naming the file, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&k, bytes)) = data.split_first() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let target = if k & 1 == 0 { "results.jsonl" } else { "sweep.json" };
    std::fs::write(dir.path().join(target), bytes).unwrap();
    if k & 1 == 0 {
        std::fs::write(dir.path().join("sweep.json"), SWEEP).unwrap();
    }
    let _ = parana::experiment::sweep::results::Run::load(dir.path());
});

/// A valid sweep.json (a 784-12-8-10 MLP, abs at 0 and 0.5).
const SWEEP: &str = include_str!("../seeds/sweep.json");
