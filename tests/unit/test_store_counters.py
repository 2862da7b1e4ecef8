"""Counters kept by triggers (schema step 3) always equal what counting the rows gives."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from mailhost.auth.passwords import hash_password
from mailhost.store.sqlite.db import connect
from mailhost.store.sqlite.mailstore import SqliteMailStore, internal_day
from mailhost.store.sqlite.pool import DatabasePool
from mailhost.store.sqlite.schema import ACCOUNT_MIGRATIONS
from mailhost.store.sqlite.store import SqliteStore

USER = "a@example.test"


def message(n: int, size: int = 0) -> bytes:
    return (f"From: x{n}@example.test\r\nSubject: message {n}\r\n\r\nbody {n}\r\n".encode()
            + b"padding line\r\n" * size)


def assert_consistent(conn: sqlite3.Connection) -> None:
    rows = conn.execute(
        "SELECT m.name, m.messages, m.unseen, m.size, COUNT(g.id), "
        "COALESCE(SUM((g.flags & 1) = 0), 0), COALESCE(SUM(g.size), 0) "
        "FROM mailbox m LEFT JOIN message g ON g.mailbox_id = m.id GROUP BY m.id").fetchall()
    for name, *kept in rows:
        assert kept[:3] == kept[3:], name
    totals = conn.execute("SELECT used_bytes, used_messages FROM account_state").fetchone()
    counted = conn.execute("SELECT COALESCE(SUM(size), 0), COUNT(*) FROM message").fetchone()
    assert totals == counted
    days = conn.execute("SELECT internaldate, internaldate_tz, internal_day FROM message")
    for ts, tz, day in days:
        assert day == internal_day(ts, tz)


def old_account_file(path: Path, version: int, mailboxes: str) -> sqlite3.Connection:
    """An account file as schema step ``version`` left it, with its account_state row and the
    mailboxes ``mailboxes`` names (the columns and VALUES of an INSERT INTO mailbox)."""
    conn = connect(path, ACCOUNT_MIGRATIONS[:version])
    conn.execute("INSERT INTO account_state(id, next_uidvalidity) VALUES (1, 7)")
    conn.execute("INSERT INTO mailbox" + mailboxes)
    return conn


def query_plan(conn: sqlite3.Connection, sql: str) -> str:
    """SQLite's plan for ``sql``, one string to search for an index name or a SCAN."""
    return " ".join(str(row) for row in conn.execute("EXPLAIN QUERY PLAN " + sql))


async def open_store(tmp_path: Path, **pool: float) -> SqliteStore:
    """A store under ``tmp_path`` with the account USER (password "pw")."""
    store = await SqliteStore.open(tmp_path, DatabasePool(**pool))  # type: ignore[arg-type]
    await store.directory.add_user(USER, hash_password("pw"))
    return store


async def check(mail: SqliteMailStore) -> None:
    await mail.run(assert_consistent)


async def test_counters_follow_every_change(tmp_path: Path) -> None:
    store = await open_store(tmp_path)
    try:
        async with store.account(USER) as mail:
            await mail.create_mailbox("Work")
            for n in range(6):
                await mail.append("INBOX", message(n, n * 10), ["\\Seen"] if n % 2 else [])
            await check(mail)
            inbox = await mail.get_mailbox("INBOX")
            assert inbox is not None and (inbox.messages, inbox.unseen) == (6, 3)
            await mail.copy(inbox.id, [1, 2, 3], "Work")
            await check(mail)
            await mail.move(inbox.id, [4], "Work")
            await check(mail)
            await mail.store_flags(inbox.id, [1, 2, 3], "add", ["\\Seen", "\\Deleted"])
            await check(mail)
            await mail.store_flags(inbox.id, [1, 2], "remove", ["\\Seen"])
            await check(mail)
            await mail.store_flags(inbox.id, [5, 6], "set", ["\\Flagged"])
            await check(mail)
            await mail.expunge(inbox.id, [1, 5])
            await check(mail)
            await mail.rename_mailbox("INBOX", "Old")  # moves INBOX's messages
            await check(mail)
            await mail.rename_mailbox("Work", "Play")
            await check(mail)
            await mail.delete_mailbox("Play")
            await check(mail)
            old = await mail.get_mailbox("Old")
            assert old is not None and old.messages == 3
            assert await mail.usage() == (old.size, 3)
    finally:
        await store.close()


