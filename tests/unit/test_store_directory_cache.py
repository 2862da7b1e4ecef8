"""Directory lookups are cached, yet a change by this process is seen at once, and one by
another process (the CLI) at once where the cache said "nothing there", within STATE_SECONDS
where it had an answer."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from mailhost.auth.passwords import hash_password
from mailhost.store.sqlite import directory as directory_module
from mailhost.store.sqlite.store import SqliteStore

USER = "a@example.test"


async def test_changes_here_and_elsewhere_are_seen(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(directory_module, "STATE_SECONDS", 0.2)
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
        assert await directory.get_user("new@example.test") is None  # cached as "no" too
        other = sqlite3.connect(tmp_path / "accounts.sqlite", isolation_level=None)
        try:  # another process: the CLI, or a second server on the same data directory
            other.execute("UPDATE user SET quota_messages = 7 WHERE address = ?", (USER,))
            other.execute("DELETE FROM domain WHERE name = 'other.test'")
            other.execute("INSERT INTO domain(name) VALUES ('other.test')")
            other.execute("INSERT INTO user(address, password_hash, created_at) "
                          "VALUES ('new@example.test', 'x', 0)")
        finally:
            other.close()
        # What was "nothing there" is looked at again at once: mail for a user or domain
        # just added by the CLI is never refused from the cache.
        assert await directory.is_local_domain("other.test")
        assert await directory.get_user("new@example.test") is not None
        await asyncio.sleep(0.25)  # past STATE_SECONDS: answers that existed are read again
        user = await directory.get_user(USER)
        assert user is not None and user.quota_messages == 7
        assert await directory.route("example.test", USER) == [USER]
        assert await directory.route("other.test", "b@other.test") == []  # local, no user
        assert await directory.route("elsewhere.test", "c@elsewhere.test") is None
        await directory.delete_user(USER)
        assert await directory.get_user(USER) is None
        assert await directory.route("example.test", USER) == []
    finally:
        await store.close()


async def test_cached_answers_read_the_files_state_once_per_window(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(directory_module, "STATE_SECONDS", 60.0)
    store = await SqliteStore.open(tmp_path)
    try:
        directory = store.directory
        await directory.add_user(USER, hash_password("pw"))
        assert await directory.route("example.test", USER) == [USER]  # now cached
        reads: list[Path] = []
        real = directory_module.file_state

        def counted(path: Path) -> tuple[int, ...]:
            reads.append(path)
            return real(path)

        monkeypatch.setattr(directory_module, "file_state", counted)
        for _ in range(10):  # what an RCPT and a delivery look up, ten times
            assert await directory.route("example.test", USER) == [USER]
            assert await directory.get_user(USER) is not None
        assert len(reads) <= 1  # 20 lookups, at most one reading of the files' state
        before = len(reads)
        assert await directory.get_user("nobody@example.test") is None
        assert await directory.get_user("nobody@example.test") is None  # a cached "no"
        assert len(reads) == before + 1  # ... is checked against the files as they are
    finally:
        await store.close()
