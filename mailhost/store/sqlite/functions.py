"""SQL functions the search compiler relies on, registered on every account connection.

SQLite's ``lower()`` and ``LIKE`` fold ASCII only; IMAP SEARCH is a case-insensitive substring
match over any script, so folding is done with Python's ``str.casefold``.
"""

from __future__ import annotations

import re
import sqlite3
from email.header import decode_header, make_header

_FOLDED_LINE = re.compile(rb"\r?\n[ \t]+")


def icontains(haystack: str | None, needle: str | None) -> bool:
    if haystack is None or needle is None:
        return False
    return needle.casefold() in haystack.casefold()


def _decode(value: bytes) -> str:
    text = value.decode("utf-8", "replace")
    try:
        return str(make_header(decode_header(text)))
    except (ValueError, LookupError, UnicodeError):
        return text


def header_has(header: bytes | None, name: str | None, needle: str | None) -> bool:
    """Does header field ``name`` (any, if empty) contain ``needle``, ignoring case?

    An empty needle asks only whether the field exists (RFC 3501 HEADER with "").
    """
    if header is None or name is None or needle is None:
        return False
    unfolded = _FOLDED_LINE.sub(b" ", bytes(header))
    wanted = name.lower().encode("ascii", "replace")
    folded_needle = needle.casefold()
    for line in unfolded.split(b"\n"):
        field, colon, value = line.partition(b":")
        if not colon:
            continue
        if wanted and field.strip().lower() != wanted:
            continue
        if not folded_needle:
            return True
        searched = _decode(value.strip() if wanted else line.strip())
        if folded_needle in searched.casefold():
            return True
    return False


def register(conn: sqlite3.Connection) -> None:
    conn.create_function("mh_icontains", 2, icontains, deterministic=True)
    conn.create_function("mh_header_has", 3, header_has, deterministic=True)
