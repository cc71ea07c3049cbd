//! `parana reproduce` and `parana report` end to end on real MNIST: a tiny
//! experiment runs every stage and writes the report; a second run skips
//! everything; changing the sweep reruns only the sweeps and the report;
//! bad TOML is refused with the file, line and key; and (where a headless
//! Chromium is installed) every figure of report.html renders.

mod common;

use common::{mnist_dir, parana};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// A tiny experiment: one 784-32-16-10 lq MLP, two noises, FGSM, a sweep
/// of three ratios and a per-layer sweep of two, on 1000 test images.
fn tiny(sweep_ratios: &str) -> String {
    format!(
        r#"title = "tiny"
dataset = "mnist"
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
steps = 60

[attacks]
fgsm = [0.1]
images = 300

[sweep]
methods = ["abs", "act"]
ratios = "{sweep_ratios}"
score_images = 500
images = 1000

[per-layer]
methods = ["abs"]
ratios = "0,0.5"
images = 1000

[sparse]
sparsities = [0.9]
batches = [10]
reps = 1
"#,
        mnist_dir().display()
    )
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn reproduce(exp: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    let o = parana()
        .arg("reproduce")
        .arg(exp)
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "reproduce failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

fn mtime(p: &Path) -> SystemTime {
    std::fs::metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .modified()
        .unwrap()
}

/// `--dry-run` lines: (stage, what would happen).
fn dry_run(exp: &Path, out: &Path) -> Vec<(String, String)> {
    let o = reproduce(exp, out, &["--dry-run"]);
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| {
            let mut w = l.split_whitespace();
            let id = w.next().unwrap_or("").to_string();
            let rest: Vec<&str> = w.collect();
            // Drop the key (last word).
            (id, rest[..rest.len().saturating_sub(1)].join(" "))
        })
        .collect()
}

#[test]
fn reproduce_runs_every_stage_then_caches_and_reruns_only_what_changed() {
    let dir = tempfile::tempdir().unwrap();
    let exp = write(dir.path(), "tiny.toml", &tiny("0,0.4,0.8"));
    let run = dir.path().join("run");

    // Nothing written by a dry run.
    let plan = dry_run(&exp, &run);
    assert_eq!(plan.len(), 7, "{plan:?}");
    assert!(plan.iter().all(|(_, s)| s == "run"), "{plan:?}");
    assert!(!run.exists());

    let t = std::time::Instant::now();
    reproduce(&exp, &run, &[]);
    eprintln!("tiny experiment: {:.1}s", t.elapsed().as_secs_f64());
    for f in [
        "stages.json",
        "experiment.toml",
        "train-tiny/model.safetensors",
        "noise-tiny/suite.json",
        "noise-tiny/noise-class3-limit0.25.safetensors",
        "attacks-tiny/attacks.json",
        "sweep-tiny/results.jsonl",
        "per-layer-tiny/results.jsonl",
        "sparse/sparse.json",
        "report.md",
        "report.html",
        "report/sweep-tiny.svg",
        "report/per-layer-tiny.svg",
        "report/noise-tiny.svg",
    ] {
        assert!(run.join(f).exists(), "{f} missing");
    }
    let md = std::fs::read_to_string(run.join("report.md")).unwrap();
    for s in [
        "## Models",
        "## Universal noise",
        "## Pruning sweeps",
        "## Per-layer sweeps",
        "## Best performance",
        "The article's table (reference)",
        "| none | 0.9865 |",
        "## FGSM and PGD",
        "## Sparse engine",
        "## Stages and run time",
        "## Versions and seeds",
        "![Sweep of tiny: accuracy against % pruned](report/sweep-tiny.svg)",
        // One seed: the Findings promise no intervals.
        "## Findings",
        "one seed, so no intervals",
    ] {
        assert!(md.contains(s), "report.md lacks {s:?}:\n{md}");
    }
    let sweep_rows = std::fs::read_to_string(run.join("sweep-tiny/results.jsonl")).unwrap();
    assert_eq!(sweep_rows.lines().count(), 6);

    // Second run: everything cached, nothing rewritten.
    let model = run.join("train-tiny/model.safetensors");
    let layer_rows = run.join("per-layer-tiny/results.jsonl");
    let (m0, l0, r0) = (
        mtime(&model),
        mtime(&layer_rows),
        mtime(&run.join("report.md")),
    );
    let t = std::time::Instant::now();
    let o = reproduce(&exp, &run, &[]);
    assert!(t.elapsed().as_secs_f64() < 10.0);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("0 stage(s) run, 7 cached"), "{out}");
    assert_eq!(mtime(&model), m0);
    assert_eq!(mtime(&run.join("report.md")), r0);

    // A different sweep: only the sweep and the report rerun.
    let exp2 = write(dir.path(), "tiny2.toml", &tiny("0,0.6"));
    let plan = dry_run(&exp2, &run);
    for (id, status) in &plan {
        let expect = if id == "sweep-tiny" || id == "report" {
            "rerun (settings changed)"
        } else {
            "cached"
        };
        assert_eq!(status, expect, "{id}: {plan:?}");
    }
    let o = reproduce(&exp2, &run, &[]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("2 stage(s) run, 5 cached"), "{out}");
    assert_eq!(mtime(&model), m0);
    assert_eq!(mtime(&layer_rows), l0);
    let sweep_rows = std::fs::read_to_string(run.join("sweep-tiny/results.jsonl")).unwrap();
    assert_eq!(sweep_rows.lines().count(), 4, "the old rows are gone");

    // An interrupted sweep (recorded as started, two rows kept) continues:
    // only its missing rows are computed, the stages before it stay.
    let stages_path = run.join("stages.json");
    let mut st: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&stages_path).unwrap()).unwrap();
    st["stages"]["sweep-tiny"]["done"] = serde_json::json!(false);
    std::fs::write(&stages_path, st.to_string()).unwrap();
    let rows_path = run.join("sweep-tiny/results.jsonl");
    let kept: Vec<String> = std::fs::read_to_string(&rows_path)
        .unwrap()
        .lines()
        .take(2)
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&rows_path, kept.concat()).unwrap();
    let plan = dry_run(&exp2, &run);
    assert!(
        plan.contains(&("sweep-tiny".into(), "resume".into())),
        "{plan:?}"
    );
    let o = reproduce(&exp2, &run, &["--only", "sweep"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("1 stage(s) run"), "{out}");
    assert_eq!(
        std::fs::read_to_string(&rows_path).unwrap().lines().count(),
        4
    );
    assert_eq!(mtime(&model), m0);

    // `parana report` rewrites the report from the run folder alone.
    std::fs::remove_file(run.join("report.html")).unwrap();
    let o = parana().arg("report").arg(&run).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(run.join("report.html").exists());

    browser_check(&run.join("report.html"));
}

