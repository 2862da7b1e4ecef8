"""SelectedMailbox against a real store: \\Recent when mail arrives right after SELECT's read
or a refresh's (RFC 3501 §2.3.2: the first session to be told of a message gets \\Recent)."""

from __future__ import annotations

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
