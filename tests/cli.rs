//! The `parana` binary as a user runs it: train -> eval -> inspect on real
//! MNIST, and clear one-line errors with exit code 2 on bad input.

mod common;

use common::{mnist_dir, parana};
use std::process::Output;

fn run(args: &[&str]) -> Output {
    parana().args(args).output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Exit code 2, exactly one line on stderr mentioning every `needle`, no panic.
fn assert_user_error(o: &Output, needles: &[&str]) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(2), "stderr: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "one line expected: {err}"
    );
    for n in needles {
        assert!(err.contains(n), "'{n}' missing from: {err}");
    }
}

#[test]
fn train_eval_inspect_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("small.safetensors");
    let m = model.to_str().unwrap();
    let data = mnist_dir();
    let d = data.to_str().unwrap();
    let o = run(&[
        "train",
        "--hidden",
        "128",
        "--head",
        "sce",
        "--steps",
        "200",
        "--lr",
        "1e-3",
        "--data-dir",
        d,
        "--out",
        m,
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(
        summary["test_accuracy"].as_f64().unwrap() > 0.9,
        "{summary}"
    );
    assert!(dir.path().join("small.log.csv").exists());
    assert!(dir.path().join("small.ckpt.safetensors").exists());

    let o = run(&["eval", "--model", m, "--data-dir", d, "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let e: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let acc = e["clean_accuracy"].as_f64().unwrap();
    assert!((acc - summary["test_accuracy"].as_f64().unwrap()).abs() < 1e-9);
    let confusion = e["confusion"].as_array().unwrap();
    let total: u64 = confusion
        .iter()
        .flat_map(|r| r.as_array().unwrap())
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(total, 10_000);

    let o = run(&["inspect", "--model", m, "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let i: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(i["parameters"], 784 * 128 + 128 + 128 * 10 + 10);
    assert_eq!(i["metadata"]["dataset"], "mnist");
    assert_eq!(i["metadata"]["steps"], "200");
    assert_eq!(i["head"], "sce");
}

#[test]
fn bad_input_gives_one_line_and_exit_code_2() {
    let dir = tempfile::tempdir().unwrap();
    let d = mnist_dir();
    let d = d.to_str().unwrap();
    let junk = dir.path().join("junk.safetensors");
    std::fs::write(&junk, b"this is not a model").unwrap();
    let junk = junk.to_str().unwrap();
    assert_user_error(
        &run(&["eval", "--model", junk, "--data-dir", d]),
        &["junk.safetensors", "not a valid safetensors"],
    );
    assert_user_error(
        &run(&["inspect", "--model", "/nonexistent/m.safetensors"]),
        &["/nonexistent/m.safetensors"],
    );
    assert_user_error(
        &run(&["train", "--arch", "resnet", "--out", "x.safetensors"]),
        &["resnet"],
    );
    assert_user_error(
        &run(&["train", "--hidden", "10,0", "--out", "x.safetensors"]),
        &["10,0"],
    );
    assert_user_error(
        &run(&["train", "--head", "mse", "--out", "x.safetensors"]),
        &["mse"],
    );
    assert_user_error(
        &run(&[
            "train",
            "--lr=-1",
            "--out",
            "x.safetensors",
            "--data-dir",
            d,
        ]),
        &["learning rate"],
    );
    // Model selection and decay settings that cannot work.
    for (args, needles) in [
        (
            &["--val", "60000"][..],
            &["--val 60000", "60000 training images"][..],
        ),
        (
            &["--val", "100", "--select-every", "0"],
            &["--select-every", "--val"],
        ),
        (&["--lr-decay", "exp"], &["--lr-decay", "'exp'", "cosine"]),
        (
            &["--lr-decay", "cosine", "--decay-from", "1"],
            &["--decay-from 1"],
        ),
    ] {
        let mut a = vec!["train", "--out", "x.safetensors", "--data-dir", d];
        a.extend_from_slice(args);
        assert_user_error(&run(&a), needles);
    }
    // A model of another input size than the dataset's images.
    let m = dir.path().join("m.safetensors");
    std::fs::write(&m, foreign_model(5)).unwrap();
    assert_user_error(
        &run(&["eval", "--model", m.to_str().unwrap(), "--data-dir", d]),
        &["m.safetensors", "does not fit"],
    );
    // The model file that was there is untouched by a failed train.
    let before = std::fs::read(&m).unwrap();
    let o = run(&[
        "train",
        "--lr",
        "nan",
        "--out",
        m.to_str().unwrap(),
        "--data-dir",
        d,
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_eq!(std::fs::read(&m).unwrap(), before);
}

/// A plain safetensors MLP `in -> 3 -> 10` without parana metadata.
fn foreign_model(input: usize) -> Vec<u8> {
    let mut f = parana::tensorfile::TensorFile::default();
    f.insert("0.weight", vec![3, input], vec![0.1; 3 * input]);
    f.insert("0.bias", vec![3], vec![0.0; 3]);
    f.insert("2.weight", vec![10, 3], vec![0.1; 30]);
    f.insert("2.bias", vec![10], vec![0.0; 10]);
    f.to_bytes().unwrap()
}
