"""The Python package gives the CLI's numbers on the same inputs: accuracy,
trained weights, noise files, pruned weights and sweep rows."""

import json

import numpy as np
import pytest

import parana

from conftest import cli, cli_json


def test_accuracy_and_predictions_match_eval(work):
    want = cli_json("eval", "--model", work["model"])
    m = parana.Model.load(work["model"])
    got = m.evaluate()
    for k in ("clean_accuracy", "correct", "total", "per_class_accuracy", "confusion"):
        assert got[k] == want[k], k
    d = parana.load_dataset("mnist")
    assert d.test_images.dtype == np.uint8 and d.test_labels.dtype == np.int64
    pred = m.predict(d.float_images("test"))
    assert pred.dtype == np.int64
    assert int((pred == d.test_labels).sum()) == want["correct"]
    # uint8 pixels are scaled as the engine scales them.
    assert np.array_equal(m.predict(d.test_images), pred)
    assert m.logits(d.test_images[:5]).shape == (5, 10)


def test_noise_under_evaluation_matches_cli_noise_report(work):
    m = parana.Model.load(work["model"])
    got = m.evaluate(noise=work["noise"])["noises"][0]
    n = parana.load_noise(work["noise"])
    assert (n.target, n.limit, n.values.shape) == (3, 0.25, (28, 28, 1))
    assert np.abs(n.values).max() <= 0.25 + 1e-6
    want = cli_json("eval", "--model", work["model"], "--noise", work["noise"])["models"][0]["noises"][0]
    for k in ("accuracy", "fooling_rate", "detection", "target", "limit"):
        assert got[k] == want[k], k


def test_train_gives_the_cli_weights(work, tmp_path):
    args = dict(hidden=[32], lr=1e-3, batch=50, steps=120, seed=9)
    cli("train", "--hidden", "32", "--lr", "1e-3", "--batch", "50", "--steps", "120", "--seed", "9",
        "--out", tmp_path / "cli.safetensors")
    m = parana.train(**args, out=tmp_path / "py.safetensors", progress=False)
    want = parana.Model.load(tmp_path / "cli.safetensors").tensors()
    for name, t in m.tensors().items():
        assert np.array_equal(t, want[name]), name
    assert m.meta["test_accuracy"] == parana.Model.load(tmp_path / "cli.safetensors").meta["test_accuracy"]
    # Saved where asked, with the CLI's checkpoint and log beside it.
    assert (tmp_path / "py.safetensors").exists() and (tmp_path / "py.log.csv").exists()


def test_noise_file_is_the_cli_noise(work, tmp_path):
    m = parana.Model.load(work["model"])
    n = parana.train_noise(m, target=3, limit=0.25, steps=60, out=tmp_path, progress=False)
    want = parana.load_noise(work["noise"])
    assert np.array_equal(n.values, want.values)
    assert n.path == tmp_path / "noise-class3-limit0.25.safetensors"
    assert 0.0 <= n.fooling_rate <= 1.0


def test_prune_gives_the_cli_pruned_model(work, tmp_path):
    cli("prune", "--model", work["model"], "--method", "act", "--ratio", "0.81",
        "--out", tmp_path / "cli.safetensors")
    m = parana.Model.load(work["model"])
    p = parana.prune(m, method="act", ratio=0.81, out=tmp_path / "py.safetensors")
    want = parana.Model.load(tmp_path / "cli.safetensors")
    got = parana.Model.load(tmp_path / "py.safetensors")
    for name, t in want.tensors().items():
        assert np.array_equal(got.tensors()[name], t), name
        assert np.array_equal(p.tensors()[name], t), name
    assert got.meta == want.meta
    # The original is left whole.
    assert np.count_nonzero(m.tensors()["layers.0.weight"]) == 784 * 64


def test_sweep_rows_are_the_cli_rows(work, tmp_path):
    cli("sweep", "--model", work["model"], "--noise", work["noise"], "--methods", "abs,act",
        "--ratios", "0:0.9:0.3", "--out", tmp_path / "cli")
    want = [json.loads(line) for line in open(tmp_path / "cli" / "results.jsonl")]
    m = parana.Model.load(work["model"])
    rows = parana.sweep(m, [parana.load_noise(work["noise"])], methods=["abs", "act"],
                        ratios=[0, 0.3, 0.6, 0.9], out=tmp_path / "py", frame=False, progress=False)
    key = lambda r: (r["group"], r["method"], r["ratio"])  # noqa: E731
    assert len(rows) == 8
    assert sorted(rows, key=key) == sorted(want, key=key)


def test_sweep_is_a_dataframe_with_pandas(work):
    pd = pytest.importorskip("pandas", reason="pandas not installed")
    m = parana.Model.load(work["model"])
    df = parana.sweep(m, work["noise"], methods="act", ratios="0,0.5", progress=False)
    assert isinstance(df, pd.DataFrame) and list(df.ratio) == ["0", "0.5"]


def test_attacks_run_on_arrays(work):
    m = parana.Model.load(work["model"])
    d = parana.load_dataset()
    x, y = d.float_images()[:50], d.test_labels[:50]
    r = parana.fgsm(m, x, y, 0.1)
    assert r.images.shape == x.shape
    assert np.abs(r.images - x).max() <= 0.1 + 1e-6
    assert np.array_equal(r.pred, m.predict(r.images))
    assert np.array_equal(r.fooled, r.pred != y)
    p = parana.pgd(m, x, y, 0.1, steps=10)
    assert p.fooled.mean() >= r.fooled.mean() - 0.1


def test_reproduce_dry_run_plans_every_stage(tmp_path):
    s = parana.reproduce("experiments/quick.toml", tmp_path / "run", dry_run=True, progress=False)
    assert s["ran"] == [] and s["cached"] == []
