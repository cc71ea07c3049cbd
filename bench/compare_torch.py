#!/usr/bin/env python3
"""Check parana's engine against PyTorch and compare their speed side by side.

    python3 bench/compare_torch.py              # correctness + speed
    python3 bench/compare_torch.py --check-only
    python3 bench/compare_torch.py --threads 2 --reps 20

Needs `torch` and `safetensors` (pip install torch safetensors); it is not
part of the Rust test suite. It builds the release binary if needed.

Correctness: PyTorch initialises the article's MLP (lq head) and CNN (sce
head) and saves them as safetensors; `parana bench reference` computes the
outputs, loss and gradients of those weights on a synthetic batch; this
script computes the same in PyTorch and checks outputs within 1e-4 and loss
and gradients within 1e-3 (relative to the largest magnitude of the tensor).

Speed: the same workloads in both, in this one run, with the same number of
threads: an article-mlp training step at batch 250 (forward, loss, backward,
Adam), the article-mlp forward pass over 10,000 images, and an article-cnn
training step at batch 64. Prints the medians and the ratio parana / PyTorch
(below 1.0: parana is faster).

Attacks (`--attack`, or `--attack-only`): one universal-noise step of the
article-mlp at batch 250 (softmax cross-entropy on clamp(x + n, 0, 1),
gradient w.r.t. n alone with the weights frozen, SGD, clip), the same for
eight noises stacked into 2000 rows, and PGD-20 on 10,000 images; parana's
side is `parana bench attack --json`.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    from safetensors.torch import load_file, save_file
except ImportError as e:  # pragma: no cover
    sys.exit(f"compare_torch.py needs torch and safetensors ({e}); pip install torch safetensors")


class Net(nn.Module):
    """The layout parana's model files use: ModuleLists `convs` and `layers`."""

    def __init__(self, hidden, convs=(), classes=10, size=28, in_c=1):
        super().__init__()
        self.convs = nn.ModuleList()
        c = in_c
        for kh, kw, out in convs:
            self.convs.append(nn.Conv2d(c, out, (kh, kw), padding="same"))
            c = out
        dims = [size * size * c] + list(hidden) + [classes]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims, dims[1:]))
        self.size = size
        self.in_c = in_c

    def forward(self, x):
        if len(self.convs):
            x = x.view(-1, self.in_c, self.size, self.size)
            for conv in self.convs:
                x = F.relu(conv(x))
            x = x.flatten(1)
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i + 1 < len(self.layers):
                x = F.relu(x)
        return x


MLP = dict(hidden=[1500, 1000, 800])
CNN = dict(hidden=[1500, 500], convs=[(7, 7, 12), (5, 5, 15), (3, 3, 25), (3, 3, 20)])


def head_loss(head, out, labels):
    if head == "lq":
        return ((out - F.one_hot(labels, out.shape[1]).float()) ** 2).mean() / 2
    return F.cross_entropy(out, labels)


def parana_bin(path):
    if path:
        return path
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    return os.path.join(ROOT, "target", "release", "parana")


def rel_err(a, b):
    scale = max(a.abs().max().item(), b.abs().max().item(), 1e-12)
    return (a - b).abs().max().item() / scale


def check(binary, threads):
    ok = True
    with tempfile.TemporaryDirectory() as d:
        for name, spec, head, batch in [("article-mlp", MLP, "lq", 250), ("article-cnn", CNN, "sce", 16)]:
            torch.manual_seed(0)
            net = Net(**spec)
            mfile = os.path.join(d, f"{name}.safetensors")
            save_file({k: v.contiguous() for k, v in net.state_dict().items()}, mfile, metadata={"head": head})
            rfile = os.path.join(d, f"{name}.ref.safetensors")
            subprocess.run([binary, "--threads", str(threads), "bench", "reference", "--model", mfile,
                            "--batch", str(batch), "--out", rfile], check=True)
            ref = load_file(rfile)
            x = ref["x"].clone().requires_grad_(True)
            labels = ref["labels"].long()
            net.zero_grad()
            out = net(x)
            loss = head_loss(head, out, labels)
            loss.backward()
            rows = [("out", (out - ref["out"]).abs().max().item(), 1e-4),
                    ("loss", rel_err(loss.detach().reshape(1), ref["loss"]), 1e-3),
                    ("grad.x", rel_err(x.grad, ref["grad.x"]), 1e-3)]
            for k, p in net.named_parameters():
                rows.append((f"grad.{k}", rel_err(p.grad, ref[f"grad.{k}"]), 1e-3))
            print(f"\n{name} ({head} head, batch {batch}): parana vs PyTorch on the same weights")
            for what, err, tol in rows:
                status = "ok" if err <= tol else "FAIL"
                ok &= err <= tol
                kind = "max abs" if what == "out" else "max rel"
                print(f"  {what:<22} {kind} diff {err:.2e}  (limit {tol:.0e})  {status}")
    return ok


