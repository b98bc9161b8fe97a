"""mnist_core.atomic: a write either replaces the whole file or leaves the old one, never a temporary file."""

import os
import stat

import pytest

from mnist_core.atomic import atomic_write, atomic_write_bytes


@pytest.mark.parametrize("durable", [True, False])
def test_a_write_replaces_the_file_whole_and_leaves_nothing_else(tmp_path, durable):
    path = tmp_path / "f.bin"
    path.write_bytes(b"old")
    assert atomic_write_bytes(path, b"new content", durable=durable) == path
    assert path.read_bytes() == b"new content"
    assert os.listdir(tmp_path) == ["f.bin"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o644  # an ordinary file, not mkstemp's 0600


def test_a_failure_mid_write_keeps_the_old_file_and_removes_the_temporary_one(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"old")
    seen = []

    def write(fh):
        fh.write(b"half of the new")
        fh.flush()
        seen.append(sorted(os.listdir(tmp_path)))  # the partial write exists, under a hidden temporary name
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        atomic_write(path, write)
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["f.bin"]
    [names] = seen
    temporary = [n for n in names if n != "f.bin"]
    assert len(temporary) == 1 and temporary[0].startswith(".f.bin.") and temporary[0].endswith(".tmp")


def test_an_interrupt_mid_write_also_removes_the_temporary_file(tmp_path):
    def write(fh):
        fh.write(b"partial")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(tmp_path / "new.bin", write)
    assert os.listdir(tmp_path) == []
