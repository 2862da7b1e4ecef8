"""FETCH responses, answered from data parsed at store time (RFC 3501 §6.4.5, §7.4.2).

ENVELOPE, BODY and BODYSTRUCTURE come pre-rendered from the database; body sections are sliced
from the stored bytes with the MIME offsets saved next to them. Nothing is re-parsed here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING

from mailhost.mime import extract_section, partial, tree_from_json
from mailhost.protocols.imap.fetchatt import (
    BodySection,
    FetchAttribute,
    FetchItem,
    Section,
    SectionText,
)
from mailhost.protocols.imap.wire import flag_list, format_date_time, literal
from mailhost.store.interface import MessageParts

if TYPE_CHECKING:
    from mailhost.protocols.imap.selected import SelectedMailbox
    from mailhost.store.sqlite.mailstore import SqliteMailStore

A = FetchAttribute
PARSED_ITEMS = frozenset({A.ENVELOPE, A.BODY, A.BODYSTRUCTURE})
RAW_ITEMS = frozenset({A.RFC822, A.RFC822_HEADER, A.RFC822_TEXT})
SEEN_ITEMS = frozenset({A.RFC822, A.RFC822_TEXT})
DRAIN_EVERY = 64


def needs_raw(item: FetchItem) -> bool:
    return isinstance(item, BodySection) or item in RAW_ITEMS


def sets_seen(item: FetchItem) -> bool:
    """Reading a body without PEEK marks the message \\Seen (RFC 3501 §6.4.5)."""
    if isinstance(item, BodySection):
        return not item.peek
    return item in SEEN_ITEMS


def _section(raw: bytes, parts: MessageParts, item: BodySection) -> bytes | None:
    section: Section = item.section
    if not section.part:
        if section.text is None:
            data: bytes | None = raw
        elif section.text is SectionText.HEADER:
            data = raw[:parts.header_end]
        elif section.text is SectionText.TEXT:
            data = raw[parts.header_end:]
        else:
            data = extract_section(raw, tree_from_json(parts.tree_json), (),
                                   section.text.value.decode(), section.fields)
    else:
        text = section.text.value.decode() if section.text is not None else None
        data = extract_section(raw, tree_from_json(parts.tree_json), section.part, text,
                               section.fields)
    if data is not None and item.partial is not None:
        data = partial(data, item.partial.origin, item.partial.length)
    return data


def render_item(
    item: FetchItem, uid: int, box: SelectedMailbox, parts: MessageParts | None,
    raw: bytes | None,
) -> bytes:
    meta = box.meta[uid]
    if item is A.UID:
        return b"UID %d" % uid
    if item is A.FLAGS:
        return b"FLAGS " + flag_list(box.flags_of(uid))
    if item is A.INTERNALDATE:
        return b"INTERNALDATE " + format_date_time(meta.internaldate)
    if item is A.RFC822_SIZE:
        return b"RFC822.SIZE %d" % meta.size
    if item is A.MODSEQ:
        return b"MODSEQ (%d)" % meta.modseq
    if item is A.ENVELOPE or item is A.BODY or item is A.BODYSTRUCTURE:
        assert parts is not None
        value = {A.ENVELOPE: parts.envelope, A.BODY: parts.body,
                 A.BODYSTRUCTURE: parts.bodystructure}[item]
        return bytes(item.value) + b" " + value
    assert raw is not None and parts is not None
    if item is A.RFC822:
        return b"RFC822 " + literal(raw)
    if item is A.RFC822_HEADER:
        return b"RFC822.HEADER " + literal(raw[:parts.header_end])
    if item is A.RFC822_TEXT:
        return b"RFC822.TEXT " + literal(raw[parts.header_end:])
    assert isinstance(item, BodySection)
    data = _section(raw, parts, item)
    return item.response_name + b" " + (b"NIL" if data is None else literal(data))


async def fetch_responses(
    mail: SqliteMailStore, box: SelectedMailbox, uids: Sequence[int],
    items: Sequence[FetchItem],
) -> AsyncIterator[bytes]:
    """One ``* n FETCH (...)`` line per message, streamed so bodies are not all held."""
    want_parts = any(item in PARSED_ITEMS or needs_raw(item) for item in items)
    want_raw = any(needs_raw(item) for item in items)
    parts_by_uid: dict[int, MessageParts] = {}
    if want_parts:
        parts_by_uid = {p.uid: p for p in await mail.parts(box.info.id, uids)}
    raws = mail.iter_raw(box.info.id, uids) if want_raw else None
    for uid in uids:
        raw: bytes | None = None
        if raws is not None:
            raw_uid, raw = await anext(raws, (0, b""))
            while raw_uid and raw_uid < uid:
                raw_uid, raw = await anext(raws, (0, b""))
            if raw_uid != uid:
                continue  # expunged by another session while we were reading
        parts = parts_by_uid.get(uid)
        seq = box.seq_of(uid)
        if seq is None or (want_parts and parts is None):
            continue
        body = b" ".join(render_item(item, uid, box, parts, raw) for item in items)
        yield b"* %d FETCH (%s)\r\n" % (seq, body)
