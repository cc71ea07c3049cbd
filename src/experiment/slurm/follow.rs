//! How a run's stages stand in Slurm, for `parana status`: the jobs
//! recorded in `RUN/slurm/jobs.json` for each stage's current key, looked
//! up in the queue (`squeue`) and, once gone from it, in `sacct` or
//! `scontrol`: queued, running, or failed (left the queue with the stage
//! not done), with the job id, the log to read and, for a sharded sweep,
//! how many of its shards are done.

use super::jobs::{JobRecord, JobsFile};
use super::{layout, query};
use crate::error::Result;
use crate::experiment::stage::Stage;
use crate::experiment::sweep::results::Shard;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Where a stage's jobs are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Where {
    /// Some job of the stage is running.
    Running,
    /// Its jobs are waiting in the queue.
    Queued,
    /// Its jobs left the queue and the stage is not done.
    Ended,
    /// Slurm's commands are not here: nothing known.
    Unknown,
}

/// A stage's jobs.
#[derive(Clone, Debug)]
pub struct StageJobs {
    /// Where they are.
    pub at: Where,
    /// The job id to quote (the stage's own job, else its shards').
    pub job: String,
    /// The log to read (of the job that failed, when one did).
    pub log: PathBuf,
    /// Slurm's words: the states of the jobs that ended, or shards done.
    pub detail: Option<String>,
}

/// The Slurm side of a run (None when nothing was submitted).
pub struct Follow {
    jobs: JobsFile,
    queue: Option<HashMap<String, Vec<String>>>,
}

impl Follow {
    /// Read `RUN/slurm/jobs.json` and the queue.
    pub fn load(run: &Path) -> Result<Option<Follow>> {
        if !super::jobs::path(run).exists() {
            return Ok(None);
        }
        let jobs = JobsFile::load(run)?;
        let queue = query::queue();
        Ok(Some(Follow { jobs, queue }))
    }

    /// The jobs of stage `s` of the run folder `run`, if any were
    /// submitted; `done` when the stage is finished (no need to ask Slurm).
    pub fn stage(&self, run: &Path, s: &Stage, done: bool) -> Option<StageJobs> {
        let mut recs: Vec<&JobRecord> = self.jobs.of_stage(&s.id, &s.key).collect();
        // The shards' array first: it runs before the stage's own job.
        recs.sort_by_key(|r| r.shards.is_none());
        let own = recs.iter().find(|r| r.shards.is_none()).or(recs.first())?;
        let mut out = StageJobs {
            at: Where::Unknown,
            job: own.job_id.clone(),
            log: own.log.clone(),
            detail: None,
        };
        if done {
            return Some(out);
        }
        // How far a sharded sweep got: its shards' `.done` markers.
        let shards = recs.iter().find_map(|r| r.shards).map(|n| {
            let done = (1..=n)
                .filter(|&i| layout::shard_done(run, s, Shard { i, n }).exists())
                .count();
            format!("{done}/{n} shards done")
        });
        let Some(q) = &self.queue else {
            out.detail = shards;
            return Some(out);
        };
        let states: Vec<&String> = recs
            .iter()
            .filter_map(|r| q.get(&r.job_id))
            .flatten()
            .collect();
        if states.iter().any(|s| *s == "RUNNING" || *s == "COMPLETING") {
            out.at = Where::Running;
            if let Some(r) = recs.iter().find(|r| {
                q.get(&r.job_id)
                    .is_some_and(|v| v.iter().any(|s| s == "RUNNING"))
            }) {
                out.job = r.job_id.clone();
                out.log = r.log.clone();
            }
        } else if !states.is_empty() {
            out.at = Where::Queued;
        } else {
            out.at = Where::Ended;
            let mut words = Vec::new();
            let mut blamed = false;
            for r in &recs {
                let Some(e) = query::ended(&r.job_id) else {
                    continue;
                };
                // The log to read is the first job that did not complete.
                if !blamed && e.iter().any(|s| s != "COMPLETED") {
                    blamed = true;
                    out.job = r.job_id.clone();
                    out.log = r.log.clone();
                }
                let what = if r.shards.is_some() { "shards" } else { "job" };
                words.push(format!("{what} {}", e.join("/")));
            }
            if !words.is_empty() {
                out.detail = Some(words.join(", "));
            }
        }
        out.detail = match (shards, out.detail) {
            (Some(a), Some(b)) => Some(format!("{a}; {b}")),
            (a, b) => a.or(b),
        };
        Some(out)
    }
}
