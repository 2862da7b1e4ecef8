"""SEARCH reads the body table only when its condition needs it."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime
from pathlib import Path

from mailhost.auth.passwords import hash_password
from mailhost.protocols.imap import searchkeys as sk
from mailhost.store.sqlite.search import SearchScope, compile_search
from mailhost.store.sqlite.store import SqliteStore

USER = "a@example.test"


def _raw(sender: str) -> bytes:
    return f"From: {sender}\r\nSubject: hi\r\n\r\nbody\r\n".encode()


async def test_date_search_skips_the_body_join_and_header_search_keeps_it(
    tmp_path: Path,
) -> None:
    store = await SqliteStore.open(tmp_path)
    await store.directory.add_user(USER, hash_password("pw"))
    try:
        async with store.account(USER) as mail:
            await mail.append("INBOX", _raw("old@x.test"), internaldate=datetime(2023, 5, 1,
                                                                                  tzinfo=UTC))
            await mail.append("INBOX", _raw("new@x.test"), internaldate=datetime(2024, 5, 1,
                                                                                  tzinfo=UTC))
            box = await mail.get_mailbox("INBOX")
            assert box is not None
            statements: list[str] = []

            def trace(conn: sqlite3.Connection) -> None:
                conn.set_trace_callback(statements.append)

            await mail.run(trace)
            scope = SearchScope(resolve_sequence=list, resolve_uids=list)
            since = compile_search(sk.DateMatch(sk.DateField.INTERNAL, sk.DateRelation.SINCE,
                                                date(2024, 1, 1)), scope)
            assert [uid for uid, _ in await mail.search(box.id, since.where, since.params)] \
                == [2]
            sender = compile_search(sk.HeaderContains("from", "old@"), scope)
            assert [uid for uid, _ in await mail.search(box.id, sender.where, sender.params)] \
                == [1]
            searches = [s for s in statements if s.startswith("SELECT g.uid")]
            assert len(searches) == 2
            assert "JOIN body b" not in searches[0]
            assert "JOIN body b" in searches[1]
    finally:
        await store.close()
