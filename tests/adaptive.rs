//! Adaptive evaluation end to end on real MNIST: a tiny experiment's
//! `adaptive-M` stage evaluates the unpruned model, each method's best
//! ratio of the sweep and a grid; each adaptive noise file names the pruned
//! model it was trained against, and `parana eval` on the saved pruned model
//! and noise gives exactly the recorded accuracy; `parana adapt` resumes
//! and refuses bad input with one line.

mod common;

use common::{mnist_dir, parana, run_on_mnist};
use parana::attack::noise_file::{Noise, sha256_file};
use parana::experiment::adaptive;

fn tiny() -> String {
    format!(
        r#"dataset = "mnist"
data_dir = "{}"

[[model]]
name = "tiny"
hidden = [32, 16]
head = "lq"
steps = 300
batch = 100
lr = 2e-3

[noise]
pairs = [[3, 0.25], [5, 0.35]]
steps = 40

[attacks]
fgsm = [0.1]
images = 200

[sweep]
methods = ["abs", "act"]
ratios = "0,0.3,0.6,0.9"
score_images = 500
images = 1000

[adaptive]
ratios = "0.5"

[report]
min_clean = 0.5
article_table = false
"#,
        mnist_dir().display()
    )
}

fn ok(o: std::process::Output) -> String {
    assert!(
        o.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn adaptive_stage_records_best_and_grid_points_that_parana_eval_reproduces() {
    let dir = tempfile::tempdir().unwrap();
    let exp = dir.path().join("tiny.toml");
    std::fs::write(&exp, tiny()).unwrap();
    let run = dir.path().join("run");
    ok(parana()
        .arg("reproduce")
        .arg(&exp)
        .arg("--out")
        .arg(&run)
        .output()
        .unwrap());
    let ad = run.join("adaptive-tiny");
    let f = adaptive::load(&ad).unwrap();
    assert!(ad.join("adaptive.csv").exists() && ad.join("adaptive.jsonl").exists());
    let names: Vec<String> = f
        .rows
        .iter()
        .map(|r| format!("{}-{}", r.method, r.ratio))
        .collect();
    // The unpruned point first, its adaptive noise the transferred one.
    assert_eq!(names[0], "none-0");
    assert_eq!(f.rows[0].adaptive, f.rows[0].transfer);
    for r in &f.rows {
        let w: f64 = r
            .transfer
            .iter()
            .zip(&r.adaptive)
            .map(|(a, b)| a.min(*b))
            .sum::<f64>()
            / r.transfer.len() as f64;
        assert!((r.worst_mean - w).abs() < 1e-12);
        assert!(r.worst_mean <= r.transfer_mean.min(r.adaptive_mean) + 1e-12);
    }
    // The grid, for both methods.
    for m in ["abs", "act"] {
        let r = f
            .rows
            .iter()
            .find(|r| r.method == m && r.ratio == "0.5")
            .unwrap_or_else(|| panic!("no {m}-0.5 row in {names:?}"));
        assert!(r.reason.contains(&"grid".to_string()));
    }
    // Each method's best ratio of the sweep (the same rule as the report).
    let sweep = parana::experiment::sweep::results::Run::load(&run.join("sweep-tiny")).unwrap();
    let best = parana::report::best::table(&sweep.file.settings, &sweep.rows, 0.5);
    for b in best.iter().filter(|b| b.method != "none") {
        let want = b.row.as_ref().unwrap();
        // A best ratio of 0 is the unpruned point.
        let method = if want.ratio == "0" { "none" } else { &b.method };
        let got = f
            .rows
            .iter()
            .find(|r| r.reason.contains(&"best".to_string()) && r.method == method)
            .unwrap_or_else(|| panic!("no best row of {} in {names:?}", b.method));
        assert_eq!(got.ratio, want.ratio);
        // Pruned exactly as the sweep did: the same weights left.
        assert_eq!(got.remaining, want.remaining);
    }
    assert!(f.rows.iter().all(|r| r.attacks.len() == 1));
    // Nothing else: the unpruned point, the grid and the best points, each
    // once (a best ratio on the grid is one row with both reasons).
    let mut want: Vec<String> = vec!["none-0".into(), "abs-0.5".into(), "act-0.5".into()];
    for b in best.iter().filter(|b| b.method != "none") {
        let r = &b.row.as_ref().unwrap().ratio;
        let k = if r == "0" {
            "none-0".into()
        } else {
            format!("{}-{r}", b.method)
        };
        if !want.contains(&k) {
            want.push(k);
        }
    }
    let mut got = names.clone();
    got.sort();
    want.sort();
    assert_eq!(got, want);

    // A pruned point: its noise files name the pruned model, and parana eval
    // on the saved files gives exactly the recorded accuracies.
    let r = f
        .rows
        .iter()
        .find(|r| r.method == "act" && r.ratio == "0.5")
        .unwrap();
    let model = ad.join(&r.model_file);
    let sha = sha256_file(&model).unwrap();
    for (k, info) in f.settings.noises.iter().enumerate() {
        let p = ad.join(&r.noise_dir).join(&info.file);
        let n = Noise::load(&p).unwrap();
        assert_eq!(n.meta["pruned_model"], "act-0.5/model.safetensors");
        assert_eq!(n.meta["pruned_model_sha256"], sha);
        assert_eq!(n.meta["model_sha256"], sha);
        assert_eq!(n.meta["pruning_method"], "act");
        let out = ok(run_on_mnist(&[
            "eval",
            "--model",
            model.to_str().unwrap(),
            "--noise",
            p.to_str().unwrap(),
            "--json",
        ]));
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        let acc = v["models"][0]["noises"][0]["accuracy"].as_f64().unwrap();
        assert_eq!(acc, r.adaptive[k], "{}", info.name);
        assert_eq!(v["clean_accuracy"].as_f64().unwrap(), r.clean);
    }
    // The pruned model file is what parana prune writes: masks included.
    let tf = parana::tensorfile::TensorFile::load(&model).unwrap();
    assert!(tf.bools.contains_key("masks.layers.0.weight"));
    assert_eq!(tf.meta["pruning_method"], "act");
    assert_eq!(tf.meta["pruning_ratio"], "0.5");

    // parana adapt: a second run records nothing new; bad input is one line.
    let out = dir.path().join("adapt");
    let args = |extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = [
            "adapt",
            "--model",
            run.join("train-tiny/model.safetensors").to_str().unwrap(),
            "--noise",
            run.join("noise-tiny").to_str().unwrap(),
            "--methods",
            "abs",
            "--ratios",
            "0.9",
            "--out",
            out.to_str().unwrap(),
            "--json",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let first = |a: &[String]| -> serde_json::Value {
        let refs: Vec<&str> = a.iter().map(String::as_str).collect();
        serde_json::from_str(&ok(run_on_mnist(&refs))).unwrap()
    };
    assert_eq!(first(&args(&[]))["new_rows"], 2);
    assert_eq!(first(&args(&[]))["new_rows"], 0);
    // With the gradient-masking checks: each point carries them, the pruned
    // one with the transfer check from the unpruned model.
    let checked = dir.path().join("adapt-checked");
    let mut a = args(&[
        "--attack",
        "apgd-ce:0.1",
        "--apgd-steps",
        "5",
        "--queries",
        "50",
        "--images",
        "60",
        "--attack-checks",
    ]);
    let o = a.iter().position(|s| s == "--out").unwrap();
    a[o + 1] = checked.to_str().unwrap().to_string();
    assert_eq!(first(&a)["new_rows"], 2);
    let f = adaptive::load(&checked).unwrap();
    for r in &f.rows {
        let c = r
            .checks
            .as_ref()
            .unwrap_or_else(|| panic!("no checks on {}", r.method));
        assert_eq!((c.eps, c.images), (0.1, 60));
        let names: Vec<&str> = c.checks.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names.contains(&"transfer"), r.method != "none", "{names:?}");
        assert_eq!(r.attacks.len(), 1);
    }
    let bad = run_on_mnist(&[
        "adapt",
        "--model",
        "x.safetensors",
        "--noise",
        "n",
        "--methods",
        "magic",
        "--ratios",
        "0.5",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(bad.status.code(), Some(2));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("unknown pruning method 'magic'"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}
