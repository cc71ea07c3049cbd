"""parana from Python: train small networks, attack them with adversarial
noise, prune them, and measure what pruning does to accuracy and robustness,
with the same engine (and the same numbers) as the ``parana`` command line.

>>> import parana
>>> data = parana.load_dataset("mnist")                      # doctest: +SKIP
>>> model = parana.train(hidden="300,100", steps=500, lr=1e-3, batch=100)  # doctest: +SKIP
>>> model.evaluate()["clean_accuracy"]                       # doctest: +SKIP
0.93...
>>> noise = parana.train_noise(model, target=3, limit=0.25, steps=200)  # doctest: +SKIP
>>> table = parana.sweep(model, [noise], methods="act", ratios="0:0.9:0.1")  # doctest: +SKIP

Long calls run without the GIL, show a progress bar (``progress=False``
hides it) and stop at a safe point on Ctrl-C, raising KeyboardInterrupt.
Errors are :class:`ParanaError` subclasses (``ValueError``,
``FileNotFoundError``) carrying the CLI's one-line message.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Union

import numpy as np

from . import _native
from ._errors import ParanaError, ParanaFileNotFoundError, ParanaOSError, ParanaValueError
from ._progress import bar as _bar

__version__ = _native.__version__
__all__ = [
    "ParanaError",
    "ParanaValueError",
    "ParanaFileNotFoundError",
    "ParanaOSError",
    "Dataset",
    "Model",
    "Noise",
    "AttackResult",
    "load_dataset",
    "load_noise",
    "train",
    "train_noise",
    "fgsm",
    "pgd",
    "prune",
    "sweep",
    "reproduce",
]

PathLike = Union[str, "os.PathLike[str]"]

# Pixels to [0, 1] exactly as the library does (`p as f32 * (1.0 / 255.0)`).
_INV255 = np.float32(1.0) / np.float32(255.0)

_session_dir: Optional[str] = None


def _tmp() -> Path:
    """A folder for this session's intermediate files, removed at exit."""
    global _session_dir
    if _session_dir is None:
        _session_dir = tempfile.mkdtemp(prefix="parana-")
        atexit.register(shutil.rmtree, _session_dir, True)
    return Path(_session_dir)


def _inputs(x: Any) -> np.ndarray:
    """``x`` (numpy array, or anything with ``__array__`` such as a CPU
    torch tensor) as a C-contiguous float32 array, without a copy when it
    already is one; uint8 pixels are scaled to [0, 1]."""
    a = np.asarray(x)
    if a.dtype == np.uint8:
        a = a.astype(np.float32) * _INV255
    return np.ascontiguousarray(a, dtype=np.float32)


def _labels(y: Any) -> np.ndarray:
    a = np.asarray(y)
    if a.ndim != 1 or not np.issubdtype(a.dtype, np.integer):
        raise ParanaValueError(f"labels must be a 1-D integer array, got {a.dtype} of shape {a.shape}")
    if a.size and (a.min() < 0 or a.max() > 255):
        raise ParanaValueError("labels must be classes in 0-255")
    return np.ascontiguousarray(a, dtype=np.uint8)


@dataclass
class Dataset:
    """A dataset as arrays: images ``(n, rows, cols)`` uint8, labels
    ``(n,)`` int64."""

    name: str
    classes: int
    dir: Path
    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray

    def float_images(self, split: str = "test") -> np.ndarray:
        """The images of ``split`` as float32 in [0, 1], as the engine sees them."""
        if split not in ("train", "test"):
            raise ParanaValueError(f"unknown split '{split}' (expected test or train)")
        return getattr(self, f"{split}_images").astype(np.float32) * _INV255


def load_dataset(name: str = "mnist", data_dir: Optional[PathLike] = None) -> Dataset:
    """Load dataset ``name`` (mnist, fashion-mnist, kmnist) from ``data_dir``,
    or from where the CLI finds it (``../shared/datasets/NAME``,
    ``./data/NAME``, ``~/.cache/parana/NAME``, ...).

    >>> d = parana.load_dataset("mnist")  # doctest: +SKIP
    >>> d.test_images.shape, d.test_labels.dtype  # doctest: +SKIP
    ((10000, 28, 28), dtype('int64'))
    """
    n, classes, d, (xi, yi), (xt, yt) = _native.load_dataset(name, _opt_path(data_dir))
    return Dataset(n, classes, Path(d), xi, yi, xt, yt)


def _opt_path(p: Optional[PathLike]) -> Optional[str]:
    return None if p is None else os.fspath(p)


