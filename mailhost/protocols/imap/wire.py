"""Encoders for IMAP response syntax, so handlers never hand-quote strings."""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from typing import Final

from mailhost.protocols.imap.charclasses import ASTRING_CHARS, ATOM_CHARS
from mailhost.protocols.imap.dates import MONTHS
from mailhost.protocols.imap.mutf7 import encode_mutf7

_QUOTABLE: Final = frozenset(range(0x20, 0x7F))


def _as_bytes(value: str | bytes) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else value


def can_quote(data: bytes) -> bool:
    """True when ``data`` fits in a quoted string without confusing any client."""
    return all(byte in _QUOTABLE for byte in data)


def quoted(value: str | bytes) -> bytes:
    """A quoted string; refuses 8-bit and control bytes, which need a literal."""
    data = _as_bytes(value)
    if not can_quote(data):
        raise ValueError("only printable 7-bit text can be quoted; use a literal")
    return b'"' + data.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


def literal(data: bytes) -> bytes:
    """A synchronizing-style literal as servers send it: ``{n}`` CRLF then the bytes."""
    return b"{%d}\r\n" % len(data) + data


def string_or_literal(value: str | bytes) -> bytes:
    """Quoted when safe 7-bit printable text, else a literal."""
    data = _as_bytes(value)
    return quoted(data) if can_quote(data) else literal(data)


def astring(value: str | bytes) -> bytes:
    """Bare atom when possible (never ``NIL``, which readers may take for nil)."""
    data = _as_bytes(value)
    if data and all(byte in ASTRING_CHARS for byte in data) and data.upper() != b"NIL":
        return data
    return string_or_literal(data)


def nstring(value: str | bytes | None) -> bytes:
    """``NIL`` for None, else a string."""
    return b"NIL" if value is None else string_or_literal(value)


def mailbox_name(name: str) -> bytes:
    """A mailbox name as it goes on the wire: modified UTF-7, then an astring."""
    return astring(encode_mutf7(name))


def flag_list(flags: Iterable[str]) -> bytes:
    """``(\\Seen $Label)``; each flag must be an atom, a ``\\`` atom or ``\\*``."""
    encoded = [_flag(flag) for flag in flags]
    return b"(" + b" ".join(encoded) + b")"


def _flag(flag: str) -> bytes:
    if flag == "\\*":
        return b"\\*"
    name = flag.removeprefix("\\")
    if not name.isascii() or not name or not all(ord(char) in ATOM_CHARS for char in name):
        raise ValueError(f"not a valid flag: {flag!r}")
    return flag.encode("ascii")


def format_date_time(moment: datetime.datetime) -> bytes:
    """``b'"17-Jul-1996 02:44:25 -0700"'``; the datetime must carry a time zone."""
    offset = moment.utcoffset()
    if offset is None:
        raise ValueError("IMAP date-times need a time zone; pass an aware datetime")
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    hours, minutes = divmod(abs(minutes), 60)
    text = (
        f'"{moment.day:2d}-{MONTHS[moment.month - 1]}-{moment.year:04d} '
        f'{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d} {sign}{hours:02d}{minutes:02d}"'
    )
    return text.encode("ascii")
