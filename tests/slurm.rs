//! `parana reproduce --slurm` on a real one-node Slurm cluster brought up
//! on localhost by scripts/slurm-local.sh (Debian's slurm-wlm and munge):
//! experiments/quick.toml runs as a job graph, one of its sweep arrays is
//! cancelled with `scancel` with one shard left, the same command then
//! resubmits only what is unfinished, every job of that submission
//! completes, and the outputs equal a local run's. In CI (CI set, as root)
//! a cluster that cannot be brought up fails the test; elsewhere the test
//! skips with a one-line reason.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The cluster's folder; stops its daemons when dropped (test failed or
/// not), by the pid files the script wrote.
struct Cluster {
    dir: PathBuf,
    conf: PathBuf,
}

impl Cluster {
    fn stop(&self) {
        let _ = Command::new(root().join("scripts/slurm-local.sh"))
            .arg("stop")
            .arg(&self.dir)
            .status();
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Two consecutive free TCP ports on localhost (controller, slurmd).
fn free_ports() -> u16 {
    for _ in 0..50 {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let p = l.local_addr().unwrap().port();
        if p < 65000 && std::net::TcpListener::bind(("127.0.0.1", p + 1)).is_ok() {
            return p;
        }
    }
    panic!("no two free consecutive ports on localhost");
}

/// Bring the cluster up in `dir`, or say why not (None).
fn start(dir: &Path) -> Result<Cluster, String> {
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    if !is_root {
        return Err("needs root (slurmd runs the jobs)".into());
    }
    let cdir = dir.join("cluster");
    let cluster = Cluster {
        dir: cdir.clone(),
        conf: cdir.join("slurm.conf"),
    };
    let o = Command::new(root().join("scripts/slurm-local.sh"))
        .arg("start")
        .arg(&cdir)
        .env("SLURM_LOCAL_PORT", free_ports().to_string())
        .output()
        .map_err(|e| format!("cannot run scripts/slurm-local.sh: {e}"))?;
    if !o.status.success() {
        return Err(format!(
            "scripts/slurm-local.sh start failed: {}",
            String::from_utf8_lossy(&o.stderr).trim()
        ));
    }
    Ok(cluster)
}

fn slurm(c: &Cluster, cmd: &str, args: &[&str]) -> Output {
    Command::new(cmd)
        .args(args)
        .env("SLURM_CONF", &c.conf)
        .output()
        .unwrap_or_else(|e| panic!("{cmd}: {e}"))
}

fn reproduce_slurm(c: &Cluster, exp: &Path, run: &Path) -> String {
    let o = common::parana()
        .args(["reproduce"])
        .arg(exp)
        .arg("--out")
        .arg(run)
        .args(["--slurm", "--allow-local-run-dir"])
        .env("SLURM_CONF", &c.conf)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "reproduce --slurm failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

/// The job id printed for job `name` by `reproduce --slurm`.
fn job_id(listing: &str, name: &str) -> Option<String> {
    listing
        .lines()
        .find(|l| l.split_whitespace().next() == Some(name))
        .and_then(|l| l.split_whitespace().nth(1))
        .filter(|id| *id != "-")
        .map(str::to_string)
}

fn wait_for(what: &str, limit: Duration, mut ready: impl FnMut() -> bool) {
    let t = Instant::now();
    while !ready() {
        assert!(t.elapsed() < limit, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn queue_empty(c: &Cluster) -> bool {
    let o = slurm(c, "squeue", &["-h"]);
    assert!(o.status.success(), "squeue failed");
    o.stdout.is_empty()
}

fn logs(run: &Path) -> String {
    let mut s = String::new();
    for e in std::fs::read_dir(run.join("slurm/logs"))
        .into_iter()
        .flatten()
        .flatten()
    {
        s += &format!(
            "== {}\n{}\n",
            e.path().display(),
            std::fs::read_to_string(e.path()).unwrap_or_default()
        );
    }
    s
}

/// Stage id -> (state, Slurm's words) from `parana status RUN --json`.
fn status(c: &Cluster, run: &Path) -> BTreeMap<String, (String, Option<String>)> {
    let o = common::parana()
        .arg("status")
        .arg(run)
        .arg("--json")
        .env("SLURM_CONF", &c.conf)
        .output()
        .unwrap();
    assert!(o.status.success());
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["id"].as_str().unwrap().to_string(),
                (
                    s["state"].as_str().unwrap().to_string(),
                    s["slurm"].as_str().map(str::to_string),
                ),
            )
        })
        .collect()
}

fn tensors(p: &Path) -> BTreeMap<String, Vec<f32>> {
    parana::tensorfile::TensorFile::load(p)
        .unwrap()
        .tensors
        .into_iter()
        .map(|(k, t)| (k, t.data))
        .collect()
}

#[test]
fn quick_study_through_slurm_equals_a_local_run_and_resumes_after_scancel() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = match start(dir.path()) {
        Ok(c) => c,
        Err(why) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI is set but no Slurm cluster could be brought up: {why}"
            );
            eprintln!("SKIPPED tests/slurm.rs: {why}");
            return;
        }
    };
    let exp = root().join("experiments/quick.toml");
    let local = dir.path().join("local");
    let run = dir.path().join("slurm-run");

