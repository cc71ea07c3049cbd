//! End-to-end training on real MNIST: accuracy after a few hundred steps,
//! determinism, exact resume from a checkpoint, and model selection on a
//! held-out validation split.

mod common;

use parana::data::Dataset;
use parana::model::{Arch, Model, eval, init};
use parana::nn::Head;
use parana::train::{self, LrDecay, TrainConfig, TrainIo, select};

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
        arch.clone(),
        Head::Sce,
        &TrainConfig {
            seed: 2,
            ..cfg.clone()
        },
        &TrainIo::default(),
        data,
    );
    assert_ne!(weights(&a), weights(&other));

    // The same with dropout, selection on a validation split and a cosine
    // decay: the checkpoint carries the best weights so far, so the resumed
    // run ends with the same selected weights, step and log.
    let drop = Arch {
        dropout: 0.2,
        ..arch.clone()
    };
    let sel = TrainConfig {
        val_images: 500,
        select_every: 5,
        lr: 3e-3,
        lr_decay: LrDecay::Cosine,
        decay_from: 0.5,
        ..cfg.clone()
    };
    let whole = tempfile::tempdir().unwrap();
    let split = tempfile::tempdir().unwrap();
    let whole_io = TrainIo {
        checkpoint: Some(whole.path().join("ck.safetensors")),
        checkpoint_every: 5,
        log: Some(whole.path().join("log.csv")),
        eval_every: 20,
        ..TrainIo::default()
    };
    let mut a = Model::new(drop.clone(), Head::Sce);
    init::init(&mut a, sel.seed);
    // The state an interruption after step 55 leaves: the checkpoint and
    // log as they are when step 55 is done.
    let sa = train::train(&mut a, data, &sel, &whole_io, |s| {
        if s.step == 55 {
            for f in ["ck.safetensors", "log.csv"] {
                std::fs::copy(whole.path().join(f), split.path().join(f)).unwrap();
            }
        }
    })
    .unwrap();
    let sa = sa.selection.unwrap();
    let split_io = TrainIo {
        checkpoint: Some(split.path().join("ck.safetensors")),
        log: Some(split.path().join("log.csv")),
        resume: true,
        ..whole_io.clone()
    };
    // A decaying run cannot be lengthened on resume (the schedule depends
    // on the total steps).
    let mut m = Model::new(drop.clone(), Head::Sce);
    let longer = TrainConfig {
        steps: 80,
        ..sel.clone()
    };
    let e = train::train(&mut m, data, &longer, &split_io, |_| {})
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("other training settings"), "{e}");
    let mut b = Model::new(drop.clone(), Head::Sce);
    let sb = train::train(&mut b, data, &sel, &split_io, |_| {}).unwrap();
    assert_eq!(sb.resumed_from, 55);
    // The best check is at or before the interruption, so the resumed run
    // must end with the weights the checkpoint carried.
    assert!(sa.selected_step <= 55, "{sa:?}");
    assert_eq!(sb.selection.unwrap(), sa);
    assert_eq!(weights(&a), weights(&b), "resumed selection differs");
    let log_a = std::fs::read_to_string(whole.path().join("log.csv")).unwrap();
    let log_b = std::fs::read_to_string(split.path().join("log.csv")).unwrap();
    let vals = |l: &str| -> Vec<String> {
        l.lines()
            .map(|r| {
                let v: Vec<&str> = r.split(',').collect();
                format!("{} {}", v[0], v[5])
            })
            .collect()
    };
    assert_eq!(vals(&log_a), vals(&log_b));

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
        val_images: 1000,
        select_every: 50,
        ..TrainConfig::default()
    };
    let io = TrainIo {
        eval_every: 50,
        ..TrainIo::default()
    };
    let mut m = Model::new(arch, Head::Sce);
    init::init(&mut m, cfg.seed);
    let s = train::train(&mut m, data, &cfg, &io, |_| {})
        .unwrap()
        .selection
        .unwrap();
    let e = eval::evaluate(&mut m, &data.test);
    assert!(e.accuracy > 0.85, "small CNN test accuracy {}", e.accuracy);
    // Selection works for CNNs too: the kept weights are the best check's.
    let val = held_out(data, 1000, cfg.seed);
    assert_eq!(eval::evaluate(&mut m, &val).accuracy, s.val_accuracy);
    assert!(s.val_accuracy >= s.final_val_accuracy);
}

#[test]
fn selection_keeps_the_best_validation_point() {
    // A tiny MLP at a high learning rate, checked every 10 steps: the
    // validation accuracy wanders, and the saved weights are those of the
    // last check with the highest value in the log, not the last step's.
    let data = common::mnist();
    let arch = Arch::custom(vec![32], vec![]).unwrap();
    let cfg = TrainConfig {
        steps: 120,
        batch: 20,
        lr: 2e-2,
        val_images: 1000,
        select_every: 10,
        seed: 3,
        ..TrainConfig::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let io = TrainIo {
        log: Some(dir.path().join("log.csv")),
        eval_every: 0,
        ..TrainIo::default()
    };
    let mut m = Model::new(arch, Head::Sce);
    init::init(&mut m, cfg.seed);
    let s = train::train(&mut m, data, &cfg, &io, |_| {})
        .unwrap()
        .selection
        .unwrap();
    let log = std::fs::read_to_string(dir.path().join("log.csv")).unwrap();
    let mut lines = log.lines();
    assert_eq!(
        lines.next().unwrap(),
        "step,loss,train_accuracy,eval_accuracy,seconds,val_accuracy"
    );
    let checks: Vec<(u64, f64)> = lines
        .map(|l| {
            let v: Vec<&str> = l.split(',').collect();
            (v[0].parse().unwrap(), v[5].parse().unwrap())
        })
        .collect();
    assert_eq!(
        checks.iter().map(|c| c.0).collect::<Vec<_>>(),
        (1..=12).map(|k| k * 10).collect::<Vec<_>>()
    );
    let top = checks.iter().map(|c| c.1).fold(f64::MIN, f64::max);
    let last_top = checks.iter().rev().find(|c| c.1 == top).unwrap().0;
    assert_eq!(s.selected_step, last_top);
    assert!(
        s.selected_step < cfg.steps,
        "this run's last step is not its best, so selection must pick an earlier one"
    );
    assert_eq!(s.final_val_accuracy, checks[11].1);
    assert!(s.val_accuracy > s.final_val_accuracy);
    // The model holds the selected weights: its accuracy on the held-out
    // images (the seeded draw) is the logged best.
    let val = held_out(data, 1000, cfg.seed);
    assert_eq!(eval::evaluate(&mut m, &val).accuracy, s.val_accuracy);
    assert_ne!(
        eval::evaluate(&mut m, &data.test).accuracy,
        s.final_test_accuracy
    );
}

/// The validation images a run with `val` of them and `seed` holds out.
fn held_out(data: &Dataset, val: usize, seed: u64) -> parana::data::Split {
    let (_, held) = select::carve(data.train.len(), val, seed);
    select::subset(&data.train, &held)
}
