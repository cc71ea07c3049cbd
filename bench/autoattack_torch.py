#!/usr/bin/env python3
"""Cross-check parana's AutoAttack against torchattacks' on the same model
files and images, and time both (same thread count, in this one run).

    python3 bench/autoattack_torch.py --model lq.safetensors [--model pruned.safetensors]
    python3 bench/autoattack_torch.py --model lq.safetensors --eps 0.1 --images 1000 --threads 2
    python3 bench/autoattack_torch.py --model lq.safetensors --parana-model lq.sparse.safetensors

Needs `torch`, `torchattacks` and `safetensors` (PyPI); run it with the venv
~/.cache/parana-venv, which it creates if absent:
    python3 -m venv ~/.cache/parana-venv
    ~/.cache/parana-venv/bin/pip install torch torchattacks safetensors numpy
Not part of the Rust test suite.

For each model (an MLP file written by parana, dense, e.g. pruned with
zeros): torchattacks' AutoAttack (standard: APGD-CE, APGD-T, FAB-T, Square
5000 queries) on the first N MNIST test images, and `parana eval --attack
autoattack:EPS --attack-images N --json` (APGD-CE, APGD-T, APGD-DLR in place
of FAB-T, Square 5000 queries) on the same file (or on --parana-model, e.g.
its compiled sparse form, which holds the same function). Prints both robust
accuracies, parana's per attack, and both times.
"""
import argparse
import gzip
import json
import os
import struct
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

try:
    import numpy as np
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    import torchattacks
    from safetensors.torch import load_file
except ImportError as e:  # pragma: no cover
    sys.exit(f"autoattack_torch.py needs torch, torchattacks, safetensors, numpy ({e}); "
             "see the docstring for the venv")


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare_torch import Net  # noqa: E402  (parana's layer layout)


class Flat(nn.Module):
    """An MLP `Net` loaded from a parana file, taking NCHW images (as
    torchattacks' Square needs) and flattening them."""

    def __init__(self, state):
        super().__init__()
        state = {k: v for k, v in state.items() if k.startswith("layers.")}  # not masks.*
        n = len([k for k in state if k.startswith("layers.") and k.endswith(".weight")])
        hidden = [state[f"layers.{i}.weight"].shape[0] for i in range(n - 1)]
        self.net = Net(hidden, classes=state[f"layers.{n - 1}.weight"].shape[0])
        self.net.load_state_dict(state)

    def forward(self, x):
        return self.net(x.flatten(1))


def mnist_test(n, data_dir):
    with gzip.open(os.path.join(data_dir, "t10k-images-idx3-ubyte.gz")) as f:
        _, count, rows, cols = struct.unpack(">IIII", f.read(16))
        x = np.frombuffer(f.read(), dtype=np.uint8).reshape(count, 1, rows, cols)
    with gzip.open(os.path.join(data_dir, "t10k-labels-idx1-ubyte.gz")) as f:
        f.read(8)
        y = np.frombuffer(f.read(), dtype=np.uint8)
    return torch.tensor(x[:n], dtype=torch.float32) / 255.0, torch.tensor(y[:n], dtype=torch.long)


def parana_bin(path):
    if path:
        return path
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    return os.path.join(ROOT, "target", "release", "parana")


def torch_autoattack(path, x, y, eps, bs):
    net = Flat(load_file(path)).eval()
    for p in net.parameters():
        p.requires_grad_(False)
    with torch.no_grad():
        clean = (net(x).argmax(1) == y).float().mean().item()
    atk = torchattacks.AutoAttack(net, norm="Linf", eps=eps, version="standard", n_classes=10, seed=0)
    t0 = time.perf_counter()
    robust = 0
    for s in range(0, len(y), bs):
        adv = atk(x[s:s + bs], y[s:s + bs])
        with torch.no_grad():
            robust += (net(adv).argmax(1) == y[s:s + bs]).sum().item()
        assert (adv - x[s:s + bs]).abs().max().item() <= eps + 1e-5
    return {"clean": clean, "robust": robust / len(y), "seconds": time.perf_counter() - t0}


def parana_autoattack(binary, path, eps, n, threads, data_dir):
    cmd = [binary, "--quiet", "--threads", str(threads), "eval", "--model", path,
           "--attack", f"autoattack:{eps}", "--attack-images", str(n), "--data-dir", data_dir,
           "--json"]
    t0 = time.perf_counter()
    out = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    wall = time.perf_counter() - t0
    a = out["models"][0]["attacks"][0]
    return {"clean": out["clean_accuracy"], "robust": a["robust_accuracy"], "seconds": a["seconds"],
            "wall": wall, "stages": a.get("stages", [])}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", action="append", required=True, help="parana MLP file (repeatable)")
    ap.add_argument("--parana-model", action="append", default=[],
                    help="file parana attacks instead of --model (same order), e.g. its sparse form")
    ap.add_argument("--eps", type=float, default=0.1)
    ap.add_argument("--images", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=1000, help="torchattacks batch")
    ap.add_argument("--binary", help="parana binary (default: build target/release/parana)")
    ap.add_argument("--data-dir", default=os.path.join(ROOT, "..", "shared", "datasets", "mnist"))
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    binary = parana_bin(a.binary)
    x, y = mnist_test(a.images, a.data_dir)
    results = []
    for k, path in enumerate(a.model):
        ppath = a.parana_model[k] if k < len(a.parana_model) else path
        ours = parana_autoattack(binary, ppath, a.eps, a.images, a.threads, a.data_dir)
        theirs = torch_autoattack(path, x, y, a.eps, a.batch)
        r = {"model": path, "parana_model": ppath, "eps": a.eps, "images": a.images,
             "threads": a.threads, "parana": ours, "torchattacks": theirs,
             "time_ratio": ours["seconds"] / theirs["seconds"],
             "robust_gap_points": 100 * (ours["robust"] - theirs["robust"])}
        results.append(r)
        if not a.json:
            print(f"{path} (parana on {ppath}), eps {a.eps}, {a.images} images, {a.threads} threads each")
            print(f"  clean accuracy       parana {ours['clean']:.4f} (whole test set)  "
                  f"torch {theirs['clean']:.4f} (the {a.images} images)")
            for st in ours["stages"]:
                print(f"  parana {st['attack']:<10} on {st['attacked']:>5}: broke {st['broken']:>4}, "
                      f"robust {st['robust_accuracy']:.4f} ({st['seconds']:.1f}s)")
            print(f"  AutoAttack robust    parana {ours['robust']:.4f}  torchattacks {theirs['robust']:.4f}"
                  f"  (parana - torch: {r['robust_gap_points']:+.1f} points)")
            print(f"  time                 parana {ours['seconds']:.1f}s  torchattacks {theirs['seconds']:.1f}s"
                  f"  (ratio {r['time_ratio']:.2f})")
            sys.stdout.flush()
    if a.json:
        print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
