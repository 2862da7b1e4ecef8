"""Message analysis at store time.

The store calls :func:`analyse` once per message and keeps the result, so that
FETCH (ENVELOPE, BODY, BODYSTRUCTURE, BODY[section]) and SEARCH never parse
message bodies again: sections are sliced from the stored bytes with the
offsets in :attr:`MessageAnalysis.tree` (see :mod:`mailhost.mime.sections`).

All offsets and sizes refer to the bytes given to :func:`analyse`. If the store
rewrites a message before serving it (for example bare LF to CRLF, which IMAP
requires on the wire), it must analyse the rewritten bytes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from mailhost.mime.bodystructure import render_body, render_bodystructure, render_both
from mailhost.mime.envelope import ENVELOPE_FIELDS, envelope_of, render_envelope
from mailhost.mime.search import (
    SEARCH_FIELDS,
    SearchFields,
    fields_of,
    search_fields,
    searchable_text,
)
from mailhost.mime.sections import extract_section, partial, resolve_part
from mailhost.mime.structure import (
    MAX_DEPTH,
    MAX_PARTS,
    MIME_FIELDS,
    Part,
    parse_structure,
    parse_with_headers,
    tree_from_json,
    tree_to_json,
)

log = logging.getLogger(__name__)

_MESSAGE_FIELDS = MIME_FIELDS | ENVELOPE_FIELDS | SEARCH_FIELDS
"""Looked up in one scan of each message header (and its encapsulated messages' headers)."""


@dataclass(frozen=True, slots=True)
class MessageAnalysis:
    size: int
    """RFC822.SIZE: octets of the message as analysed."""
    tree: Part
    tree_json: bytes
    """``tree_to_json(tree)``, for the store's BLOB column."""
    envelope: bytes
    body: bytes
    bodystructure: bytes
    fields: SearchFields
    header_end: int
    """Offset of the message body (end of the header and its blank line)."""


def analyse(raw: bytes) -> MessageAnalysis:
    """Analyse one message. Never raises.

    Every step is written not to raise on any input (and is fuzzed for it). As
    a last line of defence against a bug, an unexpected exception is logged and
    the message is described as a single text/plain part, so delivery never
    fails because of message content.
    """
    try:
        return analyse_strict(raw)
    except Exception:
        log.exception("MIME analysis failed; storing the message as one text/plain part")
        return _fallback(raw)


def analyse_strict(raw: bytes) -> MessageAnalysis:
    """:func:`analyse` without the safety net (tests use this to find bugs)."""
    raw = bytes(raw)
    tree, headers = parse_with_headers(raw, _MESSAGE_FIELDS)
    values = headers[tree.header_start, tree.body_start]
    body, bodystructure = render_both(raw, tree, headers)
    return MessageAnalysis(
        size=len(raw),
        tree=tree,
        tree_json=tree_to_json(tree),
        envelope=envelope_of(values),
        body=body,
        bodystructure=bodystructure,
        fields=fields_of(values),
        header_end=tree.body_start,
    )


_FALLBACK_FIELDS = b'"text" "plain" ("charset" "us-ascii") NIL NIL "7bit" %d %d'


def _fallback(raw: bytes) -> MessageAnalysis:
    size = len(raw)
    tree = Part(
        header_start=0,
        body_start=0,
        end=size,
        params={"charset": "us-ascii"},
        size=size,
        lines=raw.count(b"\n") + (1 if raw and not raw.endswith(b"\n") else 0),
    )
    return MessageAnalysis(
        size=size,
        tree=tree,
        tree_json=tree_to_json(tree),
        envelope=b"(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)",
        body=b"(" + _FALLBACK_FIELDS % (size, tree.lines or 0) + b")",
        bodystructure=b"(" + _FALLBACK_FIELDS % (size, tree.lines or 0) + b" NIL NIL NIL NIL)",
        fields=SearchFields(),
        header_end=0,
    )


__all__ = [
    "MAX_DEPTH",
    "MAX_PARTS",
    "MessageAnalysis",
    "Part",
    "SearchFields",
    "analyse",
    "analyse_strict",
    "extract_section",
    "parse_structure",
    "partial",
    "render_body",
    "render_bodystructure",
    "render_envelope",
    "resolve_part",
    "search_fields",
    "searchable_text",
    "tree_from_json",
    "tree_to_json",
]
