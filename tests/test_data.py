import io
import os
import pickle

import pytest
import torch

from mnist_core import data
from mnist_core.data import MD5, DataError, _NumpyOnlyUnpickler, ensure_mnist, load_mnist, split_train_val, verify


def test_real_files_have_the_published_md5(mnist):
    assert verify() == {name: "ok" for name in MD5}
    assert mnist.train_images.shape == (60_000, 28, 28) and mnist.train_images.dtype == torch.uint8
    assert mnist.test_images.shape == (10_000, 28, 28)
    assert mnist.test_labels[:5].tolist() == [7, 2, 1, 0, 4]  # the well-known first test digits


def test_tiny_idx_files_load_with_numpy(tiny_root):
    d = load_mnist(tiny_root, ensure=False)
    assert d.train_images.shape == (64, 28, 28) and d.test_labels.shape == (32,)
    assert d.train_images.dtype == torch.uint8 and d.train_labels.dtype == torch.int64
    raw = (tiny_root / "MNIST" / "raw" / "train-images-idx3-ubyte").read_bytes()
    assert d.train_images[5].flatten().tolist() == list(raw[16 + 5 * 784 : 16 + 6 * 784])


def _damage(root, name, transform):
    path = root / "MNIST" / "raw" / name
    path.write_bytes(transform(path.read_bytes()))


@pytest.mark.parametrize(
    "name, transform, message",
    [
        ("train-images-idx3-ubyte", lambda b: b[:-100], "truncated"),
        ("t10k-labels-idx1-ubyte", lambda b: b + b"\0", "truncated or damaged"),
        ("train-images-idx3-ubyte", lambda b: b"\0\0\x08\x01" + b[4:], "magic number 2049, expected 2051"),
        ("t10k-images-idx3-ubyte", lambda b: b[:12] + b"\0\0\0\x1d" + b[16:], r"shape \(28, 29\)"),
        ("train-labels-idx1-ubyte", lambda b: b[:5], "too short for an IDX header"),
        ("train-labels-idx1-ubyte", lambda b: b"\0\0\x08\x01\0\0\0\x03" + b[8:11], "64 images but"),
    ],
)
def test_damaged_idx_files_raise_a_clear_data_error(tiny_root, name, transform, message):
    _damage(tiny_root, name, transform)
    with pytest.raises(DataError, match=message):
        load_mnist(tiny_root, ensure=False)


def test_missing_file_raises_data_error_naming_it(tiny_root):
    (tiny_root / "MNIST" / "raw" / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte: missing"):
        load_mnist(tiny_root, ensure=False)


def test_md5_is_checked_once_then_again_only_when_a_file_changes(mnist, tmp_path, monkeypatch):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in MD5:  # a copy of the real files, so that the stamp written here is this test's own
        (raw / name).write_bytes((data.raw_dir() / name).read_bytes())
        os.utime(raw / name, ns=(10**18, 10**18))  # an old mtime: a later write surely changes it
    hashed = []
    real_md5 = data.file_md5
    monkeypatch.setattr(data, "file_md5", lambda path: hashed.append(path.name) or real_md5(path))
    assert ensure_mnist(tmp_path, log=lambda msg: None) == "present"
    assert sorted(hashed) == sorted(MD5)
    hashed.clear()
    assert ensure_mnist(tmp_path, log=lambda msg: None) == "present"
    assert load_mnist(tmp_path, log=lambda msg: None).test_labels[:5].tolist() == [7, 2, 1, 0, 4]
    assert hashed == []  # the stamp matched: no MD5 computed at load
    labels = raw / "t10k-labels-idx1-ubyte"
    content = bytearray(labels.read_bytes())
    content[8] = (content[8] + 1) % 10  # same size, different content: a new mtime
    labels.write_bytes(bytes(content))
    monkeypatch.setattr(
        data,
        "_download_torchvision",
        lambda root: (raw / "t10k-labels-idx1-ubyte").write_bytes(
            (data.raw_dir() / "t10k-labels-idx1-ubyte").read_bytes()
        ),
    )
    assert ensure_mnist(tmp_path, log=lambda msg: None) == "download"
    assert "t10k-labels-idx1-ubyte" in hashed  # the change was noticed and the file replaced
    assert verify(tmp_path) == {name: "ok" for name in MD5}


def test_wrong_files_are_reported(tiny_root):
    assert set(verify(tiny_root).values()) == {"bad md5"}


def test_data_dir_follows_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("MNIST_DATA_DIR", str(tmp_path))
    assert data.data_dir() == tmp_path
    assert data.data_dir("elsewhere").name == "elsewhere"


class Payload:
    def __reduce__(self):
        import os

        return (os.system, ("echo pwned",))


def test_unpickler_refuses_anything_but_numpy():
    raw = pickle.dumps([Payload()])
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        _NumpyOnlyUnpickler(io.BytesIO(raw)).load()


def test_unpickler_reads_numpy_arrays():
    import numpy as np

    arr = np.arange(6, dtype=np.float32).reshape(2, 3)
    assert (_NumpyOnlyUnpickler(io.BytesIO(pickle.dumps((arr, arr)))).load()[1] == arr).all()


def test_split_is_seeded_and_disjoint():
    images = torch.arange(100).reshape(100, 1, 1).expand(100, 28, 28).to(torch.uint8)
    labels = torch.arange(100)
    tx, ty, vx, vy = split_train_val(images, labels, 20, seed=3)
    assert len(ty) == 80 and len(vy) == 20
    assert not set(ty.tolist()) & set(vy.tolist())
    assert split_train_val(images, labels, 20, seed=3)[3].tolist() == vy.tolist()
    assert split_train_val(images, labels, 20, seed=4)[3].tolist() != vy.tolist()
    assert len(split_train_val(images, labels, 20, seed=3, train_size=10)[0]) == 10


def test_split_refuses_empty_training_set():
    with pytest.raises(ValueError, match="val_size"):
        split_train_val(torch.zeros(10, 28, 28, dtype=torch.uint8), torch.zeros(10), 10, seed=0)
