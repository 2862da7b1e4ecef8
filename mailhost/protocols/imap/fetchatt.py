"""FETCH data items (RFC 3501 §6.4.5, RFC 3516 BINARY, RFC 7162 MODSEQ) as typed values.

Each item knows the name the response must echo (``response_name``), which differs from
what the client asked: ``BODY.PEEK[...]`` answers as ``BODY[...]``, and a partial
``<origin.length>`` answers as ``<origin>`` (RFC 3501 §7.4.2).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Final

from mailhost.protocols.imap.args import read_header_field_name
from mailhost.protocols.imap.charclasses import DIGITS
from mailhost.protocols.imap.cursor import Cursor
from mailhost.protocols.imap.wire import astring

_NAME_CHARS: Final = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.")
_PART_CHARS: Final = DIGITS | frozenset(b".")


class FetchAttribute(enum.Enum):
    """Items without a section; the value is the wire name."""

    ENVELOPE = b"ENVELOPE"
    FLAGS = b"FLAGS"
    INTERNALDATE = b"INTERNALDATE"
    RFC822 = b"RFC822"
    RFC822_HEADER = b"RFC822.HEADER"
    RFC822_SIZE = b"RFC822.SIZE"
    RFC822_TEXT = b"RFC822.TEXT"
    BODY = b"BODY"
    BODYSTRUCTURE = b"BODYSTRUCTURE"
    UID = b"UID"
    MODSEQ = b"MODSEQ"

    @property
    def response_name(self) -> bytes:
        return self.value


class SectionText(enum.Enum):
    """The part of a (sub)message a section names, after its part path."""

    HEADER = b"HEADER"
    HEADER_FIELDS = b"HEADER.FIELDS"
    HEADER_FIELDS_NOT = b"HEADER.FIELDS.NOT"
    TEXT = b"TEXT"
    MIME = b"MIME"


@dataclass(frozen=True)
class Section:
    """``[1.2.HEADER.FIELDS (From To)]``: part path, text specifier, header field names.

    ``fields`` keep the client's spelling so the response can echo them.
    """

    part: tuple[int, ...] = ()
    text: SectionText | None = None
    fields: tuple[str, ...] = ()

    def to_bytes(self) -> bytes:
        """The section spec as it goes between the brackets of a response."""
        spec = b".".join(b"%d" % number for number in self.part)
        if self.text is not None:
            spec += (b"." if spec else b"") + self.text.value
        if self.fields:
            spec += b" (" + b" ".join(astring(field) for field in self.fields) + b")"
        return spec


@dataclass(frozen=True)
class Partial:
    """``<origin.length>``: a byte range of the section."""

    origin: int
    length: int


def _partial_suffix(partial: Partial | None) -> bytes:
    return b"" if partial is None else b"<%d>" % partial.origin


@dataclass(frozen=True)
class BodySection:
    """``BODY[section]<partial>`` or ``BODY.PEEK[...]`` (which leaves \\Seen alone)."""

    section: Section
    partial: Partial | None = None
    peek: bool = False

    @property
    def response_name(self) -> bytes:
        return b"BODY[" + self.section.to_bytes() + b"]" + _partial_suffix(self.partial)


@dataclass(frozen=True)
class BinarySection:
    """``BINARY[part]<partial>`` (RFC 3516): the part with its transfer encoding undone."""

    part: tuple[int, ...]
    partial: Partial | None = None
    peek: bool = False

    @property
    def response_name(self) -> bytes:
        spec = b".".join(b"%d" % number for number in self.part)
        return b"BINARY[" + spec + b"]" + _partial_suffix(self.partial)


@dataclass(frozen=True)
class BinarySize:
    """``BINARY.SIZE[part]`` (RFC 3516): the decoded size of a part."""

    part: tuple[int, ...]

    @property
    def response_name(self) -> bytes:
        return b"BINARY.SIZE[" + b".".join(b"%d" % number for number in self.part) + b"]"


FetchItem = FetchAttribute | BodySection | BinarySection | BinarySize

_ATTRIBUTES: Final = {attribute.value: attribute for attribute in FetchAttribute}
_FAST: Final = (FetchAttribute.FLAGS, FetchAttribute.INTERNALDATE, FetchAttribute.RFC822_SIZE)
MACROS: Final[dict[bytes, tuple[FetchItem, ...]]] = {
    b"FAST": _FAST,
    b"ALL": (*_FAST, FetchAttribute.ENVELOPE),
    b"FULL": (*_FAST, FetchAttribute.ENVELOPE, FetchAttribute.BODY),
}


def read_fetch_items(cursor: Cursor) -> tuple[FetchItem, ...]:
    """A macro (ALL/FAST/FULL, expanded), one item, or a parenthesised list of items."""
    if cursor.peek() == ord("("):
        items = cursor.parenthesized(lambda: _read_item(cursor, _read_name(cursor)))
        return tuple(dict.fromkeys(items))
    name = _read_name(cursor)
    if name in MACROS:
        return MACROS[name]
    return (_read_item(cursor, name),)


def _read_name(cursor: Cursor) -> bytes:
    name = cursor.span(_NAME_CHARS).upper()
    if not name:
        cursor.fail("expected a fetch attribute")
    return name


def _read_item(cursor: Cursor, name: bytes) -> FetchItem:
    if cursor.peek() != ord("["):
        attribute = _ATTRIBUTES.get(name)
        if attribute is None:
            cursor.fail("unknown fetch attribute")
        return attribute
    cursor.expect(ord("["), "'['")
    if name in (b"BODY", b"BODY.PEEK"):
        section = _read_section(cursor)
        return BodySection(section, _read_partial(cursor), peek=name == b"BODY.PEEK")
    if name in (b"BINARY", b"BINARY.PEEK"):
        part = _read_binary_part(cursor)
        return BinarySection(part, _read_partial(cursor), peek=name == b"BINARY.PEEK")
    if name == b"BINARY.SIZE":
        return BinarySize(_read_binary_part(cursor))
    cursor.fail("this fetch attribute takes no section")


def _read_section(cursor: Cursor) -> Section:
    spec = cursor.span(_NAME_CHARS)
    components = spec.split(b".") if spec else []
    if any(not component for component in components):
        cursor.fail("empty component in section")
    part_length = 0
    while part_length < len(components) and components[part_length][:1].isdigit():
        part_length += 1
    part = tuple(_part_number(cursor, text) for text in components[:part_length])
    text = _section_text(cursor, b".".join(components[part_length:]).upper(), part)
    fields: tuple[str, ...] = ()
    if text in (SectionText.HEADER_FIELDS, SectionText.HEADER_FIELDS_NOT):
        cursor.sp()
        fields = tuple(cursor.parenthesized(lambda: read_header_field_name(cursor)))
    cursor.expect(ord("]"), "']'")
    return Section(part, text, fields)


def _section_text(cursor: Cursor, name: bytes, part: tuple[int, ...]) -> SectionText | None:
    if not name:
        return None
    try:
        text = SectionText(name)
    except ValueError:
        cursor.fail("unknown section text")
    if text is SectionText.MIME and not part:
        cursor.fail("MIME needs a part number")
    return text


def _part_number(cursor: Cursor, text: bytes) -> int:
    if not text.isdigit() or text.startswith(b"0") or len(text) > 10 or int(text) > 0xFFFFFFFF:
        cursor.fail("part numbers are non-zero numbers")
    return int(text)


def _read_binary_part(cursor: Cursor) -> tuple[int, ...]:
    spec = cursor.span(_PART_CHARS)
    part = tuple(_part_number(cursor, text) for text in spec.split(b".")) if spec else ()
    cursor.expect(ord("]"), "']'")
    return part


def _read_partial(cursor: Cursor) -> Partial | None:
    if not cursor.accept(ord("<")):
        return None
    origin = cursor.number()
    cursor.expect(ord("."), "'.'")
    length = cursor.number(nonzero=True)
    cursor.expect(ord(">"), "'>'")
    return Partial(origin, length)
