//! A sweep's folder: `sweep.json` (settings, model SHA-256, shard),
//! `results.jsonl` (one [`Row`] per line) and `results.csv` (the same rows
//! flat), both rewritten atomically after every row so an interrupted sweep
//! loses nothing it recorded and resumes where it stopped.

use super::{Row, Settings};
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// Value of `format` in `sweep.json`.
pub const FORMAT: &str = "parana-sweep";

/// Contents of `RUN/sweep.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SweepFile {
    /// Always `parana-sweep`.
    pub format: String,
    /// The model file as given (informative; its SHA-256 is in settings).
    pub model: String,
    /// `i/n` when this folder holds one shard's rows.
    pub shard: Option<String>,
    /// What determines the rows.
    pub settings: Settings,
}

/// `--shard i/n` (1-based: `1/4` … `4/4`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// 1-based index.
    pub i: usize,
    /// Number of shards.
    pub n: usize,
}

impl Shard {
    /// Parse `i/n` with 1 <= i <= n.
    pub fn parse(s: &str) -> Result<Shard> {
        let bad = || {
            Error::input(format!(
                "bad --shard '{s}' (expected i/n with 1 <= i <= n, e.g. 2/4)"
            ))
        };
        let (a, b) = s.split_once('/').ok_or_else(bad)?;
        let (i, n): (usize, usize) = (
            a.trim().parse().map_err(|_| bad())?,
            b.trim().parse().map_err(|_| bad())?,
        );
        if n == 0 || i == 0 || i > n {
            return Err(bad());
        }
        Ok(Shard { i, n })
    }

    /// Whether item number `k` (in settings order) belongs to this shard.
    pub fn takes(&self, k: usize) -> bool {
        k % self.n == self.i - 1
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.i, self.n)
    }
}

/// An open sweep folder.
pub struct Run {
    /// The folder.
    pub dir: PathBuf,
    /// Its `sweep.json`.
    pub file: SweepFile,
    /// Rows recorded so far.
    pub rows: Vec<Row>,
}

fn read_json(dir: &Path) -> Result<SweepFile> {
    let p = dir.join("sweep.json");
    let text = std::fs::read_to_string(&p).map_err(|e| Error::io(&p, e))?;
    let f: SweepFile = serde_json::from_str(&text)
        .map_err(|e| Error::file(&p, format!("not a parana sweep file: {e}")))?;
    if f.format != FORMAT {
        return Err(Error::file(&p, "not a parana sweep file"));
    }
    Ok(f)
}

fn read_rows(dir: &Path) -> Result<Vec<Row>> {
    crate::io::read_jsonl(&dir.join("results.jsonl"))
}

/// The first setting in which `a` and `b` differ, for error messages.
fn first_difference(a: &Settings, b: &Settings) -> String {
    if a.model_sha256 != b.model_sha256 {
        return format!(
            "a different model (SHA-256 {}…, this one {}…)",
            &a.model_sha256[..a.model_sha256.len().min(12)],
            &b.model_sha256[..b.model_sha256.len().min(12)]
        );
    }
    let (va, vb) = (serde_json::to_value(a), serde_json::to_value(b));
    if let (Ok(serde_json::Value::Object(va)), Ok(serde_json::Value::Object(vb))) = (va, vb) {
        for (k, x) in &va {
            if vb.get(k) != Some(x) {
                return format!("different {k}");
            }
        }
    }
    "different settings".into()
}

impl Run {
    /// Open `dir` for `file`'s sweep: create it, or (resuming) check it was
    /// made with the same model, settings and shard and load its rows.
    pub fn open_or_create(dir: &Path, file: SweepFile) -> Result<Run> {
        if dir.join("sweep.json").exists() {
            let old = read_json(dir)?;
            if old.settings != file.settings {
                return Err(Error::file(
                    dir,
                    format!(
                        "was made with {}; use another --out or the same settings to resume",
                        first_difference(&old.settings, &file.settings)
                    ),
                ));
            }
            if old.shard != file.shard {
                return Err(Error::file(
                    dir,
                    format!(
                        "holds shard {}, not {}",
                        old.shard.as_deref().unwrap_or("(all)"),
                        file.shard.as_deref().unwrap_or("(all)")
                    ),
                ));
            }
            let rows = read_rows(dir)?;
            return Ok(Run {
                dir: dir.to_path_buf(),
                file: old,
                rows,
            });
        }
        if dir.exists() && !crate::io::holds_only_parana_files(dir)? {
            return Err(Error::file(
                dir,
                "exists, is not empty and holds no sweep.json; choose another --out",
            ));
        }
        let run = Run {
            dir: dir.to_path_buf(),
            file,
            rows: Vec::new(),
        };
        run.write_settings()?;
        run.write_rows()?;
        Ok(run)
    }

