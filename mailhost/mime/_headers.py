"""Header-block scanning on raw message bytes.

Everything here works on offsets into the raw message, so callers can slice the
original bytes (folded lines, odd line endings and all) without copying or
re-encoding them. Line endings may be CRLF, bare LF, or a mixture.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

_LF = 0x0A
_CR = 0x0D
_SP = 0x20
_TAB = 0x09


@dataclass(frozen=True, slots=True)
class HeaderField:
    """One header field, possibly folded over several lines."""

    name: str
    """Lower-cased field name; ``""`` for a garbage line that has no colon."""
    start: int
    """Offset of the field's first byte."""
    value_start: int
    """Offset of the first byte after the colon."""
    end: int
    """One past the field's last byte, including its final line ending (if any)."""

    def value(self, raw: bytes) -> bytes:
        """The field value, unfolded, with surrounding whitespace removed."""
        return unfold(raw[self.value_start : self.end])


def unfold(value: bytes) -> bytes:
    """Remove the line breaks of a folded header value (RFC 5322 section 2.2.3)."""
    if b"\n" in value:
        value = value.replace(b"\r\n", b"").replace(b"\n", b"")
    return value.strip(b" \t\r")


def to_str(value: bytes) -> str:
    """Bytes to str losslessly: undecodable bytes become surrogate escapes."""
    return value.decode("utf-8", "surrogateescape")


def to_bytes(value: str) -> bytes:
    """Inverse of :func:`to_str`."""
    return value.encode("utf-8", "surrogateescape")


def clean(value: str) -> str:
    """A str that is safe to encode as UTF-8 (surrogate escapes become U+FFFD)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return to_bytes(value).decode("utf-8", "replace")
    return value


def find_header_end(raw: bytes, start: int, end: int) -> int:
    """Offset of the body: the first byte after the blank line ending the header.

    If the region has no blank line, the whole region is header and the body is
    empty, so ``end`` is returned.
    """
    if start >= end:
        return end
    first = raw[start]
    if first == _LF:
        return start + 1
    if first == _CR and start + 1 < end and raw[start + 1] == _LF:
        return start + 2
    lf_lf = raw.find(b"\n\n", start, end)
    lf_crlf = raw.find(b"\n\r\n", start, end)
    if lf_lf < 0 and lf_crlf < 0:
        return end
    if lf_lf < 0 or 0 <= lf_crlf < lf_lf:
        return lf_crlf + 3
    return lf_lf + 2


def blank_line_start(raw: bytes, start: int, stop: int) -> int:
    """Where the blank line ending the header ``raw[start:stop]`` starts (``stop`` if none)."""
    if stop <= start or raw[stop - 1] != _LF:
        return stop
    if stop - 2 >= start and raw[stop - 2] == _CR and (stop - 2 == start or raw[stop - 3] == _LF):
        return stop - 2
    if stop - 1 == start or raw[stop - 2] == _LF:
        return stop - 1
    return stop


@lru_cache(maxsize=256)
def _name_patterns(names: frozenset[str]) -> tuple[re.Pattern[bytes], re.Pattern[bytes]]:
    alt = b"|".join(
        re.escape(n.encode("utf-8", "surrogateescape"))
        for n in sorted(names, key=len, reverse=True)
    )
    at_start = re.compile(rb"(" + alt + rb")[ \t]*:", re.I)
    after_lf = re.compile(rb"\n(" + alt + rb")[ \t]*:", re.I)
    return at_start, after_lf


_FIELD_END = re.compile(rb"\n(?![ \t])")


def _field_end(raw: bytes, pos: int, stop: int) -> int:
    """End of the field whose value starts at ``pos``: after its last folded line."""
    m = _FIELD_END.search(raw, pos, stop)
    return stop if m is None else m.end()


def find_fields(raw: bytes, start: int, stop: int, names: frozenset[str]) -> list[HeaderField]:
    """Every field named in ``names`` (lower-case) in ``raw[start:stop]``, in order.

    ``stop`` is the part's ``body_start``. The search runs in the regex engine,
    so headers with huge numbers of lines cost little in Python. A field runs
    to the next line that does not start with SP or TAB (folding), and its end
    includes its final line ending.
    """
    names = frozenset(_norm(n) for n in names if n)
    if not names or start >= stop:
        return []
    at_start, after_lf = _name_patterns(names)
    out: list[HeaderField] = []
    m = at_start.match(raw, start, stop)
    if m is not None:
        out.append(HeaderField(_name(m.group(1)), start, m.end(), _field_end(raw, m.end(), stop)))
    for m in after_lf.finditer(raw, start, stop):
        v = m.end()
        out.append(HeaderField(_name(m.group(1)), m.start() + 1, v, _field_end(raw, v, stop)))
    return out


def _name(b: bytes) -> str:
    return b.lower().decode("utf-8", "surrogateescape")


def _norm(name: str) -> str:
    """Lower-case a field name the way the (ASCII-only) regex engine folds case."""
    return _name(name.encode("utf-8", "surrogateescape"))


def first_values(raw: bytes, start: int, stop: int, names: frozenset[str]) -> dict[str, bytes]:
    """Unfolded values of the first occurrence of each named field.

    Searches only for the names still missing, so a header with a huge number
    of repeats of one field costs no Python work per repeat.
    """
    out: dict[str, bytes] = {}
    remaining = frozenset(_norm(n) for n in names if n)
    if not remaining or start >= stop:
        return out
    at_start, after_lf = _name_patterns(remaining)
    m = at_start.match(raw, start, stop)
    pos = start
    while remaining:
        if m is None:
            m = after_lf.search(raw, pos, stop)
            if m is None:
                break
        name = _name(m.group(1))
        end = _field_end(raw, m.end(), stop)
        out[name] = unfold(raw[m.end() : end])
        if name not in remaining:  # cannot happen (names are normalised); never loop
            break
        remaining = remaining - {name}
        pos = end - 1 if end > start and raw[end - 1] == _LF else end
        m = None
        if remaining:
            at_start, after_lf = _name_patterns(remaining)
    return out
