#!/usr/bin/env python3
"""Time the same sparse matrices in scipy CSR (the seed's way), torch.sparse
CSR and torch dense, for comparison with `parana bench sparse`.

    parana bench sparse --sparsity 90 --batch 1,32,256 --save-dir /tmp/sp
    python3 bench/sparse_torch.py /tmp/sp/article-mlp-s90.sparse.safetensors

Reads a compiled sparse model (docs/formats.md), runs the forward pass of
the whole network (ReLU between layers) at each batch size on random
inputs in [0, 1), checks the three agree within 1e-4, and prints median
milliseconds. Needs torch, numpy, safetensors; scipy if installed.
"""
import argparse
import json
import statistics
import time

import numpy as np
import torch
from safetensors import safe_open


def load(path):
    with safe_open(path, "pt") as f:
        meta = f.metadata()
        t = {k: f.get_tensor(k) for k in f.keys()}
    arch = json.loads(meta["arch"])
    dims = [arch["input"][0] * arch["input"][1] * arch["input"][2]] + arch["hidden"] + [arch["classes"]]
    layers = []
    for i in range(len(dims) - 1):
        w = torch.sparse_csr_tensor(
            t[f"layers.{i}.crow_indices"], t[f"layers.{i}.col_indices"], t[f"layers.{i}.values"],
            size=(dims[i + 1], dims[i]))
        layers.append((w, t[f"layers.{i}.bias"]))
    return layers


def median_ms(f, reps):
    f()
    ts = []
    for _ in range(reps):
        s = time.perf_counter()
        f()
        ts.append((time.perf_counter() - s) * 1e3)
    return statistics.median(ts)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--batch", default="1,32,256")
    ap.add_argument("--reps", type=int, default=20)
    a = ap.parse_args()
    layers = load(a.model)
    dense = [(w.to_dense(), b) for w, b in layers]
    try:
        import scipy.sparse as sp
        sci = [(sp.csr_matrix((w.values().numpy(), w.col_indices().numpy(), w.crow_indices().numpy()),
                              shape=w.shape), b.numpy()) for w, b in layers]
    except ImportError:
        sci = None
    nnz = sum(w.values().numel() for w, _ in layers)
    total = sum(w.shape[0] * w.shape[1] for w, _ in layers)
    print(f"{a.model}: {nnz} of {total} weights ({100 * (1 - nnz / total):.1f}% sparse), "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads")

    def run_torch_sparse(x):
        for k, (w, b) in enumerate(layers):
            x = (w @ x.T).T + b
            if k + 1 < len(layers):
                x = torch.relu(x)
        return x

    def run_dense(x):
        for k, (w, b) in enumerate(dense):
            x = torch.addmm(b, x, w.T)
            if k + 1 < len(dense):
                x = torch.relu(x)
        return x

    def run_scipy(x):
        for k, (w, b) in enumerate(sci):
            x = (w @ x.T).T + b
            if k + 1 < len(sci):
                x = np.maximum(x, 0)
        return x

    print(f"{'batch':>6} {'torch dense ms':>15} {'torch.sparse ms':>16} {'scipy csr ms':>13}")
    for batch in [int(b) for b in a.batch.split(",")]:
        x = torch.rand(batch, layers[0][0].shape[1])
        with torch.no_grad():
            ref = run_dense(x)
            assert (run_torch_sparse(x) - ref).abs().max() <= 1e-4
            td = median_ms(lambda: run_dense(x), a.reps)
            ts = median_ms(lambda: run_torch_sparse(x), a.reps)
        if sci is not None:
            xn = x.numpy()
            assert np.abs(run_scipy(xn) - ref.numpy()).max() <= 1e-4
            tc = f"{median_ms(lambda: run_scipy(xn), a.reps):13.3f}"
        else:
            tc = f"{'(no scipy)':>13}"
        print(f"{batch:>6} {td:15.3f} {ts:16.3f} {tc}")


if __name__ == "__main__":
    main()
