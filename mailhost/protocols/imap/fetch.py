"""FETCH responses, answered from data parsed at store time (RFC 3501 §6.4.5, §7.4.2).

ENVELOPE, BODY and BODYSTRUCTURE come pre-rendered from the database; body sections are sliced
from the stored bytes with the MIME offsets saved next to them. Nothing is re-parsed here.

Lines are rendered straight from the rows of one ordered query per batch (see
:func:`mailhost.store.sqlite.views.fetch_batch`), with no per-message record in between, and
each batch goes out as one write. INTERNALDATE is formatted only when asked for, and rendered
flag lists are shared by every message with the same flags.
"""

from __future__ import annotations

import bisect
import functools
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Final

from mailhost.mime import extract_section, partial, tree_from_json
from mailhost.protocols.imap.fetchatt import (
    BodySection,
    FetchAttribute,
    FetchItem,
    Section,
    SectionText,
)
from mailhost.protocols.imap.wire import flag_list, format_date_time, literal
from mailhost.store.flags import decode_keywords, join_flags
from mailhost.store.sqlite import views

if TYPE_CHECKING:
    from mailhost.protocols.imap.selected import SelectedMailbox
    from mailhost.store.sqlite.mailstore import SqliteMailStore

A = FetchAttribute
PARSED_ITEMS = frozenset({A.ENVELOPE, A.BODY, A.BODYSTRUCTURE})
RAW_ITEMS = frozenset({A.RFC822, A.RFC822_HEADER, A.RFC822_TEXT})
SEEN_ITEMS = frozenset({A.RFC822, A.RFC822_TEXT})
BATCH_BYTES: Final = 256 * 1024  # rendered per store hop and per write

# Column positions in a FETCH row (views.MESSAGE_COLUMNS, then BODY_COLUMNS, then raw).
(_UID, _MODSEQ, _FLAGS, _KEYWORDS, _SIZE, _IDATE, _IDATE_TZ, _ENVELOPE, _BODY, _BODYSTRUCTURE,
 _TREE, _HEADER_END, _RAW) = range(13)

# RFC 2180 §4.1.3 "NIL FETCH responses": what a message expunged by another session (the
# client not yet told) answers when only these items and UID are asked; anything else makes
# the FETCH end in NO [EXPUNGEISSUED] instead (§4.1.2).
_NIL_VALUES: Final[dict[FetchItem, bytes]] = {
    A.FLAGS: b"FLAGS ()",
    A.RFC822_SIZE: b"RFC822.SIZE 0",
    A.INTERNALDATE: b'INTERNALDATE "01-Jan-1970 00:00:00 +0000"',
}

Row = Sequence[Any]
Renderer = Callable[[Row], bytes]


def needs_raw(item: FetchItem) -> bool:
    return isinstance(item, BodySection) or item in RAW_ITEMS


def sets_seen(item: FetchItem) -> bool:
    """Reading a body without PEEK marks the message \\Seen (RFC 3501 §6.4.5)."""
    if isinstance(item, BodySection):
        return not item.peek
    return item in SEEN_ITEMS


_FLAG_ITEMS: dict[tuple[int, str, bool], bytes] = {}


def flags_item(bits: int, keywords: str, recent: bool) -> bytes:
    """``FLAGS (...)`` for stored flag bits and encoded keywords, rendered once per combination
    (most messages of a mailbox share one of a few)."""
    key = (bits, keywords, recent)
    item = _FLAG_ITEMS.get(key)
    if item is None:
        names = join_flags(bits, decode_keywords(keywords))
        item = b"FLAGS " + flag_list((*names, "\\Recent") if recent else names)
        if len(_FLAG_ITEMS) >= 4096:
            _FLAG_ITEMS.clear()
        _FLAG_ITEMS[key] = item
    return item


@functools.lru_cache(maxsize=256)
def _zone(minutes: int) -> timezone:
    return timezone(timedelta(minutes=minutes))


def internaldate_item(timestamp: float, tz_minutes: int) -> bytes:
    return b"INTERNALDATE " + format_date_time(
        datetime.fromtimestamp(timestamp, _zone(tz_minutes)))


