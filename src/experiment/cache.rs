//! `RUN/stages.json`: what each stage of a run was last run with (its key),
//! whether it finished, and how long it took. Rewritten atomically before a
//! stage starts and after it ends, so an interrupted run knows which stage
//! to continue and a re-run knows which stages it may skip.

use super::stage::Stage;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Value of `format` in `stages.json`.
pub const FORMAT: &str = "parana-stages";

/// One stage's record.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Record {
    /// The stage's key when it was (last) started.
    pub key: String,
    /// Whether it finished with that key.
    pub done: bool,
    /// Seconds of its last (finishing) run: of the part after the last
    /// resume when `runs` > 1.
    pub seconds: f64,
    /// How many times it was started with this key (1, or more when it was
    /// interrupted and resumed; the time of interrupted runs is not known).
    #[serde(default = "one")]
    pub runs: u32,
    /// When it finished (RFC 3339).
    #[serde(default)]
    pub finished: Option<String>,
    /// Order in the plan (for the report).
    #[serde(default)]
    pub order: usize,
}

fn one() -> u32 {
    1
}

/// Contents of `RUN/stages.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StagesFile {
    /// Always `parana-stages`.
    pub format: String,
    /// parana version that last wrote it.
    pub parana_version: String,
    /// Per stage id.
    pub stages: BTreeMap<String, Record>,
}

/// What a run will do with a stage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Done with the same key: skipped.
    Cached,
    /// Started with the same key and interrupted: continued in place.
    Resume,
    /// Never run: run.
    New,
    /// Done or started with another key: its folder is cleared and it is run.
    Changed,
}

impl Status {
    /// Short word for listings.
    pub fn word(self) -> &'static str {
        match self {
            Status::Cached => "cached",
            Status::Resume => "resume",
            Status::New => "run",
            Status::Changed => "rerun (settings changed)",
        }
    }
}

/// The path of `stages.json` in `run`.
pub fn path(run: &Path) -> PathBuf {
    run.join("stages.json")
}

impl StagesFile {
    /// Read `RUN/stages.json` (an empty record when the run is new).
    pub fn load(run: &Path) -> Result<StagesFile> {
        let p = path(run);
        let text = match std::fs::read_to_string(&p) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(StagesFile {
                    format: FORMAT.into(),
                    parana_version: env!("CARGO_PKG_VERSION").into(),
                    stages: BTreeMap::new(),
                });
            }
            Err(e) => return Err(Error::io(&p, e)),
        };
        let f: StagesFile = serde_json::from_str(&text)
            .map_err(|e| Error::file(&p, format!("not a parana stages file: {e}")))?;
        if f.format != FORMAT {
            return Err(Error::file(&p, "not a parana stages file"));
        }
        Ok(f)
    }

    /// Write it atomically.
    pub fn save(&self, run: &Path) -> Result<()> {
        let s = serde_json::to_string_pretty(self).map_err(|e| Error::Other(e.to_string()))?;
        crate::io::write_atomic(&path(run), (s + "\n").as_bytes())
    }

    /// Read, change with `f` and write `RUN/stages.json` while holding
    /// `RUN/.stages.lock`, so jobs running stages of one run at the same
    /// time (under Slurm) never lose each other's records.
    pub fn update(run: &Path, f: impl FnOnce(&mut StagesFile)) -> Result<()> {
        let _lock = crate::io::lock_wait(&run.join(".stages.lock"))?;
        let mut file = StagesFile::load(run)?;
        f(&mut file);
        file.save(run)
    }

    /// What a run does with `stage`.
    pub fn status(&self, stage: &Stage) -> Status {
        match self.stages.get(&stage.id) {
            None => Status::New,
            Some(r) if r.key != stage.key => Status::Changed,
            Some(r) if r.done => Status::Cached,
            Some(_) => Status::Resume,
        }
    }

    /// Record that `stage` starts (not done); a resumed start counts one
    /// more run.
    pub fn start(&mut self, stage: &Stage, order: usize) {
        let runs = match self.stages.get(&stage.id) {
            Some(r) if r.key == stage.key && !r.done => r.runs + 1,
            _ => 1,
        };
        self.stages.insert(
            stage.id.clone(),
            Record {
                key: stage.key.clone(),
                done: false,
                seconds: 0.0,
                runs,
                finished: None,
                order,
            },
        );
    }

    /// Record that `stage` finished in `seconds`.
    pub fn finish(&mut self, stage: &Stage, seconds: f64) {
        if let Some(r) = self.stages.get_mut(&stage.id) {
            r.done = true;
            r.seconds = seconds;
            r.finished =
                Some(humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string());
        }
    }
}
