"""SelectedMailbox against a real store: \\Recent when mail arrives mid-way through SELECT
or a refresh (RFC 3501 §2.3.2: the first session to be told of a message gets \\Recent)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from mailhost.app import App
from mailhost.config import parse_config
from mailhost.protocols.imap.selected import SelectedMailbox
from mailhost.store.sqlite.mailstore import SqliteMailStore

USER = "joe@example.test"


@pytest.fixture
async def mail(tmp_path: Path) -> AsyncIterator[SqliteMailStore]:
    config = parse_config({"storage": {"data_dir": str(tmp_path)}, "listener": []}, "<test>")
    app = await App.create(config)
    await app.store.directory.add_user(USER, "x")
    async with app.store.account(USER) as store:
        yield store
    await app.close()


def deliver_after(mail: SqliteMailStore, name: str) -> Callable[[], None]:
    """Make the store's ``name`` method deliver a message right after it reads; undo."""
    original: Callable[..., Awaitable[Any]] = getattr(mail, name)

    async def racing(*args: Any) -> Any:
        result = await original(*args)
        await mail.append("INBOX", b"Subject: arrived meanwhile\r\n\r\nx\r\n")
        return result

    setattr(mail, name, racing)
    return lambda: setattr(mail, name, original)


async def test_mail_arriving_during_select_stays_recent_for_it(mail: SqliteMailStore) -> None:
    await mail.append("INBOX", b"Subject: one\r\n\r\nx\r\n")
    inbox = await mail.get_mailbox("INBOX")
    assert inbox is not None
    undo = deliver_after(mail, "messages")
    box = await SelectedMailbox.open(mail, inbox, read_only=False)
    undo()
    assert box.uids == [1] and box.recent == {1}
    lines = await box.refresh(mail, allow_expunge=True, condstore=False, qresync=False)
    assert lines == [b"* 2 EXISTS\r\n", b"* 2 RECENT\r\n"]  # told of 2 first: it is recent
    assert box.recent == {1, 2}


async def test_mail_arriving_during_refresh_stays_recent_for_it(mail: SqliteMailStore) -> None:
    inbox = await mail.get_mailbox("INBOX")
    assert inbox is not None
    box = await SelectedMailbox.open(mail, inbox, read_only=False)
    await mail.append("INBOX", b"Subject: one\r\n\r\nx\r\n")
    undo = deliver_after(mail, "messages_changed_since")
    assert await box.refresh(mail, True, False, False) == [b"* 1 EXISTS\r\n", b"* 1 RECENT\r\n"]
    undo()
    assert await box.refresh(mail, True, False, False) == [b"* 2 EXISTS\r\n", b"* 2 RECENT\r\n"]
    other = await SelectedMailbox.open(mail, inbox, read_only=False)
    assert other.recent == set()  # each message was claimed once, by the first session