    /// Open an existing sweep folder read-only.
    pub fn load(dir: &Path) -> Result<Run> {
        if !dir.join("sweep.json").exists() {
            return Err(Error::file(dir, "holds no sweep.json: not a sweep folder"));
        }
        Ok(Run {
            dir: dir.to_path_buf(),
            file: read_json(dir)?,
            rows: read_rows(dir)?,
        })
    }

    /// Keys of the recorded rows.
    pub fn done(&self) -> HashSet<(String, String, String)> {
        self.rows.iter().map(Row::key).collect()
    }

    /// Record a row (both results files rewritten atomically).
    pub fn record(&mut self, row: Row) -> Result<()> {
        self.rows.push(row);
        self.write_rows()
    }

    fn write_settings(&self) -> Result<()> {
        let s =
            serde_json::to_string_pretty(&self.file).map_err(|e| Error::Other(e.to_string()))?;
        crate::io::write_atomic(&self.dir.join("sweep.json"), (s + "\n").as_bytes())
    }

    /// Rewrite `results.jsonl` and `results.csv`.
    pub fn write_rows(&self) -> Result<()> {
        crate::io::write_jsonl(&self.dir.join("results.jsonl"), &self.rows)?;
        crate::io::write_atomic(
            &self.dir.join("results.csv"),
            csv(&self.file.settings, &self.rows).as_bytes(),
        )
    }
}

/// The rows as CSV: group, method, ratio, clean, mean noisy, then
/// `acc_<noise>` and `fooled_<noise>` per noise, `remaining_<layer>` per
/// prunable layer.
pub fn csv(s: &Settings, rows: &[Row]) -> String {
    let mut out = String::from("group,method,ratio,clean_accuracy,mean_noisy_accuracy");
    for n in &s.noises {
        out += &format!(",acc_{}", n.name);
    }
    for n in &s.noises {
        out += &format!(",fooled_{}", n.name);
    }
    for k in 0..s.layer_weights.len() {
        out += &format!(",remaining_layer{k}");
    }
    out.push('\n');
    for r in rows {
        out += &format!(
            "{},{},{},{:.4},{:.4}",
            r.group, r.method, r.ratio, r.clean, r.mean_noisy
        );
        for v in r.noisy.iter().chain(&r.fooled) {
            out += &format!(",{v:.4}");
        }
        for v in &r.remaining {
            out += &format!(",{v}");
        }
        out.push('\n');
    }
    out
}

/// Join the rows of shard folders `runs` (same settings) into a new folder
/// `out`, in settings order, each (group, method, ratio) once.
pub fn merge(runs: &[Run], out: &Path, model: &str) -> Result<Run> {
    let Some(first) = runs.first() else {
        return Err(Error::input("sweep merge needs at least one sweep folder"));
    };
    for r in &runs[1..] {
        if r.file.settings != first.file.settings {
            return Err(Error::file(
                &r.dir,
                format!(
                    "was made with {} than {}",
                    first_difference(&first.file.settings, &r.file.settings),
                    first.dir.display()
                ),
            ));
        }
    }
    let s = &first.file.settings;
    let mut by_key = std::collections::HashMap::new();
    for r in runs {
        for row in &r.rows {
            by_key.entry(row.key()).or_insert_with(|| row.clone());
        }
    }
    let rows: Vec<Row> = s
        .items()
        .iter()
        .filter_map(|it| by_key.remove(&s.key(it)))
        .collect();
    let mut run = Run::open_or_create(
        out,
        SweepFile {
            format: FORMAT.into(),
            model: model.into(),
            shard: None,
            settings: s.clone(),
        },
    )?;
    let done = run.done();
    run.rows
        .extend(rows.into_iter().filter(|r| !done.contains(&r.key())));
    run.write_rows()?;
    Ok(run)
}
