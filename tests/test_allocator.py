"""allocator.keep_freed_memory: after it, glibc serves a step-sized block from the heap instead of a
fresh mmap() (the page faults it saves per step are what made a fresh process's first epoch slower).

Library code leaves the process's malloc alone; the processes that train set it before their first step:
the CLI's train and sweep, the app's training child, and the app's server (its speed probe times steps).
Each case runs in a fresh interpreter (malloc's thresholds are per process) and, where training would
begin, reports how many bytes glibc mmap()ed for an 8 MiB block, as a step allocates for its activations.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mnist_core import nondigits
from mnist_core.allocator import _glibc

pytestmark = pytest.mark.skipif(not _glibc(), reason="mallopt thresholds are glibc's")

ROOT = Path(__file__).resolve().parent.parent
STEP_BLOCK = 8 << 20

# report(): malloc a step-sized block, print how much of it was mmap()ed (mallinfo2().hblkhd), exit.
REPORT = """
import ctypes, json, sys
FIELDS = "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split()
class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in FIELDS]
libc = ctypes.CDLL(None)
libc.mallinfo2.restype, libc.malloc.restype = MallInfo2, ctypes.c_void_p
def report(*args, **kwargs):
    before = libc.mallinfo2().hblkhd
    block = libc.malloc(8 << 20)  # STEP_BLOCK
    mapped = libc.mallinfo2().hblkhd - before
    libc.free(ctypes.c_void_p(block))
    print(json.dumps({"mapped": mapped}), flush=True)
    raise SystemExit(0)
"""


def _mapped(body: str) -> int:
    """Run REPORT + body in a fresh interpreter; the bytes mmap()ed for the step block when report() ran."""
    result = subprocess.run(
        [sys.executable, "-c", REPORT + body],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={k: v for k, v in os.environ.items() if not k.startswith(("MALLOC_", "GLIBC_TUNABLES"))},
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])["mapped"]


UNTUNED = pytest.approx(STEP_BLOCK, rel=0.01)  # glibc's default: a block this large is mmap()ed


def test_a_step_sized_block_comes_from_the_heap_once_tuned():
    assert _mapped("report()") == UNTUNED
    assert _mapped("from mnist_core.allocator import keep_freed_memory\nassert keep_freed_memory()\nreport()") == 0


def test_library_training_leaves_malloc_alone(mnist):
    # `mnist` and the bank: the data and the non-digits are on disk before the child reads them. A child
    # that had to make them first (the suite's first use, in a fresh clone) freed large blocks, which raises
    # glibc's own mmap threshold above a step's block: it then read as tuned though nothing had tuned it
    # (MNIST in the sixth session; the first chunk of non-digits, made here, failed a CI run in the eighth).
    nondigits.bank(nondigits.CHUNK, log=lambda _: None)
    body = """
from mnist_core.config import TrainConfig
from mnist_core.data import load_mnist
from mnist_core.train import train
train(TrainConfig(model="mlp", hidden_sizes="16", train_size=512, val_size=0, batch_size=256), load_mnist())
report()
"""
    assert _mapped(body) == UNTUNED


def test_the_cli_tunes_malloc_before_training():
    body = """
import mnist_core.data, mnist_core.train
from mnist_core.cli import main
mnist_core.data.load_mnist = lambda *args, **kwargs: None
mnist_core.train.train = report
main(["train", "--model", "mlp", "--epochs", "1"])
"""
    assert _mapped(body) == 0


def test_the_cli_sweep_tunes_malloc_before_training():
    body = """
import mnist_core.data, mnist_core.sweep
from mnist_core.cli import main
mnist_core.data.load_mnist = lambda *args, **kwargs: None
mnist_core.sweep.open_study = lambda *args, **kwargs: None
mnist_core.sweep.run_sweep = report
main(["sweep", "--study", "s", "--trials", "1"])
"""
    assert _mapped(body) == 0


def test_the_training_child_tunes_malloc_before_serving():
    body = """
from mnist_core.app import train_process
train_process.serve = report
train_process.main(["0"])
"""
    assert _mapped(body) == 0


def test_the_server_tunes_malloc_at_warm_up_for_its_speed_probe():
    """The Train tab's estimate times steps in the server process, where nothing else trains: untuned,
    they ran 20-40% slower than the run the estimate is for."""
    body = """
from types import SimpleNamespace
from mnist_core.app.context import AppContext
idle = SimpleNamespace(warm_up=lambda: None, predictor=lambda name: None, retain=lambda *a: None)
idle.caps = SimpleNamespace(keep_runs=None)
AppContext.data = lambda self: None
AppContext(idle, idle).warm_up()
report()
"""
    assert _mapped(body) == 0
