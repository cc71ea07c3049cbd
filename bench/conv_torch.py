"""PyTorch reference timing for the article CNN's conv layers (forward +
backward, batch 64, 2 threads). Compare the forward column with the `conv ms`
of `parana bench sparse --model article-cnn --sparsity 0 --batch 64` (per
layer, with ReLU) and the whole step with `parana bench train`. Usage: python3 bench/conv_torch.py [iters] [--convs-only]
[--threads N]. Prints median and min wall time, and CPU time per run (the
steadier figure when other jobs share the machine)."""
import sys, time, statistics
import torch

threads = int(sys.argv[sys.argv.index("--threads") + 1]) if "--threads" in sys.argv else 2
torch.set_num_threads(threads)
torch.manual_seed(0)
B, H, W = 64, 28, 28
# (in_c, out_c, k, needs dx) -- the first layer's input gradient is not needed.
LAYERS = [(1, 12, 7, False), (12, 15, 5, True), (15, 25, 3, True), (25, 20, 3, True)]
iters = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 30
convs_only = "--convs-only" in sys.argv


def bench(fn, iters):
    for _ in range(5):
        fn()
    ts = []
    cpu0 = time.process_time()
    for _ in range(iters):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    cpu = (time.process_time() - cpu0) / iters
    return statistics.median(ts) * 1e3, min(ts) * 1e3, cpu * 1e3


for cl in (True,) if convs_only else (False, True):
    fmt = torch.channels_last if cl else torch.contiguous_format
    tot_f = tot_fb = tot_fm = tot_fbm = tot_cpu = 0.0
    print(f"channels_last={cl}")
    for cin, cout, k, needs_dx in LAYERS:
        conv = torch.nn.Conv2d(cin, cout, k, padding="same").to(memory_format=fmt)
        x = torch.randn(B, cin, H, W).to(memory_format=fmt).requires_grad_(needs_dx)
        g = torch.randn(B, cout, H, W).to(memory_format=fmt)

        def fwd():
            with torch.no_grad():
                conv(x)

        def fb():
            conv.zero_grad(set_to_none=True)
            x.grad = None
            conv(x).backward(g)

        (tf, tfm, cf), (tfb, tfbm, cfb) = bench(fwd, iters), bench(fb, iters)
        tot_cpu += cfb
        tot_f += tf
        tot_fb += tfb
        tot_fm += tfm
        tot_fbm += tfbm
        print(f"  conv {cin:2}->{cout:2} {k}x{k}: fwd {tf:7.3f} ms  fwd+bwd {tfb:7.3f} ms"
              f"   (min {tfm:7.3f} / {tfbm:7.3f})   cpu {cf:7.3f} / {cfb:7.3f}")
    print(f"  total: fwd {tot_f:7.3f} ms  fwd+bwd {tot_fb:7.3f} ms   (min {tot_fm:7.3f} / {tot_fbm:7.3f})"
          f"   fwd+bwd cpu {tot_cpu:7.3f}")

# Whole article CNN training step for context (Adam, cross-entropy).
for cl in () if convs_only else (False, True):
    fmt = torch.channels_last if cl else torch.contiguous_format
    net = torch.nn.Sequential(
        torch.nn.Conv2d(1, 12, 7, padding="same"), torch.nn.ReLU(),
        torch.nn.Conv2d(12, 15, 5, padding="same"), torch.nn.ReLU(),
        torch.nn.Conv2d(15, 25, 3, padding="same"), torch.nn.ReLU(),
        torch.nn.Conv2d(25, 20, 3, padding="same"), torch.nn.ReLU(),
        torch.nn.Flatten(),
        torch.nn.Linear(15680, 1500), torch.nn.ReLU(),
        torch.nn.Linear(1500, 500), torch.nn.ReLU(),
        torch.nn.Linear(500, 10),
    ).to(memory_format=fmt)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    x = torch.randn(B, 1, H, W).to(memory_format=fmt)
    t = torch.randint(0, 10, (B,))

    def step():
        opt.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(net(x), t).backward()
        opt.step()

    med, lo, cpu = bench(step, iters)
    print(f"full training step channels_last={cl}: {med:7.3f} ms   (min {lo:7.3f})   cpu {cpu:7.3f}")