async def test_migration_3_fills_counters_from_existing_mail(tmp_path: Path) -> None:
    path = tmp_path / "v2.sqlite"
    conn = old_account_file(path, 2, "(id, name, uidvalidity, created_at) VALUES "
                            "(1, 'INBOX', 1, 0), (2, 'Empty', 2, 0), (3, 'Sent', 3, 0)")
    # Days around midnight in both directions, before 1970, and zones either side of UTC.
    dates = [(0.0, 0), (86399.0, 0), (86399.0, 1), (-1.0, 0), (-86400.5, 60),
             (1_700_000_000.0, -480), (1_700_000_000.0, 840), (1_699_920_100.0, -60)]
    for n, (ts, tz) in enumerate(dates):
        conn.execute("INSERT INTO body(id, size, header_end, envelope, bodystructure, "
                     "body_simple, tree, hdr_from, hdr_to, hdr_cc, hdr_bcc, hdr_subject, "
                     "hdr_message_id) VALUES (?, 10, 0, '', '', '', '', '', '', '', '', '', '')",
                     (n + 1,))
        conn.execute("INSERT INTO message(mailbox_id, uid, body_id, modseq, flags, "
                     "internaldate, internaldate_tz, savedate, size) VALUES (?,?,?,1,?,?,?,0,?)",
                     (1 if n % 3 else 3, n + 1, n + 1, n % 2, ts, tz, 100 + n))
    conn.close()
    conn = connect(path, ACCOUNT_MIGRATIONS)
    try:
        assert_consistent(conn)
        assert conn.execute("SELECT messages FROM mailbox WHERE name = 'Empty'").fetchone() == (0,)
        assert [r[0] for r in conn.execute("SELECT internal_day FROM message ORDER BY uid")] == \
            [0, 0, 1, -1, -1, 19675, 19676, 19674]
        assert "message_day" in query_plan(conn, "SELECT uid FROM message g WHERE "
                                           "g.mailbox_id = 1 AND (g.internal_day >= 19675)")
    finally:
        conn.close()


async def test_search_since_uses_the_stored_local_day(tmp_path: Path) -> None:
    from datetime import datetime, timedelta, timezone

    store = await open_store(tmp_path)
    try:
        async with store.account(USER) as mail:
            late = datetime(2024, 1, 1, 23, 30, tzinfo=timezone(timedelta(hours=-8)))
            _info, meta = await mail.append("INBOX", message(1), internaldate=late)
            assert meta.internaldate == late and meta.internaldate_tz == -480
            inbox = await mail.get_mailbox("INBOX")
            assert inbox is not None
            day = internal_day(late.timestamp(), -480)
            assert await mail.search(inbox.id, "g.internal_day = ?", [day]) == [(1, meta.modseq)]
            listed = await mail.messages(inbox.id)
            assert listed == [meta] and listed[0].internaldate == late
    finally:
        await store.close()


@pytest.mark.parametrize("when", [time.time()])
def test_internal_day_floors(when: float) -> None:
    assert internal_day(-1.0, 0) == -1
    assert internal_day(when, 0) == int(when // 86400)


async def test_status_counts_read_deleted_flags_only_when_asked(tmp_path: Path) -> None:
    store = await open_store(tmp_path)
    try:
        async with store.account(USER) as mail:
            stored = [await mail.append("INBOX", message(n), ["\\Deleted"] if n % 2 else [])
                      for n in range(5)]
            box = stored[-1][0]
            deleted_size = sum(meta.size for _info, meta in stored if "\\Deleted" in meta.flags)
            assert await mail.status_counts(box.id) == (5, 2, deleted_size)
            statements: list[str] = []
            await mail.run(lambda conn: conn.set_trace_callback(statements.append))
            assert await mail.status_counts(box.id, deleted=False) == (5, 0, 0)
            await mail.run(lambda conn: conn.set_trace_callback(None))
            plans = [await mail.run(lambda conn, sql=statement: query_plan(conn, sql))
                     for statement in statements if statement.startswith("SELECT")]
            assert plans and not [plan for plan in plans if "SCAN" in plan]  # index ranges only
    finally:
        await store.close()
