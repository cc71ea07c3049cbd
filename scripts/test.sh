#!/usr/bin/env bash
# The project's test command: formatting, lints, and the whole test suite in
# release mode (the end-to-end tests train on real MNIST, which debug builds
# make needlessly slow), then the Python package built into a virtual
# environment and its pytest suite. CI runs exactly this.
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
python3 -c 'import ensurepip, venv' 2>/dev/null || need+=(python3-venv)
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
# --workspace: the library, the CLI and the Python package's native module
# (python/) are linted together, and the tests are built with the features
# of the whole workspace, so that the Python build below reuses the library
# they compiled (see python/Cargo.toml).
echo "== cargo clippy -D warnings"
cargo clippy --release --workspace --all-targets -- -D warnings
echo "== cargo test --release"
cargo test --release --workspace "$@"

# The Python package (python/), in a virtual environment kept outside the
# clone and reused (PyTorch is large): created with numpy, torch (from PyPI,
# the one Python registry this project reaches; its Linux wheel brings CUDA
# libraries it does not use here, a one-time download of several GB),
# pandas, pytest and maturin when absent, topped up when one is missing.
# The package is built with the venv's maturin against the shared target/,
# so the library compiled above is reused.
venv="${PARANA_VENV:-$HOME/.cache/parana-venv}"
py="$venv/bin/python"
if [ ! -x "$py" ]; then
  echo "== python3 -m venv $venv"
  python3 -m venv "$venv"
fi
missing=()
for m in numpy pytest maturin pandas; do
  "$py" -c "import $m" 2>/dev/null || missing+=("$m")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "== pip install ${missing[*]}"
  "$py" -m pip install -q "${missing[@]}"
fi
if ! "$py" -c "import torch" 2>/dev/null; then
  echo "== pip install torch"
  "$py" -m pip install -q torch
fi
echo "== pip install ./python (into $venv)"
PATH="$venv/bin:$PATH" "$py" -m pip install -q --no-build-isolation --no-deps --force-reinstall ./python
echo "== pytest python/tests"
"$py" -m pytest -q python/tests
