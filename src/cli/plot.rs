//! `parana plot`: the figures of a sweep.

use super::Global;
use crate::error::{Error, Result};
use crate::experiment::sweep::results::Run;
use crate::report::plot;
use std::path::PathBuf;

/// Plot a sweep: accuracy against % pruned per method (clean and each
/// noise), per layer for per-layer sweeps, and the methods compared.
#[derive(clap::Args, Debug)]
#[command(after_help = "Example:
  parana plot --run run/    # writes run/sweep.svg and run/sweep.png")]
pub struct PlotArgs {
    /// Sweep run folder.
    #[arg(long)]
    run: PathBuf,
    /// Output file stem (default RUN/sweep): writes STEM.svg and STEM.png.
    #[arg(long)]
    out: Option<PathBuf>,
}

pub(super) fn run(a: PlotArgs, g: Global) -> Result<()> {
    let run = Run::load(&a.run)?;
    if run.rows.is_empty() {
        return Err(Error::file(&a.run, "holds no results yet"));
    }
    let stem = a.out.unwrap_or_else(|| a.run.join("sweep"));
    let s = &run.file.settings;
    let svg_path = stem.with_extension("svg");
    let png_path = stem.with_extension("png");
    crate::io::write_atomic(&svg_path, plot::svg(s, &run.rows)?.as_bytes())?;
    crate::io::write_atomic(&png_path, &plot::png(s, &run.rows)?)?;
    if !g.quiet {
        println!("{} {}", svg_path.display(), png_path.display());
    }
    Ok(())
}
