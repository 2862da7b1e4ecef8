"""Schema migrations and the durability settings every database must run with."""

from __future__ import annotations

from pathlib import Path

import pytest

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
