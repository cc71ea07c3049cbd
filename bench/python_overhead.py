#!/usr/bin/env python3
"""The Python package's overhead over the CLI, measured in one run:

1. a 100-ratio act-pruning sweep (`parana sweep` as a process vs
   `parana.sweep` in-process, both loading the model, the noise and MNIST),
   alternated, best of ROUNDS each;
2. the article MLP's forward pass over the 10,000 MNIST test images:
   `model.predict` (float32 images already in memory) vs the median
   `forward_10k_ms` of `parana bench train` (the same chunks `parana eval`
   runs), medians.

Run from the repository root after `cargo build --release` and
`pip install ./python`:

    python bench/python_overhead.py            # ROUNDS=3
"""

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import parana

ROOT = Path(__file__).resolve().parents[1]
BIN = os.environ.get("PARANA_BIN", str(ROOT / "target" / "release" / "parana"))
ROUNDS = int(os.environ.get("ROUNDS", "3"))


def cli(*args):
    return subprocess.run([BIN, "-q", *map(str, args)], cwd=ROOT, check=True,
                          capture_output=True, text=True).stdout


def main():
    os.chdir(ROOT)
    tmp = Path(tempfile.mkdtemp(prefix="parana-bench-"))
    try:
        model, noise = tmp / "m.safetensors", tmp / "noise"
        cli("train", "--hidden", "300,100", "--lr", "1e-3", "--batch", "100", "--steps", "300", "--out", model)
        cli("noise", "train", "--model", model, "--target", "3", "--limit", "0.25", "--steps", "100", "--out", noise)
        m = parana.Model.load(model)
        n = parana.load_noise(noise / "noise-class3-limit0.25.safetensors")
        sweep_args = ["--methods", "act", "--ratios", "0:0.99:0.01"]
        t_cli, t_py = [], []
        for r in range(ROUNDS):
            out = tmp / f"cli-{r}"
            t0 = time.perf_counter()
            cli("sweep", "--model", model, "--noise", noise, *sweep_args, "--out", out)
            t_cli.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            rows = parana.sweep(m, [n], methods="act", ratios="0:0.99:0.01", out=tmp / f"py-{r}",
                                frame=False, progress=False)
            t_py.append(time.perf_counter() - t0)
            assert len(rows) == 100
            want = sorted(json.loads(line)["ratio"] for line in open(out / "results.jsonl"))
            assert sorted(r["ratio"] for r in rows) == want

        big = tmp / "article.safetensors"
        cli("train", "--arch", "article-mlp", "--steps", "1", "--out", big)
        a = parana.Model.load(big)
        x = parana.load_dataset("mnist").float_images("test")
        a.predict(x)  # warm-up
        t_pred = []
        for _ in range(7):
            t0 = time.perf_counter()
            a.predict(x)
            t_pred.append(time.perf_counter() - t0)
        fwd = json.loads(cli("bench", "train", "--json", "--no-cnn", "--reps", "21"))["forward_10k_ms"]

        res = {
            "sweep_100_ratios_cli_s": min(t_cli),
            "sweep_100_ratios_python_s": min(t_py),
            "sweep_ratio_python_over_cli": min(t_py) / min(t_cli),
            "predict_10k_python_ms": 1000 * statistics.median(t_pred),
            "forward_10k_cli_ms": fwd,
            "predict_ratio_python_over_cli": 1000 * statistics.median(t_pred) / fwd,
            "rounds": ROUNDS,
        }
        print(f"sweep, 100 ratios (act, 1 noise, 10k test images): CLI {res['sweep_100_ratios_cli_s']:.2f} s, "
              f"Python {res['sweep_100_ratios_python_s']:.2f} s -> {res['sweep_ratio_python_over_cli']:.3f}x")
        print(f"forward, article MLP, 10k images: CLI {fwd:.1f} ms, Python predict "
              f"{res['predict_10k_python_ms']:.1f} ms -> {res['predict_ratio_python_over_cli']:.3f}x")
        print(json.dumps(res))
        ok = res["sweep_ratio_python_over_cli"] <= 1.05 and res["predict_ratio_python_over_cli"] <= 1.10
        return 0 if ok else 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
