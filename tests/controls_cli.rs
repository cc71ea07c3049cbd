//! The pruning controls through the real binary on a small model trained
//! on real MNIST: `random` / `random:K` masks (exact, seeded, the same in
//! `prune` and `sweep`), input-feature pruning (`abs-inputs`,
//! `act-inputs`: whole first-layer columns, the feature count printed), on
//! a decoupled CNN too, `best` over such rows, and one-line errors.

mod common;

use common::assert_user_error;

use common::{mnist, parana};
use parana::loader;
use parana::model::{Arch, ConvSpec, Model, init};
use parana::nn::Head;
use parana::tensorfile::TensorFile;
use std::path::Path;
use std::process::Output;

fn run(args: &[&str]) -> Output {
    common::run_on_mnist(args)
}

fn json(o: &Output) -> serde_json::Value {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

fn prune(model: &str, method: &str, ratio: &str, out: &Path, extra: &[&str]) -> serde_json::Value {
    let mut a = vec![
        "prune",
        "--model",
        model,
        "--method",
        method,
        "--ratio",
        ratio,
        "--out",
        out.to_str().unwrap(),
        "--json",
    ];
    a.extend(extra);
    json(&run(&a))
}

fn counts(j: &serde_json::Value, key: &str) -> Vec<usize> {
    serde_json::from_value(j[key].clone()).unwrap()
}

fn mask(f: &TensorFile, layer: usize) -> Vec<bool> {
    f.bools[&format!("masks.layers.{layer}.weight")]
        .data
        .clone()
}

/// Clean accuracy of the model file `m` on the first `n` test images.
fn clean(m: &Path, n: usize) -> f64 {
    let mut model = loader::load(m).unwrap();
    let o = parana::attack::robustness::outputs(&mut model, &mnist().test, None);
    parana::attack::robustness::accuracy(&o.pred[..n], &mnist().test.labels[..n])
}

#[test]
fn random_and_input_feature_pruning_in_prune_sweep_and_best() {
    let dir = tempfile::tempdir().unwrap();
    let model = common::small_model_file(dir.path());
    let noises = common::small_noises(dir.path());
    let (m, nz) = (model.to_str().unwrap(), noises.to_str().unwrap());
    let p = |n: &str| dir.path().join(n);
    let sizes = [784 * 32usize, 32 * 16, 16 * 10];

    // random with --seed 3 is random:3; random:4 differs; counts exact.
    let a = prune(m, "random", "0.5", &p("r.safetensors"), &["--seed", "3"]);
    prune(m, "random:3", "0.5", &p("r3.safetensors"), &[]);
    prune(m, "random:4", "0.5", &p("r4.safetensors"), &[]);
    let kept = counts(&a, "kept");
    assert_eq!(kept, sizes.map(|n| n - n / 2).to_vec(), "{a}");
    let (r, r3, r4) = (
        TensorFile::load(&p("r.safetensors")).unwrap(),
        TensorFile::load(&p("r3.safetensors")).unwrap(),
        TensorFile::load(&p("r4.safetensors")).unwrap(),
    );
    for l in 0..3 {
        assert_eq!(mask(&r, l), mask(&r3, l), "layer {l}");
        assert_ne!(mask(&r, l), mask(&r4, l), "layer {l}");
    }
    assert_eq!(r.meta["pruning_method"], "random");
    assert_eq!(r.meta["pruning_seed"], "3");
    assert_eq!(r3.meta["pruning_method"], "random:3");
    assert_eq!(r.meta["pruning_score_data"], "none");

    // act-inputs at 0.25: 196 of 784 pixels, whole columns, first layer only.
    let j = prune(m, "act-inputs", "0.25", &p("px.safetensors"), &[]);
    assert_eq!(j["input_features"], 784, "{j}");
    assert_eq!(j["input_features_removed"], 196, "{j}");
    let kept = counts(&j, "kept");
    assert_eq!(kept, vec![32 * (784 - 196), sizes[1], sizes[2]], "{j}");
    let share = j["pruned_weight_share"].as_f64().unwrap();
    let total: usize = sizes.iter().sum();
    assert!(
        (share - (32 * 196) as f64 / total as f64).abs() < 1e-12,
        "{j}"
    );
    let f = TensorFile::load(&p("px.safetensors")).unwrap();
    let mk = mask(&f, 0);
    let gone: Vec<usize> = (0..784).filter(|&i| !mk[i]).collect();
    assert_eq!(gone.len(), 196);
    for o in 0..32 {
        for i in 0..784 {
            assert_eq!(mk[o * 784 + i], mk[i], "column {i} split at row {o}");
        }
    }
    assert!(!f.bools.contains_key("masks.layers.1.weight"));
    // act: MNIST's always-black border pixels score 0 and go first.
    let corner = [0usize, 27, 756, 783];
    assert!(corner.iter().all(|c| gone.contains(c)), "{gone:?}");
    // The text output names the features removed and the weight share.
    // (Without --quiet: that hides the summary line.)
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_parana"))
        .args([
            "prune",
            "--model",
            m,
            "--method",
            "abs-inputs",
            "--ratio",
            "0.25",
            "--out",
            p("pxa.safetensors").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(text.contains("196 of 784 input features removed"), "{text}");
    assert!(
        text.contains(&format!("{:.2}% of all weights", 100.0 * share)),
        "{text}"
    );

    // A sweep with several mask seeds and the input methods: rows carry the
    // spellings, counts, and the accuracy of the pruned files.
    let out = p("sweep");
    let o = run(&[
        "sweep",
        "--model",
        m,
        "--noise",
        nz,
        "--methods",
        "random:3,random:4,random,act-inputs,abs-inputs",
        "--ratios",
        "0,0.25,0.5",
        "--seed",
        "3",
        "--images",
        "1000",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let rows: Vec<serde_json::Value> = std::fs::read_to_string(out.join("results.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 15);
    let row = |me: &str, r: &str| {
        rows.iter()
            .find(|x| x["method"] == me && x["ratio"] == r)
            .unwrap_or_else(|| panic!("no row {me} {r}"))
    };
    assert_eq!(
        row("random:3", "0.5")["clean"],
        row("random", "0.5")["clean"]
    );
    for (me, file, r) in [
        ("random:3", "r3.safetensors", "0.5"),
        ("random:4", "r4.safetensors", "0.5"),
        ("act-inputs", "px.safetensors", "0.25"),
    ] {
        let got = row(me, r)["clean"].as_f64().unwrap();
        let want = clean(&p(file), 1000);
        assert!(
            (got - want).abs() < 1e-9,
            "{me} {r}: sweep {got}, prune {want}"
        );
    }
    let rem = counts(row("abs-inputs", "0.5"), "remaining");
    assert_eq!(rem, vec![32 * 392, sizes[1], sizes[2]]);
    // best treats the random seeds as methods of their own.
    let o = parana()
        .args(["best", "--run", out.to_str().unwrap(), "--min-clean", "0"])
        .output()
        .unwrap();
    let md = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for me in ["random:3", "random:4", "act-inputs"] {
        assert!(md.contains(&format!("| {me} |")), "{me} missing from {md}");
    }

    // Per-layer sweeps take random; input-feature methods need layer 0.
    let layers = p("layers");
    json(&run(&[
        "sweep",
        "--model",
        m,
        "--noise",
        nz,
        "--methods",
        "random:1",
        "--ratios",
        "0.5",
        "--per-layer",
        "--images",
        "200",
        "--out",
        layers.to_str().unwrap(),
        "--json",
    ]));
    let never = p("never");
    let nv = never.to_str().unwrap();
    let base = [
        "sweep", "--model", m, "--noise", nz, "--images", "200", "--out", nv,
    ];
    for (extra, needle) in [
        (vec!["--methods", "random:x"], "random:SEED"),
        (vec!["--methods", "act-inputs", "--per-layer"], "layer 0"),
        (
            vec!["--methods", "abs-inputs", "--layers", "1,2"],
            "layer 0",
        ),
    ] {
        let mut a = base.to_vec();
        a.extend(extra);
        assert_user_error(&run(&a), needle);
        assert!(!never.exists());
    }
}

#[test]
fn input_features_of_cnns_decoupled_only() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    let conv = ConvSpec {
        kh: 3,
        kw: 3,
        out: 2,
    };
    let mut cnn = Model::new(Arch::custom(vec![8], vec![conv]).unwrap(), Head::Lq);
    init::init(&mut cnn, 1);
    cnn.meta.insert("dataset".into(), "mnist".into());
    loader::save(&cnn, &p("cnn.safetensors")).unwrap();
    let c = p("cnn.safetensors");
    let c = c.to_str().unwrap();
    for method in ["act-inputs", "abs-inputs"] {
        let o = run(&[
            "prune", "--model", c, "--method", method, "--ratio", "0.5", "--out", "never.st",
        ]);
        assert_user_error(&o, "convolution");
    }
    // Decoupled, the first layer is a sparse matrix whose columns are
    // pixels: half the pixels go with every present weight they feed.
    parana::sparse::decouple::decouple(&cnn)
        .unwrap()
        .save(&p("dec.safetensors"))
        .unwrap();
    let d = p("dec.safetensors");
    let j = prune(
        d.to_str().unwrap(),
        "abs-inputs",
        "0.5",
        &p("dp.safetensors"),
        &[],
    );
    assert_eq!(j["input_features_removed"], 392, "{j}");
    let pruned = loader::load(&p("dp.safetensors")).unwrap();
    let first = &pruned.net.layers()[0];
    let cols = first.sparse_structure().unwrap().1;
    let mut used: Vec<u32> = cols
        .iter()
        .zip(&first.params()[0].value)
        .filter(|(_, v)| **v != 0.0)
        .map(|(c, _)| *c)
        .collect();
    used.sort_unstable();
    used.dedup();
    assert_eq!(used.len(), 392, "every pixel feeds some tap: 392 remain");
    let weights = counts(&j, "weights");
    let kept = counts(&j, "kept");
    assert!(kept[0] < weights[0] && kept[0] > 0, "{j}");
    assert_eq!(kept[1..], weights[1..], "{j}");
    // random on the decoupled model: exact counts of the present taps.
    let j = prune(
        d.to_str().unwrap(),
        "random:2",
        "0.5",
        &p("dr.safetensors"),
        &[],
    );
    let weights = counts(&j, "weights");
    let kept = counts(&j, "kept");
    for (w, k) in weights.iter().zip(&kept) {
        assert_eq!(*k, w - w / 2, "{j}");
    }
}
