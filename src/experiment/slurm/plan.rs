//! The job graph of a run: one Slurm job per stage left to do, with an
//! `afterok` dependency on the jobs of the stages it reads, so independent
//! branches (models, seeds, datasets) run side by side; a sweep stage
//! (whole-net or per-layer) cut into N shards, and a noise suite cut into
//! its noises, becomes an array job (one task per shard not finished yet)
//! followed by the stage's own job, which gathers the shards into
//! `RUN/<id>` and finishes the stage as a local run would. Stages done in
//! `RUN/stages.json` with the same key get no job.

use super::config::Resources;
use super::layout;
use crate::error::Result;
use crate::experiment::cache::{StagesFile, Status};
use crate::experiment::config::Experiment;
use crate::experiment::reproduce::{select, statuses};
use crate::experiment::stage::{self, Kind, Stage};
use crate::experiment::sweep::results::Shard;
use std::collections::HashMap;
use std::path::Path;

/// Sweep items per shard when the file does not set `shards`.
pub const ITEMS_PER_SHARD: usize = 25;
/// At most this many shards by default.
pub const MAX_SHARDS: usize = 16;

/// What a job does.
#[derive(Clone, Debug, PartialEq)]
pub enum What {
    /// Runs its stage (for a sharded sweep: merges the shards, then
    /// computes whatever rows are still missing).
    Stage,
    /// Array of shards `todo` (1-based) of `n` of a sweep or noise stage.
    Shards {
        /// Shards of the sweep.
        n: usize,
        /// The shards not finished yet, each one array task.
        todo: Vec<usize>,
    },
}

/// One job of the plan.
#[derive(Clone, Debug)]
pub struct Job {
    /// Its name: the stage id, or `ID.shards`.
    pub name: String,
    /// Index of its stage in [`Plan::stages`].
    pub stage: usize,
    /// What it does.
    pub what: What,
    /// Indices (in [`Plan::jobs`]) of the jobs it waits for.
    pub deps: Vec<usize>,
    /// What it asks Slurm for.
    pub res: Resources,
}

/// The jobs of a run, in an order where every job comes after those it
/// waits for.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Every stage of the experiment, in plan order.
    pub stages: Vec<Stage>,
    /// Their states before submission.
    pub status: Vec<Status>,
    /// The jobs.
    pub jobs: Vec<Job>,
}

/// Default shard count of a sweep of `items` items.
pub fn default_shards(items: usize) -> usize {
    items.div_ceil(ITEMS_PER_SHARD).clamp(1, MAX_SHARDS)
}

/// Items of sweep stage `s` (groups × methods × ratios); the groups of a
/// per-layer sweep are its `layers` or every prunable layer of the model.
fn sweep_items(exp: &Experiment, s: &Stage) -> Result<usize> {
    let insts = exp.instances();
    let Some(inst) = s.model.and_then(|i| insts.get(i)) else {
        return Ok(1);
    };
    let Some(sec) = inst.sweep(exp, s.kind == Kind::PerLayer) else {
        return Ok(1);
    };
    let per = sec.methods()?.len() * sec.ratios()?.len();
    let groups = match (&sec.layers, s.kind) {
        (_, Kind::Sweep) => 1,
        (Some(l), _) => l.len(),
        (None, _) => {
            let m = crate::model::Model::new(inst.spec.arch()?, inst.spec.head()?);
            crate::prune::scores::prunable_layers(&m).len()
        }
    };
    Ok(per * groups.max(1))
}

/// Noises of noise stage `s`.
fn noise_count(exp: &Experiment, s: &Stage) -> Result<usize> {
    let insts = exp.instances();
    let Some(n) = s
        .model
        .and_then(|i| insts.get(i))
        .and_then(|i| i.noise(exp))
    else {
        return Ok(1);
    };
    Ok(n.configs()?.len().max(1))
}

