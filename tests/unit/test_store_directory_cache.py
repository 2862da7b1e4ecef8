"""Directory lookups are cached, yet a change by this process or another is seen at once."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from mailhost.auth.passwords import hash_password
from mailhost.store.sqlite.store import SqliteStore

USER = "a@example.test"


async def test_changes_here_and_elsewhere_are_seen_at_once(tmp_path: Path) -> None:
    store = await SqliteStore.open(tmp_path)
    try:
        directory = store.directory
        await directory.add_user(USER, hash_password("pw"))
        user = await directory.get_user(USER)
        assert user is not None and user.quota_messages == 0
        await directory.set_quota(USER, 0, 5)  # this process
        user = await directory.get_user(USER)
        assert user is not None and user.quota_messages == 5
        assert await directory.is_local_domain("example.test")
        assert not await directory.is_local_domain("other.test")  # now cached as "no"
        other = sqlite3.connect(tmp_path / "accounts.sqlite", isolation_level=None)
        try:  # another process: the CLI, or a second server on the same data directory
            other.execute("UPDATE user SET quota_messages = 7 WHERE address = ?", (USER,))
            other.execute("DELETE FROM domain WHERE name = 'other.test'")
            other.execute("INSERT INTO domain(name) VALUES ('other.test')")
        finally:
            other.close()
        user = await directory.get_user(USER)
        assert user is not None and user.quota_messages == 7
        assert await directory.is_local_domain("other.test")
        assert await directory.route("example.test", USER) == [USER]
        assert await directory.route("other.test", "b@other.test") == []  # local, no user
        assert await directory.route("elsewhere.test", "c@elsewhere.test") is None
        await directory.delete_user(USER)
        assert await directory.get_user(USER) is None
        assert await directory.route("example.test", USER) == []
    finally:
        await store.close()
