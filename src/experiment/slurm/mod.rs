//! Running a study on a Slurm cluster (`parana reproduce --slurm`): Slurm
//! schedules, parana only describes the work. [`plan`] turns the stages
//! left to do into a job graph (a job per stage, `afterok` dependencies,
//! sweeps as arrays of shards and a merge), [`script`] writes each job's
//! `sbatch` script under `RUN/slurm/` ([`layout`]), [`submit`] submits
//! them and records the job ids ([`jobs`]), [`job`] is what a job runs
//! (one stage, or one shard), [`query`] asks `squeue`/`sacct` how the jobs
//! stand and [`follow`] turns that into each stage's state for `parana
//! status`; [`config`] is the `[slurm]` table and the
//! resource options.

pub mod config;
pub mod follow;
pub mod job;
pub mod jobs;
pub mod layout;
pub mod plan;
pub mod query;
pub mod script;
pub mod submit;