/// The plan for running `exp` into `run` (only the stages `only` selects
/// and what they need, as `reproduce --only`); `cli` are the command-line
/// resource options.
pub fn plan(exp: &Experiment, run: &Path, only: Option<&str>, cli: &Resources) -> Result<Plan> {
    let stages = stage::plan(exp);
    let file = StagesFile::load(run)?;
    let status = statuses(&stages, &file, run);
    let runs = select(&stages, &status, only)?;
    let section = exp.slurm.clone().unwrap_or_default();
    let mut jobs: Vec<Job> = Vec::new();
    // The job of each stage (its own, the one others wait for).
    let mut job_of: HashMap<usize, usize> = HashMap::new();
    for (i, s) in stages.iter().enumerate() {
        if !runs[i] {
            continue;
        }
        let res = section.resources(&s.id, s.kind.name(), cli);
        res.check(&format!("[slurm] for stage {}", s.id))?;
        let deps: Vec<usize> = s
            .deps
            .iter()
            .filter_map(|d| job_of.get(d).copied())
            .collect();
        let mut own_deps = deps.clone();
        if matches!(s.kind, Kind::Sweep | Kind::PerLayer | Kind::Noise) {
            let n = match (res.shards, s.kind) {
                (Some(n), _) => n,
                // Noises are independent: one task per noise.
                (None, Kind::Noise) => noise_count(exp, s)?,
                (None, _) => default_shards(sweep_items(exp, s)?),
            };
            // A changed stage's old shards are under its old key: unused.
            let todo: Vec<usize> = (1..=n)
                .filter(|&k| !layout::shard_done(run, s, Shard { i: k, n }).exists())
                .collect();
            if n > 1 && !todo.is_empty() {
                jobs.push(Job {
                    name: format!("{}.shards", s.id),
                    stage: i,
                    what: What::Shards { n, todo },
                    deps,
                    res: res.clone(),
                });
                own_deps.push(jobs.len() - 1);
            }
        }
        jobs.push(Job {
            name: s.id.clone(),
            stage: i,
            what: What::Stage,
            deps: own_deps,
            res,
        });
        job_of.insert(i, jobs.len() - 1);
    }
    Ok(Plan {
        stages,
        status,
        jobs,
    })
}

/// Array indices as Slurm reads them: `1-3,5`.
pub fn array_spec(todo: &[usize]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut k = 0;
    while k < todo.len() {
        let start = todo[k];
        let mut end = start;
        while k + 1 < todo.len() && todo[k + 1] == end + 1 {
            k += 1;
            end = todo[k];
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
        k += 1;
    }
    parts.join(",")
}

/// The longest chain of jobs, if every job (and every array task) had its
/// own node: each stage takes `seconds[id]` (stages without a time take
/// 0), a sharded sweep's array takes its stage's time over N and its merge
/// job none. Returns the seconds and the job names along the chain.
pub fn critical_path(plan: &Plan, seconds: &HashMap<String, f64>) -> (f64, Vec<String>) {
    let mut finish = vec![0.0f64; plan.jobs.len()];
    let mut prev: Vec<Option<usize>> = vec![None; plan.jobs.len()];
    let sharded: Vec<bool> = (0..plan.stages.len())
        .map(|i| {
            plan.jobs
                .iter()
                .any(|j| j.stage == i && matches!(j.what, What::Shards { .. }))
        })
        .collect();
    for (k, j) in plan.jobs.iter().enumerate() {
        let s = &plan.stages[j.stage];
        let t = seconds.get(&s.id).copied().unwrap_or(0.0);
        let own = match &j.what {
            What::Shards { n, .. } => t / *n as f64,
            What::Stage if sharded[j.stage] => 0.0,
            What::Stage => t,
        };
        let (start, from) = j
            .deps
            .iter()
            .map(|&d| (finish[d], Some(d)))
            .fold((0.0, None), |a, b| if b.0 > a.0 { b } else { a });
        finish[k] = start + own;
        prev[k] = from;
    }
    let Some((mut at, &total)) = finish.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)) else {
        return (0.0, vec![]);
    };
    let mut chain = vec![plan.jobs[at].name.clone()];
    while let Some(p) = prev[at] {
        chain.push(plan.jobs[p].name.clone());
        at = p;
    }
    chain.reverse();
    (total, chain)
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXP: &str = r#"
[[model]]
name = "a"
hidden = [8]

[[model]]
name = "b"
hidden = [8]

[noise]
pairs = [[3, 0.25]]

[sweep]
ratios = "0:0.9:0.1"

[slurm]
time = "1:00:00"

