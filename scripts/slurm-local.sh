#!/usr/bin/env bash
# A one-node Slurm cluster on localhost, for the tests of `parana reproduce
# --slurm` (tests/slurm.rs) and for trying the Slurm path by hand:
#
#   scripts/slurm-local.sh start DIR   # prints `export SLURM_CONF=DIR/slurm.conf`
#   SLURM_CONF=DIR/slurm.conf sbatch …  # use it
#   scripts/slurm-local.sh stop DIR    # stops the daemons it started
#
# Everything lives in DIR (which must be empty or absent): the munge key and
# socket, slurm.conf, the controller's state, slurmd's spool, logs and pid
# files. Nothing under /etc is written or read (SLURM_CONF points the
# clients and daemons at DIR/slurm.conf, AuthInfo at DIR's munge socket).
# `stop` kills only the processes whose pids are in DIR's pid files.
#
# Needs root (slurmd runs jobs as their user). When Debian's slurm-wlm or
# munge are missing and CI is set they are installed with apt-get (as
# scripts/test.sh installs what the tests need in CI); elsewhere the script
# says which command installs them. SLURM_LOCAL_PORT (default 6817) is the
# controller's port, slurmd takes the next one.
set -euo pipefail

cmd=${1:-}
dir=${2:-}
if [ -z "$cmd" ] || [ -z "$dir" ]; then
  echo "usage: $0 start|stop DIR" >&2
  exit 2
fi

# Whether process $1 runs (a zombie nobody reaped does not).
alive() {
  [ -r "/proc/$1/stat" ] && [ "$(sed 's/.*) //' "/proc/$1/stat" | cut -c1)" != Z ]
}

stop() {
  local d=$1 f pid
  # slurmd first (it runs jobs), then the controller, then munge.
  for f in slurmd slurmctld munged; do
    [ -f "$d/$f.pid" ] || continue
    pid=$(cat "$d/$f.pid")
    if [ -n "$pid" ] && alive "$pid"; then
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 100); do
        alive "$pid" || break
        sleep 0.1
      done
      alive "$pid" && kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$d/$f.pid"
  done
}

case "$cmd" in
  stop)
    stop "$dir"
    exit 0
    ;;
  start) ;;
  *)
    echo "usage: $0 start|stop DIR" >&2
    exit 2
    ;;
esac

if [ "$(id -u)" != 0 ]; then
  echo "slurm-local: needs root (slurmd runs jobs as their user)" >&2
  exit 1
fi
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v munged >/dev/null; then
  if [ -z "${CI:-}" ] || ! command -v apt-get >/dev/null; then
    echo "slurm-local: slurm-wlm and munge are not installed (apt-get install slurm-wlm munge)" >&2
    exit 1
  fi
  echo "slurm-local: apt-get install slurm-wlm munge" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
fi

mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
if [ -n "$(ls -A "$dir")" ]; then
  echo "slurm-local: $dir is not empty" >&2
  exit 1
fi
chmod 700 "$dir"
mkdir -p "$dir/state" "$dir/spool" "$dir/log"
trap 'stop "$dir"' ERR

# munge: a fresh key, its own socket, pid, log and seed files.
dd if=/dev/urandom of="$dir/munge.key" bs=1024 count=1 status=none
chmod 400 "$dir/munge.key"
munged --force --key-file="$dir/munge.key" --socket="$dir/munge.socket" \
  --pid-file="$dir/munged.pid" --log-file="$dir/log/munged.log" \
  --seed-file="$dir/munged.seed"

# The node as slurmd sees it (CPUs, sockets, memory), under this host's name.
node=$(slurmd -C | head -1)
name=$(hostname -s)
port=${SLURM_LOCAL_PORT:-6817}
cat >"$dir/slurm.conf" <<EOF
ClusterName=parana-test
SlurmctldHost=$name(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge.socket
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
SchedulerParameters=sched_interval=1,bf_interval=1
MinJobAge=300
$node NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=main Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF="$dir/slurm.conf"

slurmctld -i
slurmd
# Wait until the node is idle (ready for jobs).
for _ in $(seq 120); do
  state=$(sinfo -h -o '%t' 2>/dev/null | head -1 || true)
  if [ "$state" = idle ]; then
    echo "export SLURM_CONF=$dir/slurm.conf"
    exit 0
  fi
  sleep 0.5
done
echo "slurm-local: the node did not become idle (sinfo: ${state:-nothing}); logs in $dir/log" >&2
tail -5 "$dir/log/slurmctld.log" "$dir/log/slurmd.log" >&2 || true
stop "$dir"
exit 1
