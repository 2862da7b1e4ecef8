"""Parsers for connection-level commands: login, SASL, ID, ENABLE and argument-less ones."""

from __future__ import annotations

import binascii
from collections.abc import Callable
from typing import Final

from mailhost.protocols.imap.args import read_utf8
from mailhost.protocols.imap.commands import Authenticate, Command, Enable, Id, Login
from mailhost.protocols.imap.cursor import Cursor

ParseFn = Callable[[Cursor, bytes], Command]

_BASE64_CHARS: Final = frozenset(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
)
# RFC 2971 §3.3 limits.
ID_MAX_PAIRS: Final = 30
ID_MAX_FIELD: Final = 30
ID_MAX_VALUE: Final = 1024


def no_arguments(command: Callable[[bytes], Command]) -> ParseFn:
    """The parser of a command that is just its name (NOOP, CAPABILITY, IDLE...)."""

    def parse(_cursor: Cursor, tag: bytes) -> Command:
        return command(tag)

    return parse


def parse_login(cursor: Cursor, tag: bytes) -> Login:
    cursor.sp()
    username = read_utf8(cursor, cursor.astring())
    cursor.sp()
    return Login(tag, username, cursor.astring())


def parse_authenticate(cursor: Cursor, tag: bytes) -> Authenticate:
    cursor.sp()
    mechanism = cursor.keyword().decode("ascii")
    if not cursor.accept_sp():
        return Authenticate(tag, mechanism)
    text = cursor.span(_BASE64_CHARS)
    if text == b"=":
        return Authenticate(tag, mechanism, b"")
    try:
        response = binascii.a2b_base64(text, strict_mode=True) if text else None
    except binascii.Error:
        response = None
    if response is None or not response:
        cursor.fail("initial response is not valid base64")
    return Authenticate(tag, mechanism, response)


def parse_id(cursor: Cursor, tag: bytes) -> Id:
    cursor.sp()
    if cursor.accept_keyword(b"NIL"):
        return Id(tag, None)
    pairs = cursor.parenthesized(lambda: _id_pair(cursor), allow_empty=True)
    if len(pairs) > ID_MAX_PAIRS:
        cursor.fail("too many ID parameters")
    if len({field.lower() for field, _ in pairs}) != len(pairs):
        cursor.fail("duplicate ID field")
    return Id(tag, tuple(pairs))


def _id_pair(cursor: Cursor) -> tuple[str, str | None]:
    field = cursor.string()
    cursor.sp()
    value = cursor.nstring()
    if len(field) > ID_MAX_FIELD or (value is not None and len(value) > ID_MAX_VALUE):
        cursor.fail("ID field or value too long")
    return read_utf8(cursor, field), None if value is None else read_utf8(cursor, value)


def parse_enable(cursor: Cursor, tag: bytes) -> Enable:
    cursor.sp()
    names = [cursor.keyword().decode("ascii")]
    while cursor.accept_sp():
        names.append(cursor.keyword().decode("ascii"))
    return Enable(tag, tuple(dict.fromkeys(names)))
