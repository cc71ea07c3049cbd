"""Type stubs of parana's native module (see python/src/*.rs); use the
documented wrappers in ``parana`` instead."""

from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np
import numpy.typing as npt

__version__: str

ProgressFn = Callable[[int, int, str], Any]

class Model:
    @staticmethod
    def load(path: str) -> Model: ...
    @staticmethod
    def from_tensors(
        tensors: Dict[str, npt.NDArray[np.float32]], meta: Dict[str, str], origin: str
    ) -> Model: ...
    def tensors(self) -> Dict[str, npt.NDArray[np.float32]]: ...
    def logits(self, x: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]: ...
    def predict(self, x: npt.NDArray[np.float32]) -> npt.NDArray[np.int64]: ...
    def save(self, path: str) -> None: ...
    def arch_json(self) -> str: ...
    @property
    def description(self) -> str: ...
    @property
    def head(self) -> str: ...
    @property
    def meta(self) -> Dict[str, str]: ...
    @property
    def param_count(self) -> int: ...
    @property
    def input_shape(self) -> Tuple[int, int, int]: ...
    @property
    def classes(self) -> int: ...
    @property
    def path(self) -> Optional[str]: ...

_Split = Tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64]]

def load_dataset(
    name: str = "mnist", data_dir: Optional[str] = None
) -> Tuple[str, int, str, _Split, _Split]: ...
def load_noise(path: str) -> Tuple[npt.NDArray[np.float32], int, float, Dict[str, str]]: ...
def train(
    *,
    arch: str = ...,
    hidden: Optional[str] = ...,
    conv: Optional[str] = ...,
    head: str = ...,
    dropout: float = ...,
    steps: int = ...,
    batch: int = ...,
    lr: float = ...,
    l2: float = ...,
    seed: int = ...,
    dataset: str = ...,
    data_dir: Optional[str] = ...,
    val: int = ...,
    select_every: int = ...,
    lr_decay: str = ...,
    decay_from: float = ...,
    out: Optional[str] = ...,
    eval_every: int = ...,
    checkpoint_every: int = ...,
    resume: bool = ...,
    progress: Optional[ProgressFn] = ...,
) -> Model: ...
def train_noises(
    model: str,
    pairs: List[Tuple[int, float]],
    out: str,
    *,
    steps: int = ...,
    lr: Optional[float] = ...,
    optimizer: str = ...,
    batch: int = ...,
    seed: int = ...,
    group: int = ...,
    dataset: str = ...,
    data_dir: Optional[str] = ...,
    checkpoint_every: int = ...,
    resume: bool = ...,
    progress: Optional[ProgressFn] = ...,
) -> str: ...

_Attack = Tuple[npt.NDArray[np.float32], npt.NDArray[np.int64], npt.NDArray[np.bool_]]

def fgsm(
    model: Model,
    x: npt.NDArray[np.float32],
    labels: npt.NDArray[np.uint8],
    eps: float,
    target: Optional[int] = None,
) -> _Attack: ...
def pgd(
    model: Model,
    x: npt.NDArray[np.float32],
    labels: npt.NDArray[np.uint8],
    eps: float,
    *,
    alpha: Optional[float] = ...,
    steps: int = ...,
    restarts: int = ...,
    target: Optional[int] = ...,
    seed: int = ...,
    first_index: int = ...,
) -> _Attack: ...
def prune(
    model: Model,
    method: str,
    ratio: str,
    *,
    scope: str = ...,
    layers: Optional[List[int]] = ...,
    offset: str = ...,
    score_data: str = ...,
    score_images: int = ...,
    seed: int = ...,
    dataset: str = ...,
    data_dir: Optional[str] = ...,
    out: Optional[str] = ...,
    source: Optional[str] = ...,
) -> Model: ...
def sweep(
    model: str,
    noise: List[str],
    out: str,
    *,
    methods: str = ...,
    ratios: str = ...,
    per_layer: bool = ...,
    layers: Optional[List[int]] = ...,
    scope: str = ...,
    offset: str = ...,
    score_data: str = ...,
    score_images: int = ...,
    seed: int = ...,
    images: Optional[int] = ...,
    dataset: str = ...,
    data_dir: Optional[str] = ...,
    progress: Optional[ProgressFn] = ...,
) -> str: ...
def evaluate(
    model: Model,
    *,
    dataset: str = ...,
    data_dir: Optional[str] = ...,
    split: str = ...,
    noise: List[str] = ...,
) -> str: ...
def reproduce(
    experiment: str,
    out: str,
    *,
    only: Optional[str] = ...,
    dry_run: bool = ...,
    progress: Optional[ProgressFn] = ...,
) -> str: ...
