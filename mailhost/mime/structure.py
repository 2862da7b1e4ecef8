"""Byte-offset MIME parser.

:func:`parse_structure` turns raw RFC 5322 bytes into a tree of :class:`Part`
records holding offsets into those bytes plus the parsed MIME header fields.
It never raises, and its work is bounded:

* nesting deeper than :data:`MAX_DEPTH` (multipart or message/rfc822 levels) is
  not descended into: the part at the cap is an opaque leaf. The cap keeps the
  recursive parser, renderers and JSON (de)serialiser far from Python's
  recursion limit; Dovecot uses the same limit of 100.
* at most :data:`MAX_PARTS` parts are made; once the budget is spent, the rest
  of a multipart body belongs to its last part (as in Dovecot, whose limit is
  10,000).
* MIME header values are cut at :data:`~mailhost.mime._params.MAX_MIME_VALUE`.

A multipart part that yields no children (no ``boundary`` parameter, no
delimiter line found, or cut by the caps) becomes a ``text/plain`` leaf with
its parameters kept, so BODYSTRUCTURE stays well-formed and SEARCH sees text.
"""

from __future__ import annotations

import json
import json.encoder as json_encoder
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from mailhost.mime._headers import find_header_end, first_values, to_str
from mailhost.mime._params import (
    MAX_MIME_VALUE,
    MAX_PARAMS,
    is_token,
    parse_mime_value,
    strip_comments,
)

MAX_DEPTH = 100
MAX_PARTS = 20_000
MAX_SCAN_LINES = 200_000
"""Dash-boundary candidate lines examined per message, over all multiparts."""

MIME_FIELDS = frozenset(
    {
        "content-type",
        "content-transfer-encoding",
        "content-id",
        "content-description",
        "content-disposition",
        "content-language",
        "content-location",
        "content-md5",
    }
)
_IDENTITY_ENCODINGS = frozenset({"7bit", "8bit", "binary"})
_DELIM_TAIL = re.compile(rb"[ \t]*(?:\r\n|\n|\r|$)")


@dataclass(frozen=True, slots=True)
class Part:
    """One MIME entity; offsets index the raw message bytes.

    ``raw[header_start:body_start]`` is the header including its terminating
    blank line, ``raw[body_start:end]`` the body. For a multipart, ``children``
    are its body parts; for a parsed message/rfc822, ``children`` is exactly one
    Part: the encapsulated message (whose header starts at this part's
    ``body_start``).

    String fields hold header text decoded with ``surrogateescape``, so the
    original bytes come back with :func:`mailhost.mime._headers.to_bytes`.
    """

    header_start: int
    body_start: int
    end: int
    type: str = "text"
    subtype: str = "plain"
    params: dict[str, str] = field(default_factory=dict)
    content_id: str | None = None
    description: str | None = None
    encoding: str | None = None
    """Content-Transfer-Encoding, lower-cased; None when absent (7bit)."""
    disposition: str | None = None
    disposition_params: dict[str, str] = field(default_factory=dict)
    language: tuple[str, ...] | None = None
    location: str | None = None
    md5: str | None = None
    size: int = 0
    """Body octet count: ``end - body_start``."""
    lines: int | None = None
    """Body line count, for text/* and message/rfc822 parts."""
    children: tuple[Part, ...] = ()

    @property
    def is_multipart(self) -> bool:
        return self.type == "multipart" and bool(self.children)

    @property
    def is_message(self) -> bool:
        """A message/rfc822 part whose encapsulated message was parsed."""
        return self.type == "message" and self.subtype == "rfc822" and bool(self.children)

    @property
    def media_type(self) -> str:
        return f"{self.type}/{self.subtype}"


HeaderValues = dict[str, bytes]
"""The first unfolded value of each field looked up (as ``first_values`` returns them)."""

MessageHeaders = dict[tuple[int, int], HeaderValues]
"""Header values of the root and of every encapsulated message, by ``(header_start,
body_start)``: exactly the region :func:`~mailhost.mime._headers.first_values` scans."""


class _Ctx:
    __slots__ = ("count", "headers", "message_fields", "raw", "scan_budget")

    def __init__(self, raw: bytes, message_fields: frozenset[str]) -> None:
        self.raw = raw
        self.count = 0
        self.scan_budget = MAX_SCAN_LINES
        self.message_fields = message_fields
        self.headers: MessageHeaders = {}


def parse_structure(raw: bytes) -> Part:
    """Parse a whole message. Never raises."""
    return _parse_entity(_Ctx(raw, MIME_FIELDS), 0, len(raw), 0, False, True)


def parse_with_headers(raw: bytes, message_fields: frozenset[str]) -> tuple[Part, MessageHeaders]:
    """:func:`parse_structure`, plus the values of ``message_fields`` in every message header.

    The fields of the root and of each encapsulated message are looked up in the same scan
    of the header as its MIME fields, so ENVELOPE and SEARCH need not scan it again.
    ``message_fields`` must include :data:`MIME_FIELDS`.
    """
    ctx = _Ctx(raw, message_fields)
    return _parse_entity(ctx, 0, len(raw), 0, False, True), ctx.headers


