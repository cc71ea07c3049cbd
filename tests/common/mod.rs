//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

/// The real MNIST files shipped beside the repository (`../shared`).
pub fn mnist_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/datasets/mnist")
}

/// Real MNIST, loaded once per test binary.
pub fn mnist() -> &'static parana::data::Dataset {
    static DATA: std::sync::OnceLock<parana::data::Dataset> = std::sync::OnceLock::new();
    DATA.get_or_init(|| {
        parana::data::Dataset::load("mnist", Some(&mnist_dir()), None)
            .expect("MNIST in ../shared/datasets/mnist")
    })
}

/// The `parana` binary built for these tests.
pub fn parana() -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_parana"));
    c.arg("--quiet");
    c
}
