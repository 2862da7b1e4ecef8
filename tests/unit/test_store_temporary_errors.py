"""A full disk or a locked file is a temporary store error, raised by any statement."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from mailhost.auth.passwords import hash_password
from mailhost.store.interface import StorageFull, TemporaryStoreError
from mailhost.store.sqlite.mailstore import temporary_error
from mailhost.store.sqlite.store import SqliteStore
from mailhost.testing.server import cap_at_current_size, lift_page_cap

MESSAGE = b"From: a@example.test\r\nSubject: x\r\n\r\n" + b"body line\r\n" * 2000


async def test_full_disk_on_insert_is_storage_full_and_recovers(tmp_path: Path) -> None:
    store = await SqliteStore.open(tmp_path)
    try:
        await store.directory.add_user("a@example.test", hash_password("pw"))
        async with store.account("a@example.test") as mail:
            old_limit = await cap_at_current_size(mail)
            with pytest.raises(StorageFull):
                await mail.append("INBOX", MESSAGE)
            inbox = await mail.get_mailbox("INBOX")
            assert inbox is not None and inbox.messages == 0 and inbox.uidnext == 1
            await lift_page_cap(mail, old_limit)
            _info, meta = await mail.append("INBOX", MESSAGE)  # space is back: carries on
            assert meta.uid == 1
    finally:
        await store.close()


def _error(code: int, name: str) -> sqlite3.OperationalError:
    exc = sqlite3.OperationalError(name)
    exc.sqlite_errorcode = code
    exc.sqlite_errorname = name
    return exc


def test_temporary_error_classification() -> None:
    assert isinstance(temporary_error(_error(sqlite3.SQLITE_FULL, "SQLITE_FULL")), StorageFull)
    busy = temporary_error(_error(sqlite3.SQLITE_BUSY, "SQLITE_BUSY"))
    assert isinstance(busy, TemporaryStoreError) and not isinstance(busy, StorageFull)
    ioerr_write = sqlite3.SQLITE_IOERR | (3 << 8)  # SQLITE_IOERR_WRITE
    assert isinstance(temporary_error(_error(ioerr_write, "SQLITE_IOERR_WRITE")),
                      TemporaryStoreError)
    assert temporary_error(_error(sqlite3.SQLITE_CONSTRAINT, "SQLITE_CONSTRAINT")) is None
    assert temporary_error(ValueError("not sqlite")) is None
