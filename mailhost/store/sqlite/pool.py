"""The threads and the open-connection budget shared by every account database.

aiosqlite keeps one thread per connection and makes one thread hop per statement. With one
database per account that meant a thread, a page cache and a WAL-index mapping (~400 KiB) for
every account that had a session, even one sitting in IDLE for hours. Account stores instead
borrow one of a few shared threads for a whole read or transaction, open their sqlite3
connection on first use and close it when the account has been quiet for a while or when too
many are open.
"""

from __future__ import annotations

from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

THREADS = 4  # SQLite releases the GIL while it works; a few threads cover fsync waits
MAX_OPEN = 64  # open account connections across the process, least recently used closed first
IDLE_SECONDS = 10.0  # close an account's connection after this long without use


class PooledDatabase(Protocol):
    def release_connection(self) -> None: ...


class DatabasePool:
    """Shared worker threads plus an LRU of account databases holding a connection."""

    def __init__(self, threads: int = THREADS, max_open: int = MAX_OPEN,
                 idle_seconds: float = IDLE_SECONDS) -> None:
        self.executor = ThreadPoolExecutor(threads, thread_name_prefix="mailhost-db")
        self.max_open = max_open
        self.idle_seconds = idle_seconds
        self._open: OrderedDict[int, PooledDatabase] = OrderedDict()

    def used(self, database: PooledDatabase) -> None:
        """Note a use (from the event loop); ask the least recently used beyond the cap to close."""
        key = id(database)
        if key in self._open:
            self._open.move_to_end(key)
            return
        self._open[key] = database
        if len(self._open) > self.max_open:
            for _key, oldest in list(self._open.items())[: len(self._open) - self.max_open]:
                oldest.release_connection()

    def closed(self, database: PooledDatabase) -> None:
        self._open.pop(id(database), None)

    @property
    def open_connections(self) -> int:
        return len(self._open)

    def shutdown(self) -> None:
        self.executor.shutdown(wait=True)
