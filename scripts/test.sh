#!/usr/bin/env bash
# The project's test command: formatting, lints, and the whole test suite in
# release mode (the end-to-end tests train on real MNIST, which debug builds
# make needlessly slow). CI runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
  rustup component add rustfmt clippy
fi

# What the end-to-end tests need from Debian: headless Chromium (the
# report's browser check), Fashion-MNIST (the second dataset), and Slurm
# with munge (tests/slurm.rs brings up a one-node cluster). In CI
# (CI set, run as root) they are installed when missing, so those tests run
# instead of skipping; elsewhere the tests skip with a one-line reason.
need=()
command -v chromium >/dev/null || need+=(chromium)
[ -e /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || need+=(dataset-fashion-mnist)
{ command -v slurmctld && command -v slurmd && command -v munged; } >/dev/null || need+=(slurm-wlm munge)
if [ "${#need[@]}" -gt 0 ]; then
  if [ -n "${CI:-}" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "== apt-get install ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    echo "note: ${need[*]} not installed; the tests that need them will skip (set CI=1 as root to install)"
  fi
fi

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy -D warnings"
cargo clippy --release --all-targets -- -D warnings
echo "== cargo test --release"
cargo test --release "$@"
