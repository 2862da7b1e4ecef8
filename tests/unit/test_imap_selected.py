"""SelectedMailbox against a real store: \\Recent when mail arrives right after SELECT's read
or a refresh's (RFC 3501 §2.3.2: the first session to be told of a message gets \\Recent),
and a repeated SELECT answered from memory only while nothing was committed since, by this
process or another one."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from mailhost.app import App
from mailhost.config import parse_config
from mailhost.protocols.imap.selected import SelectedMailbox
from mailhost.store.sqlite import views
from mailhost.store.sqlite.mailstore import SqliteMailStore

USER = "joe@example.test"
MESSAGE = b"Subject: hi\r\n\r\nx\r\n"


@pytest.fixture
async def mail(tmp_path: Path) -> AsyncIterator[SqliteMailStore]:
    config = parse_config({"storage": {"data_dir": str(tmp_path)}, "listener": []}, "<test>")
    app = await App.create(config)
    await app.store.directory.add_user(USER, "x")
    async with app.store.account(USER) as store:
        yield store
    await app.close()


def deliver_after(mail: SqliteMailStore, name: str) -> Callable[[], None]:
    """Make the store read ``views.<name>`` deliver a message right after it has read; undo.

    Each read is one hop, so nothing can arrive inside it: what is tested is mail arriving
    between the read and the session taking the result in.
    """
    original: Callable[..., Awaitable[Any]] = getattr(views, name)

    async def racing(*args: Any, **kwargs: Any) -> Any:
        result = await original(*args, **kwargs)
        await mail.append("INBOX", b"Subject: arrived meanwhile\r\n\r\nx\r\n")
        return result

    setattr(views, name, racing)
    return lambda: setattr(views, name, original)


async def _open(mail: SqliteMailStore) -> SelectedMailbox:
    opened = await SelectedMailbox.open(mail, "INBOX", read_only=False)
    assert opened is not None
    return opened[0]


async def test_mail_arriving_during_select_stays_recent_for_it(mail: SqliteMailStore) -> None:
    await mail.append("INBOX", b"Subject: one\r\n\r\nx\r\n")
    undo = deliver_after(mail, "select_mailbox")
    box = await _open(mail)
    undo()
    assert list(box.uids) == [1] and box.recent_uids() == [1]
    lines = await box.refresh(mail, allow_expunge=True, condstore=False, qresync=False)
    assert lines == [b"* 2 EXISTS\r\n", b"* 2 RECENT\r\n"]  # told of 2 first: it is recent
    assert box.recent_uids() == [1, 2]


async def test_mail_arriving_during_refresh_stays_recent_for_it(mail: SqliteMailStore) -> None:
    box = await _open(mail)
    await mail.append("INBOX", b"Subject: one\r\n\r\nx\r\n")
    undo = deliver_after(mail, "changes_since")
    assert await box.refresh(mail, True, False, False) == [b"* 1 EXISTS\r\n", b"* 1 RECENT\r\n"]
    undo()
    assert await box.refresh(mail, True, False, False) == [b"* 2 EXISTS\r\n", b"* 2 RECENT\r\n"]
    other = await _open(mail)
    assert other.recent_uids() == []  # each message was claimed once, by the first session


def count_hops(mail: SqliteMailStore, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A one-item list counting the store's trips to its database thread from now on."""
    hops = [0]
    original = mail.run

    async def counted(fn: Callable[[Any], Any]) -> Any:
        hops[0] += 1
        return await original(fn)

    monkeypatch.setattr(mail, "run", counted)
    return hops


async def select(mail: SqliteMailStore, claim: bool = True) -> views.Selection:
    selection = await views.select_mailbox(mail, "INBOX", claim)
    assert selection is not None
    return selection


async def test_a_repeated_select_needs_no_database_hop(
    mail: SqliteMailStore, monkeypatch: pytest.MonkeyPatch,
) -> None:
    await mail.append("INBOX", MESSAGE)
    await select(mail)  # claims \Recent: a commit
    first = await select(mail)
    hops = count_hops(mail, monkeypatch)
    again = await select(mail)
    assert hops == [0]
    assert again == first


async def test_select_sees_a_commit_of_this_process(
    mail: SqliteMailStore, monkeypatch: pytest.MonkeyPatch,
) -> None:
    await select(mail)
    await select(mail)
    await mail.append("INBOX", MESSAGE)
    hops = count_hops(mail, monkeypatch)
    selection = await select(mail)
    assert hops[0] >= 1
    assert list(selection.uids) == [1] and selection.info.uidnext == 2
    assert selection.first_recent == 1  # claimed now, by this session


async def test_select_sees_a_commit_of_another_connection(mail: SqliteMailStore) -> None:
    """Another process (``mailhost deliver``) commits through its own connection: no signal
    reaches this store, only the database file changes."""
    await select(mail)
    await select(mail)
    other = SqliteMailStore(USER, mail.path)
    try:
        await other.append("INBOX", MESSAGE)
        await other.store_flags(1, [1], "add", ["$Work"])
    finally:
        await other.close()
    selection = await select(mail)
    assert list(selection.uids) == [1]
    assert "$Work" in selection.keywords


async def test_a_reopened_connection_does_not_trust_the_old_header(
    mail: SqliteMailStore, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """When every connection closes SQLite deletes the WAL index; a new one starts from the
    same bytes, so a header read on an earlier connection proves nothing."""
    await mail._close_connection()  # what an idle account does
    await select(mail)  # read on a fresh connection whose WAL has no frames yet
    await select(mail)
    await mail._close_connection()
    other = SqliteMailStore(USER, mail.path)
    try:
        await other.append("INBOX", MESSAGE)
    finally:
        await other.close()  # the last connection: WAL and its index deleted
    reader = sqlite3.connect(mail.path)  # someone holds a fresh, frameless index open
    try:
        reader.execute("SELECT count(*) FROM message").fetchone()
        hops = count_hops(mail, monkeypatch)
        selection = await select(mail)
    finally:
        reader.close()
    assert hops[0] >= 1
    assert list(selection.uids) == [1]


async def test_recent_goes_to_one_session_only(mail: SqliteMailStore) -> None:
    await mail.append("INBOX", MESSAGE)
    examined = await select(mail, claim=False)  # EXAMINE: sees \Recent, claims nothing
    assert examined.first_recent == 1
    assert (await select(mail, claim=False)).first_recent == 1
    first = await select(mail)
    assert first.first_recent == 1  # this session is the first to be told of UID 1
    second = await select(mail)
    assert second.first_recent == 2  # no longer recent for anyone else
    assert (await select(mail)).first_recent == 2
    await mail.append("INBOX", MESSAGE)
    assert (await select(mail)).first_recent == 2
    assert (await select(mail)).first_recent == 3
