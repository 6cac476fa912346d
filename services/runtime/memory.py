"""Let decoding and drawing reuse freed memory instead of faulting in fresh pages for every photo.

glibc serves blocks above its mmap threshold (128 KiB at start, rising only as such blocks are
freed) with fresh ``mmap`` pages and returns heap tops above the trim threshold to the kernel, so a
process that decodes one photo after another pays a page fault per 4 KiB of every image-sized
buffer. Here that cost dominated decoding: ``decode_rgb`` of a 1 MP JPEG takes 11.0 ms with the
defaults and 4.0 ms with the heap kept (``bench/decode_latency.py``, idle machine).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger(__name__)

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
# glibc refuses an mmap threshold above HEAP_MAX_SIZE / 2, which is 32 MiB on 64-bit Linux.
MMAP_THRESHOLD_BYTES = 32 * 1024 * 1024


def keep_freed_memory(keep_mb: int) -> bool:
    """Serve buffers up to 32 MiB from the heap and keep up to ``keep_mb`` MiB freed for reuse.

    ``keep_mb`` 0 leaves the allocator alone. Returns True if glibc took both settings; on another
    C library (musl, macOS) nothing changes and it returns False.
    """
    if keep_mb <= 0:
        return False
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        log.info("allocator: no glibc mallopt; keeping the C library's defaults")
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    took = mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) == 1
    took = mallopt(M_TRIM_THRESHOLD, keep_mb * 1024 * 1024) == 1 and took
    return took
