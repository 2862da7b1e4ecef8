"""SelectedMailbox against a real store: \\Recent when mail arrives right after SELECT's read
or a refresh's (RFC 3501 §2.3.2: the first session to be told of a message gets \\Recent),
a repeated SELECT answered from memory only while nothing was committed since, by this
process or another one; and FETCH of flags (with UID and MODSEQ) rendered a window at a time
from concatenated columns giving exactly the bytes of rendering row by row, with keywords,
\\Recent, gaps left by old expunges, a message another session expunged (RFC 2180 NIL
answer), sparse requests and runs cut short by small windows."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from mailhost.app import App
from mailhost.config import parse_config
from mailhost.protocols.imap import fetch
from mailhost.protocols.imap.fetchatt import FetchAttribute as A
from mailhost.protocols.imap.fetchatt import FetchItem
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


# -- FETCH of flags by windows ---------------------------------------------------------

ITEM_LISTS: list[list[FetchItem]] = [
    [A.FLAGS], [A.UID, A.FLAGS], [A.FLAGS, A.UID], [A.UID, A.FLAGS, A.MODSEQ],
    [A.MODSEQ, A.FLAGS],
]


async def _fill(mail: SqliteMailStore) -> int:
    """30 messages with mixed flags and keywords, and UIDs 5 and 6 expunged; the box id."""
    for number in range(30):
        info, _ = await mail.append("INBOX", b"Subject: %d\r\n\r\nx\r\n" % number)
    box_id = info.id
    await mail.store_flags(box_id, list(range(1, 31, 2)), "add", ["\\Seen"])
    await mail.store_flags(box_id, [3, 4, 20], "add", ["$Label", "Work"])
    await mail.store_flags(box_id, [4, 21, 22], "add", ["\\Flagged", "\\Answered", "Later"])
    await mail.expunge(box_id, [5, 6])
    return box_id


async def _render(mail: SqliteMailStore, box: SelectedMailbox, uids: Sequence[int],
                  items: list[FetchItem]) -> tuple[bytes, list[int]]:
    missing: list[int] = []
    chunks = [chunk async for chunk in fetch.fetch_responses(mail, box, uids, items, missing)]
    return b"".join(chunks), missing


async def _compare(mail: SqliteMailStore, box: SelectedMailbox, monkeypatch: pytest.MonkeyPatch,
                   requests: list[list[int]]) -> None:
    runs = [0]
    original = views._flag_run

    def counted(*args: Any) -> views.FlagRun | None:
        run = original(*args)
        runs[0] += run is not None
        return run

    monkeypatch.setattr(views, "FLAG_RUN_ROWS", 3)  # several runs per window
    monkeypatch.setattr(views, "_flag_run", counted)
    # Windows of 7 (several, dense and sparse); then windows that grow with the batches
    # (64 bytes: 4 messages, then 6, 9, ... up to 50).
    for chunk, first_batch in ((7, fetch.FIRST_BATCH_BYTES), (50, 64)):
        monkeypatch.setattr(views, "JSON_CHUNK", chunk)
        monkeypatch.setattr(fetch, "FIRST_BATCH_BYTES", first_batch)
        for uids in requests:
            for items in ITEM_LISTS:
                fast = await _render(mail, box, uids, items)
                with monkeypatch.context() as rows_only:
                    rows_only.setattr(fetch, "_flag_run_renderer", lambda *args: None)
                    slow = await _render(mail, box, uids, items)
                assert fast == slow, (chunk, uids, items)
    assert runs[0] > 0  # the window path was taken, not only the rows


async def test_runs_render_what_rows_render(mail: SqliteMailStore,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    await _fill(mail)
    await _open(mail)  # claims \Recent
    box = await _open(mail)
    assert not box.recent_ranges
    everything = list(box.uids)
    await _compare(mail, box, monkeypatch,
                   [everything, everything[3:17], everything[::2], everything[::3],
                    [everything[-1]]])


async def test_runs_with_recent_and_an_expunge_not_yet_told(
        mail: SqliteMailStore, monkeypatch: pytest.MonkeyPatch) -> None:
    box_id = await _fill(mail)
    box = await _open(mail)  # every message is \Recent here
    assert box.recent_ranges
    other = await _open(mail)
    await mail.expunge(box_id, [12])  # by another session: this one still lists UID 12
    assert 12 in box.uids
    everything = list(box.uids)
    await _compare(mail, box, monkeypatch, [everything, everything[5:20]])
    text, missing = await _render(mail, box, everything, [A.UID, A.FLAGS])
    assert b"FETCH (UID 12 FLAGS ())" in text and not missing  # RFC 2180 §4.1.3
    assert other is not box


async def test_runs_around_what_another_session_changed_since_select(
        mail: SqliteMailStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run is known to be the rows asked for by its count alone (_flag_run): new mail lies
    above every UID the session knows, expunges make the count short."""
    box_id = await _fill(mail)
    await _open(mail)  # claims \Recent
    box = await _open(mail)
    everything = list(box.uids)
    await mail.append("INBOX", MESSAGE)  # UID 31: not this session's yet
    await mail.expunge(box_id, [everything[0], everything[9]])  # not told yet either
    requests = [everything, everything[1:9], everything[10:], everything[:9] + everything[10:],
                everything[1:9] + everything[10:]]  # the last skips only what is gone
    await _compare(mail, box, monkeypatch, requests)
    text, _ = await _render(mail, box, everything, [A.UID, A.FLAGS])
    assert text.count(b" FETCH (") == len(everything)  # the expunged two as NIL FETCHes
