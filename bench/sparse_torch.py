#!/usr/bin/env python3
"""Time the same sparse matrices in parana, scipy CSR (the seed's way),
torch.sparse CSR and torch dense, and print the ratios from one run.

    python3 bench/sparse_torch.py --net article-cnn --sparsity 90 --batch 256
    python3 bench/sparse_torch.py --net article-mlp --sparsity 90 --batch 1,32,256
    python3 bench/sparse_torch.py /tmp/sp/article-mlp-s90.sparse.safetensors

With --net, runs `parana bench sparse --model NET --sparsity S --batch B
--save-dir TMP --json` (NET a preset or a model file; CNNs are decoupled and
each matrix pruned by magnitude among its present taps), takes parana's
end-to-end sparse time from it, then times the very matrices it saved.
With a file (a compiled or decoupled sparse model, docs/formats.md), times
only the Python side. The forward pass runs the whole network (ReLU between
layers) on random inputs in [0, 1); the paths are checked to agree within
1e-4. torch dense is skipped when the dense matrices would not fit in a
few GB (the decoupled CNN's are 19600x15680 ...). Needs torch, numpy,
safetensors; scipy if installed.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
from safetensors import safe_open

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DENSE_LIMIT = 200_000_000  # dense weights above this are not materialised


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


def parana_times(net, sparsity, batches, reps, binary, out_dir):
    """parana's end-to-end (dense, sparse) ms per batch, and the saved file."""
    cmd = [binary, "bench", "sparse", "--model", net, "--sparsity", str(sparsity),
           "--batch", ",".join(map(str, batches)), "--reps", str(reps),
           "--save-dir", out_dir, "--json"]
    print("$", " ".join(cmd), flush=True)
    recs = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    times = {r["batch"]: (r["dense_ms"], r["sparse_ms"]) for r in recs if r["layer"] == "all"}
    name = recs[0]["model"]
    return times, os.path.join(out_dir, f"{name}-s{sparsity:g}.sparse.safetensors")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model", nargs="?", help="a compiled or decoupled sparse model file")
    ap.add_argument("--net", help="preset or model file for parana bench sparse")
    ap.add_argument("--sparsity", type=float, default=90.0, help="percent, with --net")
    ap.add_argument("--batch", default="256")
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--parana", default=os.path.join(ROOT, "target", "release", "parana"))
    a = ap.parse_args()
    batches = [int(b) for b in a.batch.split(",")]
    if (a.model is None) == (a.net is None):
        sys.exit("give either a sparse model file or --net")
    tmp = tempfile.TemporaryDirectory()
    ptimes = {}
    path = a.model
    if a.net:
        ptimes, path = parana_times(a.net, a.sparsity, batches, a.reps, a.parana, tmp.name)
    layers = load(path)
    total = sum(w.shape[0] * w.shape[1] for w, _ in layers)
    dense = [(w.to_dense(), b) for w, b in layers] if total <= DENSE_LIMIT else None
    try:
        import scipy.sparse as sp
        sci = [(sp.csr_matrix((w.values().numpy(), w.col_indices().numpy(), w.crow_indices().numpy()),
                              shape=w.shape), b.numpy()) for w, b in layers]
    except ImportError:
        sci = None
    nnz = sum(w.values().numel() for w, _ in layers)
    print(f"{path}: {nnz} stored weights in {len(layers)} layers, "
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

    cols = ["batch", "parana ms", "torch.sparse ms", "scipy csr ms", "torch dense ms",
            "torch.sparse/parana", "scipy/parana"]
    print(" ".join(f"{c:>{max(len(c), 9)}}" for c in cols))
    for batch in batches:
        x = torch.rand(batch, layers[0][0].shape[1])
        with torch.no_grad():
            ref = run_torch_sparse(x)
            ts = median_ms(lambda: run_torch_sparse(x), a.reps)
            td = None
            if dense is not None:
                assert (run_dense(x) - ref).abs().max() <= 1e-4
                td = median_ms(lambda: run_dense(x), a.reps)
        tc = None
        if sci is not None:
            xn = x.numpy()
            assert np.abs(run_scipy(xn) - ref.numpy()).max() <= 1e-4
            tc = median_ms(lambda: run_scipy(xn), max(1, a.reps // 3))
        tp = ptimes.get(batch, (None, None))[1]
        ratio = lambda t: f"{t / tp:.2f}x" if t is not None and tp else "-"
        fmt = lambda t: f"{t:.3f}" if t is not None else "-"
        vals = [str(batch), fmt(tp), fmt(ts), fmt(tc), fmt(td), ratio(ts), ratio(tc)]
        print(" ".join(f"{v:>{max(len(c), 9)}}" for v, c in zip(vals, cols)), flush=True)


if __name__ == "__main__":
    main()
