"""The network's view of MNIST: last-hidden-layer features, nearest training digits, a 2-D map.

`inside_index(checkpoint, model)` returns an `InsideIndex` for a checkpoint: the unit-length
features of the training digits (for nearest neighbours) and of the test digits, the test
digits' predictions, and their 2-D map (PCA by default; benchmarks/RESULTS.md compares it with
UMAP and t-SNE, which draw slightly tighter clusters but take minutes on a busy 2-core CPU; UMAP
needs the optional umap-learn), and how far a sample of test digits lies from its nearest training
digit (`test_nearest`: a new image's distance is called near or far against it). Building it takes
seconds to minutes, so it is cached next to the checkpoint in `<checkpoint>.inside.npz`, keyed by
the checkpoint's SHA-256, the data's fingerprint and the map method: a stale, truncated or foreign
cache is rebuilt, never trusted. The cache is plain arrays (np.load with allow_pickle=False), so
reading it can run no code.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .atomic import atomic_write
from .data import MNISTTensors, load_mnist_cached
from .evaluate import INFERENCE_BATCH
from .layers import feature_network, forward_stages
from .models import as_input, digit_logits

CACHE_VERSION = 2  # 2: test_nearest (the typical distance of a test digit to its nearest training digit)
CACHE_SUFFIX = ".inside.npz"
MAP_METHODS = ("umap", "tsne", "pca")
DEFAULT_MAP = "pca"  # benchmarks/RESULTS.md, "Look inside": seconds, where UMAP and t-SNE took many minutes
PLACE_NEIGHBOURS = 10  # a new digit goes to the mean map position of its 10 nearest test digits
NEAREST_SAMPLE = 1000  # test digits whose nearest training digit sets "typical" (one matmul: a second or two)
_DEFAULT = object()


@torch.inference_mode()
def hidden_features(
    model: nn.Module, images: torch.Tensor | np.ndarray, batch_size: int = INFERENCE_BATCH, predict: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Last-hidden-layer features (N, D) float32 and predicted digits (N,) for many images (eval mode);
    without `predict`, features alone (an ensemble runs only the member they come from) and no digits."""
    was_training = model.training
    model.eval()
    feats, preds = [], []
    try:
        device = next(model.parameters()).device
        for start in range(0, len(images), batch_size):
            x = as_input(images[start : start + batch_size], device)
            out = forward_stages(model if predict else feature_network(model), x, keep_stages=False)
            feats.append(out.features.float().cpu())
            if predict:
                preds.append(digit_logits(out.logits).argmax(1).cpu())  # a digit, never "not a digit"
    finally:
        model.train(was_training)
    if not feats:
        return np.zeros((0, 0), np.float32), np.zeros(0, np.int64)
    return torch.cat(feats).numpy(), torch.cat(preds).numpy() if preds else np.zeros(0, np.int64)


