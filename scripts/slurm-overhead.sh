#!/usr/bin/env bash
# End-to-end overhead of `parana reproduce --slurm` against a local run,
# on the one-node cluster of scripts/slurm-local.sh (as root):
#
#   scripts/slurm-overhead.sh [EXPERIMENT] [WORKDIR] [--slurm options…]
#
# e.g. `scripts/slurm-overhead.sh experiments/quick.toml /work/m
# --cpus-per-task $(nproc)` gives every job the whole node, so the jobs run
# one at a time with the local run's thread count: the difference is then
# Slurm's cost alone (job start-up, dependencies released, polling).
#
# Runs EXPERIMENT (default experiments/quick.toml) locally, then through
# --slurm (submission until the queue is empty, polled every 0.5 s), each
# from an empty run folder under WORKDIR (default: a new temporary
# folder), and prints both wall times, their difference, and from
# scontrol's job times (1 s resolution) the span from the first job's start
# to the last one's end and the job-seconds spent (the stages run side by
# side on the node's CPUs, one CPU a job). Stops the cluster it started.
set -euo pipefail
cd "$(dirname "$0")/.."
exp=${1:-experiments/quick.toml}
work=${2:-$(mktemp -d)}
shift $(($# < 2 ? $# : 2))
mkdir -p "$work"
parana=target/release/parana
[ -x "$parana" ] || cargo build --release
cluster="$work/cluster"
trap 'scripts/slurm-local.sh stop "$cluster"' EXIT
eval "$(scripts/slurm-local.sh start "$cluster")"

t0=$(date +%s.%N)
"$parana" -q reproduce "$exp" --out "$work/local" >/dev/null
t1=$(date +%s.%N)
"$parana" reproduce "$exp" --out "$work/slurm" --slurm --allow-local-run-dir "$@" >"$work/submitted.txt"
while [ -n "$(squeue -h)" ]; do sleep 0.5; done
t2=$(date +%s.%N)
"$parana" status "$work/slurm" | tail -1

# Start, end and dependencies of every job (array tasks: each task).
ids=$(awk '$2 ~ /^[0-9]+$/ {print $2}' "$work/submitted.txt")
for id in $ids; do scontrol -o show job "$id"; done >"$work/jobs.txt"
python3 - "$work/jobs.txt" "$t0" "$t1" "$t2" <<'PY'
import sys, re, datetime
lines = open(sys.argv[1]).read().split("\n")
t0, t1, t2 = map(float, sys.argv[2:5])
jobs = {}
for l in lines:
    if not l.strip():
        continue
    f = dict(re.findall(r"(\w+)=(\S*)", l))
    jid = f.get("ArrayJobId") or f["JobId"]
    ts = lambda k: datetime.datetime.fromisoformat(f[k]).timestamp()
    j = jobs.setdefault(jid, {"start": [], "end": []})
    j["start"].append(ts("StartTime")); j["end"].append(ts("EndTime"))
first = min(min(j["start"]) for j in jobs.values())
last = max(max(j["end"]) for j in jobs.values())
print(f"local run: {t1 - t0:.1f} s")
print(f"--slurm, submission to empty queue: {t2 - t1:.1f} s ({t2 - t1 - (t1 - t0):+.1f} s against local)")
print(f"jobs: {len(jobs)}; first start to last end {last - first:.0f} s; "
      f"busy job-seconds {sum(max(j['end']) - min(j['start']) for j in jobs.values()):.0f}")
PY
echo "outputs in $work"
