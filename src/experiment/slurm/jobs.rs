//! `RUN/slurm/jobs.json`: the Slurm jobs submitted for a run, by job name
//! (a stage id, or `ID.shards` for a sweep's array), each with its job id,
//! the stage key it was submitted for, its array indices, script and log
//! pattern. Rewritten atomically after every `sbatch`, so a submission cut
//! short still records what it submitted; `parana status` and the next
//! `--slurm` submission read it.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Value of `format` in `jobs.json`.
pub const FORMAT: &str = "parana-slurm-jobs";

/// One submitted job (or job array).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct JobRecord {
    /// The stage it runs (or whose shards it runs).
    pub stage: String,
    /// The stage's key when submitted.
    pub key: String,
    /// Slurm job id (of the array, for an array).
    pub job_id: String,
    /// Array indices (`1,3-4`) for an array of shards.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub array: Option<String>,
    /// Shards of the sweep, for an array.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shards: Option<usize>,
    /// The `sbatch` script.
    pub script: PathBuf,
    /// Its log (for an array, `…_*.out`: one per task).
    pub log: PathBuf,
    /// When it was submitted (RFC 3339).
    pub submitted: String,
}

/// Contents of `RUN/slurm/jobs.json`.
#[derive(Clone, Debug, Serialize, Deserialize, Default)]
pub struct JobsFile {
    /// Always `parana-slurm-jobs`.
    pub format: String,
    /// By job name.
    pub jobs: BTreeMap<String, JobRecord>,
}

/// Its path in `run`.
pub fn path(run: &Path) -> PathBuf {
    super::layout::dir(run).join("jobs.json")
}

impl JobsFile {
    /// Read it (empty when nothing was submitted).
    pub fn load(run: &Path) -> Result<JobsFile> {
        let p = path(run);
        let text = match std::fs::read_to_string(&p) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(JobsFile {
                    format: FORMAT.into(),
                    jobs: BTreeMap::new(),
                });
            }
            Err(e) => return Err(Error::io(&p, e)),
        };
        let f: JobsFile = serde_json::from_str(&text)
            .map_err(|e| Error::file(&p, format!("not a parana jobs file: {e}")))?;
        if f.format != FORMAT {
            return Err(Error::file(&p, "not a parana jobs file"));
        }
        Ok(f)
    }

    /// Write it atomically.
    pub fn save(&self, run: &Path) -> Result<()> {
        let s = serde_json::to_string_pretty(self).map_err(|e| Error::Other(e.to_string()))?;
        crate::io::write_atomic(&path(run), (s + "\n").as_bytes())
    }

    /// The jobs recorded for stage `id` with key `key` (its own job and
    /// its shards' array).
    pub fn of_stage<'a>(
        &'a self,
        id: &'a str,
        key: &'a str,
    ) -> impl Iterator<Item = &'a JobRecord> {
        self.jobs
            .values()
            .filter(move |j| j.stage == id && j.key == key)
    }
}