def unit_rows(features: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (cosine similarity becomes a dot product); zero rows stay zero."""
    norms = np.linalg.norm(features, axis=1, keepdims=True)
    return (features / np.maximum(norms, 1e-12)).astype(np.float32)


def embed_2d(features: np.ndarray, method: str = DEFAULT_MAP, seed: int = 0) -> np.ndarray:
    """A 2-D map (N, 2) float32 of unit feature rows by UMAP, t-SNE or PCA, scaled to [-1, 1]."""
    if method == "pca":
        from sklearn.decomposition import PCA

        xy = PCA(n_components=2, random_state=seed).fit_transform(features)
    elif method == "tsne":
        from sklearn.manifold import TSNE

        xy = TSNE(n_components=2, init="pca", random_state=seed, metric="cosine").fit_transform(features)
    elif method == "umap":
        try:
            import umap  # optional (requirements-dev.txt): numba's compile alone costs seconds to minutes
        except ImportError:
            raise ValueError("map method umap needs the umap-learn package (pip install umap-learn)") from None

        xy = umap.UMAP(n_components=2, n_neighbors=15, min_dist=0.1, metric="cosine", random_state=seed).fit_transform(
            features
        )
    else:
        raise ValueError(f"map method: {method!r} is not one of {', '.join(MAP_METHODS)}")
    xy = np.asarray(xy, dtype=np.float32)
    centre = (xy.max(0) + xy.min(0)) / 2
    half = max(float((xy.max(0) - xy.min(0)).max()) / 2, 1e-12)
    return ((xy - centre) / half).astype(np.float32)


@dataclass
class InsideIndex:
    """Features and the 2-D map of one checkpoint; `neighbours` and `place` answer for a new digit,
    `typical_distance` and `farther_than` say whether it lies near the training digits or far."""

    train_features: np.ndarray  # (N, D) unit rows (float16 on disk, float32 in memory)
    train_labels: np.ndarray  # (N,) int64
    test_features: np.ndarray  # (M, D) unit rows (as train_features)
    test_labels: np.ndarray  # (M,) int64
    test_predictions: np.ndarray  # (M,) int64
    map_xy: np.ndarray  # (M, 2) float32 in [-1, 1]
    method: str
    build_seconds: float = 0.0
    # Sorted cosine distances of up to NEAREST_SAMPLE test digits to their nearest training digit.
    test_nearest: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))

    def __post_init__(self) -> None:
        # One conversion here instead of one per query: a float16 matmul is slow on CPU.
        self.train_features = np.ascontiguousarray(self.train_features, dtype=np.float32)
        self.test_features = np.ascontiguousarray(self.test_features, dtype=np.float32)
        self.test_nearest = np.sort(np.asarray(self.test_nearest, dtype=np.float32))

    def neighbours(self, feature: np.ndarray, k: int = 8) -> list[tuple[int, int]]:
        """The k training digits nearest (cosine) to one feature vector: [(train_index, label)], nearest first."""
        return [(i, label) for i, label, _ in self.neighbour_distances(feature, k)]

    def neighbour_distances(self, feature: np.ndarray, k: int = 8) -> list[tuple[int, int, float]]:
        """As `neighbours`, each with its cosine distance (1 - cosine similarity, 0 = same direction):
        [(train_index, label, distance)], nearest first."""
        query = unit_rows(np.asarray(feature, dtype=np.float32).reshape(1, -1))[0]
        scores = self.train_features @ query
        idx = _top(scores, k)
        return [(int(i), int(self.train_labels[i]), max(0.0, 1.0 - float(scores[i]))) for i in idx]

    @property
    def typical_distance(self) -> float | None:
        """The median distance of a test digit to its nearest training digit (None for an index without them)."""
        return float(np.median(self.test_nearest)) if len(self.test_nearest) else None

    def farther_than(self, distance: float) -> float | None:
        """The share of test digits nearer their nearest training digit than `distance`: 0.99 = farther from
        training than 99% of test digits are (None for an index without them)."""
        if not len(self.test_nearest):
            return None
        return float(np.searchsorted(self.test_nearest, distance, side="left") / len(self.test_nearest))

    def place(self, feature: np.ndarray, k: int = PLACE_NEIGHBOURS) -> tuple[float, float]:
        """Where a new digit falls on the map: the mean position of its k nearest test digits.

        Works for every map method (t-SNE has no transform for new points) and costs one matmul.
        """
        idx = _nearest(self.test_features, feature, k)
        x, y = self.map_xy[idx].mean(0)
        return float(x), float(y)

    @property
    def misclassified(self) -> np.ndarray:
        """Boolean mask over the test digits the model gets wrong (marked on the map)."""
        return self.test_predictions != self.test_labels


def _nearest(table: np.ndarray, feature: np.ndarray, k: int) -> np.ndarray:
    query = unit_rows(np.asarray(feature, dtype=np.float32).reshape(1, -1))[0]
    return _top(table @ query, k)


def _top(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k highest scores, highest first."""
    k = min(k, len(scores))
    top = np.argpartition(-scores, k - 1)[:k]
    return top[np.argsort(-scores[top], kind="stable")]


def nearest_distances(
    train_unit: np.ndarray, test_unit: np.ndarray, sample: int = NEAREST_SAMPLE, seed: int = 0
) -> np.ndarray:
    """Sorted cosine distances of up to `sample` test digits (a fixed random choice) to their nearest
    training digit: what "near" means for this model, to judge a new image's distance by."""
    if not len(train_unit) or not len(test_unit):
        return np.zeros(0, np.float32)
    rows = np.random.default_rng(seed).permutation(len(test_unit))[:sample]
    best = [
        (test_unit[rows[start : start + 250]] @ train_unit.T).max(1) for start in range(0, len(rows), 250)
    ]  # 250 rows at a time: 60 MB of similarities against 60,000 training digits
    return np.sort(np.clip(1.0 - np.concatenate(best), 0.0, None)).astype(np.float32)


def build_index(
    model: nn.Module,
    data: MNISTTensors,
    method: str = DEFAULT_MAP,
    log: Callable[[str], None] | None = None,
) -> InsideIndex:
    """Compute features of the training and test digits and the test set's 2-D map (no cache)."""
    log = log or (lambda _msg: None)
    started = time.perf_counter()
    train_f, _ = hidden_features(model, data.train_images, predict=False)
    test_f, test_pred = hidden_features(model, data.test_images)
    log(f"features of {len(train_f)} training and {len(test_f)} test digits: {time.perf_counter() - started:.1f} s")
    test_unit, train_unit = unit_rows(test_f), unit_rows(train_f)
    map_started = time.perf_counter()
    xy = embed_2d(test_unit, method)
    log(f"{method} map of {len(test_f)} test digits: {time.perf_counter() - map_started:.1f} s")
    near_started = time.perf_counter()
    nearest = nearest_distances(train_unit, test_unit)
    log(f"nearest training digit of {len(nearest)} test digits: {time.perf_counter() - near_started:.1f} s")
    return InsideIndex(
        train_features=train_unit,
        train_labels=np.asarray(data.train_labels, dtype=np.int64),
        test_features=test_unit,
        test_labels=np.asarray(data.test_labels, dtype=np.int64),
        test_predictions=test_pred.astype(np.int64),
        map_xy=xy,
        method=method,
        build_seconds=time.perf_counter() - started,
        test_nearest=nearest,
    )


# ------------------------------------------------------------------------------------------
# The cache next to the checkpoint.


def cache_path_for(checkpoint: str | os.PathLike) -> Path:
    return Path(str(checkpoint) + CACHE_SUFFIX)


def file_sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def data_fingerprint(data: MNISTTensors) -> str:
    """Sizes and a hash of the labels and a pixel sample: tells the full MNIST from a test subset."""
    digest = hashlib.sha256()
    for t in (data.train_images, data.train_labels, data.test_images, data.test_labels):
        digest.update(str(tuple(t.shape)).encode())
    for t in (data.train_labels, data.test_labels, data.train_images[:: max(1, len(data.train_images) // 64)]):
        digest.update(t.contiguous().numpy().tobytes())
    return digest.hexdigest()[:32]


def cache_key(checkpoint: str | os.PathLike, data: MNISTTensors, method: str) -> str:
    return f"v{CACHE_VERSION}|{file_sha256(checkpoint)}|{data_fingerprint(data)}|{method}"


_ARRAYS = (
    "train_features",
    "train_labels",
    "test_features",
    "test_labels",
    "test_predictions",
    "map_xy",
    "test_nearest",
)


def read_cache(path: Path, key: str) -> InsideIndex | None:
    """The cached index if `path` holds one for exactly `key` and its arrays are consistent, else None."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            if str(npz["key"]) != key:
                return None
            arrays = {name: npz[name] for name in _ARRAYS}
            method, seconds = str(npz["method"]), float(npz["build_seconds"])
    except Exception:  # noqa: BLE001 - missing, truncated, not a zip, wrong keys: all mean "rebuild"
        return None
    n, m = len(arrays["train_labels"]), len(arrays["test_labels"])
    dims = arrays["train_features"].shape[1:] == arrays["test_features"].shape[1:]
    if not (
        dims
        and arrays["train_features"].shape[0] == n
        and arrays["test_features"].shape[0] == m
        and arrays["test_predictions"].shape == (m,)
        and arrays["map_xy"].shape == (m, 2)
        and np.isfinite(arrays["map_xy"]).all()
        and arrays["test_nearest"].ndim == 1
        and len(arrays["test_nearest"]) <= m
        and np.isfinite(arrays["test_nearest"]).all()
    ):
        return None
    return InsideIndex(**arrays, method=method, build_seconds=seconds)


def write_cache(path: Path, key: str, index: InsideIndex) -> bool:
    """Write atomically (temporary file + rename); False (and no file) if the folder is not writable."""

    def write(fh) -> None:
        np.savez(
            fh,
            key=np.array(key),
            method=np.array(index.method),
            build_seconds=np.array(index.build_seconds),
            **{name: getattr(index, name) for name in _ARRAYS if not name.endswith("_features")},
            # Features as float16: half the size (~37 MB for the full set), ample to rank neighbours.
            train_features=index.train_features.astype(np.float16),
            test_features=index.test_features.astype(np.float16),
        )

    try:
        atomic_write(path, write, durable=False)
    except OSError:
        return False
    return True


def inside_index(
    checkpoint: str | os.PathLike,
    model: nn.Module,
    data: MNISTTensors | None = None,
    method: str = DEFAULT_MAP,
    cache: str | os.PathLike | None | object = _DEFAULT,
    log: Callable[[str], None] | None = None,
) -> InsideIndex:
    """The index of `model` (loaded from `checkpoint`), from its cache when valid, else built and cached.

    `data` defaults to the full MNIST; `cache` to `<checkpoint>.inside.npz` (None: no cache file).
    """
    data = data if data is not None else load_mnist_cached()
    path = cache_path_for(checkpoint) if cache is _DEFAULT else (Path(cache) if cache is not None else None)
    key = cache_key(checkpoint, data, method)
    if path is not None:
        cached = read_cache(path, key)
        if cached is not None:
            return cached
    index = build_index(model, data, method, log)
    if path is not None:
        write_cache(path, key, index)
    return index
