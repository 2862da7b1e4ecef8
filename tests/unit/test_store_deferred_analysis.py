"""Deliveries stored before their MIME analysis (store/sqlite/bodies.py): no reader ever sees
the placeholders, the background catches up, and a stop in between loses nothing."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from mailhost.auth.passwords import hash_password
from mailhost.protocols.imap import searchkeys as sk
from mailhost.store.interface import TemporaryStoreError
from mailhost.store.sqlite import mailstore
from mailhost.store.sqlite.mailstore import SqliteMailStore
from mailhost.store.sqlite.search import SearchScope, compile_search
from mailhost.store.sqlite.store import SqliteStore
from tests.unit.test_store_counters import old_account_file

USER = "a@example.test"
BODY_COLUMNS = ", ".join(f"b.{name}" for name in (
    "size", "header_end", "envelope", "bodystructure", "body_simple", "tree", "hdr_from",
    "hdr_to", "hdr_cc", "hdr_bcc", "hdr_subject", "hdr_message_id", "x_uidl", "sent_date"))


def message(n: int) -> bytes:
    return (
        "From: =?utf-8?q?J=C3=BCrgen?= <jurgen@example.test>\r\n"
        "To: Ann <ann@example.test>\r\n"
        f"Subject: =?utf-8?b?w4RwZmVs?= {n}\r\n"
        "Date: Tue, 16 Jan 2024 19:45:27 +0100\r\n"
        f"Message-ID: <{n}@example.test>\r\n"
        f"X-UIDL: old-{n}\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="b"\r\n'
        "\r\n"
        "--b\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: quoted-printable\r\n"
        "\r\n"
        f"Gr=C3=BC=C3=9Fe, quokka number {n}\r\n"
        "--b\r\n"
        'Content-Type: application/pdf; name="a.pdf"\r\n'
        "Content-Transfer-Encoding: base64\r\n"
        "\r\n"
        "JVBERi0xLjQK\r\n"
        "--b--\r\n"
    ).encode()


def pending_in(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM body WHERE analysed = 0").fetchone()[0])


def body_rows(path: Path) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as conn:
        return conn.execute(
            f"SELECT {BODY_COLUMNS}, t.text FROM message g JOIN body b ON b.id = g.body_id "
            "LEFT JOIN body_text t ON t.body_id = b.id ORDER BY g.mailbox_id, g.uid").fetchall()


async def search_uids(mail: SqliteMailStore, key: sk.SearchKey) -> list[int]:
    box = await mail.get_mailbox("INBOX")
    assert box is not None
    found = compile_search(key, SearchScope(resolve_sequence=list, resolve_uids=list))
    return [uid for uid, _ in await mail.search(box.id, found.where, found.params,
                                                with_text=found.needs_text)]


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    store = await SqliteStore.open(tmp_path)
    await store.directory.add_user(USER, hash_password("pw"))
    yield store
    await store.close()


async def test_a_deferred_body_ends_as_an_analysed_one(store: SqliteStore,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Same rows, byte for byte, whether analysed before the insert or after the commit."""
    monkeypatch.setattr(mailstore, "ANALYSIS_DELAY", 3600.0)  # only a read may analyse
    async with store.account(USER) as mail:
        await mail.create_mailbox("Eager")
        for n in range(3):
            await mail.append("INBOX", message(n), analyse_later=True)
            await mail.append("Eager", message(n))
        path = mail.path
        assert pending_in(path) == 3
        assert await search_uids(mail, sk.TextContains("quokka number 1")) == [2]
        assert pending_in(path) == 0
        rows = body_rows(path)
        assert rows[:3] == rows[3:]
        assert rows[0][12] == "old-0"  # X-UIDL, known before the analysis too


async def test_every_read_sees_the_analysis(store: SqliteStore,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mailstore, "ANALYSIS_DELAY", 3600.0)
    async with store.account(USER) as mail:
        await mail.append("INBOX", message(7), analyse_later=True)
        box = await mail.get_mailbox("INBOX")
        assert box is not None
        (parts,) = await mail.parts(box.id, [1])
        assert b'"Ann"' in parts.envelope and b"7@example.test" in parts.envelope
        assert parts.bodystructure.startswith(b'(("text" "plain"')
        assert parts.header_end == message(7).index(b"\r\n\r\n") + 4
        assert await search_uids(mail, sk.HeaderContains("subject", "äpfel 7")) == [1]