[slurm.stage.sweep-b]
shards = 1
"#;

    fn exp(src: &str) -> Experiment {
        Experiment::parse(src, Path::new("t.toml")).unwrap()
    }

    fn names(p: &Plan, ids: &[usize]) -> Vec<String> {
        ids.iter().map(|&d| p.jobs[d].name.clone()).collect()
    }

    #[test]
    fn stages_become_jobs_waiting_for_what_they_read() {
        let dir = tempfile::tempdir().unwrap();
        let p = plan(&exp(EXP), dir.path(), None, &Resources::default()).unwrap();
        let by_name: HashMap<&str, &Job> = p.jobs.iter().map(|j| (j.name.as_str(), j)).collect();
        let job_names: Vec<&str> = p.jobs.iter().map(|j| j.name.as_str()).collect();
        assert_eq!(
            job_names,
            [
                "train-a",
                "noise-a",
                "sweep-a.shards",
                "sweep-a",
                "train-b",
                "noise-b",
                "sweep-b",
                "report"
            ]
        );
        // 1 method x 10 ratios: one shard by default would be no array;
        // the default sweep has abs, act and combined: 30 items, 2 shards.
        assert_eq!(
            by_name["sweep-a.shards"].what,
            What::Shards {
                n: 2,
                todo: vec![1, 2]
            }
        );
        assert_eq!(
            names(&p, &by_name["sweep-a.shards"].deps),
            ["train-a", "noise-a"]
        );
        assert_eq!(
            names(&p, &by_name["sweep-a"].deps),
            ["train-a", "noise-a", "sweep-a.shards"]
        );
        // shards = 1 for sweep-b: a single job.
        assert_eq!(names(&p, &by_name["sweep-b"].deps), ["train-b", "noise-b"]);
        assert_eq!(by_name["train-b"].deps, Vec::<usize>::new());
        assert_eq!(
            names(&p, &by_name["report"].deps),
            [
                "train-a", "noise-a", "sweep-a", "train-b", "noise-b", "sweep-b"
            ]
        );
        assert_eq!(by_name["noise-a"].res.time.as_deref(), Some("1:00:00"));
    }

    #[test]
    fn finished_stages_and_shards_are_left_out() {
        let dir = tempfile::tempdir().unwrap();
        let e = exp(EXP);
        let stages = stage::plan(&e);
        let mut f = StagesFile::load(dir.path()).unwrap();
        for s in stages.iter().filter(|s| s.id.ends_with("-a")) {
            if s.id != "sweep-a" {
                f.start(s, 0);
                f.finish(s, 1.0);
                std::fs::create_dir_all(dir.path().join(&s.id)).unwrap();
            }
        }
        f.save(dir.path()).unwrap();
        let sweep_a = stages.iter().find(|s| s.id == "sweep-a").unwrap();
        let done = layout::shard_done(dir.path(), sweep_a, Shard { i: 2, n: 2 });
        std::fs::create_dir_all(done.parent().unwrap()).unwrap();
        std::fs::write(&done, "").unwrap();
        let p = plan(&e, dir.path(), None, &Resources::default()).unwrap();
        let job_names: Vec<&str> = p.jobs.iter().map(|j| j.name.as_str()).collect();
        assert_eq!(
            job_names,
            [
                "sweep-a.shards",
                "sweep-a",
                "train-b",
                "noise-b",
                "sweep-b",
                "report"
            ]
        );
        assert_eq!(
            p.jobs[0].what,
            What::Shards {
                n: 2,
                todo: vec![1]
            }
        );
        assert!(p.jobs[0].deps.is_empty(), "its inputs are done");
    }

    #[test]
    fn arrays_and_the_critical_path() {
        assert_eq!(array_spec(&[1, 2, 3, 5, 7, 8]), "1-3,5,7-8");
        assert_eq!(array_spec(&[4]), "4");
        let dir = tempfile::tempdir().unwrap();
        let p = plan(&exp(EXP), dir.path(), None, &Resources::default()).unwrap();
        let secs: HashMap<String, f64> = [
            ("train-a", 10.0),
            ("noise-a", 20.0),
            ("sweep-a", 100.0),
            ("train-b", 10.0),
            ("noise-b", 20.0),
            ("sweep-b", 60.0),
            ("report", 1.0),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        // a: 10 + 20 + 100/2 = 80; b: 10 + 20 + 60 = 90; then the report.
        let (t, chain) = critical_path(&p, &secs);
        assert_eq!(t, 91.0);
        assert_eq!(chain, ["train-b", "noise-b", "sweep-b", "report"]);
    }
}
