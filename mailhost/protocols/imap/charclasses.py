"""Byte classes of the RFC 3501 §9 grammar, shared by the parser and the response encoders."""

from __future__ import annotations

from typing import Final

ATOM_SPECIALS: Final = frozenset(b'(){ %*"\\]')
ATOM_CHARS: Final = frozenset(byte for byte in range(0x21, 0x7F) if byte not in ATOM_SPECIALS)
ASTRING_CHARS: Final = ATOM_CHARS | frozenset(b"]")
TAG_CHARS: Final = ASTRING_CHARS - frozenset(b"+")
LIST_CHARS: Final = ASTRING_CHARS | frozenset(b"%*")
DIGITS: Final = frozenset(b"0123456789")
# QUOTED-CHAR without the escape: any CHAR (7-bit, not NUL) except CR, LF, '"' and '\'.
QUOTED_PLAIN_CHARS: Final = frozenset(range(0x01, 0x80)) - frozenset(b'\r\n"\\')
QUOTED_SPECIALS: Final = frozenset(b'"\\')