#[test]
fn only_runs_the_selected_stage_and_what_it_needs() {
    let dir = tempfile::tempdir().unwrap();
    let exp = write(dir.path(), "tiny.toml", &tiny("0,0.5"));
    let run = dir.path().join("run");
    reproduce(&exp, &run, &["--only", "attacks"]);
    assert!(run.join("train-tiny/model.safetensors").exists());
    assert!(run.join("attacks-tiny/attacks.json").exists());
    assert!(!run.join("noise-tiny").exists());
    assert!(!run.join("report.md").exists());
    let o = parana()
        .args(["reproduce"])
        .arg(&exp)
        .arg("--out")
        .arg(&run)
        .args(["--only", "nonsense"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no such stage"));
}

/// A tiny CNN swept decoupled (every conv tap a weight) as a whole, and per
/// layer with its kernels as they are: the plan gains `decouple-M`, the
/// decoupled sweep prunes the taps one by one, and both sweeps measure the
/// same unpruned network at ratio 0.
#[test]
fn decoupled_sweeps_prune_the_convolutions_tap_by_tap() {
    let dir = tempfile::tempdir().unwrap();
    let exp = write(
        dir.path(),
        "cnn.toml",
        &format!(
            r#"dataset = "mnist"
data_dir = "{}"

[[model]]
name = "c"
conv = ["3x3x4"]
hidden = [16]
head = "sce"
steps = 150
batch = 50
lr = 2e-3
val_images = 1000
select_every = 50

[noise]
pairs = [[3, 0.25]]
steps = 20

[sweep]
decoupled = true
methods = ["abs", "act"]
ratios = "0,0.6"
score_images = 200
images = 300

[per-layer]
methods = ["abs"]
ratios = "0,0.6"
images = 300
"#,
            mnist_dir().display()
        ),
    );
    let run = dir.path().join("run");
    let plan: Vec<String> = dry_run(&exp, &run).into_iter().map(|(id, _)| id).collect();
    assert_eq!(
        plan,
        [
            "train-c",
            "noise-c",
            "decouple-c",
            "sweep-c",
            "per-layer-c",
            "report"
        ]
    );
    reproduce(&exp, &run, &[]);
    assert!(run.join("decouple-c/model.safetensors").exists());
    // The CNN was trained with selection on 1000 held-out training images:
    // train.json, the model's metadata and the report say which step.
    let train: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("train-c/train.json")).unwrap())
            .unwrap();
    let step = train["selection"]["selected_step"].as_u64().unwrap();
    assert!([50, 100, 150].contains(&step), "{train}");
    assert_eq!(train["config"]["val_images"], 1000);
    let meta = parana::tensorfile::TensorFile::load(&run.join("train-c/model.safetensors"))
        .unwrap()
        .meta;
    assert_eq!(meta["selected_step"], step.to_string());
    let settings = |stage: &str| -> serde_json::Value {
        let text = std::fs::read_to_string(run.join(stage).join("sweep.json")).unwrap();
        serde_json::from_str::<serde_json::Value>(&text).unwrap()["settings"].clone()
    };
    // The decoupled 3x3x4 convolution: one weight per present tap of every
    // output pixel and channel (border taps absent), not 36 kernel weights.
    let taps = 4 * (26 * 26 * 9 + 4 * 26 * 6 + 4 * 4);
    assert_eq!(settings("sweep-c")["layer_weights"][0], taps);
    assert_eq!(settings("per-layer-c")["layer_weights"][0], 36);
    // The sweep and the report call the decoupled model what it is.
    let arch = settings("sweep-c")["arch"].as_str().unwrap().to_string();
    assert!(arch.starts_with("decoupled cnn "), "{arch}");
    assert!(
        settings("per-layer-c")["arch"]
            .as_str()
            .unwrap()
            .starts_with("cnn ")
    );
    let report = std::fs::read_to_string(run.join("report.md")).unwrap();
    assert!(report.contains(&format!("### c ({arch})")), "{report}");
    assert!(
        report.contains(&format!(
            "kept step {step} (best of checks every 50 on 1000 held-out"
        )),
        "{report}"
    );
    let rows = |stage: &str| -> Vec<serde_json::Value> {
        std::fs::read_to_string(run.join(stage).join("results.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let (whole, per_layer) = (rows("sweep-c"), rows("per-layer-c"));
    assert_eq!(whole.len(), 4, "{whole:?}");
    let clean0 = |rs: &[serde_json::Value]| {
        rs.iter()
            .find(|r| r["ratio"] == "0")
            .map(|r| r["clean"].as_f64().unwrap())
            .unwrap()
    };
    assert_eq!(clean0(&whole), clean0(&per_layer));
    // At 60% every decoupled matrix keeps its other 40%, tap by tap.
    for r in whole.iter().filter(|r| r["ratio"] == "0.6") {
        assert_eq!(r["remaining"][0], taps - taps * 6 / 10, "{r}");
    }
}

#[test]
fn checked_in_experiments_are_valid() {
    let dir = tempfile::tempdir().unwrap();
    let exps = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments");
    let mut n = 0;
    for e in std::fs::read_dir(&exps).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "toml") {
            let plan = dry_run(&p, &dir.path().join("run"));
            assert!(plan.iter().any(|(id, _)| id == "report"), "{plan:?}");
            n += 1;
        }
    }
    assert!(n >= 3, "{n} experiments");
}

/// Run reproduce on `text`; returns (exit code, stderr).
fn bad(text: &str) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let exp = write(dir.path(), "bad.toml", text);
    let o = parana()
        .arg("reproduce")
        .arg(&exp)
        .arg("--out")
        .arg(dir.path().join("run"))
        .arg("--dry-run")
        .output()
        .unwrap();
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn bad_experiment_files_name_file_line_and_key() {
    let base = "dataset = \"mnist\"\n\n[[model]]\nname = \"a\"\narch = \"article-mlp\"\n";
    // Unknown key.
    let (code, err) = bad(&format!("{base}stpes = 10\n"));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("bad.toml"), "{err}");
    assert!(err.contains("line 6"), "{err}");
    assert!(err.contains("stpes"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    // Wrong type.
    let (code, err) = bad(&format!("{base}steps = \"many\"\n"));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("line 6, key model.steps"), "{err}");
    // Impossible settings found after parsing.
    let (code, err) = bad(&format!(
        "{base}\n[noise]\npreset = \"article\"\n\n[sweep]\nmethods = [\"abs\"]\nratios = \"0:2:0.1\"\n"
    ));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("line 12, key sweep.ratios"), "{err}");
    let (code, err) = bad(&format!(
        "{base}\n[noise]\npreset = \"article\"\n\n[sweep]\ndecoupled = true\n"
    ));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("line 11, key sweep.decoupled"), "{err}");
    assert!(err.contains("no convolutions"), "{err}");
    let (code, err) = bad(&format!("{base}head = \"mse\"\n"));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("line 6, key model.head"), "{err}");
    let (code, err) = bad(&format!("{base}\n[report]\nmin_clean = 1.5\n"));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("line 8, key report.min_clean"), "{err}");
    let (code, err) = bad("title = \"no models\"\n");
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("no [[model]]"), "{err}");
    let (code, err) = bad("[[model]]\narch = \"article-mlp\"\n");
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("line 1, key model: missing field `name`"),
        "{err}"
    );
    let (code, err) = bad("dataset = \"cifar\"\n[[model]]\nname = \"a\"\narch = \"article-mlp\"\n");
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("line 1, key dataset"), "{err}");
}