def count_lines(raw: bytes, start: int, end: int) -> int:
    if start >= end:
        return 0
    n = raw.count(b"\n", start, end)
    if raw[end - 1] != 0x0A:
        n += 1
    return n


def _parse_entity(
    ctx: _Ctx, start: int, end: int, depth: int, in_digest: bool, is_message: bool
) -> Part:
    """One entity; ``is_message`` for the root and encapsulated messages (RFC 822 headers)."""
    raw = ctx.raw
    ctx.count += 1
    body_start = find_header_end(raw, start, end)
    if is_message:
        values = first_values(raw, start, body_start, ctx.message_fields)
        ctx.headers[start, body_start] = values
    else:
        values = first_values(raw, start, body_start, MIME_FIELDS)

    ctype = values.get("content-type")
    params: dict[str, str]
    if ctype is None:
        mtype, subtype = ("message", "rfc822") if in_digest else ("text", "plain")
        params = {"charset": "us-ascii"} if mtype == "text" else {}
    elif len(ctype) <= _SHORT_CONTENT_TYPE:
        mtype, subtype, cached = _content_type_cached(ctype)
        params = dict(cached)  # each Part owns its dict
    else:
        mtype, subtype, params = _content_type(ctype)

    enc_raw = values.get("content-transfer-encoding")
    encoding = None
    if enc_raw is not None:
        encoding = (_encoding_cached(enc_raw) if len(enc_raw) <= _SHORT_CONTENT_TYPE
                    else _encoding(enc_raw))

    disposition: str | None = None
    disp_params: dict[str, str] = {}
    if (disp := values.get("content-disposition")) is not None:
        disposition, disp_params = parse_mime_value(to_str(disp))
        if not disposition:
            disposition, disp_params = None, {}

    language: tuple[str, ...] | None = None
    if (lang := values.get("content-language")) is not None:
        text = strip_comments(to_str(lang[:MAX_MIME_VALUE]))
        tags = tuple(t.strip() for t in text.split(",", MAX_PARAMS)[:MAX_PARAMS] if t.strip())
        language = tags or None

    children: tuple[Part, ...] = ()
    if mtype == "multipart":
        children = _parse_multipart(ctx, params.get("boundary"), subtype, body_start, end, depth)
        if not children:
            mtype, subtype = "text", "plain"
            if "charset" not in params:
                params = {"charset": "us-ascii", **params}
    elif (
        mtype == "message"
        and subtype == "rfc822"
        and (encoding is None or encoding in _IDENTITY_ENCODINGS)
        and depth < MAX_DEPTH
        and ctx.count < MAX_PARTS
    ):
        children = (_parse_entity(ctx, body_start, end, depth + 1, False, True),)

    lines = None
    if mtype == "text" or (mtype == "message" and subtype == "rfc822"):
        lines = count_lines(raw, body_start, end)

    cid = values.get("content-id")
    description = values.get("content-description")
    location = values.get("content-location")
    md5 = values.get("content-md5")
    return Part(
        header_start=start,
        body_start=body_start,
        end=end,
        type=mtype,
        subtype=subtype,
        params=params,
        content_id=None if cid is None else to_str(cid),
        description=None if description is None else to_str(description),
        encoding=encoding,
        disposition=disposition,
        disposition_params=disp_params,
        language=language,
        location=None if location is None else to_str(location),
        md5=None if md5 is None else to_str(md5),
        size=end - body_start,
        lines=lines,
        children=children,
    )


def _content_type(value: bytes) -> tuple[str, str, dict[str, str]]:
    """Type, subtype and parameters of a Content-Type value (text/* always has a charset)."""
    main, params = parse_mime_value(to_str(value))
    mtype, _, subtype = main.partition("/")
    mtype, subtype = mtype.strip(), subtype.strip()
    if not (is_token(mtype) and is_token(subtype)):
        # RFC 2045 section 5.2: invalid syntax means text/plain; us-ascii.
        mtype, subtype = "text", "plain"
    if mtype == "text" and "charset" not in params:
        params = {"charset": "us-ascii", **params}
    return mtype, subtype, params


_SHORT_CONTENT_TYPE = 100
"""Content-Type values up to this length are cached (``text/plain; charset=utf-8`` and the
like recur in nearly every message; the cache stays small)."""


@lru_cache(maxsize=256)
def _content_type_cached(value: bytes) -> tuple[str, str, dict[str, str]]:
    """:func:`_content_type`; callers copy the dict, never change the cached one."""
    return _content_type(value)


def _encoding(value: bytes) -> str | None:
    """A Content-Transfer-Encoding value, lower-cased, comments dropped; None if empty."""
    return strip_comments(to_str(value[:MAX_MIME_VALUE])).strip().lower() or None


_encoding_cached = lru_cache(maxsize=64)(_encoding)
"""A few encodings (quoted-printable, base64, 7bit) recur in nearly every part."""


