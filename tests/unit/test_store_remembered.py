"""Group commits planned from remembered mailbox rows, one autocommit INSERT (schema step 7).

The store remembers the mailbox rows its last group commit left; the next group is planned
from them and stored by one statement that is its own transaction. Whatever could make the
memory wrong must send the group back to a transaction that reads afresh: another write on
the same connection, another process's commit, a rename, a quota.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from mailhost.store.interface import OverQuota
from mailhost.store.sqlite.db import connect
from mailhost.store.sqlite.mailstore import SqliteMailStore
from mailhost.store.sqlite.schema import ACCOUNT_MIGRATIONS, STALE_PLAN
from mailhost.store.sqlite.store import SqliteStore
from tests.unit.test_store_counters import (
    USER,
    assert_consistent,
    message,
    old_account_file,
    open_store,
)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    opened = await open_store(tmp_path)
    try:
        yield opened
    finally:
        await opened.close()


async def _traced_append(mail: SqliteMailStore, mailbox: str, raw: bytes) -> list[str]:
    """The statements one append ran on the account's connection."""
    statements: list[str] = []
    await mail.run(lambda conn: conn.set_trace_callback(statements.append))
    try:
        await mail.append(mailbox, raw)
    finally:
        await mail.run(lambda conn: conn.set_trace_callback(None))
    return [s for s in statements if "set_trace_callback" not in s]


def _ran_transaction(statements: list[str]) -> bool:
    return "BEGIN IMMEDIATE" in statements and "COMMIT" in statements


async def test_the_next_group_is_one_autocommit_insert(store: SqliteStore) -> None:
    async with store.account(USER) as mail:
        first = await _traced_append(mail, "INBOX", message(1))
        assert _ran_transaction(first)  # nothing remembered yet: read under the write lock
        second = await _traced_append(mail, "INBOX", message(2))
        # SQLite reports the statement again for each step of its trigger.
        assert {s.split(" VALUES")[0] for s in second} == {"INSERT INTO message_insert"}
        inbox = await mail.get_mailbox("INBOX")
        assert inbox is not None and (inbox.messages, inbox.uidnext) == (2, 3)
        assert await mail.read_raw(inbox.id, 2) == message(2)
        await mail.run(assert_consistent)


async def test_a_delivery_by_another_process_in_between_is_not_overwritten(
        store: SqliteStore, tmp_path: Path) -> None:
    async with store.account(USER) as mail:
        await mail.append("INBOX", message(1))
        other = await SqliteStore.open(tmp_path)  # `mailhost deliver`, say
        try:
            async with other.account(USER) as theirs:
                _info, meta = await theirs.append("INBOX", message(2))
                assert meta.uid == 2
        finally:
            await other.close()
        statements = await _traced_append(mail, "INBOX", message(3))
        assert _ran_transaction(statements)  # the guard refused the plan; planned again
        inbox = await mail.get_mailbox("INBOX")
        assert inbox is not None and (inbox.messages, inbox.uidnext) == (3, 4)
        for uid in (1, 2, 3):
            assert await mail.read_raw(inbox.id, uid) == message(uid)
        await mail.run(assert_consistent)


async def test_a_folder_renamed_by_another_process_is_not_written_under_its_old_name(
        store: SqliteStore, tmp_path: Path) -> None:
    async with store.account(USER) as mail:
        await mail.create_mailbox("Work")
        await mail.append("Work", message(1))
        other = await SqliteStore.open(tmp_path)
        try:
            async with other.account(USER) as theirs:
                await theirs.rename_mailbox("Work", "Old")  # same id, uidnext and modseq
                await theirs.create_mailbox("Work")
        finally:
            await other.close()
        info, meta = await mail.append("Work", message(2))
        work, old = await mail.get_mailbox("Work"), await mail.get_mailbox("Old")
        assert work is not None and old is not None
        assert (info.id, meta.uid) == (work.id, 1)
        assert (work.messages, old.messages) == (1, 1)
        assert await mail.read_raw(work.id, 1) == message(2)
        await mail.run(assert_consistent)


async def test_another_write_on_the_same_connection_is_read_afresh(store: SqliteStore) -> None:
    # Unsubscribing changes nothing the insert's guard looks at, only the connection's count
    # of changed rows: the append must still report the mailbox as it is now.
    async with store.account(USER) as mail:
        info, _meta = await mail.append("INBOX", message(1))
        assert info.subscribed
        await mail.set_subscribed("INBOX", False)
        statements: list[str] = []
        await mail.run(lambda conn: conn.set_trace_callback(statements.append))
        info, _meta = await mail.append("INBOX", message(2))
        await mail.run(lambda conn: conn.set_trace_callback(None))
        assert _ran_transaction(statements)
        assert not info.subscribed and info.messages == 2


