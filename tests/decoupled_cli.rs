//! A decoupled CNN pruned weight by weight, fine-tuned with its mask kept
//! and swept, through the real binary on real MNIST: counts are of the
//! present taps only, `act` scores use the decoupled layer's input, and the
//! fine-tuned file keeps exactly the pruned structure.

mod common;

use common::{mnist, parana};
use parana::loader;
use parana::prune::{Method, Pruner, Ratio, Scope, scores};
use parana::tensorfile::TensorFile;
use std::path::Path;
use std::process::Output;

fn run(args: &[&str]) -> Output {
    common::run_on_mnist(args)
}

fn json(o: &Output) -> serde_json::Value {
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    serde_json::from_slice(&o.stdout).unwrap()
}

fn ints(f: &TensorFile, k: &str) -> Vec<i64> {
    f.ints[k].data.clone()
}

#[test]
fn decoupled_cnn_prune_fine_tune_and_sweep() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    let (cnn, dec, pruned, ft) = (
        p("cnn.safetensors"),
        p("cnn.decoupled.safetensors"),
        p("pruned.safetensors"),
        p("ft.safetensors"),
    );
    json(&run(&[
        "train",
        "--hidden",
        "32",
        "--conv",
        "3x3x4,3x3x3",
        "--head",
        "sce",
        "--steps",
        "150",
        "--batch",
        "64",
        "--lr",
        "2e-3",
        "--out",
        &cnn,
        "--json",
    ]));
    let o = parana()
        .args(["decouple", "--model", &cnn])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let base = json(&run(&["eval", "--model", &dec, "--json"]));
    assert!(base["clean_accuracy"].as_f64().unwrap() > 0.8, "{base}");

    // Prune 80% of every matrix by act: counts over the present taps.
    let r = json(&run(&[
        "prune", "--model", &dec, "--method", "act", "--ratio", "0.8", "--out", &pruned, "--json",
    ]));
    let weights: Vec<u64> = serde_json::from_value(r["weights"].clone()).unwrap();
    let kept: Vec<u64> = serde_json::from_value(r["kept"].clone()).unwrap();
    // 784 positions x 4 channels x 9 taps, minus the border taps.
    assert!(weights[0] < 784 * 4 * 9 && weights[0] > 784 * 4 * 8, "{r}");
    assert_eq!(weights[2], 32 * 784 * 3, "{r}");
    for (w, k) in weights.iter().zip(&kept) {
        assert_eq!(*k, w - w * 4 / 5, "{r}");
    }
    let pf = TensorFile::load(Path::new(&pruned)).unwrap();
    assert_eq!(pf.tensors["layers.1.values"].data.len() as u64, kept[1]);

    // act on a decoupled layer: |w| * |mean of its input feature|, the
    // input being the previous feature map in (h*28+w)*C+c order.
    let mut m = loader::load(Path::new(&dec)).unwrap();
    let idx = scores::score_images(&mnist().train, 2000, 0);
    let stats = scores::input_stats(&mut m, &mnist().train, &idx);
    let pr = Pruner::new(
        &m,
        Method::Act,
        Scope::PerMatrix,
        None,
        Some(&stats),
        Ratio::ZERO,
    )
    .unwrap();
    let masks = pr.masks(Ratio::parse("0.8").unwrap());
    let l1 = &m.net.layers()[scores::prunable_layers(&m)[1]];
    let (_, cols) = l1.sparse_structure().unwrap();
    let vals = &l1.params()[0].value;
    let sc: Vec<f64> = vals
        .iter()
        .zip(cols)
        .map(|(v, &c)| v.abs() as f64 * stats[1].mean[c as usize].abs())
        .collect();
    let m1 = masks.0[1].as_ref().unwrap();
    let lowest_kept = (0..sc.len())
        .filter(|&j| m1[j])
        .map(|j| sc[j])
        .fold(f64::INFINITY, f64::min);
    let highest_pruned = (0..sc.len())
        .filter(|&j| !m1[j])
        .map(|j| sc[j])
        .fold(0.0, f64::max);
    assert!(
        highest_pruned <= lowest_kept * 1.0001,
        "{highest_pruned} {lowest_kept}"
    );

    // Fine-tune with the mask kept: same structure, new values, better.
    let before = json(&run(&["eval", "--model", &pruned, "--json"]));
    json(&run(&[
        "train",
        "--init",
        &pruned,
        "--keep-mask",
        "--steps",
        "60",
        "--batch",
        "64",
        "--lr",
        "1e-3",
        "--out",
        &ft,
        "--json",
    ]));
    let after = json(&run(&["eval", "--model", &ft, "--json"]));
    let ff = TensorFile::load(Path::new(&ft)).unwrap();
    for i in 0..4 {
        for k in ["crow_indices", "col_indices"] {
            let name = format!("layers.{i}.{k}");
            assert_eq!(ints(&pf, &name), ints(&ff, &name), "{name}");
        }
    }
    assert_ne!(
        pf.tensors["layers.0.values"].data,
        ff.tensors["layers.0.values"].data
    );
    assert!(
        after["clean_accuracy"].as_f64() >= before["clean_accuracy"].as_f64(),
        "{before} -> {after}"
    );

    // Interrupted at step 40 and resumed: exactly the uninterrupted run's
    // weights (the checkpoint of a decoupled model is in its format too).
    let (a, b) = (p("a.safetensors"), p("b.safetensors"));
    let ft_args = |out: &str, steps: &str| {
        vec![
            "train".to_string(),
            "--init".into(),
            pruned.clone(),
            "--keep-mask".into(),
            "--steps".into(),
            steps.into(),
            "--checkpoint-every".into(),
            "20".into(),
            "--out".into(),
            out.into(),
            "--json".into(),
        ]
    };
    let go = |v: Vec<String>| {
        let r: Vec<&str> = v.iter().map(String::as_str).collect();
        json(&run(&r))
    };
    go(ft_args(&a, "60"));
    go(ft_args(&b, "40"));
    let mut resume = ft_args(&b, "60");
    resume.push("--resume".into());
    go(resume);
    let (fa, fb) = (
        TensorFile::load(Path::new(&a)).unwrap(),
        TensorFile::load(Path::new(&b)).unwrap(),
    );
    assert_eq!(
        fa.tensors["layers.1.values"].data,
        fb.tensors["layers.1.values"].data
    );
    assert_eq!(
        fa.tensors["layers.3.bias"].data,
        fb.tensors["layers.3.bias"].data
    );

    // A sweep at two ratios: rows with the weights left per layer.
    let run_dir = p("sweep");
    let o = run(&[
        "sweep",
        "--model",
        &dec,
        "--methods",
        "abs,act",
        "--ratios",
        "0.5,0.9",
        "--images",
        "500",
        "--out",
        &run_dir,
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let csv = std::fs::read_to_string(dir.path().join("sweep/results.csv")).unwrap();
    let rows: Vec<&str> = csv.lines().skip(1).collect();
    assert_eq!(rows.len(), 4, "{csv}");
    let w0 = weights[0];
    assert!(
        rows[1].contains(&format!(",{},", w0 - w0 * 9 / 10)),
        "{w0}: {csv}"
    );

    // Compiling it again (dense consolidation) is refused, not mangled.
    let o = parana()
        .args(["compile", "--model", &pruned, "--out", &p("c.safetensors")])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("already sparse"));

    // Per-row scope has no meaning for sparse rows: a one-line error.
    let o = run(&[
        "prune",
        "--model",
        &dec,
        "--method",
        "abs",
        "--ratio",
        "0.5",
        "--scope",
        "per-row",
        "--out",
        &p("x.safetensors"),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("per-row"), "{err}");
}
