//! `parana status`: the state of every stage of a run folder, read from
//! `RUN/experiment.toml` (the experiment last run there), `RUN/stages.json`
//! and the folder's writer lock, without changing anything: done, running
//! (a process holds the run's lock), interrupted (started, not finished,
//! nobody writing), stale (recorded with other settings) or not started.

use super::cache::StagesFile;
use super::config::Experiment;
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
    /// When it finished.
    pub finished: Option<String>,
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
            StageStatus {
                id: s.id,
                state,
                seconds: rec.filter(|r| r.done).map_or(0.0, |r| r.seconds),
                finished: rec.and_then(|r| r.finished.clone()),
            }
        })
        .collect())
}
