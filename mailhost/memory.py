"""Keep glibc from holding on to the memory of password hashing.

Each argon2id check allocates 19 MiB. glibc's malloc raises its mmap threshold after such a
block is freed, so later ones come from the heap and stay there: after a hundred logins a
server idles at over 200 MiB. Pinning the threshold makes big blocks mmapped and returned to
the system when freed (measured in bench/idle_memory.py: 226 MiB -> 57 MiB).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger("mailhost.memory")

M_MMAP_THRESHOLD = -3  # from glibc's malloc.h
MMAP_THRESHOLD_BYTES = 1024 * 1024


def return_large_blocks_to_the_system() -> bool:
    """Pin glibc's mmap threshold at 1 MiB; False (and nothing done) on other C libraries."""
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False  # not glibc (musl, macOS): their allocators behave differently
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    ok = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES))
    if not ok:
        log.debug("mallopt(M_MMAP_THRESHOLD) refused; memory use after logins may stay high")
    return ok
