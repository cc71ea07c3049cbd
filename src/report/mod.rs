//! What a study shows: the best-performance table ([`best`]), the sweep
//! and sparse-speed plots ([`plot`], [`sparse_plot`]), and the report of a
//! `parana reproduce` run: `RUN/report.md` (figures as SVG
//! files in `RUN/report/`) and a self-contained `RUN/report.html` (the same
//! figures inline), built from what the stages wrote: the models and their
//! clean accuracy, the noise images and robustness, the sweep panels (whole
//! net and per layer), `lq` against `sce`, the best table beside the
//! article's, FGSM/PGD robust accuracy, sparse speed-ups, the run time of
//! every stage, versions and seeds. Missing stages are left out, so a
//! report can be written from a partial run.

/// The version of what the report says from given numbers (its rules and
/// sections). It is part of the `report` stage's key, so bumping it when
/// the Findings rules or the sections change makes `parana reproduce`
/// rewrite the report of an existing run (a second or so) while every
/// other stage stays cached.
pub const RULES: u32 = 11;

pub mod article;
pub mod band_plot;
pub mod best;
mod compare;
pub mod doc;
mod evidence;
pub mod figures;
pub mod findings;
#[cfg(test)]
mod fixtures;
mod masking;
mod outputs;
pub mod plot;
pub mod replicates;
pub mod sections;
pub mod sparse_plot;
pub mod stats;

use crate::error::Result;
use std::path::{Path, PathBuf};

pub use sections::build;

/// Paths a report was written to.
#[derive(Clone, Debug)]
pub struct Written {
    /// `RUN/report.md`.
    pub markdown: PathBuf,
    /// `RUN/report.html`.
    pub html: PathBuf,
}

/// Build the report of `run` and write `report.md`, `report.html` and the
/// figures in `report/`.
pub fn write(run: &Path) -> Result<Written> {
    let (d, title) = build(run)?;
    let fig_dir = run.join("report");
    for (file, svg) in d.figures() {
        crate::io::write_atomic(&fig_dir.join(file), svg.as_bytes())?;
    }
    let w = Written {
        markdown: run.join("report.md"),
        html: run.join("report.html"),
    };
    crate::io::write_atomic(&w.markdown, d.markdown("report").as_bytes())?;
    crate::io::write_atomic(&w.html, d.html(&title).as_bytes())?;
    Ok(w)
}
