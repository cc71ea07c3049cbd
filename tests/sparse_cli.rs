//! Pruned model -> `parana compile` -> `parana eval` / `inspect` on real
//! MNIST: the compiled sparse model classifies exactly as the pruned dense
//! one, and a corrupted sparse file is a one-line error with exit code 2.

mod common;

use common::{mnist_dir, parana};
use parana::loader;
use parana::tensorfile::TensorFile;
use std::process::Output;

fn run(args: &[&str]) -> Output {
    parana().args(args).output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json(o: &Output) -> serde_json::Value {
    assert!(o.status.success(), "{}", stderr(o));
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn compile_eval_inspect_a_pruned_model() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    let d = mnist_dir();
    let d = d.to_str().unwrap();
    let (dense, pruned, sparse) = (
        p("m.safetensors"),
        p("pruned.safetensors"),
        p("m.sparse.safetensors"),
    );
    json(&run(&[
        "train",
        "--hidden",
        "256,128",
        "--head",
        "sce",
        "--steps",
        "300",
        "--lr",
        "1e-3",
        "--data-dir",
        d,
        "--out",
        &dense,
        "--json",
    ]));
    // 80% of each matrix pruned by magnitude (no fine-tuning).
    let mut m = loader::load(std::path::Path::new(&dense)).unwrap();
    parana::sparse::prune_magnitude(&mut m.net, 0.8);
    loader::save(&m, std::path::Path::new(&pruned)).unwrap();

    let rep = json(&run(&[
        "compile", "--model", &pruned, "--out", &sparse, "--json",
    ]));
    assert_eq!(rep["neurons_removed"].as_array().unwrap().len(), 2, "{rep}");

    let a = json(&run(&[
        "eval",
        "--model",
        &pruned,
        "--data-dir",
        d,
        "--json",
    ]));
    let b = json(&run(&[
        "eval",
        "--model",
        &sparse,
        "--data-dir",
        d,
        "--json",
    ]));
    assert!(a["clean_accuracy"].as_f64().unwrap() > 0.5, "{a}");
    // Same predictions image for image: the confusion matrices are equal.
    assert_eq!(a["confusion"], b["confusion"]);

    let i = json(&run(&["inspect", "--model", &sparse, "--json"]));
    let layers = i["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 3);
    assert_eq!(layers[0]["engine"], "sparse");
    assert_eq!(i["neurons_removed"], rep["neurons_removed"]);
    let o = run(&["inspect", "--model", &sparse]);
    assert!(o.status.success());
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("neurons removed") && text.contains("layers.2"),
        "{text}"
    );

    // An index out of range: rejected when loaded, naming the file.
    let mut f = TensorFile::load(std::path::Path::new(&sparse)).unwrap();
    f.ints.get_mut("layers.1.col_indices").unwrap().data[0] = 1 << 20;
    let bad = p("bad.sparse.safetensors");
    f.save(std::path::Path::new(&bad)).unwrap();
    for args in [
        vec!["eval", "--model", &bad, "--data-dir", d],
        vec!["inspect", "--model", &bad],
    ] {
        let o = run(&args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(
            err.contains("bad.sparse.safetensors") && err.contains("outside"),
            "{err}"
        );
    }
}

#[test]
fn bench_sparse_json_records_agree_with_dense() {
    let o = run(&[
        "bench",
        "sparse",
        "--sparsity",
        "0,90",
        "--batch",
        "1,65",
        "--reps",
        "1",
        "--json",
    ]);
    let r = json(&o);
    let recs = r.as_array().unwrap();
    // 2 sparsities x 2 batches x (4 layers + all).
    assert_eq!(recs.len(), 20);
    for rec in recs {
        for k in [
            "model",
            "layer",
            "sparsity",
            "batch",
            "dense_ms",
            "sparse_ms",
        ] {
            assert!(!rec[k].is_null(), "{k} missing: {rec}");
        }
        assert_eq!(rec["model"], "article-mlp");
        assert!(rec["max_abs_diff"].as_f64().unwrap() <= 1e-4, "{rec}");
        assert!(rec["dense_ms"].as_f64().unwrap() > 0.0);
    }
    let all90 = recs
        .iter()
        .find(|r| r["layer"] == "all" && r["sparsity"] == 0.9 && r["batch"] == 65)
        .unwrap();
    assert!(
        (all90["ideal_speedup"].as_f64().unwrap() - 10.0).abs() < 0.1,
        "{all90}"
    );
    let o = run(&["bench", "sparse", "--sparsity", "120"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

#[test]
fn decoupled_cnn_classifies_like_the_cnn() {
    use parana::model::{Arch, Model, arch::parse_convs, init::init};
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    let d = mnist_dir();
    let d = d.to_str().unwrap();
    let mut m = Model::new(
        Arch::custom(vec![16], parse_convs("3x3x4,5x5x3").unwrap()).unwrap(),
        parana::nn::Head::Sce,
    );
    init(&mut m, 2);
    parana::sparse::prune_magnitude(&mut m.net, 0.5);
    let cnn = p("cnn.safetensors");
    loader::save(&m, std::path::Path::new(&cnn)).unwrap();
    let o = run(&["decouple", "--model", &cnn]);
    assert!(o.status.success(), "{}", stderr(&o));
    let dec = p("cnn.decoupled.safetensors");
    let i = json(&run(&["inspect", "--model", &dec, "--json"]));
    let shapes: Vec<String> = i["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["shape"].to_string())
        .collect();
    assert_eq!(shapes[..2], ["[3136,784]", "[2352,3136]"]);
    let a = json(&run(&["eval", "--model", &cnn, "--data-dir", d, "--json"]));
    let b = json(&run(&["eval", "--model", &dec, "--data-dir", d, "--json"]));
    assert_eq!(a["confusion"], b["confusion"]);
    // A dense MLP has nothing to decouple: a one-line error.
    let o = run(&["decouple", "--model", &dec]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

#[test]
fn bench_sparse_decoupled_cnn_json_plot_and_files() {
    use parana::model::{Arch, Model, arch::parse_convs, init::init};
    let dir = tempfile::tempdir().unwrap();
    let mut m = Model::new(
        Arch::custom(vec![16], parse_convs("3x3x4,5x5x3").unwrap()).unwrap(),
        parana::nn::Head::Sce,
    );
    init(&mut m, 3);
    let cnn = dir.path().join("tiny.safetensors");
    loader::save(&m, &cnn).unwrap();
    let out = dir.path().join("out");
    let o = run(&[
        "bench",
        "sparse",
        "--model",
        cnn.to_str().unwrap(),
        "--sparsity",
        "0,90",
        "--batch",
        "1,64",
        "--reps",
        "1",
        "--json",
        "--plot",
        out.to_str().unwrap(),
        "--save-dir",
        out.to_str().unwrap(),
    ]);
    let r = json(&o);
    let recs = r.as_array().unwrap();
    // 2 sparsities x 2 batches x (2 convolutions + 2 fc layers + all).
    assert_eq!(recs.len(), 20);
    for rec in recs {
        assert_eq!(rec["model"], "tiny");
        assert!(rec["max_abs_diff"].as_f64().unwrap() <= 1e-4, "{rec}");
        assert!(rec["sparse_ms"].as_f64().unwrap() > 0.0, "{rec}");
        assert!(rec["of_ideal"].as_f64().is_some(), "{rec}");
    }
    let conv90 = recs
        .iter()
        .find(|r| r["kind"] == "conv" && r["sparsity"] == 0.9)
        .unwrap();
    assert!(conv90["conv_ms"].as_f64().is_some(), "{conv90}");
    // 90% of the present taps pruned: the ideal is 10x.
    assert!(
        (conv90["ideal_speedup"].as_f64().unwrap() - 10.0).abs() < 0.1,
        "{conv90}"
    );
    for f in [
        "bench-sparse.svg",
        "bench-sparse.png",
        "tiny-s90.sparse.safetensors",
    ] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    // The saved pruned decoupled network loads and evaluates.
    let mut d = loader::load(&out.join("tiny-s90.sparse.safetensors")).unwrap();
    assert_eq!(d.logits(&vec![0.5; 784], 1).len(), 10);
}
