"""Process-wide memory settings for the workstation.

glibc serves a freed large block's size from the heap from then on (its mmap threshold
rises to the largest block freed, up to 32 MB), and heap memory of the decoding and
inference threads is rarely returned to the system: after a 4-view study of 13-Mpixel
films the process held ~250 MB more than it used. A fixed 16 MiB threshold keeps each
film-sized array (27-54 MB) in its own mapping, returned when freed, while the network's
smaller buffers stay on the fast heap. Measured with tests/benchmarks/bench_viewer.py, the
threshold set through MALLOC_MMAP_THRESHOLD_ (before the decoder process existed): peak
1529-1559 MB -> 1318 MB; 1 MiB saved a little more but made the analysis 25% slower."""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys

log = logging.getLogger(__name__)

M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter number
MMAP_THRESHOLD_BYTES = 16 * 1024 * 1024


def return_large_blocks_to_the_system() -> bool:
    """Set the fixed mmap threshold on glibc (Linux); elsewhere nothing to do. True if set."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES))
    except (OSError, AttributeError):  # musl and other C libraries have no mallopt
        log.info("mallopt is not available: memory settings left as they are")
        return False
