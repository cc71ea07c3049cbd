//! Jobs that get stopped: Ctrl-C stops `parana train` at a safe point and
//! says how to resume; SIGKILL at random moments loses nothing already done
//! (`train`, `noise train` and `sweep` resumed reach exactly the files of an
//! uninterrupted run, and no half-written file is ever left); a second
//! process writing the same output stops with a clear error (lock).

mod common;

use common::{mnist_dir, parana, small_model_file};
use parana::tensorfile::TensorFile;
use std::path::Path;
use std::process::{Child, Output};
use std::time::{Duration, Instant};

fn d() -> String {
    mnist_dir().to_str().unwrap().to_string()
}

fn spawn(args: &[String]) -> Child {
    parana()
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

fn finish(c: Child) -> Output {
    c.wait_with_output().unwrap()
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Wait (up to 60 s) until `p` exists.
fn wait_for(p: &Path) {
    let t = Instant::now();
    while !p.exists() {
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "{} never appeared",
            p.display()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn signal(c: &Child, sig: i32) {
    // SAFETY: kill on a child we spawned.
    unsafe {
        libc::kill(c.id() as i32, sig);
    }
}

/// `args` as owned strings, with `--resume` when `resume`.
fn strings(args: &[&str], resume: bool) -> Vec<String> {
    let mut v: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    if resume {
        v.push("--resume".into());
    }
    v
}

fn train_args(out: &Path, resume: bool) -> Vec<String> {
    strings(
        &[
            "train",
            "--hidden",
            "32,16",
            "--steps",
            "6000",
            "--batch",
            "100",
            "--lr",
            "0.002",
            "--eval-every",
            "3000",
            "--checkpoint-every",
            "700",
            "--data-dir",
            &d(),
            "--out",
            out.to_str().unwrap(),
        ],
        resume,
    )
}

fn tensors(p: &Path) -> TensorFile {
    let mut f = TensorFile::load(p).unwrap();
    f.meta.clear();
    f
}

/// After a kill: every file in `dir` is whole (a killed atomic write can
/// leave only its hidden temporary file, never a partial target).
fn all_whole(dir: &Path) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let n = p.file_name().unwrap().to_string_lossy().into_owned();
        if n.contains(".parana-tmp-") || n.ends_with(".lock") {
            continue;
        }
        if n.ends_with(".safetensors") {
            assert!(TensorFile::load(&p).is_ok(), "{n} is not whole");
        } else if n.ends_with(".json") {
            let t = std::fs::read_to_string(&p).unwrap();
            assert!(
                serde_json::from_str::<serde_json::Value>(&t).is_ok(),
                "{n} is not whole"
            );
        } else if n.ends_with(".jsonl") {
            for l in std::fs::read_to_string(&p).unwrap().lines() {
                assert!(
                    serde_json::from_str::<serde_json::Value>(l).is_ok(),
                    "{n} is not whole"
                );
            }
        }
    }
}

/// After a finished run: no temporary file is left either.
fn no_leftovers(dir: &Path) {
    all_whole(dir);
    for e in std::fs::read_dir(dir).unwrap() {
        let n = e.unwrap().file_name().to_string_lossy().into_owned();
        assert!(!n.contains(".parana-tmp-"), "temporary file {n} left");
    }
}

/// Run `args` to the end, SIGKILLing it after each delay and resuming with
/// `resumed` until it succeeds.
fn kill_and_resume(first: &[String], resumed: &[String], delays_ms: &[u64], dir: &Path) {
    let mut args = first.to_vec();
    for &ms in delays_ms {
        let c = spawn(&args);
        std::thread::sleep(Duration::from_millis(ms));
        signal(&c, libc::SIGKILL);
        let _ = finish(c);
        all_whole(dir);
        args = resumed.to_vec();
    }
    let o = finish(spawn(&args));
    assert!(o.status.success(), "{}", err(&o));
    no_leftovers(dir);
}

/// Delays in [lo, hi) ms from a seed (a tiny LCG: reproducible moments).
fn delays(seed: u64, n: usize, lo: u64, hi: u64) -> Vec<u64> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            lo + (s >> 33) % (hi - lo)
        })
        .collect()
}

#[test]
fn ctrl_c_stops_training_at_a_safe_point_and_resume_finishes_it_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let want = dir.path().join("whole.safetensors");
    let o = finish(spawn(&train_args(&want, false)));
    assert!(o.status.success(), "{}", err(&o));

    let out = dir.path().join("m.safetensors");
    let c = spawn(&train_args(&out, false));
    // Once it holds its lock it is training; a second writer is refused.
    let lock = dir.path().join("m.safetensors.lock");
    wait_for(&lock);
    let second = finish(spawn(&train_args(&out, false)));
    assert_eq!(second.status.code(), Some(2), "{}", err(&second));
    assert!(
        err(&second).contains("another parana process"),
        "{}",
        err(&second)
    );
    std::thread::sleep(Duration::from_millis(300));
    signal(&c, libc::SIGINT);
    let o = finish(c);
    let e = err(&o);
    assert_eq!(o.status.code(), Some(130), "{e}");
    assert!(!e.contains("panicked"), "{e}");
    assert!(
        e.contains("interrupted: training stopped after step") && e.contains("--resume"),
        "{e}"
    );
    assert!(!out.exists(), "no final model from an interrupted run");
    assert!(!lock.exists(), "lock released");
    let o = finish(spawn(&train_args(&out, true)));
    assert!(o.status.success(), "{}", err(&o));
    assert_eq!(
        tensors(&out),
        tensors(&want),
        "resumed after Ctrl-C != uninterrupted"
    );
}