    // The local run to compare with.
    let o = common::parana()
        .arg("reproduce")
        .arg(&exp)
        .arg("--out")
        .arg(&local)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    // Submit; hold the last shard of sweep-lq's array, and cancel the array
    // once the others finished (on any number of CPUs, one shard is left).
    let first = reproduce_slurm(&cluster, &exp, &run);
    let array = job_id(&first, "sweep-lq.shards").expect("sweep-lq is sharded");
    assert!(first.contains("after train-lq,noise-lq"), "{first}");
    // The noise suites are split by noise: a task per noise.
    assert!(first.contains("noise-lq.shards"), "{first}");
    assert!(
        first.contains("array 1-2 of 2 shards    after train-lq\n"),
        "{first}"
    );
    let n: usize = first
        .lines()
        .find(|l| l.starts_with("sweep-lq.shards"))
        .and_then(|l| l.split(" of ").nth(1))
        .and_then(|t| t.split_whitespace().next())
        .and_then(|t| t.parse().ok())
        .unwrap();
    assert!(n > 1, "{first}");
    let o = slurm(&cluster, "scontrol", &["hold", &format!("{array}_{n}")]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let shards = || -> Vec<PathBuf> {
        std::fs::read_dir(run.join("slurm/shards"))
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with("sweep-lq-")
            })
            .collect()
    };
    let markers = |shards: &[PathBuf]| -> Vec<String> {
        let mut v: Vec<String> = shards
            .iter()
            .flat_map(|d| std::fs::read_dir(d).unwrap().flatten())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".done"))
            .collect();
        v.sort();
        v
    };
    wait_for(
        "the unheld shards of sweep-lq",
        Duration::from_secs(600),
        || markers(&shards()).len() == n - 1,
    );
    let o = slurm(&cluster, "scancel", &[&array]);
    assert!(o.status.success());
    wait_for("the queue to empty", Duration::from_secs(900), || {
        queue_empty(&cluster)
    });
    let done_before = markers(&shards());
    assert_eq!(done_before.len(), n - 1, "{done_before:?}");
    let st = status(&cluster, &run);
    assert_eq!(st["sweep-lq"].0, "failed", "{st:?}");
    let words = st["sweep-lq"].1.clone().unwrap_or_default();
    assert!(
        words.starts_with(&format!("{}/{n} shards done", n - 1)) && words.contains("CANCELLED"),
        "{words}"
    );
    assert_eq!(
        st["report"].0, "failed",
        "its dependency was cancelled: {st:?}"
    );
    assert_eq!(st["train-lq"].0, "done", "{st:?}");

    // The same command: only sweep-lq's unfinished shards, its merge and
    // the report are submitted.
    let second = reproduce_slurm(&cluster, &exp, &run);
    let todo: Vec<String> = (1..=n)
        .filter(|i| !done_before.contains(&format!("{i}-of-{n}.done")))
        .map(|i| i.to_string())
        .collect();
    let submitted: Vec<&str> = second
        .lines()
        .filter(|l| {
            l.split_whitespace()
                .nth(1)
                .is_some_and(|id| id.chars().all(|c| c.is_ascii_digit()))
        })
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(
        submitted,
        ["sweep-lq.shards", "sweep-lq", "report"],
        "{second}"
    );
    let line = second
        .lines()
        .find(|l| l.starts_with("sweep-lq.shards"))
        .unwrap();
    let arr = line.split_whitespace().nth(3).unwrap();
    let listed: Vec<String> = arr
        .split(',')
        .flat_map(|p| match p.split_once('-') {
            Some((a, b)) => (a.parse::<usize>().unwrap()..=b.parse().unwrap())
                .map(|i| i.to_string())
                .collect::<Vec<_>>(),
            None => vec![p.to_string()],
        })
        .collect();
    assert_eq!(
        listed, todo,
        "only the unfinished shards run again: {second}"
    );
    wait_for("the resubmitted jobs", Duration::from_secs(900), || {
        queue_empty(&cluster)
    });

    // Every job of the resubmission completed; every stage is done.
    let st = status(&cluster, &run);
    assert!(
        st.values().all(|(s, _)| s == "done"),
        "{st:?}\n{}",
        logs(&run)
    );
    for name in ["sweep-lq.shards", "sweep-lq", "report"] {
        let id = job_id(&second, name).unwrap();
        let o = slurm(&cluster, "scontrol", &["-o", "show", "job", &id]);
        let text = String::from_utf8_lossy(&o.stdout);
        let states: Vec<&str> = text
            .split_whitespace()
            .filter_map(|w| w.strip_prefix("JobState="))
            .collect();
        assert!(
            !states.is_empty() && states.iter().all(|s| *s == "COMPLETED"),
            "job {name} ({id}): {states:?}\n{}",
            logs(&run)
        );
    }

    // Same outputs as the local run: identical sweep rows, identical model
    // and noise tensors (same binary and thread count), a report.
    for s in ["sweep-lq", "sweep-sce", "per-layer-lq", "per-layer-sce"] {
        let a = std::fs::read_to_string(local.join(s).join("results.jsonl")).unwrap();
        let b = std::fs::read_to_string(run.join(s).join("results.jsonl")).unwrap();
        assert!(!a.is_empty());
        assert_eq!(a, b, "{s}: rows differ from the local run");
    }
    for f in [
        "train-lq/model.safetensors",
        "train-sce/model.safetensors",
        "noise-lq/noise-class3-limit0.25.safetensors",
        "noise-lq/noise-class5-limit0.35.safetensors",
        "noise-sce/noise-class3-limit0.25.safetensors",
        "noise-sce/noise-class5-limit0.35.safetensors",
    ] {
        assert_eq!(tensors(&local.join(f)), tensors(&run.join(f)), "{f}");
    }
    // The noise stages kept what their shards trained (nothing retrained).
    for id in ["noise-lq", "noise-sce"] {
        let log = std::fs::read_dir(run.join("slurm/logs"))
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .find(|p| {
                let n = p.file_name().unwrap().to_string_lossy();
                n.starts_with(&format!("{id}-")) && !n.contains(".shards")
            })
            .unwrap_or_else(|| panic!("no log of {id}"));
        let text = std::fs::read_to_string(&log).unwrap();
        assert!(
            text.contains(&format!("{id}: gathered 2 noise(s) from its shards")),
            "{text}"
        );
    }
    let headings = |p: &Path| -> Vec<String> {
        std::fs::read_to_string(p.join("report.md"))
            .unwrap()
            .lines()
            .filter(|l| l.starts_with('#'))
            .map(str::to_string)
            .collect()
    };
    assert!(headings(&run).len() > 3);
    assert_eq!(
        headings(&local),
        headings(&run),
        "the report has the same sections"
    );
    assert!(run.join("report.html").is_file());

    // The daemons stop by their pid files.
    let pids: Vec<String> = ["munged", "slurmctld", "slurmd"]
        .iter()
        .map(|d| std::fs::read_to_string(cluster.dir.join(format!("{d}.pid"))).unwrap())
        .collect();
    cluster.stop();
    for p in pids {
        // Gone, or a zombie nobody reaped (a container without an init).
        let stat = std::fs::read_to_string(Path::new("/proc").join(p.trim()).join("stat"));
        let alive = stat.is_ok_and(|s| {
            s.rsplit_once(") ")
                .is_some_and(|(_, rest)| !rest.starts_with('Z'))
        });
        assert!(!alive, "daemon {} still running after stop", p.trim());
    }
}

