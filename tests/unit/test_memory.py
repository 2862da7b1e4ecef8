"""The allocator setting that returns password-hashing memory to the system."""

import platform

from mailhost.memory import return_large_blocks_to_the_system


def test_glibc_accepts_the_mmap_threshold() -> None:
    result = return_large_blocks_to_the_system()
    if platform.libc_ver()[0] == "glibc":
        assert result is True
    else:
        assert result is False
