//! `parana reproduce EXP --out RUN --slurm`: check the run folder, build
//! the [plan](super::plan), write every job's script under `RUN/slurm/`,
//! and (unless a dry run) submit them in order with `sbatch --parsable
//! --dependency=afterok:…`, recording each job id in `RUN/slurm/jobs.json`
//! as soon as it is known. Refuses while jobs of an earlier submission are
//! still in the queue, so resubmitting never runs a stage twice at once.

use super::config::Resources;
use super::jobs::{JobRecord, JobsFile};
use super::plan::{Plan, What, plan};
use super::script::{self, Context};
use super::{layout, query};
use crate::error::{Error, Result};
use crate::experiment::config::Experiment;
use std::path::{Path, PathBuf};
use std::process::Command;

/// How to submit.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// As `reproduce --only`.
    pub only: Option<String>,
    /// Write the scripts and return the plan; submit nothing.
    pub dry_run: bool,
    /// Command-line resources (below `[slurm.stage.X]`, above `[slurm]`).
    pub resources: Resources,
    /// The parana binary the jobs run (default: this one).
    pub parana: Option<PathBuf>,
    /// Accept a run folder under /tmp (not shared between nodes).
    pub allow_local_run_dir: bool,
}

/// One submitted (or, in a dry run, planned) job.
#[derive(Clone, Debug)]
pub struct Submitted {
    /// Job name.
    pub name: String,
    /// Its job id (None in a dry run).
    pub job_id: Option<String>,
}

/// What a submission did.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// The plan.
    pub plan: Plan,
    /// Per job of the plan.
    pub jobs: Vec<Submitted>,
    /// Scripts written.
    pub scripts: Vec<PathBuf>,
}

/// Folders that are not shared between the nodes of a cluster.
const LOCAL_DIRS: [&str; 3] = ["/tmp", "/var/tmp", "/dev/shm"];

fn absolute(p: &Path) -> Result<PathBuf> {
    std::path::absolute(p).map_err(|e| Error::io(p, e))
}

/// Run `sbatch --parsable [--dependency=afterok:…] script`; its job id.
fn sbatch(script: &Path, after: &[String]) -> Result<String> {
    let mut c = Command::new("sbatch");
    c.arg("--parsable");
    if !after.is_empty() {
        c.arg(format!("--dependency=afterok:{}", after.join(":")));
    }
    c.arg(script);
    let o = c.output().map_err(|e| {
        Error::input(format!(
            "cannot run sbatch ({e}): --slurm needs Slurm's commands on PATH (a login node)"
        ))
    })?;
    let out = String::from_utf8_lossy(&o.stdout);
    // `--parsable` prints `id` or `id;cluster`.
    let id = out.trim().split(';').next().unwrap_or("").to_string();
    if !o.status.success() || id.is_empty() || !id.chars().all(|c| c.is_ascii_digit()) {
        return Err(Error::Other(format!(
            "sbatch {} failed: {}",
            script.display(),
            String::from_utf8_lossy(&o.stderr).trim()
        )));
    }
    Ok(id)
}

/// Refuse a `[slurm]` table with values `sbatch` would misread or a
/// `[slurm.stage.X]` that names no stage id or kind of the experiment.
fn check_section(exp: &Experiment, exp_path: &Path) -> Result<()> {
    let Some(sec) = &exp.slurm else {
        return Ok(());
    };
    sec.all
        .check("[slurm]")
        .map_err(|e| Error::file(exp_path, e.to_string()))?;
    let stages = crate::experiment::stage::plan(exp);
    for (name, r) in &sec.stage {
        let what = format!("[slurm.stage.{name}]");
        if !stages.iter().any(|s| s.selected_by(name)) {
            let ids: Vec<&str> = stages.iter().map(|s| s.id.as_str()).collect();
            return Err(Error::file(
                exp_path,
                format!(
                    "{what}: no such stage (stages: {}; or a kind: train, noise, attacks, decouple, \
                     sweep, per-layer, adaptive, sparse, report)",
                    ids.join(", ")
                ),
            ));
        }
        r.check(&what)
            .map_err(|e| Error::file(exp_path, e.to_string()))?;
    }
    Ok(())
}

