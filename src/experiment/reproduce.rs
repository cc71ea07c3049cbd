//! `parana reproduce`: run an experiment's stages in order into a run
//! folder, skipping those already done with the same key, continuing an
//! interrupted one in place, and clearing and re-running those whose
//! settings (or whose inputs) changed.
//!
//! The run folder holds `experiment.toml` (a copy of the experiment last
//! run), `stages.json` (see [`super::cache`]), one folder per stage, and
//! `report.md` / `report.html`.

use super::cache::{StagesFile, Status};
use super::config::Experiment;
use super::stage::{self, Kind, Stage};
use super::work;
use crate::data::Dataset;
use crate::error::{Error, Result};
use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

/// How to run.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Run only the stages with this id or kind (and the stages they need
    /// that are not done yet).
    pub only: Option<String>,
    /// List what would run and what is cached; run nothing, write nothing.
    pub dry_run: bool,
}

/// One stage in the plan of a run.
#[derive(Clone, Debug)]
pub struct Planned {
    /// Stage id (its folder).
    pub id: String,
    /// Its state before the run.
    pub status: Status,
    /// Whether this run runs it.
    pub runs: bool,
    /// First 12 hex digits of its key.
    pub key: String,
}

/// What the runner tells its caller.
#[derive(Clone, Debug)]
pub enum Event {
    /// The plan, before anything runs.
    Plan(Vec<Planned>),
    /// A stage starts.
    Begin {
        /// Stage id.
        id: String,
        /// Why it runs.
        status: Status,
    },
    /// Progress inside the running stage.
    Progress {
        /// Stage id.
        id: String,
        /// What it is doing.
        msg: String,
    },
    /// A stage finished.
    End {
        /// Stage id.
        id: String,
        /// Seconds it took.
        seconds: f64,
    },
}

/// What a run did.
#[derive(Clone, Debug)]
pub struct Summary {
    /// Stages run.
    pub ran: Vec<String>,
    /// Stages skipped because they were done.
    pub cached: Vec<String>,
    /// Stages not done and not run (left out by `--only`).
    pub not_selected: Vec<String>,
    /// Seconds in total.
    pub seconds: f64,
}

/// What a run does with each stage: as recorded, except that a done stage
/// whose folder has gone is run again.
pub(crate) fn statuses(stages: &[Stage], file: &StagesFile, run: &Path) -> Vec<Status> {
    stages
        .iter()
        .map(|s| match file.status(s) {
            Status::Cached if !run.join(&s.id).is_dir() => Status::New,
            st => st,
        })
        .collect()
}

/// Which stages run: those selected by `only` (all when None) that are not
/// done, and the stages they need that are not done.
pub(crate) fn select(stages: &[Stage], status: &[Status], only: Option<&str>) -> Result<Vec<bool>> {
    let mut runs = vec![false; stages.len()];
    if let Some(sel) = only
        && !stages.iter().any(|s| s.selected_by(sel))
    {
        let ids: Vec<&str> = stages.iter().map(|s| s.id.as_str()).collect();
        return Err(Error::input(format!(
            "--only {sel}: no such stage (stages: {}; or a kind: train, noise, attacks, sweep, per-layer, adaptive, sparse, report)",
            ids.join(", ")
        )));
    }
    // Walk backwards so a selected stage marks the stages it needs.
    let mut wanted: Vec<bool> = stages
        .iter()
        .map(|s| only.is_none_or(|sel| s.selected_by(sel)))
        .collect();
    for i in (0..stages.len()).rev() {
        if !wanted[i] {
            continue;
        }
        let st = &stages[i];
        let done = status[i] == Status::Cached;
        runs[i] = !done;
        if !done {
            for &d in &st.deps {
                // The report reads whatever is there; it needs nothing run.
                if st.kind != Kind::Report {
                    wanted[d] = true;
                }
            }
        }
    }
    Ok(runs)
}

pub(crate) fn remove_dir(dir: &Path) -> Result<()> {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(dir, e)),
    }
}

/// The dataset stage `s` of `exp` (read from `exp_path`) needs, loaded
/// into `datasets` the first time and kept there; None for stages without a
/// model.
pub(crate) fn dataset_for<'a>(
    exp: &Experiment,
    exp_path: &Path,
    s: &Stage,
    datasets: &'a mut HashMap<String, Dataset>,
) -> Result<Option<&'a Dataset>> {
    let insts = exp.instances();
    let Some(name) = s.model.and_then(|i| insts.get(i)).map(|i| &i.dataset) else {
        return Ok(None);
    };
    if !datasets.contains_key(name) {
        // A relative data_dir is relative to the experiment file.
        let dir = exp.data_dir.as_ref().map(|d| match exp_path.parent() {
            Some(p) if d.is_relative() => p.join(d),
            _ => d.clone(),
        });
        let d = Dataset::load(name, dir.as_deref(), None)?;
        datasets.insert(name.clone(), d);
    }
    Ok(datasets.get(name))
}

