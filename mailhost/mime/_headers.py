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
_BLANK_LINE = re.compile(rb"\n\r?\n")


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
    # One scan that stops at the first blank line (two finds, one per line-ending style,
    # would each run to the end of a large body whose header uses the other style).
    m = _BLANK_LINE.search(raw, start, end)
    return end if m is None else m.end()


def blank_line_start(raw: bytes, start: int, stop: int) -> int:
    """Where the blank line ending the header ``raw[start:stop]`` starts (``stop`` if none)."""
    if stop <= start or raw[stop - 1] != _LF:
        return stop
    if stop - 2 >= start and raw[stop - 2] == _CR and (stop - 2 == start or raw[stop - 3] == _LF):
        return stop - 2
    if stop - 1 == start or raw[stop - 2] == _LF:
        return stop - 1
    return stop


@dataclass(frozen=True, slots=True)
class _Plan:
    """Compiled search for a set of field names: group ``i + 1`` matches ``names[i]``."""

    names: tuple[str, ...]
    at_start: re.Pattern[bytes]
    after_lf: re.Pattern[bytes]


@lru_cache(maxsize=256)
def _plan(names: frozenset[str]) -> _Plan | None:
    """The search for ``names`` (any case), or None if there is nothing to search for.

    Cached: callers pass the same constant sets for every message, so neither the names are
    normalised nor the patterns compiled per call.
    """
    ordered = tuple(sorted({_norm(n) for n in names if n}, key=len, reverse=True))
    if not ordered:
        return None
    alt = b"|".join(b"(" + re.escape(n.encode("utf-8", "surrogateescape")) + b")" for n in ordered)
    at_start = re.compile(rb"(?:" + alt + rb")[ \t]*:", re.I)
    after_lf = re.compile(rb"\n(?:" + alt + rb")[ \t]*:", re.I)
    return _Plan(ordered, at_start, after_lf)


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
    plan = _plan(names)
    if plan is None or start >= stop:
        return []
    out: list[HeaderField] = []
    m = plan.at_start.match(raw, start, stop)
    if m is not None:
        name = plan.names[(m.lastindex or 1) - 1]
        out.append(HeaderField(name, start, m.end(), _field_end(raw, m.end(), stop)))
    for m in plan.after_lf.finditer(raw, start, stop):
        v = m.end()
        name = plan.names[(m.lastindex or 1) - 1]
        out.append(HeaderField(name, m.start() + 1, v, _field_end(raw, v, stop)))
    return out


def _name(b: bytes) -> str:
    return b.lower().decode("utf-8", "surrogateescape")


def _norm(name: str) -> str:
    """Lower-case a field name the way the (ASCII-only) regex engine folds case."""
    return _name(name.encode("utf-8", "surrogateescape"))


def first_values(raw: bytes, start: int, stop: int, names: frozenset[str]) -> dict[str, bytes]:
    """Unfolded values of the first occurrence of each named field.

    After a repeated field, searches only for the names still missing, so a header with a
    huge number of repeats of one field costs no Python work per repeat.
    """
    out: dict[str, bytes] = {}
    plan = _plan(names)
    if plan is None or start >= stop:
        return out
    wanted = len(plan.names)
    m = plan.at_start.match(raw, start, stop)
    pos = start
    while True:
        if m is None:
            m = plan.after_lf.search(raw, pos, stop)
            if m is None:
                break
        name = plan.names[(m.lastindex or 1) - 1]
        value_start = m.end()
        end = _field_end(raw, value_start, stop)
        if name not in out:
            out[name] = unfold(raw[value_start:end])
            if len(out) == wanted:
                break
        else:
            missing = _plan(frozenset(n for n in plan.names if n not in out))
            if missing is None:  # cannot happen (all found breaks above); never loop
                break
            plan = missing
        pos = end - 1 if end > start and raw[end - 1] == _LF else end
        m = None
    return out
