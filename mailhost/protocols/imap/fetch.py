"""FETCH responses, answered from data parsed at store time (RFC 3501 §6.4.5, §7.4.2).

ENVELOPE, BODY and BODYSTRUCTURE come pre-rendered from the database; body sections are sliced
from the stored bytes with the MIME offsets saved next to them. Nothing is re-parsed here.

Lines are rendered straight from the rows of one ordered query per batch (see
:func:`mailhost.store.sqlite.views.fetch_batch`), with no per-message record in between, and
each batch goes out as one write. INTERNALDATE is formatted only when asked for, and rendered
flag lists are shared by every message with the same flags.
"""

from __future__ import annotations

import asyncio
import bisect
import functools
import itertools
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
SEEN_ITEMS = frozenset({A.RFC822, A.RFC822_TEXT})
BATCH_BYTES: Final = 256 * 1024  # rendered per store hop and per write
# The first batch is small, so the client has lines to parse while the rest is rendered
# (a 256 KiB first batch of FLAGS kept it waiting ~15 ms on a 100,000-message FETCH 1:*),
# and each batch grows by half, up to BATCH_BYTES. The next batch is rendered while the
# client reads this one, so it must not take longer to render than this one takes to read:
# FLAGS lines render ~1.5x faster than Python's imaplib-style clients parse them, and batches
# that doubled kept such a client waiting at each step (3-5 ms in all, against 1-2 ms with
# Dovecot, which streams as it goes).
FIRST_BATCH_BYTES: Final = 8 * 1024
BATCH_GROWTH: Final = 1.5

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


# The stored columns each item is rendered from (see views.FETCH_COLUMNS).
_RAW_COLUMNS = frozenset({"raw", "header_end", "tree"})
_PARSED_COLUMN = {A.ENVELOPE: "envelope", A.BODY: "body_simple",
                  A.BODYSTRUCTURE: "bodystructure"}
_COLUMNS: Final[dict[FetchItem, frozenset[str]]] = {
    A.UID: frozenset(),
    A.FLAGS: frozenset({"flags", "keywords"}),
    A.INTERNALDATE: frozenset({"internaldate", "internaldate_tz"}),
    A.RFC822_SIZE: frozenset({"size"}),
    A.MODSEQ: frozenset({"modseq"}),
    A.ENVELOPE: frozenset({"envelope"}),
    A.BODY: frozenset({"body_simple"}),
    A.BODYSTRUCTURE: frozenset({"bodystructure"}),
}


def _columns(items: Sequence[FetchItem]) -> frozenset[str]:
    wanted: set[str] = set()
    for item in items:
        wanted |= _COLUMNS.get(item, _RAW_COLUMNS)
    return frozenset(wanted)


def _recent_test(ranges: Sequence[tuple[int, int]]) -> Callable[[int], bool] | None:
    """Membership in the session's \\Recent ranges; None when there are none (the usual)."""
    if not ranges:
        return None
    if len(ranges) == 1:
        low, high = ranges[0]
        return lambda uid: low <= uid <= high
    frozen = tuple(ranges)
    return lambda uid: any(low <= uid <= high for low, high in frozen)


def _renderer(
    item: FetchItem, at: dict[str, int], is_recent: Callable[[int], bool] | None
) -> Renderer:
    """How one item renders from a row whose column positions ``at`` gives."""
    if isinstance(item, BodySection):
        raw, header_end, tree = at["raw"], at["header_end"], at["tree"]

        def section(row: Row) -> bytes:
            data = _section(row[raw], row[header_end], row[tree], item)
            return item.response_name + b" " + (b"NIL" if data is None else literal(data))
        return section
    if item is A.UID:
        return lambda row: b"UID %d" % row[0]
    if item is A.FLAGS:
        flags, keywords = at["flags"], at["keywords"]
        if is_recent is None:
            return lambda row: flags_item(row[flags], row[keywords], False)
        recent = is_recent
        return lambda row: flags_item(row[flags], row[keywords], recent(row[0]))
    if item is A.INTERNALDATE:
        when, zone = at["internaldate"], at["internaldate_tz"]
        return lambda row: internaldate_item(row[when], row[zone])
    if item is A.RFC822_SIZE:
        size = at["size"]
        return lambda row: b"RFC822.SIZE %d" % row[size]
    if item is A.MODSEQ:
        modseq = at["modseq"]
        return lambda row: b"MODSEQ (%d)" % row[modseq]
    if item in PARSED_ITEMS:
        name, column = item.value + b" ", at[_PARSED_COLUMN[item]]
        return lambda row: name + row[column]
    raw, header_end = at["raw"], at["header_end"]
    if item is A.RFC822:
        return lambda row: b"RFC822 " + literal(row[raw])
    if item is A.RFC822_HEADER:
        return lambda row: b"RFC822.HEADER " + literal(row[raw][:row[header_end]])
    assert item is A.RFC822_TEXT
    return lambda row: b"RFC822.TEXT " + literal(row[raw][row[header_end]:])


