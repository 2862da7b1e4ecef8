"""The SQLite store: a directory database plus one database file per account."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from mailhost.store.events import StoreObserver
from mailhost.store.interface import StoreError
from mailhost.store.sqlite.db import open_database
from mailhost.store.sqlite.directory import SqliteDirectory
from mailhost.store.sqlite.mailstore import QuotaSource, SqliteMailStore
from mailhost.store.sqlite.pool import DatabasePool


class NoSuchAccount(StoreError):
    pass


# Keep a released account's store a while: mail clients poll (log in, check, log out) every
# few minutes, and a new store checks the schema again. The store holds no connection while
# unused (see pool.py), so keeping it costs little.
IDLE_KEEP_SECONDS = 300.0
MAX_IDLE_ACCOUNTS = 64
# How often account() looks for stores to close (and whenever it opens one): a look sorts every
# idle account, which every delivery used to pay. Between looks, a store may stay open that
# much past IDLE_KEEP_SECONDS, and the accounts in use meanwhile may pass MAX_IDLE_ACCOUNTS.
IDLE_SWEEP_SECONDS = 10.0


@dataclass
class _OpenAccount:
    store: SqliteMailStore
    user_id: int
    users: int = 0
    idle_since: float | None = None


class SqliteStore:
    """Opens account databases on demand and shares each among that account's sessions.

    Files are named by the user's numeric id, never by the address a client typed, so no
    username can steer a path.
    """

    def __init__(self, data_dir: Path, directory: SqliteDirectory,
                 pool: DatabasePool | None = None) -> None:
        self.data_dir = data_dir
        self.directory = directory
        self.pool = pool if pool is not None else DatabasePool()  # shared by every account
        self._open: dict[str, _OpenAccount] = {}
        self._opening = asyncio.Lock()
        self._next_sweep = 0.0  # monotonic time of the next _close_idle (see IDLE_SWEEP_SECONDS)
        self.observer: StoreObserver | None = None  # told of every committed change

    @classmethod
    async def open(cls, data_dir: Path, pool: DatabasePool | None = None) -> SqliteStore:
        data_dir.mkdir(parents=True, exist_ok=True)
        db = await open_database(data_dir / "accounts.sqlite", SqliteDirectory.migrations)
        return cls(data_dir, SqliteDirectory(db, data_dir / "accounts.sqlite"), pool)

    def account_path(self, user_id: int) -> Path:
        return self.data_dir / "mail" / f"{user_id}.sqlite"

    @contextlib.asynccontextmanager
    async def account(self, address: str) -> AsyncIterator[SqliteMailStore]:
        """The mail store of ``address``, shared with its other sessions while any is open."""
        user = await self.directory.get_user(address)
        if user is None:
            raise NoSuchAccount(f"no account {address!r}")
        async with self._opening:
            entry = self._open.get(user.address)
            if entry is not None and entry.user_id != user.id:  # deleted and re-created
                await self._close_entry(user.address)
                entry = None
            if entry is None:
                mail = SqliteMailStore(user.address, self.account_path(user.id), self.pool,
                                       user.quota_bytes, user.quota_messages)
                mail.observer = self.observer
                mail.quota_source = self._quota_source(user.address)
                try:
                    await mail.ensure_initialised()
                except BaseException:
                    await mail.close()
                    raise
                entry = self._open[user.address] = _OpenAccount(mail, user.id)
                self._next_sweep = 0.0
            # Read when this call began: an append made now uses them (see set_limits).
            entry.store.set_limits(user.quota_bytes, user.quota_messages)
            entry.users += 1
            entry.idle_since = None
            now = time.monotonic()
            if now >= self._next_sweep:
                self._next_sweep = now + IDLE_SWEEP_SECONDS
                await self._close_idle()
        try:
            yield entry.store
        finally:
            # No lock: this does not await, so nothing runs in between, and it need not wait
            # while another account is being opened.
            entry.users -= 1
            if entry.users == 0:
                entry.idle_since = time.monotonic()

    def _quota_source(self, address: str) -> QuotaSource:
        async def limits() -> tuple[int, int]:
            user = await self.directory.get_user(address)
            return (user.quota_bytes, user.quota_messages) if user else (0, 0)
        return limits

    async def _close_entry(self, address: str) -> None:
        entry = self._open.pop(address)
        await entry.store.close()

    async def _close_idle(self) -> None:
        """Close databases unused for IDLE_KEEP_SECONDS, and the oldest beyond the cap."""
        now = time.monotonic()
        idle = sorted((e.idle_since, address) for address, e in self._open.items()
                      if e.idle_since is not None)
        for position, (since, address) in enumerate(idle):
            if now - since > IDLE_KEEP_SECONDS or len(idle) - position > MAX_IDLE_ACCOUNTS:
                await self._close_entry(address)

    async def remove_account_files(self, user_id: int) -> None:
        """Delete an account's database (after its user row is gone)."""
        path = self.account_path(user_id)
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                Path(str(path) + suffix).unlink()

    async def close(self) -> None:
        async with self._opening:
            for entry in self._open.values():
                await entry.store.close()
            self._open.clear()
        await self.directory.db.close()
        self.pool.shutdown()
