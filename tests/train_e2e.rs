//! End-to-end training on real MNIST: accuracy after a few hundred steps,
//! determinism, and exact resume from a checkpoint.

mod common;

use parana::data::Dataset;
use parana::model::{Arch, Model, eval, init};
use parana::nn::Head;
use parana::train::{self, TrainConfig, TrainIo};

fn trained(arch: Arch, head: Head, cfg: &TrainConfig, io: &TrainIo, data: &Dataset) -> Model {
    let mut m = Model::new(arch, head);
    init::init(&mut m, cfg.seed);
    train::train(&mut m, data, cfg, io, |_| {}).unwrap();
    m
}

fn weights(m: &Model) -> Vec<Vec<f32>> {
    m.net.params().map(|p| p.value.clone()).collect()
}

#[test]
fn article_mlp_reaches_95_percent_in_500_steps() {
    let data = common::mnist();
    for head in [Head::Lq, Head::Sce] {
        let cfg = TrainConfig {
            steps: 500,
            ..TrainConfig::default()
        };
        let mut m = trained(
            Arch::preset("article-mlp").unwrap(),
            head,
            &cfg,
            &TrainIo::default(),
            data,
        );
        let e = eval::evaluate(&mut m, &data.test);
        assert!(
            e.accuracy >= 0.95,
            "{head}: test accuracy {} after 500 steps",
            e.accuracy
        );
        assert_eq!(e.total, 10_000);
    }
}

#[test]
fn same_seed_same_weights_and_resume_is_exact() {
    let data = common::mnist();
    let arch = Arch::custom(vec![64, 32], vec![]).unwrap();
    let cfg = TrainConfig {
        steps: 60,
        batch: 50,
        lr: 1e-3,
        ..TrainConfig::default()
    };
    let a = trained(arch.clone(), Head::Sce, &cfg, &TrainIo::default(), data);
    let b = trained(arch.clone(), Head::Sce, &cfg, &TrainIo::default(), data);
    assert_eq!(
        weights(&a),
        weights(&b),
        "same seed must give the same weights"
    );

    // Stop after 25 steps (checkpoint every 10: the last one is at 25, the
    // end of that run), then resume to 60.
    let dir = tempfile::tempdir().unwrap();
    let io = TrainIo {
        checkpoint: Some(dir.path().join("ck.safetensors")),
        checkpoint_every: 10,
        resume: true,
        log: Some(dir.path().join("log.csv")),
        eval_every: 20,
        keep_masks: None,
    };
    let short = TrainConfig {
        steps: 25,
        ..cfg.clone()
    };
    trained(arch.clone(), Head::Sce, &short, &io, data);
    let resumed = trained(arch.clone(), Head::Sce, &cfg, &io, data);
    assert_eq!(
        weights(&a),
        weights(&resumed),
        "resumed run must end with the same weights"
    );
    let log = std::fs::read_to_string(dir.path().join("log.csv")).unwrap();
    let steps: Vec<&str> = log
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap())
        .collect();
    assert_eq!(steps, vec!["20", "25", "40", "60"]);

    let other = trained(
        arch,
        Head::Sce,
        &TrainConfig {
            seed: 2,
            ..cfg.clone()
        },
        &TrainIo::default(),
        data,
    );
    assert_ne!(weights(&a), weights(&other));

    // A checkpoint made with other settings is refused, not silently mixed.
    let changed = TrainConfig { lr: 5e-4, ..cfg };
    let mut m = Model::new(Arch::custom(vec![64, 32], vec![]).unwrap(), Head::Sce);
    let e = train::train(&mut m, data, &changed, &io, |_| {})
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("ck.safetensors") && e.contains("other training settings"),
        "{e}"
    );
}

#[test]
fn small_cnn_learns_with_evaluations_between_steps() {
    // Evaluation runs batches of 1000 between training batches of 50: the
    // layers must cope with buffers sized for the larger batch.
    let data = common::mnist();
    let arch = Arch::custom(vec![32], parana::model::arch::parse_convs("3x3x4").unwrap()).unwrap();
    let cfg = TrainConfig {
        steps: 150,
        batch: 50,
        lr: 2e-3,
        ..TrainConfig::default()
    };
    let io = TrainIo {
        eval_every: 50,
        ..TrainIo::default()
    };
    let mut m = trained(arch, Head::Sce, &cfg, &io, data);
    let e = eval::evaluate(&mut m, &data.test);
    assert!(e.accuracy > 0.85, "small CNN test accuracy {}", e.accuracy);
}
