//! `parana best`: the best-performance table of a sweep.

use super::Global;
use crate::error::{Error, Result};
use crate::experiment::sweep::results::Run;
use crate::report::best;
use std::path::PathBuf;

/// For each method, the ratio with the highest mean noisy accuracy while
/// clean accuracy stays >= --min-clean, beside the unpruned model.
#[derive(clap::Args, Debug)]
#[command(after_help = "Example:
  parana best --run run/ --min-clean 0.98    # prints Markdown; writes run/best.md and run/best.csv")]
pub struct BestArgs {
    /// Sweep run folder.
    #[arg(long)]
    run: PathBuf,
    /// Lowest clean accuracy allowed.
    #[arg(long, default_value_t = 0.98)]
    min_clean: f64,
}

pub(super) fn run(a: BestArgs, _g: Global) -> Result<()> {
    if !(0.0..=1.0).contains(&a.min_clean) {
        return Err(Error::input(format!(
            "--min-clean {} is outside [0, 1]",
            a.min_clean
        )));
    }
    let run = Run::load(&a.run)?;
    if run.rows.is_empty() {
        return Err(Error::file(&a.run, "holds no results yet"));
    }
    let s = &run.file.settings;
    let t = best::table(s, &run.rows, a.min_clean);
    let md = best::markdown(s, &t, a.min_clean);
    crate::io::write_atomic(&a.run.join("best.md"), md.as_bytes())?;
    crate::io::write_atomic(&a.run.join("best.csv"), best::csv(s, &t).as_bytes())?;
    print!("{md}");
    Ok(())
}
