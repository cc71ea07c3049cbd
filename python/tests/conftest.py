"""Shared set-up of the Python package's tests: the release `parana`
binary of this checkout (the CLI to compare with), real MNIST found as the
CLI finds it (tests run from the repository root), and a small model and
noise made by the CLI once per session."""

import json
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("PARANA_BIN", ROOT / "target" / "release" / "parana"))


def cli(*args, check=True):
    """Run the CLI from the repository root; returns the completed process."""
    if not BIN.exists():
        pytest.skip(f"{BIN} not built (run `cargo build --release` first)")
    p = subprocess.run([os.fspath(BIN), "-q", *map(os.fspath, args)], cwd=ROOT,
                       capture_output=True, text=True)
    if check and p.returncode != 0:
        raise AssertionError(f"parana {' '.join(map(str, args))} failed: {p.stderr}")
    return p


def cli_json(*args):
    return json.loads(cli(*args, "--json").stdout)


@pytest.fixture(autouse=True)
def _at_root(monkeypatch):
    """Both the CLI and the package look for ../shared/datasets from here."""
    monkeypatch.chdir(ROOT)


@pytest.fixture(scope="session")
def mnist():
    if not (ROOT.parent / "shared" / "datasets" / "mnist").is_dir() and not (ROOT / "data" / "mnist").is_dir():
        pytest.skip("MNIST not found beside the repository (../shared/datasets/mnist)")
    return "mnist"


@pytest.fixture(scope="session")
def work(tmp_path_factory, mnist):
    """A small model and a noise against it, both made by the CLI."""
    d = tmp_path_factory.mktemp("cli")
    model = d / "m.safetensors"
    cli("train", "--hidden", "64,32", "--lr", "1e-3", "--batch", "100", "--steps", "300",
        "--seed", "4", "--out", model)
    cli("noise", "train", "--model", model, "--target", "3", "--limit", "0.25",
        "--steps", "60", "--out", d / "noise")
    return {"dir": d, "model": model, "noise": d / "noise" / "noise-class3-limit0.25.safetensors"}
