#!/usr/bin/env python3
"""Check an adaptive evaluation (`parana adapt`, or a reproduce run's
`adaptive-M` stage) in plain PyTorch.

    ~/.cache/parana-venv/bin/python bench/adaptive_torch.py RUN/adapt
    ~/.cache/parana-venv/bin/python bench/adaptive_torch.py RUN/adapt --point act-0.9 --data-dir DIR

For every pruned point (or the one named) it loads the pruned model file
with `safetensors` (the weights times their `masks.*` tensors, so pruned
weights are zeros whatever the file stores), builds the same network in
torch (linear layers, ReLU between them), loads each adaptive noise file of
the point, computes the test accuracy on clip(x + noise, 0, 1) and prints
it beside the accuracy parana recorded in adaptive.jsonl, with the
difference in points. Exits 1 if any differs by more than --tolerance
points (default 0.1).

Needs torch, numpy and safetensors. MNIST-family datasets: the four IDX
files (gzipped or not) in --data-dir (default: ../shared/datasets/mnist
from the repository, then /usr/share/datasets/<dataset>).
"""
import argparse
import gzip
import json
import os
import sys

try:
    import numpy as np
    import torch
    from safetensors import safe_open
    from safetensors.torch import load_file
except ImportError as e:  # pragma: no cover
    sys.exit(f"adaptive_torch.py needs torch, numpy and safetensors ({e}); pip install torch numpy safetensors")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def read_idx(folder, stem):
    for name in (stem, stem + ".gz"):
        p = os.path.join(folder, name)
        if os.path.exists(p):
            opener = gzip.open if name.endswith(".gz") else open
            with opener(p, "rb") as f:
                data = f.read()
            dims = data[3]
            shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
            return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)
    sys.exit(f"{folder}: no {stem}(.gz)")


def test_set(data_dir, dataset):
    dirs = [data_dir] if data_dir else [os.path.join(ROOT, "..", "shared", "datasets", dataset),
                                         os.path.join("/usr/share/datasets", dataset)]
    for d in dirs:
        if d and os.path.isdir(d):
            x = read_idx(d, "t10k-images-idx3-ubyte")
            y = read_idx(d, "t10k-labels-idx1-ubyte")
            x = torch.from_numpy(x.reshape(len(x), -1).astype(np.float32) / 255.0)
            return x, torch.from_numpy(y.astype(np.int64))
    sys.exit(f"no {dataset} test set found in {dirs}; give --data-dir")


def pruned_mlp(path):
    """The linear layers of a pruned model file, masked weights as zeros."""
    t = load_file(path)
    layers = []
    i = 0
    while f"layers.{i}.weight" in t:
        w = t[f"layers.{i}.weight"].float()
        m = t.get(f"masks.layers.{i}.weight")
        if m is not None:
            w = torch.where(m.bool(), w, torch.zeros_like(w))
        layers.append((w, t[f"layers.{i}.bias"].float()))
        i += 1
    if not layers or any(k.startswith("convs.") for k in t):
        sys.exit(f"{path}: not an MLP model file (this check covers MLPs)")
    return layers


def predict(layers, x):
    with torch.no_grad():
        for k, (w, b) in enumerate(layers):
            x = torch.nn.functional.linear(x, w, b)
            if k + 1 < len(layers):
                x = torch.relu(x)
        return x.argmax(1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("run", help="adaptive run folder (holds adaptive.json)")
    ap.add_argument("--point", help="only this point, e.g. act-0.9")
    ap.add_argument("--data-dir")
    ap.add_argument("--tolerance", type=float, default=0.1, help="largest allowed difference, in points")
    a = ap.parse_args()
    with open(os.path.join(a.run, "adaptive.json")) as f:
        settings = json.load(f)["settings"]
    with open(os.path.join(a.run, "adaptive.jsonl")) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    x, y = test_set(a.data_dir, settings["dataset"])
    worst = 0.0
    print(f"{'point':<16} {'noise':<28} {'parana':>8} {'torch':>8} {'diff (points)':>14}")
    for r in rows:
        name = f"{r['method']}-{r['ratio']}"
        if r["method"] == "none" or (a.point and name != a.point):
            continue
        layers = pruned_mlp(os.path.join(a.run, r["model_file"]))
        for k, info in enumerate(settings["noises"]):
            npath = os.path.join(a.run, r["noise_dir"], info["file"])
            with safe_open(npath, "pt") as f:
                meta = f.metadata()
                noise = f.get_tensor("noise").float()
            if noise.shape[0] != 1:
                sys.exit(f"{npath}: {noise.shape[0]} channels (this check covers 1-channel images)")
            assert meta.get("pruned_model_sha256"), f"{npath} names no pruned model"
            pred = predict(layers, (x + noise.reshape(1, -1)).clamp(0, 1))
            acc = (pred == y).float().mean().item()
            diff = 100 * abs(acc - r["adaptive"][k])
            worst = max(worst, diff)
            print(f"{name:<16} {info['name']:<28} {r['adaptive'][k]:>8.4f} {acc:>8.4f} {diff:>14.3f}")
    print(f"largest difference: {worst:.3f} points (tolerance {a.tolerance})")
    sys.exit(0 if worst <= a.tolerance else 1)


if __name__ == "__main__":
    main()