async def test_the_background_analyses_a_quiet_account(store: SqliteStore) -> None:
    async with store.account(USER) as mail:
        await asyncio.gather(*(mail.append("INBOX", message(n), analyse_later=True)
                               for n in range(150)))  # more than one chunk
        path = mail.path
        for _ in range(400):  # the store has no event for it: poll, at most 20 s
            if not pending_in(path):
                break
            await asyncio.sleep(0.05)
        assert pending_in(path) == 0
        texts = [row[-1] for row in body_rows(path)]
        assert all(text and "quokka number" in text for text in texts)


async def test_bodies_left_pending_by_a_stop_are_analysed_after_reopening(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(mailstore, "ANALYSIS_DELAY", 3600.0)
    store = await SqliteStore.open(tmp_path)
    await store.directory.add_user(USER, hash_password("pw"))
    async with store.account(USER) as mail:
        await mail.append("INBOX", message(1), analyse_later=True)
        path = mail.path
    await store.close()
    assert pending_in(path) == 1
    monkeypatch.setattr(mailstore, "ANALYSIS_DELAY", 0.0)
    store = await SqliteStore.open(tmp_path)
    try:
        async with store.account(USER) as mail:
            assert await search_uids(mail, sk.TextContains("quokka")) == [1]
            assert pending_in(path) == 0
    finally:
        await store.close()


async def test_a_read_fails_for_now_when_the_analysis_cannot_be_written(
    store: SqliteStore, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(mailstore, "ANALYSIS_DELAY", 3600.0)

    def full(*_args: object, **_kwargs: object) -> None:
        raise TemporaryStoreError("storage full")

    async with store.account(USER) as mail:
        await mail.append("INBOX", message(1), analyse_later=True)
        monkeypatch.setattr(mailstore, "store_analyses", full)
        with pytest.raises(TemporaryStoreError):
            await search_uids(mail, sk.TextContains("quokka"))
        monkeypatch.undo()
        assert await search_uids(mail, sk.TextContains("quokka")) == [1]


async def test_a_body_expunged_before_its_analysis_is_simply_gone(
    store: SqliteStore, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(mailstore, "ANALYSIS_DELAY", 3600.0)
    async with store.account(USER) as mail:
        await mail.append("INBOX", message(1), analyse_later=True)
        await mail.append("INBOX", message(2), analyse_later=True)
        box = await mail.get_mailbox("INBOX")
        assert box is not None
        assert await mail.expunge(box.id, [1]) == [1]  # a read: analyses both first
        await mail.append("INBOX", message(3), analyse_later=True)
        path = mail.path
        with sqlite3.connect(path) as conn:  # expunged before anyone analysed it
            conn.execute("DELETE FROM message WHERE uid = 3")
        assert pending_in(path) == 0  # the body went with its last message
        assert await search_uids(mail, sk.TextContains("quokka")) == [2]


async def test_mail_stored_before_migration_4_counts_as_analysed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An upgrade does not re-analyse existing mail: its bodies were analysed when stored."""
    store = await SqliteStore.open(tmp_path)
    await store.directory.add_user(USER, hash_password("pw"))
    async with store.account(USER) as mail:
        path = mail.path
    await store.close()
    path.unlink()  # the account file again, as version 3 left it, with one analysed message
    conn = old_account_file(path, 3, "(id, name, uidvalidity, created_at) VALUES "
                            "(1, 'INBOX', 1, 0)")
    conn.execute("INSERT INTO body(id, size, header_end, envelope, bodystructure, body_simple, "
                 "tree, hdr_from, hdr_to, hdr_cc, hdr_bcc, hdr_subject, hdr_message_id) "
                 "VALUES (1, 10, 0, '', '', '', '', 'old@x.test', '', '', '', '', '')")
    conn.execute("INSERT INTO message(mailbox_id, uid, body_id, modseq, internaldate, savedate, "
                 "size) VALUES (1, 1, 1, 1, 0, 0, 10)")
    conn.execute("UPDATE mailbox SET uidnext = 2")
    conn.commit()
    conn.close()
    analysed: list[int] = []
    monkeypatch.setattr(mailstore, "analyse_for_store",
                        lambda raw: analysed.append(len(raw)))  # must not be called
    store = await SqliteStore.open(tmp_path)
    try:
        async with store.account(USER) as mail:
            assert pending_in(path) == 0
            assert await search_uids(mail, sk.HeaderContains("from", "old@")) == [1]
            assert analysed == []
    finally:
        await store.close()