const TINY: &str = r#"
[[model]]
name = "t"
hidden = [8]
steps = 10

[noise]
pairs = [[3, 0.25]]
steps = 5

[sweep]
methods = ["abs"]
ratios = "0:0.9:0.1"

[slurm]
time = "0:30:00"

[slurm.stage.sweep]
shards = 3
cpus-per-task = 2
"#;

#[test]
fn dry_run_writes_the_scripts_and_prints_the_plan_without_slurm() {
    let dir = tempfile::tempdir().unwrap();
    let exp = dir.path().join("tiny.toml");
    std::fs::write(&exp, TINY).unwrap();
    let run = dir.path().join("run");
    let o = common::parana()
        .arg("reproduce")
        .arg(&exp)
        .arg("--out")
        .arg(&run)
        .args([
            "--slurm",
            "--dry-run",
            "--allow-local-run-dir",
            "--partition",
            "cpu",
            "--sbatch-arg=--qos=short",
        ])
        // No Slurm needed for a dry run.
        .env("PATH", "/nonexistent")
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let names: Vec<&str> = out
        .lines()
        .filter(|l| l.split_whitespace().nth(1) == Some("-"))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(
        names,
        ["train-t", "noise-t", "sweep-t.shards", "sweep-t", "report"],
        "{out}"
    );
    assert!(out.contains("array 1-3 of 3 shards"), "{out}");
    assert!(
        out.contains("5 jobs (4 stage jobs, 1 arrays of 3 shard tasks)"),
        "{out}"
    );
    let shards = std::fs::read_to_string(run.join("slurm/sweep-t.shards.sbatch")).unwrap();
    for l in [
        "#SBATCH --array=1-3",
        "#SBATCH --partition=cpu",
        "#SBATCH --time=0:30:00",
        "#SBATCH --cpus-per-task=2",
        "#SBATCH --qos=short",
        "--job 'sweep-t' --shard \"$SLURM_ARRAY_TASK_ID/3\"",
    ] {
        assert!(shards.contains(l), "{l} not in\n{shards}");
    }
    let train = std::fs::read_to_string(run.join("slurm/train-t.sbatch")).unwrap();
    assert!(!train.contains("--cpus-per-task"), "{train}");
    assert!(train.contains("--job 'train-t'\n"), "{train}");
    // Nothing submitted, nothing recorded.
    assert!(!run.join("slurm/jobs.json").exists());
    assert!(!run.join("stages.json").exists());
}

