//! `parana status`: the state of every stage of a run folder, read from
//! `RUN/experiment.toml` (the experiment last run there), `RUN/stages.json`
//! and the folder's writer lock, without changing anything: done, running
//! (a process holds the run's lock), interrupted (started, not finished,
//! nobody writing), stale (recorded with other settings) or not started;
//! for a run submitted with `--slurm`, also queued, running or failed, with
//! the Slurm job id and its log ([`super::slurm::follow`]).

use super::cache::StagesFile;
use super::config::Experiment;
use super::slurm::follow::Where;
use super::stage;
use crate::error::{Error, Result};
use serde::Serialize;
use std::path::Path;

/// What has become of a stage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    /// Finished with the current settings.
    Done,
    /// Started with the current settings and a process is writing the run.
    Running,
    /// Started with the current settings, not finished, nobody writing: the
    /// same `parana reproduce` command continues it.
    Interrupted,
    /// Recorded with other settings: a run clears and redoes it.
    Stale,
    /// Never started.
    NotStarted,
    /// Its Slurm jobs wait in the queue.
    Queued,
    /// Its Slurm jobs left the queue without finishing it (failed,
    /// cancelled, timed out): the same `--slurm` command resubmits it.
    Failed,
}

impl State {
    /// Its word in listings.
    pub fn word(self) -> &'static str {
        match self {
            State::Done => "done",
            State::Running => "running",
            State::Interrupted => "interrupted",
            State::Stale => "stale",
            State::NotStarted => "not started",
            State::Queued => "queued",
            State::Failed => "failed",
        }
    }
}

/// One stage's line.
#[derive(Clone, Debug, Serialize)]
pub struct StageStatus {
    /// Stage id (its folder).
    pub id: String,
    /// Its state.
    pub state: State,
    /// Seconds of its last finished run (0 if none).
    pub seconds: f64,
    /// How many times it was started with its key: more than 1 when it
    /// was resumed, and then `seconds` counts the last run only.
    pub runs: u32,
    /// When it finished.
    pub finished: Option<String>,
    /// Its Slurm job id, when submitted with `--slurm`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job: Option<String>,
    /// That job's log.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log: Option<std::path::PathBuf>,
    /// What Slurm says of the jobs that ended (e.g. `job CANCELLED`), and
    /// for a sharded sweep how many shards are done (`2/3 shards done`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slurm: Option<String>,
}

/// The stages of the run folder `run`, in plan order.
pub fn status(run: &Path) -> Result<Vec<StageStatus>> {
    let exp_path = run.join("experiment.toml");
    if !exp_path.exists() {
        return Err(Error::file(
            run,
            "holds no experiment.toml: not a `parana reproduce` run folder",
        ));
    }
    let exp = Experiment::load(&exp_path)?;
    let file = StagesFile::load(run)?;
    let writing = crate::io::is_locked(run)?;
    let follow = super::slurm::follow::Follow::load(run)?;
    Ok(stage::plan(&exp)
        .into_iter()
        .map(|s| {
            let rec = file.stages.get(&s.id);
            let state = match rec {
                None => State::NotStarted,
                Some(r) if r.key != s.key => State::Stale,
                Some(r) if r.done => State::Done,
                Some(_) if writing => State::Running,
                Some(_) => State::Interrupted,
            };
            let jobs = follow
                .as_ref()
                .and_then(|f| f.stage(run, &s, state == State::Done));
            let state = match jobs.as_ref().map(|j| &j.at) {
                Some(Where::Running) => State::Running,
                Some(Where::Queued) => State::Queued,
                Some(Where::Ended) => State::Failed,
                Some(Where::Unknown) | None => state,
            };
            StageStatus {
                id: s.id,
                state,
                seconds: rec.filter(|r| r.done).map_or(0.0, |r| r.seconds),
                runs: rec.filter(|r| r.key == s.key).map_or(0, |r| r.runs),
                finished: rec.and_then(|r| r.finished.clone()),
                job: jobs.as_ref().map(|j| j.job.clone()),
                log: jobs.as_ref().map(|j| j.log.clone()),
                slurm: jobs.and_then(|j| j.detail),
            }
        })
        .collect())
}
