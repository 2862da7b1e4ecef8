"""FETCH BODY[section] extraction (RFC 3501 section 6.4.5) from stored offsets."""

from __future__ import annotations

from mailhost.mime._headers import blank_line_start, find_fields
from mailhost.mime.structure import Part

TEXT_SPECS = frozenset({"HEADER", "HEADER.FIELDS", "HEADER.FIELDS.NOT", "TEXT", "MIME"})


def resolve_part(root: Part, part_path: tuple[int, ...]) -> Part | None:
    """The Part that a section part number addresses, or None if there is none.

    Part 1 of a non-multipart message (the root or an encapsulated message) is
    the message itself, meaning its body; the part numbers after a
    message/rfc822 part address the encapsulated message's parts.
    """
    cur = root
    is_message = True  # cur is a message (root or encapsulated), not a body part
    for n in part_path:
        if not is_message and cur.is_message:
            cur = cur.children[0]
            is_message = True
        if cur.is_multipart:
            if not 1 <= n <= len(cur.children):
                return None
            cur = cur.children[n - 1]
        elif not (is_message and n == 1):
            return None
        is_message = False
    return cur


def extract_section(
    raw: bytes,
    root: Part,
    part_path: tuple[int, ...],
    text: str | None,
    fields: tuple[str, ...] = (),
) -> bytes | None:
    """The octets of ``BODY[<part_path>.<text> (fields)]``, or None if it does not exist.

    ``text`` is None or one of HEADER, HEADER.FIELDS, HEADER.FIELDS.NOT, TEXT,
    MIME (case-insensitive). Without a part path HEADER/TEXT are the message's;
    with one they need a message/rfc822 part and refer to its encapsulated
    message. MIME needs a part path. Octets are returned exactly as stored.
    """
    spec = text.upper() if text is not None else None
    if spec is not None and spec not in TEXT_SPECS:
        return None
    part = resolve_part(root, part_path)
    if part is None:
        return None
    if spec is None:
        if not part_path:
            return raw[part.header_start : part.end]
        return raw[part.body_start : part.end]
    if spec == "MIME":
        if not part_path:
            return None
        return raw[part.header_start : part.body_start]
    if part_path:
        if not part.is_message:
            return None
        part = part.children[0]
    if spec == "TEXT":
        return raw[part.body_start : part.end]
    if spec == "HEADER":
        return raw[part.header_start : part.body_start]
    return _header_fields(raw, part, fields, spec == "HEADER.FIELDS.NOT")


def _header_fields(raw: bytes, part: Part, names: tuple[str, ...], negate: bool) -> bytes:
    start, stop = part.header_start, part.body_start
    matched = find_fields(raw, start, stop, frozenset(n.lower() for n in names))
    spans: list[tuple[int, int]]
    blank = blank_line_start(raw, start, stop)
    if negate:
        # Everything but the matched fields, up to the blank line.
        spans = []
        pos = start
        for f in matched:
            if f.start > pos:
                spans.append((pos, f.start))
            pos = max(pos, f.end)
        if blank > pos:
            spans.append((pos, blank))
    else:
        spans = [(f.start, f.end) for f in matched]
    out: list[bytes] = []
    for s, e in spans:
        chunk = raw[s:e]
        if not chunk.endswith(b"\n"):
            chunk += b"\r\n"
        out.append(chunk)
    # The blank line that ended the header, in the message's own style.
    out.append(raw[blank:stop] if blank < stop else b"\r\n")
    return b"".join(out)


def partial(data: bytes, origin: int, length: int) -> bytes:
    """``<origin.length>``: at most ``length`` octets starting at ``origin``."""
    if origin < 0 or length <= 0 or origin >= len(data):
        return b""
    return data[origin : origin + length]
