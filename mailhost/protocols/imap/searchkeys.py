"""The SEARCH key tree (RFC 3501 §6.4.4, RFC 7162 MODSEQ) and its parser.

Keys are normalised to a few node kinds so the evaluator stays small: ``UNSEEN`` is
``Not(HasFlag("\\Seen"))``, ``NEW`` is ``And(HasFlag("\\Recent"), Not(HasFlag("\\Seen")))``,
``FROM x`` is ``HeaderContains("from", x)``, and a list of keys is an :class:`And`.
"""

from __future__ import annotations

import datetime
import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from mailhost.protocols.imap.args import (
    SYSTEM_FLAGS,
    read_header_field_name,
    read_mod_sequence,
    read_sequence_set,
    read_utf8,
)
from mailhost.protocols.imap.charclasses import ATOM_CHARS, DIGITS
from mailhost.protocols.imap.cursor import NUMBER64_MAX, Cursor
from mailhost.protocols.imap.dates import DateError, parse_date
from mailhost.protocols.imap.errors import BADCHARSET_CODE, NO, ParseError
from mailhost.protocols.imap.sequence import SequenceSet

SUPPORTED_CHARSETS: Final = ("US-ASCII", "UTF-8")
_SEQUENCE_START: Final = DIGITS | frozenset(b"*$")
_DATE_CHARS: Final = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-")
_ENTRY_TYPES: Final = frozenset({"priv", "shared", "all"})


@dataclass(frozen=True)
class All:
    """Every message."""


@dataclass(frozen=True)
class HasFlag:
    """Messages carrying ``flag`` (system flags in canonical case, or a keyword)."""

    flag: str


@dataclass(frozen=True)
class Not:
    key: SearchKey


@dataclass(frozen=True)
class Or:
    left: SearchKey
    right: SearchKey


@dataclass(frozen=True)
class And:
    keys: tuple[SearchKey, ...]


@dataclass(frozen=True)
class HeaderContains:
    """``field`` (lower-case) contains ``value``; an empty value matches its presence."""

    field: str
    value: str


@dataclass(frozen=True)
class BodyContains:
    value: str


@dataclass(frozen=True)
class TextContains:
    """Header or body contains ``value``."""

    value: str


class DateField(enum.Enum):
    INTERNAL = "internal"  # BEFORE, ON, SINCE: the internal date
    SENT = "sent"  # SENTBEFORE, SENTON, SENTSINCE: the Date: header


class DateRelation(enum.Enum):
    BEFORE = "before"
    ON = "on"
    SINCE = "since"  # on or after


@dataclass(frozen=True)
class DateMatch:
    """Compares a message date, disregarding time and time zone (RFC 3501)."""

    field: DateField
    relation: DateRelation
    date: datetime.date


@dataclass(frozen=True)
class Larger:
    size: int


@dataclass(frozen=True)
class Smaller:
    size: int


@dataclass(frozen=True)
class SequenceMatch:
    sequence: SequenceSet


@dataclass(frozen=True)
class UidMatch:
    uids: SequenceSet


@dataclass(frozen=True)
class ModSeqAtLeast:
    """``MODSEQ [entry] n``: the message (or that flag's entry) changed at or after ``n``."""

    modseq: int
    flag: str | None = None
    entry_type: str | None = None


SearchKey = (
    All | HasFlag | Not | Or | And | HeaderContains | BodyContains | TextContains
    | DateMatch | Larger | Smaller | SequenceMatch | UidMatch | ModSeqAtLeast
)  # fmt: skip


def _flag_keys() -> dict[bytes, SearchKey]:
    keys: dict[bytes, SearchKey] = {b"ALL": All()}
    for name in ("ANSWERED", "DELETED", "DRAFT", "FLAGGED", "SEEN"):
        flag = HasFlag(SYSTEM_FLAGS["\\" + name])
        keys[name.encode()] = flag
        keys[b"UN" + name.encode()] = Not(flag)
    recent, seen = HasFlag("\\Recent"), HasFlag("\\Seen")
    keys[b"RECENT"] = recent
    keys[b"NEW"] = And((recent, Not(seen)))
    keys[b"OLD"] = Not(recent)
    return keys


_FLAG_KEYS: Final = _flag_keys()
_HEADER_KEYS: Final = {
    name.upper().encode(): name for name in ("bcc", "cc", "from", "subject", "to")
}
_DATE_KEYS: Final = {
    prefix + relation.name.encode(): (field, relation)
    for prefix, field in ((b"", DateField.INTERNAL), (b"SENT", DateField.SENT))
    for relation in DateRelation
}


def read_charset(cursor: Cursor) -> str:
    """A CHARSET argument; anything but US-ASCII or UTF-8 gets ``NO [BADCHARSET ...]``."""
    name = cursor.astring().decode("ascii", errors="replace").upper()
    if name not in SUPPORTED_CHARSETS:
        raise ParseError(cursor.tag, "unsupported charset", status=NO, code=BADCHARSET_CODE)
    return name


