import io
import pickle

import pytest
import torch

from mnist_core import data
from mnist_core.data import MD5, _NumpyOnlyUnpickler, load_mnist, split_train_val, verify


def test_real_files_have_the_published_md5(mnist):
    assert verify() == {name: "ok" for name in MD5}
    assert mnist.train_images.shape == (60_000, 28, 28) and mnist.train_images.dtype == torch.uint8
    assert mnist.test_images.shape == (10_000, 28, 28)
    assert mnist.test_labels[:5].tolist() == [7, 2, 1, 0, 4]  # the well-known first test digits


def test_tiny_idx_files_load_through_torchvision(tiny_root):
    d = load_mnist(tiny_root, ensure=False)
    assert d.train_images.shape == (64, 28, 28) and d.test_labels.shape == (32,)


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
