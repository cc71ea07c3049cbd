//! `parana reproduce`: run an experiment file into a run folder, stage by
//! stage, skipping what is already done.

use super::Global;
use crate::error::Result;
use crate::experiment::cache::Status;
use crate::experiment::reproduce::{self, Event, Options};
use std::path::PathBuf;

/// Run every stage of an experiment (train, noise, attacks, sweeps,
/// sparse benchmarks, report), skipping stages done with the same settings.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  parana reproduce experiments/quick.toml --out runs/quick
  parana reproduce experiments/article-mlp.toml --out runs/article-mlp --dry-run
  parana reproduce experiments/article-mlp.toml --out runs/article-mlp --only sweep
  parana reproduce experiments/article-mlp.toml --out /shared/runs/article-mlp --slurm --partition cpu --time 4:00:00
Interrupted? Run the same command again: finished stages are skipped and the
interrupted one continues. Change a setting and only what depends on it reruns.
With --slurm the stages are submitted to Slurm as a job graph (docs/cluster.md);
follow them with `parana status RUN`.")]
pub struct ReproduceArgs {
    /// Experiment file (TOML).
    experiment: PathBuf,
    /// Run folder.
    #[arg(long)]
    out: PathBuf,
    /// Run only this stage (an id like sweep-lq, or a kind like sweep) and what it needs.
    #[arg(long)]
    only: Option<String>,
    /// List what would run and what is cached; run nothing (with --slurm:
    /// write the job scripts and print the plan, submit nothing).
    #[arg(long)]
    dry_run: bool,
    #[command(flatten)]
    slurm: super::slurm::SlurmArgs,
}

pub(super) fn run(a: ReproduceArgs, g: Global) -> Result<()> {
    if a.slurm.slurm || a.slurm.job.is_some() {
        return super::slurm::run(
            &a.experiment,
            &a.out,
            a.only.clone(),
            a.dry_run,
            &a.slurm,
            g,
        );
    }
    let opts = Options {
        only: a.only.clone(),
        dry_run: a.dry_run,
    };
    let pb = super::progress(
        0,
        g.quiet,
        "{elapsed_precise} [{bar:20}] {pos}/{len} stages {msg}",
    );
    let say = |pb: &indicatif::ProgressBar, line: String| {
        if !g.quiet {
            pb.suspend(|| eprintln!("{line}"));
        }
    };
    let s = reproduce::reproduce(&a.experiment, &a.out, &opts, |e| match e {
        Event::Plan(plan) => {
            let n = plan.iter().filter(|p| p.runs).count();
            pb.set_length(n as u64);
            if a.dry_run {
                for p in &plan {
                    let what = match (p.runs, p.status) {
                        (true, st) => st.word(),
                        (false, Status::Cached) => "cached",
                        (false, _) => "not selected",
                    };
                    println!("{:<24} {:<26} {}", p.id, what, p.key);
                }
            } else {
                for p in plan
                    .iter()
                    .filter(|p| !p.runs && p.status == Status::Cached)
                {
                    say(&pb, format!("{:<24} cached", p.id));
                }
            }
        }
        Event::Begin { id, status } => {
            pb.set_message(id.clone());
            say(&pb, format!("{id:<24} {}", status.word()));
        }
        Event::Progress { id, msg } => pb.set_message(format!("{id}: {msg}")),
        Event::End { id, seconds } => {
            pb.inc(1);
            say(&pb, format!("{id:<24} done in {seconds:.1}s"));
        }
    })?;
    pb.finish_and_clear();
    if !a.dry_run {
        let left = if s.not_selected.is_empty() {
            String::new()
        } else {
            format!(", {} not selected", s.not_selected.len())
        };
        println!(
            "{}: {} stage(s) run, {} cached{left}, {:.1}s; report in {}",
            a.out.display(),
            s.ran.len(),
            s.cached.len(),
            s.seconds,
            a.out.join("report.html").display()
        );
    }
    Ok(())
}