def median_ms(f, reps, warmup=3):
    for _ in range(warmup):
        f()
    t = []
    for _ in range(reps):
        s = time.perf_counter()
        f()
        t.append((time.perf_counter() - s) * 1e3)
    t.sort()
    return t[len(t) // 2]


def torch_bench(reps, skip_cnn):
    res = {}
    torch.manual_seed(0)

    def step_fn(net, batch, head):
        opt = torch.optim.Adam(net.parameters(), lr=1e-4)
        x = torch.rand(batch, 784)
        y = torch.randint(0, 10, (batch,))

        def step():
            opt.zero_grad(set_to_none=True)
            loss = head_loss(head, net(x), y)
            # L2 as in parana: lambda * sum(w^2) / 2 over the weights.
            loss = loss + 1e-4 * sum((p * p).sum() for n, p in net.named_parameters() if n.endswith("weight")) / 2
            loss.backward()
            opt.step()
        return step

    mlp = Net(**MLP)
    res["train_step_ms"] = median_ms(step_fn(mlp, 250, "lq"), reps)
    x10k = torch.rand(10000, 784)

    def fwd():
        with torch.no_grad():
            for i in range(0, 10000, 1000):
                mlp(x10k[i:i + 1000])
    res["forward_10k_ms"] = median_ms(fwd, max(3, reps // 3), warmup=1)
    if not skip_cnn:
        res["cnn_train_step_ms"] = median_ms(step_fn(Net(**CNN), 64, "sce"), max(3, reps // 3))
    return res


def torch_attack_bench(reps, pgd_images):
    """The workloads of `parana bench attack` in PyTorch (weights frozen)."""
    torch.manual_seed(0)
    net = Net(**MLP)
    for p in net.parameters():
        p.requires_grad_(False)
    res = {}
    x = torch.rand(250, 784)
    y = torch.full((250,), 3)
    n = torch.zeros(784, requires_grad=True)

    def step():
        loss = F.cross_entropy(net((x + n).clamp(0, 1)), y)
        (g,) = torch.autograd.grad(loss, n)
        with torch.no_grad():
            n.sub_(0.1 * g).clamp_(-0.25, 0.25)
    res["noise_step_ms"] = median_ms(step, reps)
    x8 = torch.rand(2000, 784)
    y8 = torch.arange(8).repeat_interleave(250)
    n8 = torch.zeros(8, 1, 784, requires_grad=True)

    def step8():
        xx = (x8.view(8, 250, 784) + n8).clamp(0, 1).view(2000, 784)
        loss = F.cross_entropy(net(xx), y8, reduction="none").view(8, 250).mean(1).sum()
        (g,) = torch.autograd.grad(loss, n8)
        with torch.no_grad():
            n8.sub_(0.1 * g).clamp_(-0.25, 0.25)
    res["noise_step8_ms"] = median_ms(step8, max(3, reps // 2), warmup=2)
    xs = torch.rand(pgd_images, 784)
    ys = torch.randint(0, 10, (pgd_images,))
    eps, alpha = 0.1, 0.0125

    def pgd20():
        for i in range(0, pgd_images, 1000):
            x0, y0 = xs[i:i + 1000], ys[i:i + 1000]
            xa = (x0 + torch.empty_like(x0).uniform_(-eps, eps)).clamp(0, 1)
            for _ in range(20):
                xa.requires_grad_(True)
                out = net(xa)
                (g,) = torch.autograd.grad(F.cross_entropy(out, y0), xa)
                with torch.no_grad():
                    xa = torch.min(torch.max(xa + alpha * g.sign(), x0 - eps), x0 + eps).clamp(0, 1)
            with torch.no_grad():
                net(xa).argmax(1)
    t = time.perf_counter()
    pgd20()
    res["pgd20_10k_s"] = (time.perf_counter() - t) * 10000 / pgd_images
    return res


def attack_compare(binary, threads, reps, pgd_images):
    cmd = [binary, "--threads", str(threads), "bench", "attack", "--json", "--reps", str(reps),
           "--pgd-images", str(pgd_images)]
    ours = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    theirs = torch_attack_bench(reps, pgd_images)
    print(f"\nattack speed, {threads} threads each, medians (ratio < 1: parana faster)")
    print(f"  {'workload':<22} {'parana':>10} {'torch':>10} {'ratio':>7}")
    ratios = {}
    for key in ["noise_step_ms", "noise_step8_ms", "pgd20_10k_s"]:
        r = ours[key] / theirs[key]
        ratios[key] = r
        print(f"  {key:<22} {ours[key]:>10.2f} {theirs[key]:>10.2f} {r:>7.2f}")
    return {"parana": ours, "torch": theirs, "ratio": ratios}


def torch_sweep_bench(ratios=(0.3, 0.6, 0.9), full_ratios=100, methods=3, copies=9, n=10000):
    """The inner loop of `parana sweep` in PyTorch with dense layers: per
    ratio, zero the lowest-scoring share of each weight matrix (orders
    sorted once, as parana does) and classify clean + 8 noisy copies of
    10,000 images in batches of 2000. Timed on a few ratios, extrapolated
    to methods x full_ratios ratios."""
    torch.manual_seed(0)
    net = Net(**MLP).eval()
    x = torch.rand(copies * n, 784)
    weights = [l.weight for l in net.layers]
    original = [w.detach().clone() for w in weights]
    orders = [torch.argsort(w.abs().flatten()) for w in original]
    t0, c0 = time.perf_counter(), time.process_time()
    with torch.no_grad():
        for r in ratios:
            for w, o, orig in zip(weights, orders, original):
                flat = orig.flatten().clone()
                flat[o[: int(flat.numel() * r)]] = 0
                w.copy_(flat.view_as(orig))
            for i in range(0, x.shape[0], 2000):
                net(x[i:i + 2000]).argmax(1)
    per = (time.perf_counter() - t0) / len(ratios)
    per_cpu = (time.process_time() - c0) / len(ratios)
    return {"per_ratio_s": per, "full_sweep_s": per * full_ratios * methods,
            "full_sweep_cpu_s": per_cpu * full_ratios * methods}


def sweep_compare(binary, threads, images=10000, model=None, noise=None):
    """parana runs the real sweep (`parana bench sweep`: every ratio, on
    `images` test images, scaled to 10k); PyTorch's dense cost does not
    depend on the ratio, so a few ratios stand for all of them."""
    cmd = [binary, "--threads", str(threads), "bench", "sweep", "--json", "--images", str(images)]
    if model:
        cmd += ["--model", model]
    if noise:
        cmd += ["--noise", noise]
    # From the repository root, where parana finds ../shared/datasets/mnist.
    ours = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT).stdout)
    theirs = torch_sweep_bench()
    print(f"\nsweep (3 methods x 100 ratios x clean + 8 noises x 10k images), {threads} threads each")
    print(f"  {'':<22} {'parana':>10} {'torch':>10} {'ratio':>7}")
    for key in ["full_sweep_s", "full_sweep_cpu_s"]:
        print(f"  {key:<22} {ours[key]:>10.0f} {theirs[key]:>10.0f} {ours[key] / theirs[key]:>7.2f}")
    return {"parana": ours, "torch": theirs}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--parana", help="path to the parana binary (default: build target/release/parana)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--skip-cnn", action="store_true")
    ap.add_argument("--check-only", action="store_true")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON at the end")
    ap.add_argument("--attack", action="store_true", help="also compare the attack workloads")
    ap.add_argument("--attack-only", action="store_true", help="only compare the attack workloads")
    ap.add_argument("--pgd-images", type=int, default=10000)
    ap.add_argument("--sweep-only", action="store_true",
                    help="only compare the pruning sweep (parana bench sweep)")
    ap.add_argument("--sweep-images", type=int, default=10000,
                    help="test images parana's sweep runs on (scaled to 10k; fewer is quicker but errs high)")
    ap.add_argument("--sweep-model", help="model for parana's sweep (default: a fresh article-mlp)")
    ap.add_argument("--sweep-noise", help="noise folder for parana's sweep (default: 8 random noises)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    binary = parana_bin(a.parana)
    if a.sweep_only:
        r = sweep_compare(binary, a.threads, a.sweep_images, a.sweep_model, a.sweep_noise)
        if a.json:
            print(json.dumps(r))
        sys.exit(0)
    if a.attack_only:
        r = attack_compare(binary, a.threads, a.reps, a.pgd_images)
        if a.json:
            print(json.dumps(r))
        sys.exit(0)
    ok = check(binary, a.threads)
    if a.check_only:
        sys.exit(0 if ok else 1)

    cmd = [binary, "--threads", str(a.threads), "bench", "train", "--json", "--reps", str(a.reps)]
    if a.skip_cnn:
        cmd.append("--no-cnn")
    ours = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    theirs = torch_bench(a.reps, a.skip_cnn)
    print(f"\nspeed, {a.threads} threads each, medians (ratio < 1: parana faster)")
    print(f"  {'workload':<22} {'parana ms':>10} {'torch ms':>10} {'ratio':>7}")
    ratios = {}
    for key in ["train_step_ms", "forward_10k_ms", "cnn_train_step_ms"]:
        if key in theirs:
            r = ours[key] / theirs[key]
            ratios[key] = r
            print(f"  {key:<22} {ours[key]:>10.2f} {theirs[key]:>10.2f} {r:>7.2f}")
    attack = attack_compare(binary, a.threads, a.reps, a.pgd_images) if a.attack else None
    if a.json:
        print(json.dumps({"parana": ours, "torch": theirs, "ratio": ratios, "check_ok": ok, "attack": attack}))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
