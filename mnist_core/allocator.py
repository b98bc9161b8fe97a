"""glibc's malloc, set for a training loop: freed step buffers stay in the process for the next step.

Every training step allocates and frees the same few megabytes of activations and gradients. With
glibc's defaults these blocks go back to the system between steps (large blocks are mmap()ed and
unmapped, the heap's free top is trimmed), so each step page-faults its buffers in again. Fixing
both thresholds (mallopt(3), the documented runtime form of MALLOC_MMAP_THRESHOLD_ and
MALLOC_TRIM_THRESHOLD_) keeps them: the default cnn's first epoch in a fresh process took 1.23-1.51 s
instead of 1.52-1.84 s (benchmarks/RESULTS.md). Setting only one of the two is slower than neither.
"""

from __future__ import annotations

import ctypes
import functools
import os

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's <malloc.h>
MMAP_THRESHOLD = 32 << 20  # glibc's upper limit on 64-bit; larger blocks (the data set) are still mmap()ed
TRIM_THRESHOLD = 256 << 20  # free memory beyond this at the heap's top is still given back


def _glibc() -> bool:
    try:
        return os.confstr("CS_GNU_LIBC_VERSION").startswith("glibc")
    except (AttributeError, OSError, ValueError):  # not POSIX, or not glibc
        return False


@functools.cache
def keep_freed_memory() -> bool:
    """Set glibc's mmap and trim thresholds, once per process; whether they are set (False off glibc)."""
    if not _glibc():
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    # Both or neither: either one alone was slower than glibc's defaults.
    return mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1 and mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
