"""Process-wide settings that CPU inference needs to run at full speed.

glibc's malloc serves every allocation of 32 MB or more with a fresh ``mmap`` and returns it to
the system on ``free``. A denoiser's feature maps are that large from about one megapixel up (a
1024x1024 tile's 32-channel half-resolution map is exactly 32 MB), so without this each layer's
output is faulted in and zeroed by the kernel page by page, on every call: eager MWRCANet small
ran 1.45x faster on a 1024x1024 image with the allocator tuned, 1.94x on 2048x2048 (2 threads,
``benchmarks/allocator.py``; the `zoo bench speed` rows record which setting they ran with). :func:`tune_allocator` makes malloc
serve large blocks from its heap and keep freed memory for the next call instead.

The cost: the process keeps its peak heap until it exits rather than handing freed memory back,
which is what a denoising run wants. ``zoo.load`` applies it once per process; set
``ZOO_MALLOC=system`` to keep the C library's defaults (e.g. in a long-lived server).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

_M_TRIM_THRESHOLD = -1  # glibc mallopt parameters (malloc.h)
_M_MMAP_MAX = -4
_NEVER = -1  # M_TRIM_THRESHOLD -1: never give the heap's free top back (mallopt(3))

_tuned: bool | None = None  # None until tune_allocator() has run


def tune_allocator() -> bool:
    """Keep large blocks on malloc's heap (see the module docstring); True where applied.

    Only glibc is tuned (other C libraries and platforms are left alone); idempotent."""
    global _tuned
    if _tuned is None:
        _tuned = os.environ.get("ZOO_MALLOC", "").lower() != "system" and _mallopt()
    return _tuned


def set_threads(threads: int) -> None:
    """Use ``threads`` CPU threads for the frameworks' compute: before they start (OpenMP, oneDNN
    and TensorFlow read these variables when they initialise) and for torch if already imported."""
    if threads < 1:
        from registry.errors import ZooError

        raise ZooError(f"--threads must be at least 1, got {threads}")
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "TF_NUM_INTRAOP_THREADS"):
        os.environ[name] = str(threads)
    os.environ["TF_NUM_INTEROP_THREADS"] = "1"
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)


def allocator_tuned() -> bool:
    return bool(_tuned)


def _mallopt() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        if not hasattr(libc, "gnu_get_libc_version"):
            return False  # not glibc (musl has no such knobs)
        return bool(libc.mallopt(_M_MMAP_MAX, 0)) and bool(libc.mallopt(_M_TRIM_THRESHOLD, _NEVER))
    except (OSError, AttributeError):
        return False
