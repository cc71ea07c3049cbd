#!/usr/bin/env bash
# The project's test command: formatting, lints, and the whole test suite in
# release mode (the end-to-end tests train on real MNIST, which debug builds
# make needlessly slow). CI runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
  rustup component add rustfmt clippy
fi

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy -D warnings"
cargo clippy --release --all-targets -- -D warnings
echo "== cargo test --release"
cargo test --release "$@"
