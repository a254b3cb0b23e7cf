"""glibc malloc settings for a long-lived server holding one big tree.

glibc serves a request above M_MMAP_THRESHOLD (128 KiB at start) with its own mmap, returned
to the kernel when freed; but after the first such block is freed it raises the threshold to
that block's size (up to 32 MiB), so later blocks of that size come from the heap and, once
freed, mostly stay in the process. A snapshot holds its encoded pieces (~200 KB each, 23 MB
for 100k znodes of 100 bytes) until written: after the first one, their memory stayed in
RSS, 0-90 bytes per znode from run to run (bench/memory.py). Setting the threshold explicitly
turns that adjustment off, so big transient buffers go back to the kernel when freed.
"""

from __future__ import annotations

import ctypes
import os

M_MMAP_THRESHOLD = -3  # malloc.h
MMAP_THRESHOLD = 128 * 1024  # glibc's own starting value


def tune_malloc() -> bool:
    """Fix glibc's mmap threshold; False where there is no glibc mallopt, or where the
    operator already chose one (MALLOC_MMAP_THRESHOLD_ in the environment)."""
    if "MALLOC_MMAP_THRESHOLD_" in os.environ:
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD))
