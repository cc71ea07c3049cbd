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

/// Run `parana ARGS --data-dir <real MNIST>` to completion.
pub fn run_on_mnist(args: &[&str]) -> std::process::Output {
    let d = mnist_dir();
    parana()
        .args(args)
        .args(["--data-dir", d.to_str().unwrap()])
        .output()
        .unwrap()
}

/// A small `lq` MLP (784-32-16-10) trained for 150 steps on real MNIST,
/// saved as `dir/small.safetensors` with `dataset = mnist` metadata.
pub fn small_model_file(dir: &std::path::Path) -> PathBuf {
    use parana::loader;
    use parana::model::{Arch, Model, init};
    use parana::train::{TrainConfig, TrainIo};
    let mut m = Model::new(
        Arch::custom(vec![32, 16], vec![]).unwrap(),
        parana::nn::Head::Lq,
    );
    init::init(&mut m, 3);
    let cfg = TrainConfig {
        steps: 150,
        batch: 100,
        lr: 2e-3,
        ..TrainConfig::default()
    };
    parana::train::train(&mut m, mnist(), &cfg, &TrainIo::default(), |_| {}).unwrap();
    m.meta.insert("dataset".into(), "mnist".into());
    let p = dir.join("small.safetensors");
    loader::save(&m, &p).unwrap();
    p
}

/// Two random universal noises (targets 3 and 7, limit 0.25, marked as
/// made on mnist) in `dir/noise`, returned.
pub fn small_noises(dir: &std::path::Path) -> PathBuf {
    use parana::attack::noise_file::{Noise, file_name};
    let noises = dir.join("noise");
    for (target, seed) in [(3u8, 1u64), (7, 2)] {
        let mut r = parana::rng::Rng::new(seed);
        let n = Noise {
            data: (0..784).map(|_| (r.uniform_f32() - 0.5) * 0.5).collect(),
            input: [28, 28, 1],
            target,
            limit: 0.25,
            meta: [("dataset".to_string(), "mnist".to_string())].into(),
        };
        n.save(&noises.join(file_name(target, 0.25))).unwrap();
    }
    noises
}

/// `o` failed as bad user input: exit code 2 and one line of stderr that
/// contains `needle`.
pub fn assert_user_error(o: &std::process::Output, needle: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains(needle), "'{needle}' missing from {err}");
}