#[test]
fn status_tells_done_running_interrupted_stale_and_not_started() {
    let dir = tempfile::tempdir().unwrap();
    let exp = write(dir.path(), "exp.toml", &tiny("0,0.5"));
    let run = dir.path().join("run");
    reproduce(&exp, &run, &["--only", "train"]);
    let states = || -> Vec<(String, String)> {
        let o = parana()
            .args(["status", "--json"])
            .arg(&run)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        v.as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    s["id"].as_str().unwrap().to_string(),
                    s["state"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    let of = |st: &[(String, String)], id: &str| {
        st.iter()
            .find(|(i, _)| i == id)
            .map(|(_, s)| s.clone())
            .unwrap()
    };
    let st = states();
    assert_eq!(of(&st, "train-tiny"), "done");
    assert_eq!(of(&st, "sweep-tiny"), "not-started");
    assert_eq!(st.last().unwrap().0, "report", "plan order");
    // A started, unfinished stage: interrupted, or running while a process
    // holds the run's lock.
    let p = run.join("stages.json");
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
    v["stages"]["train-tiny"]["done"] = serde_json::json!(false);
    std::fs::write(&p, v.to_string()).unwrap();
    assert_eq!(of(&states(), "train-tiny"), "interrupted");
    let lock = parana::io::lock_dir(&run).unwrap();
    assert_eq!(of(&states(), "train-tiny"), "running");
    drop(lock);
    v["stages"]["train-tiny"]["key"] = serde_json::json!("0000");
    std::fs::write(&p, v.to_string()).unwrap();
    assert_eq!(of(&states(), "train-tiny"), "stale");
    // Rerun (a stale stage starts afresh: one run), then interrupted and
    // resumed: the record counts two runs, and the time shown is the
    // last one's only, which the text says.
    reproduce(&exp, &run, &["--only", "train"]);
    let runs = |v: &serde_json::Value| v["stages"]["train-tiny"]["runs"].as_u64();
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
    assert_eq!(runs(&v), Some(1));
    v["stages"]["train-tiny"]["done"] = serde_json::json!(false);
    std::fs::write(&p, v.to_string()).unwrap();
    reproduce(&exp, &run, &["--only", "train"]);
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
    assert_eq!(runs(&v), Some(2));
    let o = parana().arg("status").arg(&run).output().unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.lines()
            .any(|l| l.starts_with("train-tiny") && l.contains("s (last of 2 runs)")),
        "{text}"
    );
    // Not a run folder: one line, exit 2.
    let o = parana().arg("status").arg(dir.path()).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not a `parana reproduce` run folder"));
}

/// Fashion-MNIST as Debian's `dataset-fashion-mnist` installs it.
fn fashion_installed() -> bool {
    Path::new("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz").exists()
}

#[test]
fn seeds_and_datasets_give_intervals_findings_and_a_comparison() {
    if !fashion_installed() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but Fashion-MNIST is not installed: scripts/test.sh should have installed it"
        );
        eprintln!(
            "SKIPPED the two-dataset study: Fashion-MNIST not in /usr/share/datasets (Debian: apt-get install dataset-fashion-mnist)"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // MNIST from the shared folder, Fashion-MNIST from Debian's.
    let text = r#"title = "two datasets, two seeds"
datasets = ["mnist", "fashion-mnist"]

[[model]]
name = "m"
hidden = [32]
head = "lq"
steps = 200
batch = 100
lr = 2e-3
seeds = [1, 2]

[noise]
pairs = [[3, 0.25], [5, 0.35]]
steps = 40

[sweep]
methods = ["act"]
ratios = "0:0.8:0.4"
score_images = 300
images = 500

[report]
min_clean_drop = 0.02
article_table = false
"#;
    let exp = write(dir.path(), "exp.toml", text);
    let run = dir.path().join("run");
    let o = parana()
        .arg("reproduce")
        .arg(&exp)
        .arg("--out")
        .arg(&run)
        .env("PARANA_DATA_DIR", mnist_dir().parent().unwrap())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for id in [
        "train-m-mnist-s1",
        "train-m-mnist-s2",
        "sweep-m-fashion-mnist-s2",
    ] {
        assert!(run.join(id).is_dir(), "{id}");
    }
    // Replicates differ: their own training seeds give other models.
    let acc = |id: &str| -> f64 {
        let t = std::fs::read_to_string(run.join(id).join("train.json")).unwrap();
        let v: serde_json::Value = serde_json::from_str(&t).unwrap();
        v["test_accuracy"].as_f64().unwrap()
    };
    assert_ne!(acc("train-m-mnist-s1"), acc("train-m-mnist-s2"));
    let md = std::fs::read_to_string(run.join("report.md")).unwrap();
    let findings = md.find("## Findings").expect("a Findings section");
    assert!(
        findings < md.find("## Models").unwrap(),
        "Findings come first"
    );
    for want in [
        "### Across datasets",
        "- m, act: the article's claim ",
        "### On mnist",
        "### On fashion-mnist",
        "- m (2 seeds): act at ",
        "## Over seeds: means and 95% confidence intervals",
        "### m on fashion-mnist (m-fashion-mnist-s1, m-fashion-mnist-s2)",
        " ± ",
        "## Datasets compared",
        "| m | act |",
        "report/bands-m-mnist.svg",
        "(the unpruned accuracy less 0.02)",
    ] {
        assert!(md.contains(want), "report.md lacks {want:?}");
    }
    let html = std::fs::read_to_string(run.join("report.html")).unwrap();
    for id in [
        "findings",
        "over-seeds-means-and-95-confidence-intervals",
        "datasets-compared",
    ] {
        assert!(
            html.contains(&format!("<h2 id=\"{id}\">")),
            "report.html lacks #{id}"
        );
    }
    browser_check(&run.join("report.html"));
}

#[test]
fn the_quick_robustness_study_runs_every_evidence_stage() {
    if !fashion_installed() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but Fashion-MNIST is not installed: scripts/test.sh should have installed it"
        );
        eprintln!(
            "SKIPPED experiments/robustness-quick.toml: Fashion-MNIST not in /usr/share/datasets (Debian: apt-get install dataset-fashion-mnist)"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let exp = Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments/robustness-quick.toml");
    let run = dir.path().join("run");
    let o = reproduce(&exp, &run, &[]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("0 cached"), "{out}");
    // Every kind of stage ran, for both datasets and both seeds.
    for id in [
        "train-lq-mnist-s1",
        "noise-sce-fashion-mnist-s2",
        "attacks-lq-fashion-mnist-s1",
        "sweep-sce-mnist-s2",
        "per-layer-lq-mnist-s2",
        "adaptive-sce-fashion-mnist-s1",
    ] {
        assert!(run.join(id).is_dir(), "{id}");
    }
    // The selection was recorded; the adaptive stage wrote its rows.
    let t = std::fs::read_to_string(run.join("train-lq-mnist-s1/train.json")).unwrap();
    assert!(t.contains("selected_step"), "{t}");
    let a: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(run.join("adaptive-lq-mnist-s1/adaptive.json")).unwrap(),
    )
    .unwrap();
    let methods: Vec<&str> = a["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["method"].as_str().unwrap())
        .collect();
    for m in ["none", "abs", "act", "combined", "random:1"] {
        assert!(methods.contains(&m), "{m} in {methods:?}");
    }
    let md = std::fs::read_to_string(run.join("report.md")).unwrap();
    for want in [
        "## Findings",
        "Against noises retrained on the pruned network (act",
        "Against the per-example attack pgd:",
        "Random pruning at the same ratios (mean of 2 masks)",
        "Pruning input pixels alone (act-inputs)",
        "Pruning one layer alone with act",
        "## Transferred and adaptive noise",
        "## Per-example attacks on the pruned networks",
        "| act (best) |",
        "| random |",
        "## Over seeds: means and 95% confidence intervals",
        "## Datasets compared",
        "## Gradient-masking checks",
        "Adaptive evaluation, act at ",
        ": APGD-CE robust accuracy ",
        // Replicates seed their noise, score images and PGD starts with
        // their own seed, not [noise]'s.
        "| noise seed | each replicate's own (K for M-sK) |",
        "chosen per seed), against the unpruned model; a lift counts at 10 points; intervals are 95% Student t over seeds.",
    ] {
        assert!(md.contains(want), "report.md lacks {want:?}");
    }
    // checks = true: the attacks stage wrote its checks, each adaptive
    // row holds its own with the transfer check on pruned points.
    let c: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(run.join("attacks-lq-mnist-s1/checks.json")).unwrap(),
    )
    .unwrap();
    assert!(c["checks"].as_array().unwrap().len() >= 3, "{c}");
    let act = a["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["method"] == "act")
        .unwrap();
    let names: Vec<&str> = act["checks"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"transfer"), "{names:?}");
    browser_check(&run.join("report.html"));
    // A second run finds every stage done.
    let o = reproduce(&exp, &run, &[]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains(": 0 stage(s) run"), "{out}");
}

