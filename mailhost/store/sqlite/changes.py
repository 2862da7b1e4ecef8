"""Has anyone committed to an account database? One small file read, no database round trip.

In WAL mode every committing connection, in any process, rewrites the WAL-index header at
the start of the ``-shm`` file (https://www.sqlite.org/walformat.html, "The WAL-Index
Header"): its change counter, last valid frame, salts and checksum. SQLite itself compares
this header to decide whether its page cache is stale (``PRAGMA data_version``). Reading
the same bytes lets a session skip its "what changed in my mailbox?" queries when nothing
was committed since it last looked.

A token that cannot be read is ``None``, which callers treat as "maybe changed", so the
worst a missing or half-written file causes is one query too many, never a missed change.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

# The header is stored twice (48 bytes each); a writer updates the second copy, then the
# first, so reading both also catches a commit in progress.
_HEADER_BYTES: Final = 96


def commit_token(database: Path | None) -> bytes | None:
    """Bytes that differ after any commit to ``database`` (None when they cannot be read)."""
    if database is None:
        return None
    try:
        fd = os.open(f"{database}-shm", os.O_RDONLY)
    except OSError:
        return None
    try:
        header = os.pread(fd, _HEADER_BYTES, 0)
    except OSError:
        return None
    finally:
        os.close(fd)
    return header if len(header) == _HEADER_BYTES else None
