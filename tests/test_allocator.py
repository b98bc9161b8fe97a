"""allocator.keep_freed_memory: after it, glibc serves a step-sized block from the heap instead of a
fresh mmap() (the page faults it saves per step are what made a fresh process's first epoch slower)."""

import json
import os
import subprocess
import sys

import pytest

from mnist_core.allocator import _glibc

# In a fresh interpreter (malloc's thresholds are per process): malloc an 8 MiB block, as a training
# step does for its activations, and report how many bytes glibc mmap()ed for it (mallinfo2().hblkhd).
PROBE = """
import ctypes, json, sys
from mnist_core.allocator import keep_freed_memory
FIELDS = "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split()
class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in FIELDS]
libc = ctypes.CDLL(None)
libc.mallinfo2.restype, libc.malloc.restype = MallInfo2, ctypes.c_void_p
tuned = keep_freed_memory() if sys.argv[1] == "tuned" else None
before = libc.mallinfo2().hblkhd
block = libc.malloc(8 << 20)
mapped = libc.mallinfo2().hblkhd - before
libc.free(ctypes.c_void_p(block))
print(json.dumps({"tuned": tuned, "mapped": mapped}))
"""


def _probe(mode: str) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, mode],
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in os.environ.items() if not k.startswith(("MALLOC_", "GLIBC_TUNABLES"))},
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not _glibc(), reason="mallopt thresholds are glibc's")
def test_a_step_sized_block_comes_from_the_heap_once_tuned():
    assert _probe("default") == {"tuned": None, "mapped": pytest.approx(8 << 20, rel=0.01)}  # glibc's default
    assert _probe("tuned") == {"tuned": True, "mapped": 0}


def test_training_tunes_the_allocator(mnist):
    from mnist_core.allocator import keep_freed_memory
    from mnist_core.config import TrainConfig
    from mnist_core.train import train

    keep_freed_memory.cache_clear()
    train(TrainConfig(model="mlp", hidden_sizes="16", train_size=512, val_size=0, batch_size=256), mnist)
    assert keep_freed_memory.cache_info().currsize == 1  # set before the first step
    assert keep_freed_memory() is _glibc()


def test_the_speed_probe_tunes_the_allocator_as_training_does():
    """The Train tab's estimate times steps in the server process, where nothing else trains: untuned,
    they ran 20-40% slower than the run the estimate is for."""
    from mnist_core.allocator import keep_freed_memory
    from mnist_core.estimate import probe_speed

    keep_freed_memory.cache_clear()
    probe_speed.cache_clear()
    probe_speed(("cpu", "mlp", "16", 32, False, False, "fp32"))
    assert keep_freed_memory.cache_info().currsize == 1
