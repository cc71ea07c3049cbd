//! `parana status`: the state of every stage of a run folder.

use super::Global;
use crate::error::{Error, Result};
use crate::experiment::status::{State, status};
use std::path::PathBuf;

/// Show every stage of a `parana reproduce` run: done, running,
/// interrupted, stale (other settings) or not started.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  parana status runs/quick
  parana status runs/robustness --json
An interrupted or not-started stage is run by the same `parana reproduce`
command; a stale one (recorded with other settings) is cleared and redone.")]
pub struct StatusArgs {
    /// Run folder written by `parana reproduce`.
    run: PathBuf,
    /// One JSON array of {id, state, seconds, finished}.
    #[arg(long)]
    json: bool,
}

pub(super) fn run(a: StatusArgs, _g: Global) -> Result<()> {
    let st = status(&a.run)?;
    if a.json {
        let s = serde_json::to_string_pretty(&st).map_err(|e| Error::Other(e.to_string()))?;
        println!("{s}");
        return Ok(());
    }
    for s in &st {
        let when = s.finished.as_deref().unwrap_or("");
        let secs = if s.state == State::Done {
            format!("{:.1}s", s.seconds)
        } else {
            String::new()
        };
        println!("{:<32} {:<12} {:>9}  {when}", s.id, s.state.word(), secs);
    }
    let done = st.iter().filter(|s| s.state == State::Done).count();
    println!("{}: {done} of {} stages done", a.run.display(), st.len());
    Ok(())
}