class Model:
    """A network parana can evaluate, attack and prune.

    >>> m = parana.Model.load("lq.safetensors")  # doctest: +SKIP
    >>> m.predict(images).shape                  # doctest: +SKIP
    (10000,)
    """

    def __init__(self, native: "_native.Model"):
        self._m = native

    # -- files -----------------------------------------------------------
    @staticmethod
    def load(path: PathLike) -> "Model":
        """Read any model file parana writes (dense, pruned with masks,
        compiled sparse, decoupled CNN) or a plain PyTorch state dict saved
        with safetensors."""
        return Model(_native.Model.load(os.fspath(path)))

    def save(self, path: PathLike) -> None:
        """Write the model atomically to ``path`` (safetensors, PyTorch's
        layout and names)."""
        self._m.save(os.fspath(path))

    # -- PyTorch ---------------------------------------------------------
    @staticmethod
    def from_torch(module_or_state_dict: Any, head: str = "sce") -> "Model":
        """A model from a PyTorch module (an ``nn.Sequential`` of
        Linear/ReLU, a CNN of Conv2d(padding="same")/ReLU then Linear/ReLU,
        or a module from :meth:`to_torch`) or its state dict; the
        architecture is inferred from the tensor shapes as for a state dict
        file. ``head`` is the cost function it was trained with (lq or sce).
        """
        from ._torch import state_dict_of

        tensors, meta = state_dict_of(module_or_state_dict)
        meta.setdefault("head", head)
        return Model(_native.Model.from_tensors(tensors, meta, "<torch module>"))

    def to_torch(self) -> Any:
        """The model as a PyTorch module (needs torch): an ``nn.Sequential``
        of Linear/ReLU for an MLP, else a module holding ``convs`` and
        ``layers`` ModuleLists (the layout of parana's model files)."""
        from ._torch import module_of

        return module_of(self)

    def tensors(self) -> Dict[str, np.ndarray]:
        """Parameters by state-dict name (``layers.0.weight``, ...)."""
        return self._m.tensors()

    # -- forward ---------------------------------------------------------
    def logits(self, x: Any) -> np.ndarray:
        """Raw outputs ``(n, classes)`` float32 for the images ``x``
        (``(n, ...)`` float32 in [0, 1], read in place when contiguous;
        uint8 pixels are scaled)."""
        return self._m.logits(_inputs(x))

    def predict(self, x: Any) -> np.ndarray:
        """Predicted classes ``(n,)`` int64 of the images ``x``."""
        return self._m.predict(_inputs(x))

    def evaluate(
        self,
        dataset: str = "mnist",
        noise: Union[None, "Noise", PathLike, Sequence[Union["Noise", PathLike]]] = None,
        *,
        data_dir: Optional[PathLike] = None,
        split: str = "test",
    ) -> Dict[str, Any]:
        """Accuracy on ``split`` of ``dataset`` as ``parana eval --json``
        reports it (``clean_accuracy``, ``per_class_accuracy``,
        ``confusion``), and under each noise (``noises``: accuracy,
        fooling rate, detection)."""
        out = _native.evaluate(
            self._m,
            dataset=dataset,
            data_dir=_opt_path(data_dir),
            split=split,
            noise=_noise_paths(noise),
        )
        return json.loads(out)

    # -- description -----------------------------------------------------
    @property
    def description(self) -> str:
        """One line, e.g. ``MLP 784-300-100-10``."""
        return self._m.description

    @property
    def head(self) -> str:
        return self._m.head

    @property
    def arch(self) -> Dict[str, Any]:
        """The architecture (input, convs, hidden, classes, dropout)."""
        return json.loads(self._m.arch_json())

    @property
    def meta(self) -> Dict[str, str]:
        return self._m.meta

    @property
    def param_count(self) -> int:
        return self._m.param_count

    @property
    def input_shape(self) -> tuple:
        return self._m.input_shape

    @property
    def classes(self) -> int:
        return self._m.classes

    @property
    def path(self) -> Optional[Path]:
        """The file the model was loaded from or saved to, or None."""
        p = self._m.path
        return None if p is None else Path(p)

    def _file(self) -> str:
        """A file holding this model (the library's file-based jobs read one)."""
        if self.path is not None and self.path.exists():
            return os.fspath(self.path)
        p = _tmp() / f"model-{id(self):x}.safetensors"
        self._m.save(os.fspath(p))
        return os.fspath(p)

    def __repr__(self) -> str:
        return repr(self._m)


@dataclass
class Noise:
    """A universal targeted noise: ``values`` ``(h, w, c)`` float32 within
    ``limit``, pushing images towards class ``target``."""

    path: Path
    values: np.ndarray
    target: int
    limit: float
    meta: Dict[str, str] = field(default_factory=dict)
    accuracy: Optional[float] = None
    fooling_rate: Optional[float] = None
    detection_auc: Optional[float] = None

    def apply(self, images: Any) -> np.ndarray:
        """``images`` (float32 in [0, 1]) with the noise added, clipped to [0, 1]."""
        x = _inputs(images)
        return np.clip(x + self.values.reshape((1,) + x.shape[1:]), 0.0, 1.0)


