"""PyTorch models in and out: from_torch -> logits equals torch's forward
within 1e-5, and to_torch gives the module back unchanged."""

import numpy as np
import pytest

import parana

torch = pytest.importorskip("torch", reason="torch not installed (pip install torch)")


def _inputs(n, seed=0):
    return np.random.default_rng(seed).random((n, 28, 28), dtype=np.float32)


def test_sequential_mlp_round_trip():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(784, 50), torch.nn.ReLU(), torch.nn.Linear(50, 20),
                              torch.nn.ReLU(), torch.nn.Linear(20, 10))
    m = parana.Model.from_torch(net)
    assert m.description.startswith("mlp 784-50-20-10")
    x = _inputs(16)
    with torch.no_grad():
        want = net(torch.from_numpy(x.reshape(16, -1))).numpy()
    assert np.abs(m.logits(x) - want).max() < 1e-5
    # A torch tensor goes in as it is (through __array__).
    assert np.array_equal(m.predict(torch.from_numpy(x)), want.argmax(1))
    back = m.to_torch()
    assert isinstance(back, torch.nn.Sequential)
    a, b = net.state_dict(), back.state_dict()
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)


class ArticleCNN(torch.nn.Module):
    """The article's CNN as a PyTorch user writes it: four same-padded
    convolutions, then 1500 and 500 fully connected, ReLU between."""

    def __init__(self):
        super().__init__()
        c, self.convs = 1, torch.nn.ModuleList()
        for k, out in [(7, 12), (5, 15), (3, 25), (3, 20)]:
            self.convs.append(torch.nn.Conv2d(c, out, k, padding="same"))
            c = out
        dims = [28 * 28 * c, 1500, 500, 10]
        self.layers = torch.nn.ModuleList(torch.nn.Linear(a, b) for a, b in zip(dims, dims[1:]))

    def forward(self, x):
        x = x.reshape(-1, 1, 28, 28)
        for conv in self.convs:
            x = torch.relu(conv(x))
        x = x.flatten(1)
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i + 1 < len(self.layers):
                x = torch.relu(x)
        return x


def test_article_cnn_module_round_trip():
    torch.manual_seed(1)
    net = ArticleCNN().eval()
    m = parana.Model.from_torch(net, head="lq")
    assert m.head == "lq" and len(m.arch["convs"]) == 4 and m.arch["hidden"] == [1500, 500]
    x = _inputs(4, seed=2)
    with torch.no_grad():
        want = net(torch.from_numpy(x)).numpy()
    assert np.abs(m.logits(x) - want).max() < 1e-5
    back = m.to_torch()
    a, b = net.state_dict(), back.state_dict()
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    with torch.no_grad():
        assert np.abs(back(torch.from_numpy(x)).numpy() - want).max() < 1e-5
    # ... and the module parana returns comes back in with its head.
    assert parana.Model.from_torch(back).head == "lq"


def test_saved_torch_model_loads_like_the_module(tmp_path):
    torch.manual_seed(3)
    net = torch.nn.Sequential(torch.nn.Linear(784, 30), torch.nn.ReLU(), torch.nn.Linear(30, 10))
    m = parana.Model.from_torch(net)
    m.save(tmp_path / "t.safetensors")
    again = parana.Model.load(tmp_path / "t.safetensors")
    x = _inputs(5)
    assert np.array_equal(again.logits(x), m.logits(x))
