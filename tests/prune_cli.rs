//! `parana prune` and `parana train --init --keep-mask` through the real
//! binary on a small model trained on real MNIST; masks kept through
//! fine-tuning by the library hook.

mod common;

use common::assert_user_error;

use common::mnist;
use parana::loader;
use parana::model::{Arch, Model, init};
use parana::nn::Head;
use parana::tensorfile::TensorFile;
use parana::train::{TrainConfig, TrainIo};
use std::path::{Path, PathBuf};
use std::process::Output;

fn small_model(dir: &Path) -> PathBuf {
    common::small_model_file(dir)
}

fn run(args: &[&str]) -> Output {
    common::run_on_mnist(args)
}

fn zeros(t: &parana::tensorfile::Tensor) -> usize {
    t.data.iter().filter(|&&v| v == 0.0).count()
}

#[test]
fn prune_counts_layers_masks_and_keep_mask_fine_tuning() {
    let dir = tempfile::tempdir().unwrap();
    let model = small_model(dir.path());
    let m = model.to_str().unwrap();
    let out = dir.path().join("act.safetensors");
    let o = run(&[
        "prune",
        "--model",
        m,
        "--method",
        "act",
        "--ratio",
        "0.81",
        "--out",
        out.to_str().unwrap(),
        "--json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let f = TensorFile::load(&out).unwrap();
    for (name, numel) in [
        ("layers.0.weight", 784 * 32),
        ("layers.1.weight", 32 * 16),
        ("layers.2.weight", 16 * 10),
    ] {
        let k = numel * 81 / 100;
        let mask = &f.bools[&format!("masks.{name}")];
        assert_eq!(mask.data.iter().filter(|&&keep| !keep).count(), k, "{name}");
        // Every masked weight is zero (a kept one may be zero by chance only).
        let w = &f.tensors[name];
        assert!(
            w.data
                .iter()
                .zip(&mask.data)
                .all(|(w, keep)| *keep || *w == 0.0)
        );
        assert!(zeros(w) >= k);
    }
    assert_eq!(
        zeros(&f.tensors["layers.0.bias"]),
        0,
        "biases are never pruned"
    );
    assert_eq!(f.meta["pruning_method"], "act");
    assert_eq!(f.meta["pruning_ratio"], "0.81");
    assert_eq!(f.meta["pruning_scope"], "per-matrix");
    assert_eq!(f.meta["pruning_score_data"], "train");
    // The pruned file is still a model file.
    let pruned = loader::load(&out).unwrap();
    assert_eq!(pruned.arch.describe(), "mlp 784-32-16-10");

    // --layers: only layer 1 pruned, 0.29 exactly = floor(512 * 29 / 100).
    let only1 = dir.path().join("l1.safetensors");
    let o = run(&[
        "prune",
        "--model",
        m,
        "--method",
        "abs",
        "--ratio",
        "0.29",
        "--layers",
        "1",
        "--out",
        only1.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let f1 = TensorFile::load(&only1).unwrap();
    let m1 = &f1.bools["masks.layers.1.weight"].data;
    assert_eq!(m1.iter().filter(|&&keep| !keep).count(), 512 * 29 / 100);
    assert!(!f1.bools.contains_key("masks.layers.0.weight"));
    let orig = TensorFile::load(&model).unwrap();
    assert_eq!(
        f1.tensors["layers.0.weight"],
        orig.tensors["layers.0.weight"]
    );

    // Fine-tune with the masks kept: pruned weights stay exactly 0, the
    // others move.
    let ft = dir.path().join("ft.safetensors");
    let o = run(&[
        "train",
        "--init",
        out.to_str().unwrap(),
        "--keep-mask",
        "--steps",
        "30",
        "--lr",
        "1e-3",
        "--val",
        "1000",
        "--select-every",
        "10",
        "--out",
        ft.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let g = TensorFile::load(&ft).unwrap();
    // With model selection on held-out training images: the kept step is
    // a check (10, 20 or 30) and recorded.
    let step: u64 = g.meta["selected_step"].parse().unwrap();
    assert!([10, 20, 30].contains(&step), "{step}");
    assert_eq!(g.meta["val_images"], "1000");
    assert!(g.meta.contains_key("val_accuracy") && g.meta.contains_key("final_test_accuracy"));
    for name in ["layers.0.weight", "layers.1.weight", "layers.2.weight"] {
        let mask = &g.bools[&format!("masks.{name}")];
        assert_eq!(mask, &f.bools[&format!("masks.{name}")]);
        let (before, after) = (&f.tensors[name].data, &g.tensors[name].data);
        let mut changed = 0;
        for ((b, a), k) in before.iter().zip(after).zip(&mask.data) {
            if !*k {
                assert_eq!(
                    a.to_bits(),
                    0.0f32.to_bits(),
                    "{name}: a pruned weight moved"
                );
            } else if a != b {
                changed += 1;
            }
        }
        let kept = mask.data.iter().filter(|&&keep| keep).count();
        assert!(
            changed > kept / 2,
            "{name}: only {changed} of {kept} kept weights trained"
        );
    }
    // --keep-mask on an unpruned model is a user error.
    let o = run(&[
        "train",
        "--init",
        m,
        "--keep-mask",
        "--steps",
        "5",
        "--out",
        dir.path().join("z.safetensors").to_str().unwrap(),
    ]);
    assert_user_error(&o, "not a pruned model");
}

#[test]
fn bad_prune_input_is_one_line_exit_2_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let model = small_model(dir.path());
    let m = model.to_str().unwrap();
    let out = dir.path().join("never.safetensors");
    let o = out.to_str().unwrap();
    for (args, needle) in [
        (vec!["--method", "abs", "--ratio", "1"], "outside [0, 1)"),
        (vec!["--method", "abs", "--ratio", "-0.1"], "ratio"),
        (vec!["--method", "abs", "--ratio", "1.5"], "outside [0, 1)"),
        (
            vec!["--method", "magnitude", "--ratio", "0.5"],
            "unknown pruning method",
        ),
        (
            vec!["--method", "act", "--ratio", "0.5", "--layers", "3"],
            "layer 3 does not exist",
        ),
        (
            vec!["--method", "abs", "--ratio", "0.5", "--scope", "rows"],
            "unknown scope",
        ),
    ] {
        let mut a = vec!["prune", "--model", m, "--out", o];
        a.extend(args);
        assert_user_error(&run(&a), needle);
        assert!(!out.exists());
    }
}

#[test]
fn keep_masks_hook_keeps_pruned_weights_at_exactly_zero() {
    let mut m = Model::new(Arch::custom(vec![16], vec![]).unwrap(), Head::Sce);
    init::init(&mut m, 5);
    let masks: Vec<Option<Vec<bool>>> = m
        .net
        .params()
        .map(|p| (p.name == "weight").then(|| (0..p.len()).map(|i| i % 3 != 0).collect()))
        .collect();
    parana::prune::file::zero_masked(&mut m, &masks);
    let before: Vec<Vec<f32>> = m.net.params().map(|p| p.value.clone()).collect();
    let cfg = TrainConfig {
        steps: 20,
        batch: 50,
        lr: 1e-3,
        ..TrainConfig::default()
    };
    let io = TrainIo {
        keep_masks: Some(masks.clone()),
        ..TrainIo::default()
    };
    parana::train::train(&mut m, mnist(), &cfg, &io, |_| {}).unwrap();
    for ((p, b), mk) in m.net.params().zip(&before).zip(&masks) {
        let Some(mk) = mk else { continue };
        for (a, k) in p.value.iter().zip(mk) {
            if !k {
                assert_eq!(a.to_bits(), 0, "a pruned weight moved");
            }
        }
        let moved = p
            .value
            .iter()
            .zip(b)
            .zip(mk)
            .filter(|((a, b), k)| **k && a != b)
            .count();
        assert!(moved > mk.iter().filter(|k| **k).count() / 2);
    }
}
