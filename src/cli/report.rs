//! `parana report`: (re)write the report of a `parana reproduce` run.

use super::Global;
use crate::error::Result;
use std::path::PathBuf;

/// Write RUN/report.md and a self-contained RUN/report.html from what the
/// stages of a run left (missing stages are left out).
#[derive(clap::Args, Debug)]
#[command(after_help = "Example:
  parana report runs/quick    # runs/quick/report.md, runs/quick/report.html")]
pub struct ReportArgs {
    /// Run folder written by `parana reproduce`.
    run: PathBuf,
}

pub(super) fn run(a: ReportArgs, g: Global) -> Result<()> {
    let w = crate::report::write(&a.run)?;
    if !g.quiet {
        println!("{} {}", w.markdown.display(), w.html.display());
    }
    Ok(())
}