/// Submit (or plan) `exp_path` into `run`.
pub fn submit(exp_path: &Path, run: &Path, opts: &Options) -> Result<Outcome> {
    let src = std::fs::read_to_string(exp_path).map_err(|e| Error::io(exp_path, e))?;
    let exp = Experiment::parse(&src, exp_path)?;
    check_section(&exp, exp_path)?;
    opts.resources.check("--slurm options")?;
    let run = absolute(run)?;
    if !opts.allow_local_run_dir
        && let Some(d) = LOCAL_DIRS.iter().find(|d| run.starts_with(d))
    {
        return Err(Error::file(
            &run,
            format!(
                "is under {d}, which the nodes of a cluster do not share; put the run on a \
                 shared filesystem (or pass --allow-local-run-dir for a one-node cluster)"
            ),
        ));
    }
    if run.is_file() {
        return Err(Error::file(&run, "is a file; --out must be a folder"));
    }
    if run.is_dir()
        && !crate::experiment::cache::path(&run).exists()
        && std::fs::read_dir(&run)
            .map_err(|e| Error::io(&run, e))?
            .flatten()
            .any(|e| e.file_name() != "slurm")
    {
        return Err(Error::file(
            &run,
            "exists, is not empty and holds no stages.json; choose another --out",
        ));
    }
    if crate::io::is_locked(&run)? {
        return Err(Error::file(
            &run,
            "a local `parana reproduce` is writing this run; wait for it to end",
        ));
    }
    let plan = plan(&exp, &run, opts.only.as_deref(), &opts.resources)?;
    let mut record = JobsFile::load(&run)?;
    if !opts.dry_run {
        // Jobs of an earlier submission still queued or running.
        let queue = query::queue().ok_or_else(|| {
            Error::input("cannot run squeue: --slurm needs Slurm's commands on PATH (a login node)")
        })?;
        let mut active: Vec<String> = record
            .jobs
            .values()
            .filter(|j| queue.contains_key(&j.job_id))
            .map(|j| j.job_id.clone())
            .collect();
        active.sort();
        active.dedup();
        if !active.is_empty() {
            return Err(Error::input(format!(
                "jobs of this run are still in Slurm's queue ({}): wait for them (parana status {}) \
                 or scancel them, then run the same command again",
                active.join(" "),
                run.display()
            )));
        }
    }
    let parana = match &opts.parana {
        Some(p) => absolute(p)?,
        None => std::env::current_exe().map_err(|e| Error::Other(e.to_string()))?,
    };
    let cx = Context {
        parana,
        experiment: absolute(exp_path)?,
        run: run.clone(),
        workdir: std::env::current_dir().map_err(|e| Error::Other(e.to_string()))?,
    };
    let logs = layout::logs(&run);
    std::fs::create_dir_all(&logs).map_err(|e| Error::io(&logs, e))?;
    if !opts.dry_run {
        // What `parana status` reads; stages no longer in the experiment
        // are forgotten, as a local run does.
        crate::io::write_atomic(&run.join("experiment.toml"), src.as_bytes())?;
        crate::experiment::cache::StagesFile::update(&run, |f| {
            f.stages
                .retain(|id, _| plan.stages.iter().any(|s| &s.id == id))
        })?;
    }
    let mut scripts = Vec::new();
    for j in &plan.jobs {
        let p = script::path(&run, j);
        let text = script::script(&cx, j, &plan.stages[j.stage].id);
        crate::io::write_atomic(&p, text.as_bytes())?;
        scripts.push(p);
    }
    let mut jobs: Vec<Submitted> = plan
        .jobs
        .iter()
        .map(|j| Submitted {
            name: j.name.clone(),
            job_id: None,
        })
        .collect();
    if !opts.dry_run {
        for (k, j) in plan.jobs.iter().enumerate() {
            let after: Vec<String> = j
                .deps
                .iter()
                .filter_map(|&d| jobs[d].job_id.clone())
                .collect();
            let id = sbatch(&scripts[k], &after)?;
            let s = &plan.stages[j.stage];
            let (array, shards) = match &j.what {
                What::Stage => (None, None),
                What::Shards { n, todo } => (Some(super::plan::array_spec(todo)), Some(*n)),
            };
            record.jobs.insert(
                j.name.clone(),
                JobRecord {
                    stage: s.id.clone(),
                    key: s.key.clone(),
                    job_id: id.clone(),
                    array,
                    shards,
                    script: scripts[k].clone(),
                    log: script::log_of(&run, j, &id),
                    submitted: humantime::format_rfc3339_seconds(std::time::SystemTime::now())
                        .to_string(),
                },
            );
            // A sharded stage now submitted whole (or the reverse) keeps
            // no record of the other form.
            if j.what == What::Stage {
                let other = format!("{}.shards", s.id);
                if !plan.jobs.iter().any(|x| x.name == other) {
                    record.jobs.remove(&other);
                }
            }
            record.format = super::jobs::FORMAT.into();
            record.save(&run)?;
            jobs[k].job_id = Some(id);
        }
    }
    Ok(Outcome {
        plan,
        jobs,
        scripts,
    })
}
