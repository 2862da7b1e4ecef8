"""What the plugin remembers between sessions: downloads (for keep_days) and last logins.

Kept in the plugin's own SQLite file under the data directory, opened with the same
durability settings as the mail store, so the plugin never alters the core schema.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path

import aiosqlite

from mailhost.store.sqlite.db import open_database

MIGRATIONS = (
    """
    CREATE TABLE download (
        account TEXT NOT NULL,
        uidvalidity INTEGER NOT NULL,
        uid INTEGER NOT NULL,
        downloaded_at REAL NOT NULL,
        PRIMARY KEY (account, uidvalidity, uid)
    ) WITHOUT ROWID;
    CREATE INDEX download_age ON download(downloaded_at);
    CREATE TABLE last_login (
        account TEXT PRIMARY KEY,
        at REAL NOT NULL
    ) WITHOUT ROWID;
    """,
)


class PluginState:
    def __init__(self, db: aiosqlite.Connection) -> None:
        self.db = db

    @classmethod
    async def open(cls, data_dir: Path) -> PluginState:
        return cls(await open_database(data_dir / "plugins" / "leave_on_server.sqlite",
                                       MIGRATIONS))

    async def close(self) -> None:
        await self.db.close()

    async def record_downloads(
        self, account: str, messages: Iterable[tuple[int, int]], when: float | None = None
    ) -> None:
        """Remember (uidvalidity, uid) pairs as downloaded now; the first download counts."""
        at = time.time() if when is None else when
        await self._batch(
            "INSERT OR IGNORE INTO download(account, uidvalidity, uid, downloaded_at) "
            "VALUES (?, ?, ?, ?)", [(account, v, u, at) for v, u in messages],
        )

    async def _batch(self, sql: str, rows: list[tuple[object, ...]]) -> None:
        """Many rows in one transaction: one fsync instead of one per row."""
        if not rows:
            return
        await self.db.execute("BEGIN IMMEDIATE")
        try:
            await self.db.executemany(sql, rows)
        except BaseException:
            await self.db.execute("ROLLBACK")
            raise
        await self.db.execute("COMMIT")

    async def downloaded_before(
        self, cutoff_by_account: dict[str, float]
    ) -> list[tuple[str, int, int]]:
        out: list[tuple[str, int, int]] = []
        for account, cutoff in cutoff_by_account.items():
            cursor = await self.db.execute(
                "SELECT uidvalidity, uid FROM download WHERE account = ? AND downloaded_at < ?",
                (account, cutoff),
            )
            out.extend((account, row[0], row[1]) for row in await cursor.fetchall())
        return out

    async def accounts_with_downloads(self) -> list[str]:
        cursor = await self.db.execute("SELECT DISTINCT account FROM download")
        return [row[0] for row in await cursor.fetchall()]

    async def forget(self, records: Iterable[tuple[str, int, int]]) -> None:
        await self._batch(
            "DELETE FROM download WHERE account = ? AND uidvalidity = ? AND uid = ?",
            list(records),
        )

    async def last_login(self, account: str) -> float | None:
        cursor = await self.db.execute("SELECT at FROM last_login WHERE account = ?", (account,))
        row = await cursor.fetchone()
        return float(row[0]) if row else None

    async def set_last_login(self, account: str, at: float) -> None:
        await self.db.execute("INSERT OR REPLACE INTO last_login(account, at) VALUES (?, ?)",
                              (account, at))
