//! What a Slurm job runs: `parana reproduce EXP --out RUN --job ID` runs
//! the one stage ID (its inputs must be done), and `--job ID --shard I/N`
//! one shard of sweep or noise stage ID into `RUN/slurm/shards/…`. Several jobs
//! write one run at once, so a job holds a lock on its stage only, and
//! records the stage's start and end in `RUN/stages.json` under that file's
//! lock ([`StagesFile::update`]). A sweep stage's own job first merges its
//! finished shards into `RUN/ID`, then runs the stage as a local run does,
//! which finds those rows recorded and computes only what is missing, so
//! the stage folder ends up as a local run leaves it.

use super::layout;
use crate::attack::suite;
use crate::error::{Error, Result};
use crate::experiment::cache::{StagesFile, Status};
use crate::experiment::config::Experiment;
use crate::experiment::reproduce::{dataset_for, remove_dir};
use crate::experiment::stage::{self, Kind};
use crate::experiment::sweep::results::{self, Run, Shard};
use crate::experiment::sweep::run as sweep_run;
use crate::experiment::work;
use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

/// Run stage `id` of the experiment at `exp_path` into `run` (or, with
/// `shard`, that shard of the sweep stage `id`); `say` prints a line.
pub fn run_job(
    exp_path: &Path,
    run: &Path,
    id: &str,
    shard: Option<Shard>,
    say: &mut dyn FnMut(String),
) -> Result<()> {
    let exp = Experiment::load(exp_path)?;
    let stages = stage::plan(&exp);
    let Some((order, s)) = stages.iter().enumerate().find(|(_, s)| s.id == id) else {
        return Err(Error::input(format!("--job {id}: no such stage")));
    };
    if crate::io::is_locked(run)? {
        return Err(Error::file(
            run,
            "a local `parana reproduce` is writing this run; Slurm jobs wait for it to end",
        ));
    }
    let file = StagesFile::load(run)?;
    if s.kind != Kind::Report {
        for &d in &s.deps {
            let dep = &stages[d];
            if file.status(dep) != Status::Cached {
                return Err(Error::input(format!(
                    "--job {id}: stage {} it reads is not done",
                    dep.id
                )));
            }
        }
    }
    let mut datasets = HashMap::new();
    let t = Instant::now();
    if let Some(sh) = shard {
        if !matches!(s.kind, Kind::Sweep | Kind::PerLayer | Kind::Noise) {
            return Err(Error::input(format!(
                "--shard: stage {id} is not a sweep or a noise suite"
            )));
        }
        let done = layout::shard_done(run, s, sh);
        if done.exists() {
            say(format!("{id} shard {sh}: already done"));
            return Ok(());
        }
        if s.kind == Kind::Noise {
            // Noises k with k % n == i - 1, trained as the whole suite
            // trains them (each noise's batches come from its own seed).
            let mut suite = work::noise_suite(&exp, s, run)?;
            suite.noises = suite
                .noises
                .into_iter()
                .enumerate()
                .filter(|(k, _)| k % sh.n == sh.i - 1)
                .map(|(_, c)| c)
                .collect();
            suite.out = layout::shard(run, s, sh);
            std::fs::create_dir_all(&suite.out).map_err(|e| Error::io(&suite.out, e))?;
            let data = dataset_for(&exp, exp_path, s, &mut datasets)?
                .ok_or_else(|| Error::Other(format!("stage {id} has no dataset")))?;
            let r = suite::train_suite(&suite, data, |_| {})?;
            crate::io::write_atomic(&done, format!("{}\n", r.noises.len()).as_bytes())?;
            say(format!(
                "{id} shard {sh}: {} noise(s) in {:.1}s",
                r.noises.len(),
                t.elapsed().as_secs_f64()
            ));
            return Ok(());
        }
        let mut spec = work::sweep_spec(&exp, s, run)?;
        spec.shard = Some(sh);
        spec.out = layout::shard(run, s, sh);
        let data = dataset_for(&exp, exp_path, s, &mut datasets)?
            .ok_or_else(|| Error::Other(format!("stage {id} has no dataset")))?;
        let o = sweep_run::run(&spec, data, |_, _, _| {})?;
        crate::io::write_atomic(&done, format!("{}\n", o.rows).as_bytes())?;
        say(format!(
            "{id} shard {sh}: {} rows ({} new) in {:.1}s",
            o.rows,
            o.new_rows,
            t.elapsed().as_secs_f64()
        ));
        return Ok(());
    }
    let _lock = crate::io::lock_file(&layout::stage_lock(run, id), &[])?;
    let status = match file.status(s) {
        Status::Cached if !run.join(id).is_dir() => Status::New,
        st => st,
    };
    if status == Status::Cached {
        say(format!("{id}: already done"));
        return Ok(());
    }
    let sweep = matches!(s.kind, Kind::Sweep | Kind::PerLayer);
    if status == Status::Changed || (status == Status::New && !sweep) {
        remove_dir(&run.join(id))?;
    }
    StagesFile::update(run, |f| f.start(s, order))?;
    std::fs::create_dir_all(run.join(id)).map_err(|e| Error::io(run.join(id), e))?;
    if sweep {
        let shards = merge_shards(&exp, s, run)?;
        if shards > 0 {
            say(format!("{id}: merged {shards} shard(s)"));
        }
    }
    if s.kind == Kind::Noise {
        let n = gather_noises(s, run)?;
        if n > 0 {
            say(format!("{id}: gathered {n} noise(s) from its shards"));
        }
    }
    let data = dataset_for(&exp, exp_path, s, &mut datasets)?;
    work::run_stage(&exp, s, run, data, &mut |_| {})?;
    let seconds = t.elapsed().as_secs_f64();
    StagesFile::update(run, |f| f.finish(s, seconds))?;
    say(format!("{id}: done in {seconds:.1}s"));
    Ok(())
}

