#!/usr/bin/env bash
# Builds parana in release mode, finds (or fetches) MNIST, and runs the
# quick experiment (experiments/quick.toml: two small MLPs, noise, attacks,
# pruning sweeps, a sparse benchmark; about a minute on 2 cores), then
# prints where its report is. Running it again skips every finished stage.
#
#   scripts/demo.sh                  # runs/quick/report.html
#   OUT=/tmp/q scripts/demo.sh
#   EXPERIMENT=experiments/article-mlp.toml OUT=runs/article-mlp scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."

experiment="${EXPERIMENT:-experiments/quick.toml}"
out="${OUT:-runs/quick}"
cargo build --release --quiet
bin=target/release/parana

if ! "$bin" data verify mnist >/dev/null 2>&1; then
  echo "MNIST not found on the search path; fetching it"
  "$bin" data fetch mnist
fi

"$bin" reproduce "$experiment" --out "$out"
echo "report: $out/report.md and $out/report.html"