/// Run the experiment file `exp_path` into `run`.
pub fn reproduce(
    exp_path: &Path,
    run: &Path,
    opts: &Options,
    mut on_event: impl FnMut(Event),
) -> Result<Summary> {
    let t0 = Instant::now();
    let src = std::fs::read_to_string(exp_path).map_err(|e| Error::io(exp_path, e))?;
    let exp = Experiment::parse(&src, exp_path)?;
    if run.is_file() {
        return Err(Error::input(format!(
            "--out {} is a file; it must be a folder",
            run.display()
        )));
    }
    if run.is_dir()
        && !super::cache::path(run).exists()
        && std::fs::read_dir(run)
            .map_err(|e| Error::io(run, e))?
            .next()
            .is_some()
    {
        return Err(Error::file(
            run,
            "exists, is not empty and holds no stages.json; choose another --out",
        ));
    }
    let stages = stage::plan(&exp);
    let mut file = StagesFile::load(run)?;
    let status = statuses(&stages, &file, run);
    let runs = select(&stages, &status, opts.only.as_deref())?;
    on_event(Event::Plan(
        stages
            .iter()
            .zip(&runs)
            .zip(&status)
            .map(|((s, &r), &st)| Planned {
                id: s.id.clone(),
                status: st,
                runs: r,
                key: s.key[..12].to_string(),
            })
            .collect(),
    ));
    let mut summary = Summary {
        ran: vec![],
        cached: vec![],
        not_selected: vec![],
        seconds: 0.0,
    };
    for ((s, &r), &st) in stages.iter().zip(&runs).zip(&status) {
        match (r, st) {
            (true, _) => {}
            (false, Status::Cached) => summary.cached.push(s.id.clone()),
            (false, _) => summary.not_selected.push(s.id.clone()),
        }
    }
    if opts.dry_run {
        return Ok(summary);
    }
    // One process per run folder (lock_dir creates it).
    let _lock = crate::io::lock_dir(run)?;
    crate::io::write_atomic(&run.join("experiment.toml"), src.as_bytes())?;
    // Stages no longer in the experiment are forgotten (their folders stay).
    file.stages
        .retain(|id, _| stages.iter().any(|s| &s.id == id));
    file.save(run)?;
    // Datasets are loaded when a stage first needs them, and kept.
    let mut datasets: HashMap<String, Dataset> = HashMap::new();
    for (order, ((s, &r), &status)) in stages.iter().zip(&runs).zip(&status).enumerate() {
        if !r {
            continue;
        }
        // A changed stage starts afresh. A new stage's folder is cleared
        // too, except a sweep's: a sweep folder resumes only with the very
        // same settings (and refuses others), which lets sweeps run in
        // shards elsewhere be merged into RUN/sweep-M before the stage runs.
        let keeps = matches!(s.kind, Kind::Sweep | Kind::PerLayer);
        if status == Status::Changed || (status == Status::New && !keeps) {
            remove_dir(&run.join(&s.id))?;
        }
        on_event(Event::Begin {
            id: s.id.clone(),
            status,
        });
        file.start(s, order);
        file.save(run)?;
        let t = Instant::now();
        let data = dataset_for(&exp, exp_path, s, &mut datasets)?;
        std::fs::create_dir_all(run.join(&s.id)).map_err(|e| Error::io(run.join(&s.id), e))?;
        let id = s.id.clone();
        work::run_stage(&exp, s, run, data, &mut |msg| {
            on_event(Event::Progress {
                id: id.clone(),
                msg,
            })
        })?;
        let seconds = t.elapsed().as_secs_f64();
        file.finish(s, seconds);
        file.save(run)?;
        on_event(Event::End {
            id: s.id.clone(),
            seconds,
        });
        summary.ran.push(s.id.clone());
        crate::interrupt::check(|| {
            format!(
                "reproduction stopped after stage {}; run the same command to continue",
                s.id
            )
        })?;
    }
    summary.seconds = t0.elapsed().as_secs_f64();
    Ok(summary)
}
