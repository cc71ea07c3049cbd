#!/usr/bin/env python3
"""parana from Python in one page: train (or load) a small model, train a
universal noise against it, prune it at every ratio with the article's
`act` method and plot clean and noisy accuracy along the sweep.

    pip install ./python                     # once, from the repository root
    python examples/quickstart.py            # ~15 s; MNIST from ../shared/datasets/mnist, ./data/mnist, ...
    python examples/quickstart.py --model lq.safetensors --data-dir /path/to/mnist

The plot needs matplotlib (else the table is printed); the table is a pandas
DataFrame when pandas is installed.
"""

import argparse

import parana


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", help="a model file to use instead of training one")
    ap.add_argument("--data-dir", help="folder of the MNIST IDX files (default: found as the CLI finds it)")
    ap.add_argument("--steps", type=int, default=1000, help="training steps of the small model")
    ap.add_argument("--plot", default="quickstart-sweep.png", help="where to write the plot")
    a = ap.parse_args()

    data = parana.load_dataset("mnist", data_dir=a.data_dir)
    print(f"{data.name}: {len(data.train_labels)} training and {len(data.test_labels)} test images from {data.dir}")

    if a.model:
        model = parana.Model.load(a.model)
    else:
        model = parana.train(hidden=[300, 100], lr=1e-3, batch=100, steps=a.steps, data_dir=a.data_dir)
    accuracy = (model.predict(data.test_images) == data.test_labels).mean()
    print(f"{model.description} ({model.head}): test accuracy {accuracy:.4f}")

    noise = parana.train_noise(model, target=3, limit=0.25, steps=300, data_dir=a.data_dir)
    print(f"noise towards class {noise.target} (limit {noise.limit}): accuracy {noise.accuracy:.4f}, "
          f"fooling rate {noise.fooling_rate:.4f}")

    table = parana.sweep(model, [noise], methods="act", ratios="0:0.95:0.05", data_dir=a.data_dir, frame=False)
    ratios = [float(r["ratio"]) for r in table]
    clean = [r["clean"] for r in table]
    noisy = [r["noisy"][0] for r in table]

    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print(f"{'ratio':>6} {'clean':>7} {'noisy':>7}")
        for r, c, n in zip(ratios, clean, noisy):
            print(f"{r:>6.2f} {c:>7.4f} {n:>7.4f}")
        print("(pip install matplotlib for the plot)")
        return
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(ratios, clean, "k-", label="clean")
    ax.plot(ratios, noisy, "C3-", label=f"under noise (class {noise.target}, limit {noise.limit})")
    ax.set_xlabel("share of weights pruned (act)")
    ax.set_ylabel("test accuracy")
    ax.set_title(model.description)
    ax.legend()
    fig.tight_layout()
    fig.savefig(a.plot, dpi=120)
    print(f"plot: {a.plot}")


if __name__ == "__main__":
    main()