def load_noise(path: PathLike) -> Noise:
    """Read a noise file (``parana noise train``'s output)."""
    v, t, lim, meta = _native.load_noise(os.fspath(path))
    return Noise(Path(path), v, t, lim, meta)


def _noise_paths(noise: Any) -> List[str]:
    if noise is None:
        return []
    if isinstance(noise, (Noise, str, os.PathLike)):
        noise = [noise]
    return [os.fspath(n.path if isinstance(n, Noise) else n) for n in noise]


def train(
    *,
    arch: str = "article-mlp",
    hidden: Union[None, str, Sequence[int]] = None,
    conv: Optional[str] = None,
    head: str = "lq",
    dropout: float = 0.0,
    steps: int = 10_000,
    batch: int = 250,
    lr: float = 1e-4,
    l2: float = 1e-4,
    seed: int = 1,
    dataset: str = "mnist",
    data_dir: Optional[PathLike] = None,
    val: int = 0,
    select_every: int = 500,
    lr_decay: str = "off",
    decay_from: float = 0.8,
    out: Optional[PathLike] = None,
    eval_every: int = 500,
    checkpoint_every: int = 1000,
    resume: bool = False,
    progress: bool = True,
) -> Model:
    """Train a model, with ``parana train``'s arguments and defaults
    (``hidden="300,100"`` or ``[300, 100]`` for a custom MLP, ``conv="7x7x12"``
    for convolutions). With ``out`` the model is saved there, with its
    checkpoint and log beside it (``resume=True`` continues after an
    interruption).

    >>> m = parana.train(hidden=[300, 100], lr=1e-3, batch=100, steps=3000)  # doctest: +SKIP
    """
    if hidden is not None and not isinstance(hidden, str):
        hidden = ",".join(str(int(h)) for h in hidden)
    b = _bar(progress, "train")
    try:
        m = _native.train(
            arch=arch, hidden=hidden, conv=conv, head=head, dropout=dropout, steps=steps,
            batch=batch, lr=lr, l2=l2, seed=seed, dataset=dataset, data_dir=_opt_path(data_dir),
            val=val, select_every=select_every, lr_decay=lr_decay, decay_from=decay_from,
            out=_opt_path(out), eval_every=eval_every, checkpoint_every=checkpoint_every,
            resume=resume, progress=b or None,
        )
    finally:
        b.close()
    return Model(m)


def train_noise(
    model: Model,
    target: int = 3,
    limit: float = 0.25,
    *,
    steps: int = 5000,
    lr: Optional[float] = None,
    optimizer: str = "sgd",
    batch: int = 250,
    seed: int = 1,
    dataset: str = "mnist",
    data_dir: Optional[PathLike] = None,
    out: Optional[PathLike] = None,
    checkpoint_every: int = 500,
    resume: bool = False,
    progress: bool = True,
) -> Noise:
    """Train a universal targeted noise against ``model`` (``parana noise
    train``'s arguments and defaults); written to
    ``out/noise-class{target}-limit{limit}.safetensors`` (``out`` defaults to
    a temporary folder of this session).

    >>> noise = parana.train_noise(model, target=3, limit=0.25, steps=1000)  # doctest: +SKIP
    >>> noise.fooling_rate  # doctest: +SKIP
    """
    folder = os.fspath(out) if out is not None else os.fspath(_tmp() / f"noise-{os.urandom(4).hex()}")
    b = _bar(progress, "noise")
    try:
        report = json.loads(
            _native.train_noises(
                model._file(), [(target, limit)], folder, steps=steps, lr=lr,
                optimizer=optimizer, batch=batch, seed=seed, group=1, dataset=dataset,
                data_dir=_opt_path(data_dir), checkpoint_every=checkpoint_every,
                resume=resume, progress=b or None,
            )
        )
    finally:
        b.close()
    r = report["noises"][0]
    n = load_noise(r["file"])
    n.accuracy, n.fooling_rate, n.detection_auc = r["accuracy"], r["fooling_rate"], r["detection_auc"]
    return n


@dataclass
class AttackResult:
    """Adversarial images (the input's shape), the model's predictions on
    them and whether each image fooled it."""

    images: np.ndarray
    pred: np.ndarray
    fooled: np.ndarray


def fgsm(model: Model, images: Any, labels: Any, eps: float, target: Optional[int] = None) -> AttackResult:
    """FGSM with L-inf radius ``eps`` (targeted at ``target`` when given)."""
    return AttackResult(*_native.fgsm(model._m, _inputs(images), _labels(labels), eps, target))


