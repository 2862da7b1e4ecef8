"""Opening SQLite databases with the durability settings the store promises.

An acknowledged message must survive a power cut, so every connection runs in WAL mode with
``synchronous=FULL`` and refuses to work if SQLite would not grant either (a network
filesystem, an old library). Schema migrations are numbered functions applied in order, so an
older data directory is upgraded on start.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

import aiosqlite

from mailhost.store.interface import StoreError

Migration = str


class DurabilityError(StoreError):
    """SQLite would not run with WAL and synchronous=FULL; refusing to risk acknowledged mail."""


async def open_database(path: Path, migrations: Sequence[Migration]) -> aiosqlite.Connection:
    """Open ``path``, check the durability pragmas, and bring the schema up to date."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = await aiosqlite.connect(str(path), isolation_level=None)
    try:
        await _configure(db, path)
        await _migrate(db, migrations, path)
    except BaseException:
        await db.close()
        raise
    return db


async def _configure(db: aiosqlite.Connection, path: Path) -> None:
    await db.execute("PRAGMA busy_timeout = 10000")
    await db.execute("PRAGMA foreign_keys = ON")
    cursor = await db.execute("PRAGMA journal_mode = WAL")
    row = await cursor.fetchone()
    mode = str(row[0]).lower() if row else ""
    await db.execute("PRAGMA synchronous = FULL")
    cursor = await db.execute("PRAGMA synchronous")
    row = await cursor.fetchone()
    sync = int(row[0]) if row else -1
    if mode != "wal" or sync != 2:
        raise DurabilityError(
            f"{path}: SQLite runs with journal_mode={mode or '?'} synchronous={sync}; mailhost "
            "needs journal_mode=wal and synchronous=FULL (2). Put the data directory on a local "
            "filesystem that supports WAL."
        )


async def _migrate(db: aiosqlite.Connection, migrations: Sequence[Migration], path: Path) -> None:
    cursor = await db.execute("PRAGMA user_version")
    row = await cursor.fetchone()
    version = int(row[0]) if row else 0
    if version > len(migrations):
        raise StoreError(
            f"{path}: schema version {version} is newer than this mailhost knows "
            f"({len(migrations)}); upgrade mailhost instead of downgrading it"
        )
    for number in range(version, len(migrations)):
        step = migrations[number]
        await db.execute("BEGIN IMMEDIATE")
        try:
            for statement in _statements(step):
                await db.execute(statement)
            await db.execute(f"PRAGMA user_version = {number + 1}")
            await db.execute("COMMIT")
        except BaseException:
            await db.execute("ROLLBACK")
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