/// Copy the finished noise files of noise stage `s`'s shards into
/// `RUN/<id>`, where the stage's suite keeps them (same settings, same
/// model) instead of training them; returns how many.
fn gather_noises(s: &stage::Stage, run: &Path) -> Result<usize> {
    let Ok(shards) = std::fs::read_dir(layout::shards(run, s)) else {
        return Ok(0);
    };
    let out = run.join(&s.id);
    let mut n = 0;
    for shard in shards.flatten().map(|e| e.path()).filter(|p| p.is_dir()) {
        let files = std::fs::read_dir(&shard).map_err(|e| Error::io(&shard, e))?;
        for f in files.flatten().map(|e| e.path()) {
            let name = f.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            if name.starts_with("noise-")
                && name.ends_with(".safetensors")
                && !name.contains(".ckpt.")
            {
                let bytes = std::fs::read(&f).map_err(|e| Error::io(&f, e))?;
                crate::io::write_atomic(&out.join(name), &bytes)?;
                n += 1;
            }
        }
    }
    Ok(n)
}

/// Merge the shard folders of sweep stage `s` (those with a `sweep.json`)
/// into `RUN/<id>`; returns how many.
fn merge_shards(exp: &Experiment, s: &stage::Stage, run: &Path) -> Result<usize> {
    let dir = layout::shards(run, s);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Ok(0);
    };
    let mut runs = Vec::new();
    let mut names: Vec<_> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("sweep.json").is_file())
        .collect();
    names.sort();
    for p in &names {
        runs.push(Run::load(p)?);
    }
    if runs.is_empty() {
        return Ok(0);
    }
    let spec = work::sweep_spec(exp, s, run)?;
    let _lock = crate::io::lock_dir(&spec.out)?;
    results::merge(&runs, &spec.out, &spec.model.display().to_string())?;
    Ok(runs.len())
}