def _parse_multipart(
    ctx: _Ctx, boundary: str | None, subtype: str, start: int, end: int, depth: int
) -> tuple[Part, ...]:
    if not boundary or depth >= MAX_DEPTH:
        return ()
    budget = MAX_PARTS - ctx.count
    if budget <= 0:
        return ()
    raw = ctx.raw
    delims, closed = _find_delimiters(
        ctx, boundary.encode("utf-8", "surrogateescape"), start, end, budget
    )
    in_digest = subtype == "digest"
    children: list[Part] = []
    opens = len(delims) - 1 if closed else len(delims)
    for i in range(opens):
        after = delims[i][1]
        if i + 1 < len(delims):
            # The line break before a delimiter belongs to the delimiter.
            part_end = delims[i + 1][0]
            if part_end > after and raw[part_end - 1] == 0x0A:
                part_end -= 1
                if part_end > after and raw[part_end - 1] == 0x0D:
                    part_end -= 1
            child_depth = depth + 1
        else:
            # No close delimiter: the last part runs to the end of the region.
            # If the part budget cut the scan short, it holds the rest as a leaf.
            part_end = end
            child_depth = depth + 1 if len(delims) < budget else MAX_DEPTH
        children.append(_parse_entity(ctx, after, part_end, child_depth, in_digest, False))
    return tuple(children)


def _find_delimiters(
    ctx: _Ctx, boundary: bytes, start: int, end: int, limit: int
) -> tuple[list[tuple[int, int]], bool]:
    """Find the dash-boundary lines of a multipart body.

    Returns ([(line start, offset after the line), ...], closed). When the close
    delimiter is found it is the last entry and ``closed`` is True; what follows
    it is the epilogue. At most ``limit`` open delimiters are returned, and the
    candidate lines examined count against the parse-wide ``ctx.scan_budget``.
    """
    raw = ctx.raw
    pat = b"\n--" + boundary
    plen = len(pat)
    out: list[tuple[int, int]] = []
    find = raw.find
    # A candidate is the offset of "--boundary" at the start of a line.
    i = start if raw.startswith(pat[1:], start, end) else -1
    if i < 0:
        j = find(pat, start, end)
        i = -1 if j < 0 else j + 1
    last_line_end = -1
    while i >= 0:
        ctx.scan_budget -= 1
        if ctx.scan_budget < 0:
            return out, False
        j = i + plen - 1
        if raw.startswith(b"--", j, end):
            nl = find(b"\n", j, end)
            out.append((i, end if nl < 0 else nl + 1))
            return out, True
        m = _DELIM_TAIL.match(raw, j, end)
        if m is not None:
            # A delimiter is CRLF + dash-boundary; the line break ending the
            # previous dash-boundary line does not count (RFC 2046 section
            # 5.1.1), so dash-boundary lines right after one are body content.
            if i != last_line_end:
                out.append((i, m.end()))
                if len(out) >= limit:
                    return out, False
            last_line_end = m.end()
        j = find(pat, i, end)
        i = -1 if j < 0 else j + 1
    return out, False


# --- compact JSON ---------------------------------------------------------


def tree_to_json(part: Part) -> bytes:
    """Compact, exact serialisation of a Part tree (ASCII JSON bytes)."""
    return "".join(_encode(_to_list(part))).encode("ascii")


_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True)
"""Made once: ``json.dumps`` with non-default options builds an encoder per call."""


def _make_encode() -> Callable[[Any], Iterable[str]]:
    """The chunks of ``_ENCODER.encode``, from a C encoder made once.

    ``JSONEncoder.encode`` builds a new C encoder on every call, a third of the cost for a
    small tree. No circular-reference check: a Part tree is acyclic and depth-capped.
    """
    make = getattr(json_encoder, "c_make_encoder", None)
    if make is None:  # an interpreter without the C accelerator: same output, slower
        return lambda value: (_ENCODER.encode(value),)
    encoder = make(
        None, _ENCODER.default, json_encoder.encode_basestring_ascii, None,
        ":", ",", False, False, True,
    )
    return lambda value: encoder(value, 0)


_encode = _make_encode()


def tree_from_json(data: bytes) -> Part:
    return _from_list(json.loads(data))


def _to_list(p: Part) -> tuple[Any, ...]:
    # Tuples, which the encoder writes as JSON arrays, are cheaper to build than lists.
    return (
        p.header_start,
        p.body_start,
        p.end,
        p.type,
        p.subtype,
        tuple(p.params.items()),
        p.content_id,
        p.description,
        p.encoding,
        p.disposition,
        tuple(p.disposition_params.items()),
        p.language,
        p.location,
        p.md5,
        p.size,
        p.lines,
        tuple(map(_to_list, p.children)),
    )


def _from_list(a: list[Any]) -> Part:
    return Part(
        header_start=a[0],
        body_start=a[1],
        end=a[2],
        type=a[3],
        subtype=a[4],
        params={k: v for k, v in a[5]},
        content_id=a[6],
        description=a[7],
        encoding=a[8],
        disposition=a[9],
        disposition_params={k: v for k, v in a[10]},
        language=None if a[11] is None else tuple(a[11]),
        location=a[12],
        md5=a[13],
        size=a[14],
        lines=a[15],
        children=tuple(_from_list(c) for c in a[16]),
    )
