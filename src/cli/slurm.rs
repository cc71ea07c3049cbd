//! The `--slurm` flags of `parana reproduce` and their output: the plan
//! (`--dry-run`) or the submitted job ids; and `--job ID [--shard I/N]`,
//! what the submitted jobs run.

use super::Global;
use crate::error::{Error, Result};
use crate::experiment::cache::StagesFile;
use crate::experiment::slurm::config::Resources;
use crate::experiment::slurm::plan::{What, array_spec, critical_path};
use crate::experiment::slurm::{job, submit};
use crate::experiment::sweep::results::Shard;
use std::path::{Path, PathBuf};

/// Slurm options of `parana reproduce`.
#[derive(clap::Args, Debug, Default)]
pub struct SlurmArgs {
    /// Submit the stages to Slurm as a job graph instead of running them (docs/cluster.md).
    #[arg(long)]
    pub slurm: bool,
    /// Slurm partition of every job.
    #[arg(long, requires = "slurm")]
    partition: Option<String>,
    /// Time limit of every job (30, 2:00:00, 1-12:00:00).
    #[arg(long, requires = "slurm")]
    time: Option<String>,
    /// CPUs of every job (and its thread count).
    #[arg(long, requires = "slurm")]
    cpus_per_task: Option<u32>,
    /// Memory of every job (4G).
    #[arg(long, requires = "slurm")]
    mem: Option<String>,
    /// Account charged.
    #[arg(long, requires = "slurm")]
    account: Option<String>,
    /// More sbatch options for every job (repeatable): --sbatch-arg=--qos=long.
    #[arg(long, requires = "slurm", allow_hyphen_values = true)]
    sbatch_arg: Vec<String>,
    /// The parana binary the jobs run (default: this one); every node must see it.
    #[arg(long, requires = "slurm")]
    parana: Option<PathBuf>,
    /// Accept a run folder under /tmp (only a one-node cluster shares it).
    #[arg(long, requires = "slurm")]
    allow_local_run_dir: bool,
    /// With --dry-run: estimate the critical path from the stage times of this finished run.
    #[arg(long, requires = "slurm")]
    times: Option<PathBuf>,
    /// (Run by the Slurm jobs.) Run this one stage; its inputs must be done.
    #[arg(long, hide = true, conflicts_with = "slurm")]
    pub job: Option<String>,
    /// (Run by the Slurm jobs.) With --job: this shard of the sweep stage.
    #[arg(long, hide = true, requires = "job")]
    shard: Option<String>,
}

pub(super) fn run(
    experiment: &Path,
    out: &Path,
    only: Option<String>,
    dry_run: bool,
    a: &SlurmArgs,
    g: Global,
) -> Result<()> {
    if let Some(id) = &a.job {
        if only.is_some() || dry_run {
            return Err(Error::input("--job runs one stage: no --only or --dry-run"));
        }
        let shard = a.shard.as_deref().map(Shard::parse).transpose()?;
        return job::run_job(experiment, out, id, shard, &mut |l| println!("{l}"));
    }
    if a.times.is_some() && !dry_run {
        return Err(Error::input(
            "--times is for --dry-run (the critical-path estimate)",
        ));
    }
    let opts = submit::Options {
        only,
        dry_run,
        resources: Resources {
            partition: a.partition.clone(),
            time: a.time.clone(),
            cpus_per_task: a.cpus_per_task,
            mem: a.mem.clone(),
            account: a.account.clone(),
            sbatch_args: a.sbatch_arg.clone(),
            shards: None,
        },
        parana: a.parana.clone(),
        allow_local_run_dir: a.allow_local_run_dir,
    };
    let o = submit::submit(experiment, out, &opts)?;
    let p = &o.plan;
    for (i, s) in p.stages.iter().enumerate() {
        if !g.quiet && !p.jobs.iter().any(|j| j.stage == i) {
            let what = match p.status[i] {
                crate::experiment::cache::Status::Cached => "done",
                _ => "not selected",
            };
            println!("{:<24} {:>8}  {what}", s.id, "-");
        }
    }
    for (j, sub) in p.jobs.iter().zip(&o.jobs) {
        let what = match &j.what {
            What::Stage => "stage".to_string(),
            What::Shards { n, todo } => format!("array {} of {n} shards", array_spec(todo)),
        };
        let after: Vec<&str> = j.deps.iter().map(|&d| p.jobs[d].name.as_str()).collect();
        let after = if after.is_empty() {
            String::new()
        } else {
            format!("after {}", after.join(","))
        };
        let id = sub.job_id.as_deref().unwrap_or("-");
        println!("{:<24} {id:>8}  {what:<24} {after}", j.name);
    }
    let arrays: Vec<usize> = p
        .jobs
        .iter()
        .filter_map(|j| match &j.what {
            What::Shards { todo, .. } => Some(todo.len()),
            What::Stage => None,
        })
        .collect();
    let deps: usize = p.jobs.iter().map(|j| j.deps.len()).sum();
    println!(
        "{} jobs ({} stage jobs, {} arrays of {} shard tasks), {deps} dependencies; scripts in {}",
        p.jobs.len(),
        p.jobs.len() - arrays.len(),
        arrays.len(),
        arrays.iter().sum::<usize>(),
        crate::experiment::slurm::layout::dir(
            &std::path::absolute(out).map_err(|e| Error::io(out, e))?
        )
        .display()
    );
    if let Some(t) = &a.times {
        let f = StagesFile::load(t)?;
        if f.stages.is_empty() {
            return Err(Error::file(t, "holds no stages.json with stage times"));
        }
        let secs = f
            .stages
            .iter()
            .filter(|(_, r)| r.done)
            .map(|(k, r)| (k.clone(), r.seconds))
            .collect();
        let (total, chain) = critical_path(p, &secs);
        println!(
            "critical path {:.0}s ({:.1} min) with a node per job, times from {}: {}",
            total,
            total / 60.0,
            t.display(),
            chain.join(" -> ")
        );
    }
    if !dry_run && !p.jobs.is_empty() {
        println!("follow with: parana status {}", out.display());
    }
    Ok(())
}