#[test]
fn slurm_refuses_local_run_folders_and_bad_options() {
    let dir = tempfile::tempdir().unwrap();
    let exp = dir.path().join("tiny.toml");
    std::fs::write(&exp, TINY).unwrap();
    let run = dir.path().join("run");
    let go = |exp: &Path, extra: &[&str]| {
        common::parana()
            .arg("reproduce")
            .arg(exp)
            .arg("--out")
            .arg(&run)
            .args(extra)
            .output()
            .unwrap()
    };
    if dir.path().starts_with("/tmp") {
        common::assert_user_error(
            &go(&exp, &["--slurm", "--dry-run"]),
            "which the nodes of a cluster do not share",
        );
    }
    let o = go(&exp, &["--partition", "cpu"]);
    assert_eq!(o.status.code(), Some(2), "--partition needs --slurm");
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, TINY.replace("cpus-per-task = 2", "cpus-per-task = 0")).unwrap();
    let o = go(&bad, &["--slurm", "--dry-run", "--allow-local-run-dir"]);
    common::assert_user_error(&o, "at least 1");
    assert!(String::from_utf8_lossy(&o.stderr).contains("bad.toml"));
    std::fs::write(
        &bad,
        TINY.replace("[slurm.stage.sweep]", "[slurm.stage.swep]"),
    )
    .unwrap();
    let o = go(&bad, &["--slurm", "--dry-run", "--allow-local-run-dir"]);
    common::assert_user_error(&o, "[slurm.stage.swep]: no such stage");
}
