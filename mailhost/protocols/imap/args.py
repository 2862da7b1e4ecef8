"""Argument readers shared by several commands: mailboxes, flags, sequence sets, dates."""

from __future__ import annotations

import datetime
from typing import Final

from mailhost.protocols.imap.charclasses import ATOM_CHARS, DIGITS
from mailhost.protocols.imap.cursor import NUMBER64_MAX, Cursor
from mailhost.protocols.imap.dates import DateError, parse_date_time
from mailhost.protocols.imap.mutf7 import Mutf7Error, decode_mutf7
from mailhost.protocols.imap.sequence import SequenceSet, SequenceSetError

SYSTEM_FLAGS: Final = {
    flag.upper(): flag for flag in ("\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft")
}
INBOX: Final = "INBOX"
_SEQUENCE_CHARS: Final = DIGITS | frozenset(b"*:,$")
# RFC 5322 field-name: printable US-ASCII except ':'.
_FIELD_NAME_CHARS: Final = frozenset(range(0x21, 0x7F)) - frozenset(b":")
_BACKSLASH: Final = ord("\\")
_DQUOTE: Final = ord('"')


def decode_mailbox_name(cursor: Cursor, raw: bytes) -> str:
    """Decode modified UTF-7 strictly; the cursor's tag goes into the error."""
    try:
        return decode_mutf7(raw)
    except Mutf7Error:
        cursor.fail("mailbox name is not valid modified UTF-7")


def read_mailbox(cursor: Cursor) -> str:
    """A ``mailbox``: decoded, with any spelling of INBOX (alone) normalised to ``INBOX``."""
    name = decode_mailbox_name(cursor, cursor.astring())
    return INBOX if name.upper() == INBOX else name


def read_utf8(cursor: Cursor, raw: bytes) -> str:
    """Text the client sends as UTF-8 (US-ASCII being a subset)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        cursor.fail("string is not valid UTF-8")


def read_sequence_set(cursor: Cursor) -> SequenceSet:
    """A sequence set, ``$`` included (RFC 5182)."""
    text = cursor.span(_SEQUENCE_CHARS)
    try:
        return SequenceSet.parse(text)
    except SequenceSetError:
        cursor.fail("invalid sequence set")


def read_header_field_name(cursor: Cursor) -> str:
    """A header field name (an astring holding an RFC 5322 field-name)."""
    name = cursor.astring()
    if not name or not all(byte in _FIELD_NAME_CHARS for byte in name):
        cursor.fail("invalid header field name")
    return name.decode("ascii")


def read_mod_sequence(cursor: Cursor, *, allow_zero: bool) -> int:
    """``mod-sequence-value`` (1 and up) or ``mod-sequence-valzer`` (0 and up), RFC 7162."""
    value = cursor.number(maximum=NUMBER64_MAX)
    if value == 0 and not allow_zero:
        cursor.fail("mod-sequence must be positive")
    return value


def read_flag(cursor: Cursor) -> str:
    """A settable flag: one of the five system flags (canonical case) or a keyword."""
    if cursor.accept(_BACKSLASH):
        name = b"\\" + cursor.span(ATOM_CHARS)
        canonical = SYSTEM_FLAGS.get(name.decode("ascii").upper())
        if canonical is None:
            cursor.fail("unknown or unsettable system flag")
        return canonical
    return cursor.atom().decode("ascii")


def read_flag_list(cursor: Cursor) -> tuple[str, ...]:
    """``"(" [flag *(SP flag)] ")"``, duplicates removed, order kept."""
    flags = cursor.parenthesized(lambda: read_flag(cursor), allow_empty=True)
    return tuple(dict.fromkeys(flags))


def read_date_time(cursor: Cursor) -> datetime.datetime:
    """A quoted ``date-time`` such as ``"17-Jul-1996 02:44:25 -0700"``."""
    if cursor.peek() != _DQUOTE:
        cursor.fail("expected a quoted date-time")
    try:
        return parse_date_time(cursor.quoted())
    except DateError as exc:
        cursor.fail(str(exc))