/// A headless Chromium, if one is installed.
fn browser() -> Option<PathBuf> {
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        for dir in std::env::var("PATH").unwrap_or_default().split(':') {
            let p = Path::new(dir).join(name);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

/// Open report.html in headless Chromium and check every figure drew a
/// non-empty box (the page marks `data-figures-rendered` on load).
fn browser_check(html: &Path) {
    let Some(b) = browser() else {
        // CI installs Chromium (scripts/test.sh), so there a missing
        // browser is a failure, not a reason to skip.
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but no chromium is on PATH: scripts/test.sh should have installed it"
        );
        eprintln!(
            "SKIPPED the report.html browser check: no chromium, chromium-browser or google-chrome on PATH (Debian: apt-get install chromium)"
        );
        return;
    };
    let text = std::fs::read_to_string(html).unwrap();
    assert!(
        !text.contains("http://") || !text.contains("src=\"http"),
        "report.html must not load external resources"
    );
    let figures = text.matches("<figure class=\"figure\"").count();
    assert!(figures >= 3, "{figures} figures");
    let profile = tempfile::tempdir().unwrap();
    let o = std::process::Command::new(&b)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--virtual-time-budget=5000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", html.canonicalize().unwrap().display()))
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&o.stdout);
    assert!(
        dom.contains(&format!("data-figures=\"{figures}\"")),
        "browser did not run the page's check: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        dom.contains(&format!("data-figures-rendered=\"{figures}\"")),
        "not every figure rendered"
    );
}
