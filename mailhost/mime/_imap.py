"""IMAP wire-form strings (RFC 3501 section 9: quoted, literal, nstring)."""

from __future__ import annotations

import base64
import re
from functools import lru_cache

from mailhost.mime._headers import to_bytes

NIL = b"NIL"

# Anything but printable ASCII and TAB forces a literal. TAB is a TEXT-CHAR, so
# it is legal inside a quoted string, and folded headers are full of it.
# NUL (replaced below), backslash and double quote need a second look.
_NOT_PLAIN = re.compile(rb'[^\x20-\x21\x23-\x5b\x5d-\x7e\t]')
_NEEDS_LITERAL = re.compile(rb"[^\x20-\x7e\t]")


def string(value: bytes) -> bytes:
    """A quoted string when possible, else a synchronising literal.

    NUL is not a CHAR8, so it cannot appear even in a literal: it is replaced by
    0x80 (as Dovecot does), which forces a literal.
    """
    if _NOT_PLAIN.search(value) is None:  # the common case, one scan
        return b'"' + value + b'"'
    if b"\x00" in value:
        value = value.replace(b"\x00", b"\x80")
    if _NEEDS_LITERAL.search(value) is None:
        if b"\\" in value or b'"' in value:
            value = value.replace(b"\\", b"\\\\").replace(b'"', b'\\"')
        return b'"' + value + b'"'
    return b"{%d}\r\n" % len(value) + value


def nstring(value: bytes | None) -> bytes:
    return NIL if value is None else string(value)


_SHORT = 40
"""Strings up to this length (media types, encodings, parameters...) are cached: the same
few recur in every message's BODYSTRUCTURE, and the caches stay small."""


def sstring(value: str) -> bytes:
    """A str that came from header bytes via ``to_str``: sent as its original bytes."""
    if len(value) <= _SHORT:
        return _short_sstring(value)
    return string(to_bytes(value))


@lru_cache(maxsize=1024)
def _short_sstring(value: str) -> bytes:
    return string(to_bytes(value))


def nsstring(value: str | None) -> bytes:
    return NIL if value is None else sstring(value)


def param_string(value: str) -> bytes:
    """A MIME parameter value.

    Values decoded from RFC 2231 (or raw UTF-8) that are not ASCII are sent as
    RFC 2047 encoded-words, as Cyrus does: IMAP4rev1 clients expect 7-bit
    strings here and all of them decode encoded-words in parameter values.
    Values that hold undecodable raw bytes are sent as those bytes in a literal.
    """
    if len(value) <= _SHORT:
        return _short_param_string(value)
    return _param_string(value)


@lru_cache(maxsize=1024)
def _short_param_string(value: str) -> bytes:
    return _param_string(value)


def _param_string(value: str) -> bytes:
    if value.isascii():
        return string(value.encode("ascii"))
    try:
        data = value.encode("utf-8")
    except UnicodeEncodeError:
        return string(to_bytes(value))
    return string(encode_words(data))


def encode_words(data: bytes) -> bytes:
    """UTF-8 bytes as RFC 2047 B encoded-words, each under 76 characters."""
    words: list[bytes] = []
    text = data.decode("utf-8")
    chunk = b""
    for ch in text:
        b = ch.encode("utf-8")
        if len(chunk) + len(b) > 45:
            words.append(chunk)
            chunk = b""
        chunk += b
    if chunk:
        words.append(chunk)
    return b" ".join(b"=?utf-8?b?" + base64.b64encode(w) + b"?=" for w in words)