def pgd(
    model: Model,
    images: Any,
    labels: Any,
    eps: float,
    *,
    alpha: Optional[float] = None,
    steps: int = 100,
    restarts: int = 1,
    target: Optional[int] = None,
    seed: int = 1,
    first_index: int = 0,
) -> AttackResult:
    """PGD with L-inf radius ``eps``, step ``alpha`` (default 2.5 eps / steps)
    and ``restarts`` random starts, as ``parana eval --attack pgd``.
    ``first_index`` is the dataset index of the first image (it seeds the
    random starts, so results match the CLI's on the same images)."""
    return AttackResult(
        *_native.pgd(
            model._m, _inputs(images), _labels(labels), eps, alpha=alpha, steps=steps,
            restarts=restarts, target=target, seed=seed, first_index=first_index,
        )
    )


def prune(
    model: Model,
    method: str = "act",
    ratio: Union[float, str] = 0.81,
    *,
    scope: str = "per-matrix",
    layers: Optional[Sequence[int]] = None,
    offset: Union[float, str] = 0.07,
    score_data: str = "train",
    score_images: int = 2000,
    seed: int = 1,
    dataset: str = "mnist",
    data_dir: Optional[PathLike] = None,
    out: Optional[PathLike] = None,
) -> Model:
    """Prune ``model`` with ``method`` (abs, act, wanda, combined, random,
    random:SEED, abs-inputs, act-inputs) at ``ratio`` (``parana prune``'s
    arguments and defaults); with ``out`` it is written with its masks.
    ``model`` itself is left whole.

    >>> pruned = parana.prune(model, method="act", ratio=0.81)  # doctest: +SKIP
    """
    return Model(
        _native.prune(
            model._m, method, str(ratio), scope=scope,
            layers=None if layers is None else list(layers), offset=str(offset),
            score_data=score_data, score_images=score_images, seed=seed, dataset=dataset,
            data_dir=_opt_path(data_dir), out=_opt_path(out),
            source=None if model.path is None else os.fspath(model.path),
        )
    )


def _ratios(r: Union[str, Sequence[float]]) -> str:
    return r if isinstance(r, str) else ",".join(repr(float(v)) if not isinstance(v, str) else v for v in r)


def sweep(
    model: Model,
    noises: Union[None, Noise, PathLike, Sequence[Union[Noise, PathLike]]] = None,
    *,
    methods: Union[str, Sequence[str]] = "abs,act,combined",
    ratios: Union[str, Sequence[float]] = "0:0.99:0.01",
    per_layer: bool = False,
    layers: Optional[Sequence[int]] = None,
    scope: str = "per-matrix",
    offset: Union[float, str] = 0.07,
    score_data: str = "train",
    score_images: int = 2000,
    seed: int = 1,
    images: Optional[int] = None,
    dataset: str = "mnist",
    data_dir: Optional[PathLike] = None,
    out: Optional[PathLike] = None,
    frame: Optional[bool] = None,
    progress: bool = True,
) -> Any:
    """Prune ``model`` afresh at every ratio with every method and measure
    clean accuracy and accuracy under each noise (``parana sweep``'s
    arguments and defaults, into the same run folder ``out``, a temporary
    one by default). Returns the rows (group, method, ratio, clean, noisy,
    fooled, mean_noisy, remaining) as a pandas DataFrame when pandas is
    importable (``frame=False``: a list of dicts).

    >>> table = parana.sweep(model, [noise], methods="act", ratios="0:0.95:0.05")  # doctest: +SKIP
    """
    if not isinstance(methods, str):
        methods = ",".join(methods)
    folder = os.fspath(out) if out is not None else os.fspath(_tmp() / f"sweep-{os.urandom(4).hex()}")
    b = _bar(progress, "sweep")
    try:
        rows = json.loads(
            _native.sweep(
                model._file(), _noise_paths(noises), folder, methods=methods,
                ratios=_ratios(ratios), per_layer=per_layer,
                layers=None if layers is None else list(layers), scope=scope,
                offset=str(offset), score_data=score_data, score_images=score_images,
                seed=seed, images=images, dataset=dataset, data_dir=_opt_path(data_dir),
                progress=b or None,
            )
        )
    finally:
        b.close()
    if frame is False:
        return rows
    try:
        import pandas as pd
    except ImportError:
        if frame:
            raise
        return rows
    return pd.DataFrame(rows)


def reproduce(
    experiment: PathLike,
    out: PathLike,
    *,
    only: Optional[str] = None,
    dry_run: bool = False,
    progress: bool = True,
) -> Dict[str, Any]:
    """Run an experiment file into the run folder ``out`` as ``parana
    reproduce`` does (finished stages are skipped); returns which stages
    ran and which were cached. The report is ``out/report.html``."""
    b = _bar(progress, "reproduce")
    try:
        s = _native.reproduce(os.fspath(experiment), os.fspath(out), only=only, dry_run=dry_run, progress=b or None)
    finally:
        b.close()
    return json.loads(s)