#[test]
fn sigkill_at_random_moments_then_resume_gives_the_uninterrupted_files() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let d = d();
    // train
    let want = root.join("whole.safetensors");
    let o = finish(spawn(&train_args(&want, false)));
    assert!(o.status.success(), "{}", err(&o));
    for seed in [1, 2] {
        let sub = root.join(format!("train-{seed}"));
        std::fs::create_dir_all(&sub).unwrap();
        let out = sub.join("m.safetensors");
        let first = train_args(&out, false);
        let resumed = train_args(&out, true);
        kill_and_resume(&first, &resumed, &delays(seed, 3, 300, 1500), &sub);
        assert_eq!(tensors(&out), tensors(&want), "train, seed {seed}");
    }

    // noise train
    let model = small_model_file(root);
    let noise_args = |out: &Path, resume: bool| -> Vec<String> {
        strings(
            &[
                "noise",
                "train",
                "--model",
                model.to_str().unwrap(),
                "--target",
                "3",
                "--limit",
                "0.25",
                "--steps",
                "1500",
                "--checkpoint-every",
                "200",
                "--data-dir",
                &d,
                "--out",
                out.to_str().unwrap(),
            ],
            resume,
        )
    };
    let whole = root.join("noise-whole");
    let o = finish(spawn(&noise_args(&whole, false)));
    assert!(o.status.success(), "{}", err(&o));
    let name = "noise-class3-limit0.25.safetensors";
    for seed in [3, 4] {
        let out = root.join(format!("noise-{seed}"));
        std::fs::create_dir_all(&out).unwrap();
        let (first, resumed) = (noise_args(&out, false), noise_args(&out, true));
        kill_and_resume(&first, &resumed, &delays(seed, 3, 300, 1500), &out);
        assert_eq!(
            tensors(&out.join(name)),
            tensors(&whole.join(name)),
            "noise, seed {seed}"
        );
    }

    // sweep (resuming needs no flag)
    let sweep_args = |out: &Path| -> Vec<String> {
        strings(
            &[
                "sweep",
                "--model",
                model.to_str().unwrap(),
                "--methods",
                "abs,act",
                "--ratios",
                "0:0.95:0.05",
                "--images",
                "3000",
                "--data-dir",
                &d,
                "--out",
                out.to_str().unwrap(),
            ],
            false,
        )
    };
    let whole = root.join("sweep-whole");
    let o = finish(spawn(&sweep_args(&whole)));
    assert!(o.status.success(), "{}", err(&o));
    let rows = |dir: &Path| -> Vec<String> {
        let text = std::fs::read_to_string(dir.join("results.jsonl")).unwrap();
        let mut v: Vec<String> = text.lines().map(String::from).collect();
        v.sort();
        v
    };
    for seed in [5, 6] {
        let out = root.join(format!("sweep-{seed}"));
        std::fs::create_dir_all(&out).unwrap();
        let a = sweep_args(&out);
        kill_and_resume(&a, &a, &delays(seed, 3, 300, 1200), &out);
        assert_eq!(rows(&out), rows(&whole), "sweep, seed {seed}");
        let csv = |p: &Path| {
            std::fs::read_to_string(p.join("results.csv"))
                .unwrap()
                .lines()
                .count()
        };
        assert_eq!(csv(&out), csv(&whole));
    }
}

#[test]
fn sigkill_then_rerun_of_a_reproduction_gives_the_uninterrupted_files() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let exp = root.join("small.toml");
    std::fs::write(
        &exp,
        format!(
            r#"title = "small"
dataset = "mnist"
data_dir = "{}"

[[model]]
name = "m"
hidden = [32, 16]
head = "lq"
steps = 2500
batch = 100
lr = 2e-3

[noise]
pairs = [[3, 0.25]]
steps = 400

[sweep]
methods = ["abs", "act"]
ratios = "0:0.9:0.1"
score_images = 500
images = 2000
"#,
            d()
        ),
    )
    .unwrap();
    let args = |out: &Path| -> Vec<String> {
        vec![
            "reproduce".into(),
            exp.to_str().unwrap().into(),
            "--out".into(),
            out.to_str().unwrap().into(),
        ]
    };
    let whole = root.join("whole");
    let o = finish(spawn(&args(&whole)));
    assert!(o.status.success(), "{}", err(&o));
    // Every model and noise tensor, and every recorded sweep row.
    let outputs = |run: &Path| -> Vec<(String, String)> {
        let mut v = Vec::new();
        let mut stack = vec![run.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                let rel = p.strip_prefix(run).unwrap().to_string_lossy().into_owned();
                let n = p.file_name().unwrap().to_string_lossy().into_owned();
                if p.is_dir() {
                    stack.push(p);
                } else if n.ends_with(".safetensors") && !n.contains("ckpt") {
                    v.push((rel, format!("{:?}", tensors(&p).tensors)));
                } else if n == "results.jsonl" {
                    let mut rows: Vec<String> = std::fs::read_to_string(&p)
                        .unwrap()
                        .lines()
                        .map(String::from)
                        .collect();
                    rows.sort();
                    v.push((rel, rows.join("\n")));
                }
            }
        }
        v.sort();
        v
    };
    let want = outputs(&whole);
    assert!(
        want.len() >= 3,
        "{:?}",
        want.iter().map(|w| &w.0).collect::<Vec<_>>()
    );
    for seed in [7, 8] {
        let out = root.join(format!("run-{seed}"));
        let a = args(&out);
        kill_and_resume(&a, &a, &delays(seed, 3, 400, 2500), &out);
        assert!(outputs(&out) == want, "reproduce, seed {seed}");
    }
}
