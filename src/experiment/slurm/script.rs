//! The `sbatch` script of one job: `#SBATCH` lines (name, log, working
//! folder, what it asks for, its array), then the same parana binary run
//! on the run folder with `reproduce --job ID` (one stage) or `--job ID
//! --shard $SLURM_ARRAY_TASK_ID/N` (one shard of a sweep). Dependencies are
//! not in the script: they name job ids known only at submission, and go
//! on `sbatch`'s command line.

use super::config::Resources;
use super::layout;
use super::plan::{Job, What, array_spec};
use std::path::{Path, PathBuf};

/// What every script of a run shares.
#[derive(Clone, Debug)]
pub struct Context {
    /// The parana binary the jobs run.
    pub parana: PathBuf,
    /// The experiment file (absolute).
    pub experiment: PathBuf,
    /// The run folder (absolute).
    pub run: PathBuf,
    /// The folder jobs start in (the submitting shell's).
    pub workdir: PathBuf,
}

/// `s` quoted for a POSIX shell. Written here because single quotes with
/// `'\''` for each quote inside are all it takes.
pub fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

fn q(p: &Path) -> String {
    quote(&p.to_string_lossy())
}

/// The script's path.
pub fn path(run: &Path, job: &Job) -> PathBuf {
    layout::dir(run).join(format!("{}.sbatch", job.name))
}

/// The log of the job (`%j`, or `%A_%a` for array tasks, as Slurm fills in).
pub fn log_pattern(run: &Path, job: &Job) -> PathBuf {
    let tail = match job.what {
        What::Stage => "%j",
        What::Shards { .. } => "%A_%a",
    };
    layout::logs(run).join(format!("{}-{tail}.out", job.name))
}

/// The log of a submitted job with id `id` (`…_*.out` for an array).
pub fn log_of(run: &Path, job: &Job, id: &str) -> PathBuf {
    let tail = match job.what {
        What::Stage => id.to_string(),
        What::Shards { .. } => format!("{id}_*"),
    };
    layout::logs(run).join(format!("{}-{tail}.out", job.name))
}

fn sbatch_lines(r: &Resources) -> Vec<String> {
    let mut v = Vec::new();
    let mut opt = |k: &str, val: &Option<String>| {
        if let Some(x) = val {
            v.push(format!("--{k}={x}"));
        }
    };
    opt("partition", &r.partition);
    opt("time", &r.time);
    opt("mem", &r.mem);
    opt("account", &r.account);
    if let Some(c) = r.cpus_per_task {
        v.push(format!("--cpus-per-task={c}"));
    }
    v.extend(r.sbatch_args.iter().cloned());
    v
}

/// The script text of `job` of stage `stage_id`.
pub fn script(cx: &Context, job: &Job, stage_id: &str) -> String {
    let mut s = String::from("#!/bin/bash\n");
    let mut line = |l: String| {
        s += "#SBATCH ";
        s += &l;
        s.push('\n');
    };
    line(format!("--job-name=parana-{}", job.name));
    line(format!("--output={}", log_pattern(&cx.run, job).display()));
    line(format!("--chdir={}", cx.workdir.display()));
    // A job whose dependency failed is cancelled, not left pending forever,
    // so the queue empties and the same command can resubmit the rest.
    line("--kill-on-invalid-dep=yes".into());
    if let What::Shards { todo, .. } = &job.what {
        line(format!("--array={}", array_spec(todo)));
    }
    for l in sbatch_lines(&job.res) {
        line(l);
    }
    s += "set -eu\n";
    let threads = match job.res.cpus_per_task {
        Some(_) => " --threads \"$SLURM_CPUS_PER_TASK\"",
        None => "",
    };
    let shard = match &job.what {
        What::Stage => String::new(),
        What::Shards { n, .. } => format!(" --shard \"$SLURM_ARRAY_TASK_ID/{n}\""),
    };
    s += &format!(
        "exec {} --quiet{threads} reproduce {} --out {} --job {}{shard}\n",
        q(&cx.parana),
        q(&cx.experiment),
        q(&cx.run),
        quote(stage_id),
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shard_array_script_runs_one_shard_per_task() {
        let cx = Context {
            parana: "/opt/parana it's".into(),
            experiment: "/home/u/exp.toml".into(),
            run: "/scratch/run".into(),
            workdir: "/home/u".into(),
        };
        let job = Job {
            name: "sweep-lq.shards".into(),
            stage: 0,
            what: What::Shards {
                n: 4,
                todo: vec![1, 2, 4],
            },
            deps: vec![],
            res: Resources {
                time: Some("2:00:00".into()),
                cpus_per_task: Some(4),
                sbatch_args: vec!["--qos=long".into()],
                ..Default::default()
            },
        };
        let s = script(&cx, &job, "sweep-lq");
        assert!(s.starts_with("#!/bin/bash\n#SBATCH --job-name=parana-sweep-lq.shards\n"));
        for l in [
            "#SBATCH --output=/scratch/run/slurm/logs/sweep-lq.shards-%A_%a.out\n",
            "#SBATCH --chdir=/home/u\n",
            "#SBATCH --array=1-2,4\n",
            "#SBATCH --time=2:00:00\n",
            "#SBATCH --cpus-per-task=4\n",
            "#SBATCH --qos=long\n",
            "exec '/opt/parana it'\\''s' --quiet --threads \"$SLURM_CPUS_PER_TASK\" reproduce \
             '/home/u/exp.toml' --out '/scratch/run' --job 'sweep-lq' --shard \"$SLURM_ARRAY_TASK_ID/4\"\n",
        ] {
            assert!(s.contains(l), "missing {l:?} in\n{s}");
        }
        assert!(!s.contains("--partition"));
    }
}
