"""Opening SQLite databases with the durability settings the store promises.

An acknowledged message must survive a power cut, so every connection runs in WAL mode with
``synchronous=FULL`` and refuses to work if SQLite would not grant either (a network
filesystem, an old library). Schema migrations are numbered functions applied in order, so an
older data directory is upgraded on start.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path

import aiosqlite

from mailhost.store.interface import StoreError

Migration = str

#: Matches ``PRAGMA busy_timeout``: how long opening may wait for another process's lock.
BUSY_TIMEOUT_SECONDS = 10.0


class DurabilityError(StoreError):
    """SQLite would not run with WAL and synchronous=FULL; refusing to risk acknowledged mail."""


def file_state(path: Path) -> tuple[int, ...]:
    """Size and mtime of a database and its WAL: any commit, by any process, moves them.

    A WAL that is missing or empty counts as one state: connections create an empty WAL when
    they open and the last one to close deletes it, and neither is a change of data (a
    commit writes frames, and a checkpoint moves the database file itself).
    """
    state: list[int] = []
    for name in (str(path), f"{path}-wal"):
        try:
            info = os.stat(name)
        except OSError:
            state.extend((0, 0))
        else:
            state.extend((info.st_size, info.st_mtime_ns) if info.st_size else (0, 0))
    return tuple(state)


def connect(path: Path, migrations: Sequence[Migration] | None) -> sqlite3.Connection:
    """A configured sqlite3 connection (autocommit, usable from any one thread at a time).

    ``migrations`` brings the schema up to date; None skips the check (a connection reopened
    by a process that migrated the file already).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
    try:
        _configure(conn, path)
        if migrations is not None:
            _migrate(conn, migrations, path)
    except BaseException:
        conn.close()
        raise
    return conn


async def open_database(path: Path, migrations: Sequence[Migration]) -> aiosqlite.Connection:
    """Open ``path`` with aiosqlite (its own thread), checked and migrated like :func:`connect`.

    The directory and plugin databases use this: they are few and long-lived, so a thread
    each costs nothing that matters.
    """
    # Connect first: a failure then leaves no aiosqlite thread behind to report to a loop
    # that may be gone.
    conn = await asyncio.to_thread(connect, path, migrations)
    return await aiosqlite.Connection(lambda: conn, 64)


def _configure(conn: sqlite3.Connection, path: Path) -> None:
    conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_SECONDS * 1000)}")
    conn.execute("PRAGMA foreign_keys = ON")
    mode = _enable_wal(conn)
    conn.execute("PRAGMA synchronous = FULL")
    row = conn.execute("PRAGMA synchronous").fetchone()
    sync = int(row[0]) if row else -1
    if mode != "wal" or sync != 2:
        raise DurabilityError(
            f"{path}: SQLite runs with journal_mode={mode or '?'} synchronous={sync}; mailhost "
            "needs journal_mode=wal and synchronous=FULL (2). Put the data directory on a local "
            "filesystem that supports WAL."
        )


def _enable_wal(conn: sqlite3.Connection) -> str:
    """Switch to WAL, retrying while another process opens the same new file.

    Changing the journal mode needs an exclusive lock taken from a shared one; when two
    connections do that at once SQLite answers one of them SQLITE_BUSY at once instead of
    calling the busy handler (waiting could deadlock), so the wait is done here.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_SECONDS
    while True:
        try:
            row = conn.execute("PRAGMA journal_mode = WAL").fetchone()
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY or time.monotonic() > deadline:
                raise
            time.sleep(0.002)
            continue
        return str(row[0]).lower() if row else ""


def _user_version(conn: sqlite3.Connection) -> int:
    row = conn.execute("PRAGMA user_version").fetchone()
    return int(row[0]) if row else 0


def _migrate(conn: sqlite3.Connection, migrations: Sequence[Migration], path: Path) -> None:
    """Apply the migrations the file lacks, one transaction each.

    Several processes may open a new or old file at once (the server and ``mailhost deliver``
    run by the MTA for the first mail to a new account): each step re-reads the version
    under the write lock and applies only what is still missing, so the one that loses the
    race finds the work done instead of failing on "table already exists".
    """
    while True:
        version = _user_version(conn)
        if version > len(migrations):
            raise StoreError(
                f"{path}: schema version {version} is newer than this mailhost knows "
                f"({len(migrations)}); upgrade mailhost instead of downgrading it"
            )
        if version == len(migrations):
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            if _user_version(conn) == version:  # nobody migrated since the read above
                for statement in _statements(migrations[version]):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {version + 1}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise


def _statements(script: str) -> list[str]:
    """Split a migration script on complete statements (triggers contain semicolons)."""
    out: list[str] = []
    current = ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            if current.strip():
                out.append(current.strip())
            current = ""
    if current.strip():
        out.append(current.strip())
    return out
