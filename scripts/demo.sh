#!/usr/bin/env bash
# Builds parana in release mode, finds (or fetches) MNIST, trains a small
# model for a few minutes and prints its test accuracy.
#
#   scripts/demo.sh            # article-mlp, lq head, 3000 steps
#   STEPS=10000 scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."

steps="${STEPS:-3000}"
out="${OUT:-runs/demo}"
cargo build --release --quiet
bin=target/release/parana

if ! "$bin" data verify mnist >/dev/null 2>&1; then
  echo "MNIST not found on the search path; fetching it"
  "$bin" data fetch mnist
fi

mkdir -p "$out"
"$bin" train --arch article-mlp --head lq --steps "$steps" --seed 1 --out "$out/lq.safetensors"
"$bin" eval --model "$out/lq.safetensors"
