//! The `[slurm]` table of an experiment file and the command-line options
//! of `--slurm`: what each job asks Slurm for (partition, time, CPUs,
//! memory, account, extra `sbatch` arguments) and how many shards a sweep
//! is cut into. A stage's value is the first one set of: its
//! `[slurm.stage.ID]`, its `[slurm.stage.KIND]`, the command-line flag, the
//! top of `[slurm]`; unset values are left to the cluster's defaults.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What one job asks for (every field optional).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Resources {
    /// `--partition`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<String>,
    /// `--time` (Slurm's formats: `30`, `2:00:00`, `1-12:00:00`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    /// `--cpus-per-task` (also the job's thread count).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpus_per_task: Option<u32>,
    /// `--mem` (e.g. `4G`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mem: Option<String>,
    /// `--account`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// More `sbatch` arguments, each one `#SBATCH` line (e.g. `--qos=long`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sbatch_args: Vec<String>,
    /// Sweep and noise stages: how many shards (array tasks) to cut the
    /// sweep, or the noise suite (default: one task per noise), into.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shards: Option<usize>,
}

impl Resources {
    /// `self` with the fields unset in it taken from `below`; extra
    /// arguments add up (`below`'s first).
    pub fn over(&self, below: &Resources) -> Resources {
        let mut sbatch_args = below.sbatch_args.clone();
        sbatch_args.extend(self.sbatch_args.iter().cloned());
        Resources {
            partition: self.partition.clone().or_else(|| below.partition.clone()),
            time: self.time.clone().or_else(|| below.time.clone()),
            cpus_per_task: self.cpus_per_task.or(below.cpus_per_task),
            mem: self.mem.clone().or_else(|| below.mem.clone()),
            account: self.account.clone().or_else(|| below.account.clone()),
            sbatch_args,
            shards: self.shards.or(below.shards),
        }
    }

    /// Refuse values `sbatch` would misread (a newline would end the
    /// `#SBATCH` line; a zero would be refused late, by Slurm).
    pub fn check(&self, what: &str) -> Result<()> {
        let texts = [&self.partition, &self.time, &self.mem, &self.account];
        for t in texts.into_iter().flatten().chain(&self.sbatch_args) {
            if t.trim().is_empty() || t.contains(['\n', '\r']) {
                return Err(Error::input(format!(
                    "{what}: empty value or line break in '{}'",
                    t.escape_debug()
                )));
            }
        }
        if let Some(a) = self.sbatch_args.iter().find(|a| !a.starts_with('-')) {
            return Err(Error::input(format!(
                "{what}: sbatch argument '{a}' must be an option (start with -)"
            )));
        }
        if self.cpus_per_task == Some(0) || self.shards == Some(0) {
            return Err(Error::input(format!(
                "{what}: cpus-per-task and shards must be at least 1"
            )));
        }
        Ok(())
    }
}

/// `[slurm]`: defaults for every job, then `[slurm.stage.X]` per stage id
/// (`sweep-lq`) or kind (`sweep`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlurmSection {
    /// Defaults for every job.
    #[serde(flatten)]
    pub all: Resources,
    /// Per stage id or kind.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub stage: BTreeMap<String, Resources>,
}

impl SlurmSection {
    /// What the stage `id` of kind `kind` asks for, given the command-line
    /// options `cli`.
    pub fn resources(&self, id: &str, kind: &str, cli: &Resources) -> Resources {
        let none = Resources::default();
        let by_id = self.stage.get(id).unwrap_or(&none);
        let by_kind = self.stage.get(kind).unwrap_or(&none);
        by_id.over(&by_kind.over(&cli.over(&self.all)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stage_table_beats_the_flag_which_beats_the_file() {
        let s: SlurmSection = toml::from_str(
            "partition = \"p\"\ntime = \"1:00:00\"\nsbatch-args = [\"--qos=a\"]\n\
             [stage.sweep]\ntime = \"4:00:00\"\nshards = 5\n\
             [stage.sweep-lq]\ncpus-per-task = 8\n",
        )
        .unwrap();
        let cli = Resources {
            partition: Some("q".into()),
            mem: Some("2G".into()),
            sbatch_args: vec!["--nice".into()],
            ..Default::default()
        };
        let r = s.resources("sweep-lq", "sweep", &cli);
        assert_eq!(r.partition.as_deref(), Some("q"));
        assert_eq!(r.time.as_deref(), Some("4:00:00"));
        assert_eq!(r.cpus_per_task, Some(8));
        assert_eq!(r.mem.as_deref(), Some("2G"));
        assert_eq!(r.shards, Some(5));
        assert_eq!(r.sbatch_args, ["--qos=a", "--nice"]);
        let t = s.resources("train-lq", "train", &Resources::default());
        assert_eq!(t.time.as_deref(), Some("1:00:00"));
        assert_eq!(t.shards, None);
    }

    #[test]
    fn bad_values_are_refused() {
        let bad = |r: Resources| r.check("[slurm]").unwrap_err().to_string();
        assert!(
            bad(Resources {
                time: Some("1\n#SBATCH --x".into()),
                ..Default::default()
            })
            .contains("line break")
        );
        assert!(
            bad(Resources {
                sbatch_args: vec!["qos".into()],
                ..Default::default()
            })
            .contains("must be an option")
        );
        assert!(
            bad(Resources {
                shards: Some(0),
                ..Default::default()
            })
            .contains("at least 1")
        );
    }
}