def _section(raw: bytes, header_end: int, tree_json: bytes, item: BodySection) -> bytes | None:
    section: Section = item.section
    if not section.part:
        if section.text is None:
            data: bytes | None = raw
        elif section.text is SectionText.HEADER:
            data = raw[:header_end]
        elif section.text is SectionText.TEXT:
            data = raw[header_end:]
        else:
            data = extract_section(raw, tree_from_json(tree_json), (),
                                   section.text.value.decode(), section.fields)
    else:
        text = section.text.value.decode() if section.text is not None else None
        data = extract_section(raw, tree_from_json(tree_json), section.part, text,
                               section.fields)
    if data is not None and item.partial is not None:
        data = partial(data, item.partial.origin, item.partial.length)
    return data


def _body_section(item: BodySection) -> Renderer:
    def render(row: Row) -> bytes:
        data = _section(row[_RAW], row[_HEADER_END], row[_TREE], item)
        return item.response_name + b" " + (b"NIL" if data is None else literal(data))
    return render


def _renderer(item: FetchItem, is_recent: Callable[[int], bool]) -> Renderer:
    """How one item renders from a row."""
    if isinstance(item, BodySection):
        return _body_section(item)
    simple: dict[FetchItem, Renderer] = {
        A.UID: lambda row: b"UID %d" % row[_UID],
        A.FLAGS: lambda row: flags_item(row[_FLAGS], row[_KEYWORDS], is_recent(row[_UID])),
        A.INTERNALDATE: lambda row: internaldate_item(row[_IDATE], row[_IDATE_TZ]),
        A.RFC822_SIZE: lambda row: b"RFC822.SIZE %d" % row[_SIZE],
        A.MODSEQ: lambda row: b"MODSEQ (%d)" % row[_MODSEQ],
        A.ENVELOPE: lambda row: b"ENVELOPE " + row[_ENVELOPE],
        A.BODY: lambda row: b"BODY " + row[_BODY],
        A.BODYSTRUCTURE: lambda row: b"BODYSTRUCTURE " + row[_BODYSTRUCTURE],
        A.RFC822: lambda row: b"RFC822 " + literal(row[_RAW]),
        A.RFC822_HEADER: lambda row: b"RFC822.HEADER " + literal(row[_RAW][:row[_HEADER_END]]),
        A.RFC822_TEXT: lambda row: b"RFC822.TEXT " + literal(row[_RAW][row[_HEADER_END]:]),
    }
    return simple[item]


async def fetch_responses(
    mail: SqliteMailStore, box: SelectedMailbox, uids: Sequence[int],
    items: Sequence[FetchItem], missing: list[int] | None = None,
    changedsince: int | None = None,
) -> AsyncIterator[bytes]:
    """``* n FETCH (...)`` lines, many per chunk, streamed so bodies are not all held.

    ``uids`` must be ascending and known to the session. Messages another session has
    expunged (the store no longer has their data, the client not yet heard) are skipped and
    added to ``missing``. With ``changedsince`` only messages with a higher MODSEQ answer.
    """
    if not uids:
        return
    with_raw = any(needs_raw(item) for item in items)
    with_body = with_raw or any(item in PARSED_ITEMS for item in items)
    session_uids = box.uids  # never changed in place, so safe to read on the store's thread
    recent_ranges = tuple(box.recent_ranges)

    def is_recent(uid: int) -> bool:
        return any(low <= uid <= high for low, high in recent_ranges)

    renderers = [_renderer(item, is_recent) for item in items]
    nil_answer = all(item is A.UID or item in _NIL_VALUES for item in items)

    def render(row: Row) -> bytes:
        seq = bisect.bisect_left(session_uids, row[_UID]) + 1
        return b"* %d FETCH (%s)\r\n" % (seq, b" ".join([r(row) for r in renderers]))

    def gone(uid: int) -> bytes | None:
        if not nil_answer:
            return None
        seq = bisect.bisect_left(session_uids, uid) + 1
        values = [b"UID %d" % uid if item is A.UID else _NIL_VALUES[item] for item in items]
        return b"* %d FETCH (%s)\r\n" % (seq, b" ".join(values))

    start = 0
    while start < len(uids):
        batch = await views.fetch_batch(mail, box.info.id, uids, start, with_body, with_raw,
                                        changedsince, render, gone, BATCH_BYTES)
        if missing is not None:
            missing.extend(batch.missing)
        if batch.data:
            yield batch.data
        start = batch.next