def _line_renderers(
    box: SelectedMailbox, items: Sequence[FetchItem], columns: tuple[str, ...]
) -> tuple[Renderer, Callable[[int], bytes | None]]:
    """The response line for a stored row, and the RFC 2180 NIL line for a UID with none.

    They read the session's UID array, which is replaced, never changed, so they are safe to
    run on the store's thread while the session waits.
    """
    session_uids = box.uids
    count = len(session_uids)
    hint = 0  # rows come in UID order: the next one is usually the next sequence number

    def seq_of(uid: int) -> int:
        nonlocal hint
        if hint >= count or session_uids[hint] != uid:
            hint = bisect.bisect_left(session_uids, uid)
        hint += 1
        return hint

    is_recent = _recent_test(box.recent_ranges)
    at = {name: index for index, name in enumerate(columns)}
    renderers = [_renderer(item, at, is_recent) for item in items]
    if len(renderers) == 1:
        only = renderers[0]

        def render(row: Row) -> bytes:
            return b"* %d FETCH (%s)\r\n" % (seq_of(row[0]), only(row))
    else:
        def render(row: Row) -> bytes:
            return b"* %d FETCH (%s)\r\n" % (seq_of(row[0]),
                                               b" ".join([r(row) for r in renderers]))

    nil_answer = all(item is A.UID or item in _NIL_VALUES for item in items)

    def gone(uid: int) -> bytes | None:
        if not nil_answer:
            return None
        values = [b"UID %d" % uid if item is A.UID else _NIL_VALUES[item] for item in items]
        return b"* %d FETCH (%s)\r\n" % (seq_of(uid), b" ".join(values))

    return render, gone


_SYNC_ITEMS: Final = frozenset({A.UID, A.FLAGS, A.MODSEQ})


def _flag_run_renderer(
    box: SelectedMailbox, items: Sequence[FetchItem]
) -> views.FlagRunRenderer | None:
    """For a FETCH of FLAGS with only UID and MODSEQ besides (what clients send at every
    sync), a renderer of whole runs of messages; None for any other FETCH.

    A run is one ``%`` format: the lines' templates (one per flag combination, made once)
    joined, filled with every sequence number (and UID, MODSEQ) at once, which costs half
    of formatting line by line. It is rendered only when it is consecutive messages of the
    session, whose sequence numbers simply count up; otherwise the renderer returns None.
    """
    if A.FLAGS not in items or not _SYNC_ITEMS.issuperset(items):
        return None
    session_uids = box.uids
    is_recent = _recent_test(box.recent_ranges)
    numbers = [item for item in items if item is not A.FLAGS]  # UID, MODSEQ: %s, in order
    templates: dict[tuple[bytes, bool], bytes] = {}
    plain_templates: dict[bytes, bytes] = {}  # those without \\Recent, by flags alone

    def template(key: bytes, recent: bool) -> bytes:
        made = templates.get((key, recent))
        if made is None:
            bits, _, words = key.decode().partition(" ")
            flags = flags_item(int(bits), words, recent).replace(b"%", b"%%")
            parts = [flags if item is A.FLAGS else b"UID %s" if item is A.UID
                     else b"MODSEQ (%s)" for item in items]
            made = templates[(key, recent)] = b"* %d FETCH (" + b" ".join(parts) + b")\r\n"
            if not recent:
                plain_templates[key] = made
        return made

    def render(run: views.FlagRun) -> bytes | None:
        first = views.range_position(session_uids, run.uids[0], run.uids[-1], len(run.uids))
        if first is None:
            return None
        seqs = range(first + 1, first + len(run.uids) + 1)
        if is_recent is None:
            try:
                lines = list(map(plain_templates.__getitem__, run.flags))
            except KeyError:
                lines = [template(key, False) for key in run.flags]
        else:
            recent = is_recent
            lines = [template(key, recent(uid))
                     for key, uid in zip(run.flags, run.uids, strict=True)]
        if not numbers:
            return b"".join(lines) % tuple(seqs)
        columns = [run.uid_digits if item is A.UID else run.modseqs for item in numbers]
        values = itertools.chain.from_iterable(zip(seqs, *columns, strict=True))
        return b"".join(lines) % tuple(values)

    return views.FlagRunRenderer(render, session_uids, A.UID in items)


async def fetch_responses(
    mail: SqliteMailStore, box: SelectedMailbox, uids: Sequence[int],
    items: Sequence[FetchItem], missing: list[int] | None = None,
    changedsince: int | None = None,
) -> AsyncIterator[bytes]:
    """``* n FETCH (...)`` lines, many per chunk, streamed so bodies are not all held.

    ``uids`` must be ascending and known to the session. Messages another session has
    expunged (the store no longer has their data, the client not yet heard) get a NIL FETCH
    response if that is possible for the items asked, else are skipped and added to
    ``missing``. With ``changedsince`` only messages with a higher MODSEQ answer.
    """
    if not uids:
        return
    columns = views.fetch_columns(_columns(items))
    render, gone = _line_renderers(box, items, columns)
    render_flags = _flag_run_renderer(box, items) if changedsince is None else None

    def render_from(start: int, limit: int) -> asyncio.Future[views.FetchBatch]:
        return asyncio.ensure_future(views.fetch_batch(
            mail, box.info.id, uids, start, columns, changedsince, render, gone, limit,
            render_flags))

    # Each batch is rendered on a database thread while the one before is being written.
    limit = FIRST_BATCH_BYTES
    ahead: asyncio.Future[views.FetchBatch] | None = render_from(0, limit)
    try:
        while ahead is not None:
            batch = await ahead
            limit = min(int(limit * BATCH_GROWTH), BATCH_BYTES)
            ahead = render_from(batch.next, limit) if batch.next < len(uids) else None
            if missing is not None:
                missing.extend(batch.missing)
            if batch.data:
                yield batch.data
    finally:
        if ahead is not None:  # the client went away: its job finishes, unread
            ahead.cancel()
