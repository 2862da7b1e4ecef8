"""Has anyone committed to an account database? One small file read, no database round trip.

In WAL mode every committing connection, in any process, rewrites the WAL-index header at
the start of the ``-shm`` file (https://www.sqlite.org/walformat.html, "The WAL-Index
Header"): its change counter, last valid frame, salts and checksum. SQLite itself compares
this header to decide whether its page cache is stale (``PRAGMA data_version``). Reading
the same bytes lets a session skip its "what changed in my mailbox?" queries when nothing
was committed since it last looked.

A token that cannot be read is ``None``, which callers treat as "maybe changed", so the
worst a missing or half-written file causes is one query too many, never a missed change.
So is the header of a WAL holding no frames: SQLite deletes the ``-shm`` file when the last
connection closes, and a reopened database starts from the very same bytes, so an empty
header cannot tell "nothing happened" from "written, closed and reopened". Once a commit
has written frames, the header carries the WAL's salts, which are random for every new WAL.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Final

# The header is stored twice (48 bytes each); a writer updates the second copy, then the
# first, so reading both also catches a commit in progress.
_HEADER_BYTES: Final = 96
_IS_INIT: Final = 12  # u8, set once the header is valid
_MX_FRAME: Final = 16  # u32


def commit_token(database: Path | None) -> bytes | None:
    """Bytes that differ after any commit to ``database`` (None when they cannot be read)."""
    if database is None:
        return None
    header = wal_index_header(database)
    if header is None or not _frames(header):
        return None
    return header


def wal_index_header(database: Path) -> bytes | None:
    """The WAL-index header, also of a WAL holding no frames (None when it cannot be read).

    Unlike :func:`commit_token` it vouches for nothing on its own: only a caller whose own
    connection to ``database`` stayed open between two reads may compare them, because that
    connection keeps the ``-shm`` file (and so the header) from being deleted and rebuilt.
    """
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
    if len(header) != _HEADER_BYTES or not header[_IS_INIT]:
        return None
    return header


def _frames(header: bytes) -> int:
    """mxFrame: the last valid frame of the WAL (host byte order, like the whole header)."""
    return int.from_bytes(header[_MX_FRAME:_MX_FRAME + 4], sys.byteorder)
