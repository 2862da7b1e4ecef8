"""FETCH of flags (with UID and MODSEQ) rendered a window at a time from concatenated columns
must give exactly the bytes of rendering row by row: with keywords, \\Recent, gaps left by
old expunges, a message another session expunged (RFC 2180 NIL answer), sparse requests and
runs cut short by small windows."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
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
ITEM_LISTS: list[list[FetchItem]] = [
    [A.FLAGS], [A.UID, A.FLAGS], [A.FLAGS, A.UID], [A.UID, A.FLAGS, A.MODSEQ],
    [A.MODSEQ, A.FLAGS],
]


@pytest.fixture
async def mail(tmp_path: Path) -> AsyncIterator[SqliteMailStore]:
    config = parse_config({"storage": {"data_dir": str(tmp_path)}, "listener": []}, "<test>")
    app = await App.create(config)
    await app.store.directory.add_user(USER, "x")
    async with app.store.account(USER) as store:
        yield store
    await app.close()


async def _open(mail: SqliteMailStore) -> SelectedMailbox:
    opened = await SelectedMailbox.open(mail, "INBOX", read_only=False)
    assert opened is not None
    return opened[0]


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

    monkeypatch.setattr(views, "JSON_CHUNK", 7)  # several windows, dense and sparse
    monkeypatch.setattr(views, "FLAG_RUN_ROWS", 3)  # several runs per window
    monkeypatch.setattr(views, "_flag_run", counted)
    for uids in requests:
        for items in ITEM_LISTS:
            fast = await _render(mail, box, uids, items)
            with monkeypatch.context() as rows_only:
                rows_only.setattr(fetch, "_flag_run_renderer", lambda *args: None)
                slow = await _render(mail, box, uids, items)
            assert fast == slow, (uids, items)
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
