"""Schema migrations and the durability settings every database must run with."""

from __future__ import annotations

import multiprocessing
import sqlite3
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path

import pytest

import mailhost.store.sqlite.db as db_module
from mailhost.store.interface import StoreError
from mailhost.store.sqlite.db import DurabilityError, open_database

V1 = "CREATE TABLE item (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT);"
V2 = "ALTER TABLE item ADD COLUMN note TEXT NOT NULL DEFAULT '';"


async def test_older_databases_are_upgraded_in_order(tmp_path: Path) -> None:
    path = tmp_path / "x.sqlite"
    db = await open_database(path, [V1])
    await db.execute("INSERT INTO item(name) VALUES ('kept')")
    await db.close()
    db = await open_database(path, [V1, V2])
    cursor = await db.execute("SELECT name, note FROM item")
    assert await cursor.fetchall() == [("kept", "")]
    cursor = await db.execute("PRAGMA user_version")
    assert await cursor.fetchone() == (2,)
    await db.close()


async def test_a_newer_database_is_refused_not_damaged(tmp_path: Path) -> None:
    path = tmp_path / "x.sqlite"
    db = await open_database(path, [V1, V2])
    await db.close()
    with pytest.raises(StoreError, match="newer than this mailhost knows"):
        await open_database(path, [V1])


async def test_wal_and_synchronous_full_are_in_force(tmp_path: Path) -> None:
    db = await open_database(tmp_path / "x.sqlite", [V1])
    assert await (await db.execute("PRAGMA journal_mode")).fetchone() == ("wal",)
    assert await (await db.execute("PRAGMA synchronous")).fetchone() == (2,)
    await db.close()


async def test_a_database_that_cannot_use_wal_is_refused() -> None:
    # An in-memory database cannot run in WAL mode: it stands for a filesystem without it.
    with pytest.raises(DurabilityError, match="journal_mode=wal"):
        await open_database(Path(":memory:"), [V1])


async def test_a_failed_migration_leaves_the_old_schema(tmp_path: Path) -> None:
    path = tmp_path / "x.sqlite"
    db = await open_database(path, [V1])
    await db.close()
    with pytest.raises(Exception, match="no such table"):
        await open_database(path, [V1, "INSERT INTO missing VALUES (1);"])
    db = await open_database(path, [V1])
    assert await (await db.execute("PRAGMA user_version")).fetchone() == (1,)
    await db.close()


def test_a_migration_done_by_another_process_meanwhile_is_not_repeated(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # This connection reads version 0, then another process migrates the file before this one
    # takes the write lock: the step must be skipped, not fail on "table item already exists".
    path = tmp_path / "x.sqlite"
    db_module.connect(path, [V1, V2]).close()  # "the other process", already done
    real = db_module._user_version
    seen: list[int] = []

    def _stale_once(conn: sqlite3.Connection) -> int:
        value = 0 if not seen else real(conn)
        seen.append(value)
        return value

    monkeypatch.setattr(db_module, "_user_version", _stale_once)

    conn = db_module.connect(path, [V1, V2])
    try:
        assert conn.execute("PRAGMA user_version").fetchone() == (2,)
        assert seen[0] == 0 and seen[-1] == 2  # it did read the stale version first
    finally:
        conn.close()


def _open_accounts(paths: list[str], start: Barrier, results: Queue) -> None:
    """Open each path in step with the other processes, so every file is new to all of them."""
    from mailhost.store.sqlite.schema import ACCOUNT_MIGRATIONS
    for path in paths:
        start.wait(timeout=30)
        try:
            db_module.connect(Path(path), ACCOUNT_MIGRATIONS).close()
        except Exception as exc:  # reported to the parent, which fails the test with it
            results.put(f"{type(exc).__name__}: {exc}")
        else:
            results.put("ok")


def test_processes_opening_a_new_account_at_once_all_succeed(tmp_path: Path) -> None:
    # The first mail to a new account can reach the server and `mailhost deliver` together.
    # Switching a new file to WAL at once from several processes used to fail one of them
    # with "database is locked" (SQLite does not wait there): 4 processes, 25 files in step.
    context = multiprocessing.get_context("spawn")
    paths = [str(tmp_path / f"{n}.sqlite") for n in range(25)]
    start, results = context.Barrier(4), context.Queue()
    workers = [context.Process(target=_open_accounts, args=(paths, start, results))
               for _ in range(4)]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=60) for _ in range(4 * len(paths))]
    for worker in workers:
        worker.join(timeout=30)
    assert outcomes == ["ok"] * len(outcomes)
