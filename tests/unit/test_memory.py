"""The allocator settings that return freed memory to the system."""

import ctypes
import ctypes.util
import platform

from mailhost.memory import FreedMemoryReturner, return_large_blocks_to_the_system


def test_glibc_accepts_the_mmap_threshold() -> None:
    result = return_large_blocks_to_the_system()
    if platform.libc_ver()[0] == "glibc":
        assert result is True
    else:
        assert result is False


def test_freed_heap_memory_is_given_back() -> None:
    returner = FreedMemoryReturner(threshold=0)
    if platform.libc_ver()[0] != "glibc":
        assert not returner.available
        return
    assert returner.available
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = [ctypes.c_void_p]
    # 64 MiB in 16 KiB blocks (below the mmap threshold, so they come from the heap), then
    # every block freed except the last, which keeps glibc from shrinking the heap by itself.
    blocks = [libc.malloc(16 * 1024) for _ in range(4096)]
    for block in blocks[:-1]:
        libc.free(block)
    assert returner.free_bytes() >= 60 * 1024 * 1024
    assert returner.trim() is True
    libc.free(blocks[-1])