async def test_a_quota_is_checked_against_fresh_usage(
        store: SqliteStore, tmp_path: Path) -> None:
    await store.directory.set_quota(USER, 0, 3)
    async with store.account(USER) as mail:
        await mail.create_mailbox("Lists")
        await mail.append("INBOX", message(1))
        other = await SqliteStore.open(tmp_path)
        try:
            async with other.account(USER) as theirs:  # another mailbox: INBOX's row unchanged
                await theirs.append("Lists", message(2))
                await theirs.append("Lists", message(3))
        finally:
            await other.close()
        with pytest.raises(OverQuota):
            await mail.append("INBOX", message(4))
        await mail.run(assert_consistent)


def test_the_insert_refuses_a_row_planned_from_an_old_mailbox_row(tmp_path: Path) -> None:
    conn = connect(tmp_path / "a.sqlite", ACCOUNT_MIGRATIONS)
    try:
        conn.execute("INSERT INTO account_state(id, next_uidvalidity) VALUES (1, 2)")
        conn.execute("INSERT INTO mailbox(id, name, uidvalidity, uidnext, highestmodseq, "
                     "created_at) VALUES (1, 'INBOX', 1, 5, 9, 0)")
        row = [0, "", "", "", "", "", "", "", "", "", "", None, None, 1, b"x", None,
               1, 5, 10, 0, "", 0.0, 0, 0.0, 0, "INBOX"]
        for changed in ({16: 2}, {17: 4}, {18: 11}, {25: "Inbox"}):  # id, uid, modseq, name
            stale = [changed.get(i, value) for i, value in enumerate(row)]
            with pytest.raises(sqlite3.IntegrityError, match=STALE_PLAN):
                conn.execute(f"INSERT INTO message_insert VALUES ({','.join('?' * 26)})",
                             stale)
        assert conn.execute("SELECT COUNT(*) FROM body").fetchone() == (0,)
        conn.execute(f"INSERT INTO message_insert VALUES ({','.join('?' * 26)})", row)
        assert conn.execute("SELECT uidnext, highestmodseq FROM mailbox").fetchone() == (6, 10)
        assert_consistent(conn)
    finally:
        conn.close()


def test_migration_7_keeps_mail_stored_through_the_old_view(tmp_path: Path) -> None:
    path = tmp_path / "v6.sqlite"
    conn = old_account_file(path, 6, "(id, name, uidvalidity, created_at) VALUES "
                            "(1, 'INBOX', 1, 0)")
    conn.execute(f"INSERT INTO message_insert VALUES ({','.join('?' * 25)})",
                 [0, "", "", "", "", "", "", "", "", "", "", None, None, 1, message(1), None,
                  1, 1, 2, 0, "", 0.0, 0, 0.0, 0])
    conn.close()
    conn = connect(path, ACCOUNT_MIGRATIONS)
    try:
        assert conn.execute("PRAGMA user_version").fetchone() == (7,)
        assert conn.execute("SELECT r.raw FROM body_raw r JOIN message m ON m.body_id = "
                            "r.body_id WHERE m.uid = 1").fetchone() == (message(1),)
        columns = [r[1] for r in conn.execute("PRAGMA table_info(message_insert)")]
        assert len(columns) == 26 and columns[-1] == "mailbox_name"
        assert_consistent(conn)
    finally:
        conn.close()


async def test_an_append_is_never_acknowledged_inside_a_transaction_left_open(
        store: SqliteStore) -> None:
    # A single INSERT commits only in autocommit mode; inside a transaction some bug left
    # open it would be reported stored and then lost with that transaction.
    async with store.account(USER) as mail:
        await mail.append("INBOX", message(1))  # remembered from here on
        await mail.run(lambda conn: conn.execute("BEGIN"))
        with pytest.raises(sqlite3.OperationalError, match="within a transaction"):
            await mail.append("INBOX", message(2))
        await mail.run(lambda conn: conn.execute("ROLLBACK"))
        inbox = await mail.get_mailbox("INBOX")
        assert inbox is not None and inbox.messages == 1
        _info, meta = await mail.append("INBOX", message(3))
        assert meta.uid == 2
        await mail.run(assert_consistent)
