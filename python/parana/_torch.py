"""PyTorch conversion (torch is optional: imported only here, when used).

``from_torch`` hands a module's state dict to the library's loader, which
infers the architecture from the tensor shapes exactly as for a state dict
saved to a file; ``to_torch`` builds the module back: an ``nn.Sequential``
of Linear/ReLU for an MLP, else :class:`ParanaNet` (``convs`` and ``layers``
ModuleLists, the names of parana's model files).
"""

from __future__ import annotations

import json
from typing import Any, Dict, Tuple

import numpy as np


def _torch():
    try:
        import torch
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("this needs PyTorch: pip install torch") from e
    return torch


def state_dict_of(obj: Any) -> Tuple[Dict[str, np.ndarray], Dict[str, str]]:
    """Float32 arrays by name, and the metadata a :class:`ParanaNet` carries."""
    meta: Dict[str, str] = {}
    if hasattr(obj, "state_dict"):
        if getattr(obj, "parana_arch", None) is not None:
            meta["arch"] = json.dumps(obj.parana_arch)
            meta["head"] = obj.parana_head
        obj = obj.state_dict()
    tensors = {}
    for name, t in obj.items():
        if hasattr(t, "detach"):
            t = t.detach().cpu().numpy()
        tensors[name] = np.ascontiguousarray(t, dtype=np.float32)
    return tensors, meta


def module_of(model: Any) -> Any:
    """The PyTorch module of a parana model, weights copied."""
    torch = _torch()
    arch = model.arch
    tensors = model.tensors()
    if arch["convs"]:
        net = ParanaNet(arch, model.head)
        net.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in tensors.items()})
        return net.eval()
    dims = [int(np.prod(arch["input"]))] + list(arch["hidden"]) + [arch["classes"]]
    mods = []
    for i, (a, b) in enumerate(zip(dims, dims[1:])):
        lin = torch.nn.Linear(a, b)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(np.array(tensors[f"layers.{i}.weight"])))
            lin.bias.copy_(torch.from_numpy(np.array(tensors[f"layers.{i}.bias"])))
        mods.append(lin)
        if i + 2 < len(dims):
            mods.append(torch.nn.ReLU())
    return torch.nn.Sequential(*mods).eval()


def _parana_net_class():
    torch = _torch()
    F = torch.nn.functional

    class _ParanaNet(torch.nn.Module):
        """parana's layout: convolutions (``padding="same"``, ReLU) in
        ``convs``, then fully connected layers (ReLU between) in ``layers``;
        takes images ``(n, channels, height, width)`` or ``(n, h*w*c)``
        (a single channel's pixels in either order are the same)."""

        def __init__(self, arch: Dict[str, Any], head: str = "sce"):
            super().__init__()
            self.parana_arch = arch
            self.parana_head = head
            h, w, c = arch["input"]
            self.input = (c, h, w)
            self.convs = torch.nn.ModuleList()
            for s in arch["convs"]:
                self.convs.append(torch.nn.Conv2d(c, s["out"], (s["kh"], s["kw"]), padding="same"))
                c = s["out"]
            dims = [h * w * c] + list(arch["hidden"]) + [arch["classes"]]
            self.layers = torch.nn.ModuleList(torch.nn.Linear(a, b) for a, b in zip(dims, dims[1:]))

        def forward(self, x):
            if len(self.convs):
                x = x.reshape(-1, *self.input)
                for conv in self.convs:
                    x = F.relu(conv(x))
            x = x.flatten(1)
            for i, layer in enumerate(self.layers):
                x = layer(x)
                if i + 1 < len(self.layers):
                    x = F.relu(x)
            return x

    return _ParanaNet


def ParanaNet(arch: Dict[str, Any], head: str = "sce") -> Any:
    """A :class:`torch.nn.Module` of parana's layout for ``arch`` (a
    ``Model.arch`` dict); created lazily so that importing parana does not
    import torch."""
    return _parana_net_class()(arch, head)
