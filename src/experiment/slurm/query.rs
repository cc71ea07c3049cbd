//! What Slurm says about a run's jobs, through its commands: `squeue` for
//! the jobs still queued or running, `sacct` (or, where accounting is off,
//! `scontrol show job`, which remembers jobs for a few minutes) for how the
//! others ended. Every query degrades to "unknown" when the command is
//! missing or fails, so `parana status` works off the cluster too.

use std::collections::HashMap;
use std::process::Command;

/// Output of a command that succeeded, None otherwise.
fn output(cmd: &str, args: &[&str]) -> Option<String> {
    let o = Command::new(cmd).args(args).output().ok()?;
    o.status
        .success()
        .then(|| String::from_utf8_lossy(&o.stdout).into_owned())
}

/// States of the jobs in the queue, by job id (an array's tasks under the
/// array's id): `PENDING`, `RUNNING`, … None when `squeue` cannot be run.
pub fn queue() -> Option<HashMap<String, Vec<String>>> {
    let text = output("squeue", &["-h", "-o", "%F|%T"])?;
    Some(parse_queue(&text))
}

fn parse_queue(text: &str) -> HashMap<String, Vec<String>> {
    let mut m: HashMap<String, Vec<String>> = HashMap::new();
    for l in text.lines() {
        if let Some((id, st)) = l.trim().split_once('|') {
            m.entry(id.to_string()).or_default().push(st.to_string());
        }
    }
    m
}

/// How the job `id` (every task of an array) ended, as Slurm words it
/// (`COMPLETED`, `FAILED`, `CANCELLED`, `TIMEOUT`, …), worst first; None
/// when neither `sacct` nor `scontrol` knows.
pub fn ended(id: &str) -> Option<Vec<String>> {
    if let Some(t) = output("sacct", &["-n", "-P", "-X", "-j", id, "-o", "State"]) {
        let v: Vec<String> = t
            .lines()
            .map(|l| l.split_whitespace().next().unwrap_or("").to_string())
            .filter(|s| !s.is_empty())
            .collect();
        if !v.is_empty() {
            return Some(worst_first(v));
        }
    }
    let t = output("scontrol", &["-o", "show", "job", id])?;
    let v: Vec<String> = t
        .split_whitespace()
        .filter_map(|w| w.strip_prefix("JobState="))
        .map(str::to_string)
        .collect();
    (!v.is_empty()).then(|| worst_first(v))
}

fn worst_first(mut v: Vec<String>) -> Vec<String> {
    v.sort_by_key(|s| (s == "COMPLETED", s.clone()));
    v.dedup();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_lines_group_array_tasks_under_their_array() {
        let q = parse_queue("12|RUNNING\n12|PENDING\n13|PENDING\n");
        assert_eq!(q["12"], ["RUNNING", "PENDING"]);
        assert_eq!(q["13"], ["PENDING"]);
        assert_eq!(
            worst_first(vec![
                "COMPLETED".into(),
                "CANCELLED".into(),
                "COMPLETED".into()
            ]),
            ["CANCELLED", "COMPLETED"]
        );
    }
}
