//! `parana sweep`, `sweep merge`, `best` and `plot` through the real binary
//! on a small model trained on real MNIST: rows agree with `parana prune` +
//! evaluation, resume skips recorded rows, shards merge to the full run,
//! bad input fails with one line and exit 2 without losing results.

mod common;

use common::assert_user_error;

use common::{mnist, mnist_dir, parana};
use parana::attack::noise_file::Noise;
use parana::loader;
use std::path::{Path, PathBuf};
use std::process::Output;

const IMAGES: usize = 1000;

fn setup(dir: &Path) -> (PathBuf, PathBuf) {
    (common::small_model_file(dir), common::small_noises(dir))
}

fn run(args: &[&str]) -> Output {
    let d = mnist_dir();
    let mut c = parana();
    c.args(args);
    if matches!(args[0], "sweep" | "prune") && args[1] != "merge" {
        c.args(["--data-dir", d.to_str().unwrap()]);
    }
    c.output().unwrap()
}

fn ok(o: &Output) -> String {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn rows(run: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(run.join("results.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn sweep_args<'a>(model: &'a str, noise: &'a str, out: &'a str) -> Vec<&'a str> {
    vec![
        "sweep",
        "--model",
        model,
        "--noise",
        noise,
        "--methods",
        "abs,act",
        "--ratios",
        "0,0.5,0.9",
        "--images",
        "1000",
        "--out",
        out,
    ]
}

/// Accuracy of the model file `m` on the first IMAGES test images, with
/// `noise` added when given.
fn accuracy(m: &Path, noise: Option<&Noise>) -> f64 {
    let mut model = loader::load(m).unwrap();
    let o = parana::attack::robustness::outputs(
        &mut model,
        &mnist().test,
        noise.map(|n| n.data.as_slice()),
    );
    parana::attack::robustness::accuracy(&o.pred[..IMAGES], &mnist().test.labels[..IMAGES])
}

#[test]
fn sweep_rows_match_prune_resume_shards_best_and_plot() {
    let dir = tempfile::tempdir().unwrap();
    let (model, noises) = setup(dir.path());
    let (m, nz) = (model.to_str().unwrap(), noises.to_str().unwrap());
    let full = dir.path().join("full");
    let f = full.to_str().unwrap();
    ok(&run(&sweep_args(m, nz, f)));
    let r = rows(&full);
    assert_eq!(r.len(), 6);
    let csv = std::fs::read_to_string(full.join("results.csv")).unwrap();
    assert_eq!(csv.lines().count(), 7);
    assert!(csv.starts_with("group,method,ratio,clean_accuracy,mean_noisy_accuracy,acc_class3-limit0.25,acc_class7-limit0.25,fooled_class3-limit0.25"));

    // Ratio 0 is the unpruned model; act at 0.5 is `parana prune`'s model.
    let n3 = Noise::load(&noises.join("noise-class3-limit0.25.safetensors")).unwrap();
    assert_eq!(r[0]["clean"].as_f64().unwrap(), accuracy(&model, None));
    assert_eq!(
        r[0]["noisy"][0].as_f64().unwrap(),
        accuracy(&model, Some(&n3))
    );
    let pruned = dir.path().join("act50.safetensors");
    ok(&run(&[
        "prune",
        "--model",
        m,
        "--method",
        "act",
        "--ratio",
        "0.5",
        "--out",
        pruned.to_str().unwrap(),
    ]));
    let act50 = &r[4];
    assert_eq!(
        (act50["method"].as_str(), act50["ratio"].as_str()),
        (Some("act"), Some("0.5"))
    );
    assert_eq!(act50["clean"].as_f64().unwrap(), accuracy(&pruned, None));
    assert_eq!(
        act50["noisy"][0].as_f64().unwrap(),
        accuracy(&pruned, Some(&n3))
    );
    let want: Vec<u64> = [784 * 32, 32 * 16, 16 * 10]
        .iter()
        .map(|&n: &u64| n - n * 9 / 10)
        .collect();
    let got: Vec<u64> = r[5]["remaining"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert_eq!(got, want);
    // Fooling rate: share of non-target images classified as the target.
    let fooled = r[0]["fooled"][1].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&fooled));

    // Resume: nothing to do; after losing the last row, only it is redone.
    let o = ok(&run(&sweep_args(m, nz, f)));
    assert!(o.contains("0 new rows"), "{o}");
    let text = std::fs::read_to_string(full.join("results.jsonl")).unwrap();
    let cut: Vec<&str> = text.lines().collect();
    std::fs::write(full.join("results.jsonl"), cut[..5].join("\n") + "\n").unwrap();
    let o = ok(&run(&sweep_args(m, nz, f)));
    assert!(o.contains("1 new rows"), "{o}");
    assert_eq!(rows(&full), r);

    // Other settings or another model: refused, nothing lost.
    let mut other = sweep_args(m, nz, f);
    other[8] = "0,0.5";
    assert_user_error(&run(&other), "different ratios");
    let m2 = dir.path().join("other.safetensors");
    let mut om = loader::load(&model).unwrap();
    om.meta.insert("note".into(), "changed".into());
    loader::save(&om, &m2).unwrap();
    assert_user_error(
        &run(&sweep_args(m2.to_str().unwrap(), nz, f)),
        "different model",
    );
    assert_eq!(rows(&full), r);

    // Shards merge to the full run.
    let (s1, s2, merged) = (
        dir.path().join("s1"),
        dir.path().join("s2"),
        dir.path().join("merged"),
    );
    for (s, sh) in [(&s1, "1/2"), (&s2, "2/2")] {
        let mut a = sweep_args(m, nz, s.to_str().unwrap());
        a.extend(["--shard", sh]);
        ok(&run(&a));
    }
    assert_eq!(rows(&s1).len(), 3);
    ok(&run(&[
        "sweep",
        "merge",
        s1.to_str().unwrap(),
        s2.to_str().unwrap(),
        "--out",
        merged.to_str().unwrap(),
    ]));
    assert_eq!(rows(&merged), r);
    assert_eq!(
        std::fs::read_to_string(merged.join("results.csv")).unwrap(),
        csv
    );

    // best: for each method the highest mean noisy accuracy at clean >= 0.5.
    let md = ok(&run(&["best", "--run", f, "--min-clean", "0.5"]));
    assert!(md.contains("| none | 0% |"), "{md}");
    assert_eq!(std::fs::read_to_string(full.join("best.md")).unwrap(), md);
    let best = std::fs::read_to_string(full.join("best.csv")).unwrap();
    assert_eq!(best.lines().count(), 4, "{best}");
    for (line, method) in best.lines().skip(2).zip(["abs", "act"]) {
        let cand: Vec<&serde_json::Value> = r
            .iter()
            .filter(|x| x["method"] == method && x["clean"].as_f64().unwrap() >= 0.5)
            .collect();
        let top = cand
            .iter()
            .map(|x| x["mean_noisy"].as_f64().unwrap())
            .fold(f64::MIN, f64::max);
        let ratio = line.split(',').nth(2).unwrap();
        let chosen = cand.iter().find(|x| x["ratio"] == ratio).unwrap();
        assert_eq!(chosen["mean_noisy"].as_f64().unwrap(), top, "{line}");
    }

    // Plots: a real PNG and an SVG with the panels' titles.
    ok(&run(&["plot", "--run", f]));
    let png = std::fs::read(full.join("sweep.png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert!(png.len() > 10_000);
    let svg = std::fs::read_to_string(full.join("sweep.svg")).unwrap();
    for t in [
        "act pruning",
        "abs pruning",
        "methods compared",
        "class3-limit0.25",
    ] {
        assert!(svg.contains(t), "{t} missing from the SVG");
    }
}

#[test]
fn per_layer_sweep_and_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let (model, noises) = setup(dir.path());
    let (m, nz) = (model.to_str().unwrap(), noises.to_str().unwrap());
    let out = dir.path().join("layers");
    ok(&run(&[
        "sweep",
        "--model",
        m,
        "--noise",
        nz,
        "--methods",
        "act",
        "--ratios",
        "0.5",
        "--per-layer",
        "--images",
        "500",
        "--out",
        out.to_str().unwrap(),
    ]));
    let r = rows(&out);
    assert_eq!(r.len(), 3);
    let sizes = [784 * 32u64, 32 * 16, 16 * 10];
    for (k, row) in r.iter().enumerate() {
        assert_eq!(row["group"], format!("layer{k}"));
        for (j, v) in row["remaining"].as_array().unwrap().iter().enumerate() {
            let want = if j == k {
                sizes[j] - sizes[j] / 2
            } else {
                sizes[j]
            };
            assert_eq!(v.as_u64().unwrap(), want);
        }
    }
    ok(&run(&["plot", "--run", out.to_str().unwrap()]));

    // A noise made for another dataset.
    let other = dir.path().join("fashion");
    let mut n = Noise::load(&noises.join("noise-class3-limit0.25.safetensors")).unwrap();
    n.meta.insert("dataset".into(), "fashion-mnist".into());
    n.save(&other.join("noise-class3-limit0.25.safetensors"))
        .unwrap();
    let never = dir.path().join("never");
    let nv = never.to_str().unwrap();
    let base = ["sweep", "--model", m, "--images", "200", "--out", nv];
    for (extra, needle) in [
        (vec!["--noise", other.to_str().unwrap()], "fashion-mnist"),
        (
            vec!["--noise", nz, "--methods", "abs,magnitude"],
            "unknown pruning method",
        ),
        (vec!["--noise", nz, "--ratios", "0:1:0.5"], "outside [0, 1)"),
        (
            vec!["--noise", nz, "--layers", "5"],
            "layer 5 does not exist",
        ),
        (vec!["--noise", nz, "--shard", "3/2"], "--shard"),
    ] {
        let mut a = base.to_vec();
        a.extend(extra);
        assert_user_error(&run(&a), needle);
        assert!(!never.exists());
    }
    assert_user_error(&run(&["best", "--run", nv]), "sweep.json");
}