def read_search_program(cursor: Cursor) -> SearchKey:
    """``search-key *(SP search-key)``: the keys after SEARCH [RETURN ...] [CHARSET ...]."""
    keys = [read_search_key(cursor)]
    while cursor.accept_sp():
        keys.append(read_search_key(cursor))
    return keys[0] if len(keys) == 1 else And(tuple(keys))


def read_search_key(cursor: Cursor) -> SearchKey:
    """One key; each parenthesis, NOT and OR is a nesting level, bounded by the cursor."""
    first = cursor.peek()
    if first is not None and first in _SEQUENCE_START:
        return SequenceMatch(read_sequence_set(cursor))
    if cursor.accept(ord("(")):
        with cursor.nested():
            keys = read_search_program(cursor)
        cursor.expect(ord(")"), "')'")
        return keys
    name = cursor.keyword()
    simple = _FLAG_KEYS.get(name)
    if simple is not None:
        return simple
    reader = _ARGUMENT_KEYS.get(name)
    if reader is None:
        cursor.fail("unknown search key")
    cursor.sp()
    return reader(cursor, name)


def _search_string(cursor: Cursor) -> str:
    return read_utf8(cursor, cursor.astring())


def _header_key(cursor: Cursor, name: bytes) -> SearchKey:
    return HeaderContains(_HEADER_KEYS[name], _search_string(cursor))


def _header_name_key(cursor: Cursor, _name: bytes) -> SearchKey:
    field = read_header_field_name(cursor).lower()
    cursor.sp()
    return HeaderContains(field, _search_string(cursor))


def _body_key(cursor: Cursor, _name: bytes) -> SearchKey:
    return BodyContains(_search_string(cursor))


def _text_key(cursor: Cursor, _name: bytes) -> SearchKey:
    return TextContains(_search_string(cursor))


def _date_key(cursor: Cursor, name: bytes) -> SearchKey:
    field, relation = _DATE_KEYS[name]
    text = cursor.quoted() if cursor.peek() == ord('"') else cursor.span(_DATE_CHARS)
    try:
        return DateMatch(field, relation, parse_date(text))
    except DateError as exc:
        cursor.fail(str(exc))


def _keyword(cursor: Cursor) -> HasFlag:
    return HasFlag(cursor.atom().decode("ascii"))


def _keyword_key(cursor: Cursor, _name: bytes) -> SearchKey:
    return _keyword(cursor)


def _unkeyword_key(cursor: Cursor, _name: bytes) -> SearchKey:
    return Not(_keyword(cursor))


def _larger_key(cursor: Cursor, _name: bytes) -> SearchKey:
    return Larger(cursor.number(maximum=NUMBER64_MAX))


def _smaller_key(cursor: Cursor, _name: bytes) -> SearchKey:
    return Smaller(cursor.number(maximum=NUMBER64_MAX))


def _not_key(cursor: Cursor, _name: bytes) -> SearchKey:
    with cursor.nested():
        return Not(read_search_key(cursor))


def _or_key(cursor: Cursor, _name: bytes) -> SearchKey:
    with cursor.nested():
        left = read_search_key(cursor)
        cursor.sp()
        return Or(left, read_search_key(cursor))


def _uid_key(cursor: Cursor, _name: bytes) -> SearchKey:
    return UidMatch(read_sequence_set(cursor))


def _modseq_key(cursor: Cursor, _name: bytes) -> SearchKey:
    if cursor.peek() != ord('"'):
        return ModSeqAtLeast(read_mod_sequence(cursor, allow_zero=True))
    entry = cursor.quoted()
    if not entry.startswith(b"/flags/"):
        cursor.fail("MODSEQ entries name /flags/<flag>")
    flag = _entry_flag(cursor, entry.removeprefix(b"/flags/"))
    cursor.sp()
    entry_type = cursor.atom().decode("ascii").lower()
    if entry_type not in _ENTRY_TYPES:
        cursor.fail("MODSEQ entry type is priv, shared or all")
    cursor.sp()
    return ModSeqAtLeast(read_mod_sequence(cursor, allow_zero=True), flag, entry_type)


def _entry_flag(cursor: Cursor, raw: bytes) -> str:
    name = raw.removeprefix(b"\\")
    if not name or not all(byte in ATOM_CHARS for byte in name):
        cursor.fail("invalid flag in MODSEQ entry")
    if raw.startswith(b"\\"):
        canonical = SYSTEM_FLAGS.get(raw.decode("ascii").upper())
        if canonical is None:
            cursor.fail("unknown system flag in MODSEQ entry")
        return canonical
    return raw.decode("ascii")


_ARGUMENT_KEYS: Final[dict[bytes, Callable[[Cursor, bytes], SearchKey]]] = {
    **dict.fromkeys(_HEADER_KEYS, _header_key),
    **dict.fromkeys(_DATE_KEYS, _date_key),
    b"HEADER": _header_name_key,
    b"BODY": _body_key,
    b"TEXT": _text_key,
    b"KEYWORD": _keyword_key,
    b"UNKEYWORD": _unkeyword_key,
    b"LARGER": _larger_key,
    b"SMALLER": _smaller_key,
    b"NOT": _not_key,
    b"OR": _or_key,
    b"UID": _uid_key,
    b"MODSEQ": _modseq_key,
}
