//! `parana status`: the state of every stage of a run folder.

use super::Global;
use crate::error::{Error, Result};
use crate::experiment::status::{State, status};
use std::path::PathBuf;

/// Show every stage of a `parana reproduce` run: done, running,
/// interrupted, stale (other settings) or not started; with --slurm runs
/// also queued or failed, with the Slurm job id and log.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  parana status runs/quick
  parana status runs/robustness --json
An interrupted or not-started stage is run by the same `parana reproduce`
command; a stale one (recorded with other settings) is cleared and redone.
A run submitted with --slurm shows its jobs (squeue/sacct when on PATH); a
failed stage is resubmitted by the same --slurm command.")]
pub struct StatusArgs {
    /// Run folder written by `parana reproduce`.
    run: PathBuf,
    /// One JSON array of {id, state, seconds, runs, finished[, job, log, slurm]}.
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
        let secs = if s.state == State::Done && s.runs > 1 {
            // The interrupted runs' time is not known: say so.
            format!("{:.1}s (last of {} runs)", s.seconds, s.runs)
        } else if s.state == State::Done {
            format!("{:.1}s", s.seconds)
        } else {
            String::new()
        };
        let job = match (&s.job, &s.log) {
            (Some(j), Some(l)) if s.state != State::Done => format!(
                "  job {j}{} log {}",
                s.slurm
                    .as_deref()
                    .map(|d| format!(" ({d})"))
                    .unwrap_or_default(),
                l.display()
            ),
            (Some(j), _) => format!("  job {j}"),
            _ => String::new(),
        };
        println!(
            "{:<32} {:<12} {:>9}  {when}{job}",
            s.id,
            s.state.word(),
            secs
        );
    }
    let done = st.iter().filter(|s| s.state == State::Done).count();
    println!("{}: {done} of {} stages done", a.run.display(), st.len());
    Ok(())
}
