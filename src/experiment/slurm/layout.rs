//! Where `--slurm` keeps its files in the run folder, all under
//! `RUN/slurm/`: one `sbatch` script per job (`ID.sbatch`, and
//! `ID.shards.sbatch` for a sweep's array of shards), the jobs' logs in
//! `logs/`, the submitted job ids in `jobs.json` (see [`super::jobs`]) and
//! the shards of each sweep stage in `shards/ID-KEY/I-of-N/` (a sweep
//! folder each, with `I-of-N.done` beside it once the shard finished), keyed
//! by the stage's key so shards of other settings are never mixed in.

use super::super::stage::Stage;
use crate::experiment::sweep::results::Shard;
use std::path::{Path, PathBuf};

/// `RUN/slurm`.
pub fn dir(run: &Path) -> PathBuf {
    run.join("slurm")
}

/// `RUN/slurm/logs`.
pub fn logs(run: &Path) -> PathBuf {
    dir(run).join("logs")
}

/// The folder of the shards of sweep stage `s`.
pub fn shards(run: &Path, s: &Stage) -> PathBuf {
    dir(run)
        .join("shards")
        .join(format!("{}-{}", s.id, &s.key[..12]))
}

/// The sweep folder of one shard.
pub fn shard(run: &Path, s: &Stage, sh: Shard) -> PathBuf {
    shards(run, s).join(format!("{}-of-{}", sh.i, sh.n))
}

/// The marker written when a shard finished.
pub fn shard_done(run: &Path, s: &Stage, sh: Shard) -> PathBuf {
    shards(run, s).join(format!("{}-of-{}.done", sh.i, sh.n))
}

/// The lock a job holds while it runs stage `id` (so two jobs never run
/// the same stage at once).
pub fn stage_lock(run: &Path, id: &str) -> PathBuf {
    dir(run).join(format!("{id}.running"))
}
