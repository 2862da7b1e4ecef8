"""Modified UTF-7 for mailbox names (RFC 3501 §5.1.3), strict on decode.

A name has exactly one valid spelling; accepting others would let two wire names map to
the same mailbox (or one to none), so decode rejects every non-canonical form.
"""

from __future__ import annotations

import binascii
from typing import Final

_SHIFT: Final = ord("&")
_UNSHIFT: Final = ord("-")
_PRINTABLE_FIRST: Final = 0x20
_PRINTABLE_LAST: Final = 0x7E
_BASE64_ALPHABET: Final = frozenset(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,"
)
# Base64 lengths (mod 8) that encode a whole number of UTF-16 code units minimally:
# 3 chars carry 2 bytes, 6 chars carry 4 bytes, 8 chars carry 6 bytes.
_MINIMAL_RUN_LENGTHS: Final = frozenset({0, 3, 6})


class Mutf7Error(ValueError):
    """Bytes that are not the canonical modified UTF-7 spelling of any name."""


def _is_printable(code_point: int) -> bool:
    return _PRINTABLE_FIRST <= code_point <= _PRINTABLE_LAST


def encode_mutf7(text: str) -> bytes:
    """Encode a mailbox name; printable ASCII stays as is, everything else is shifted."""
    out = bytearray()
    pending: list[str] = []
    for char in text:
        if _is_printable(ord(char)):
            _flush_shifted(pending, out)
            out += b"&-" if char == "&" else char.encode("ascii")
        else:
            pending.append(char)
    _flush_shifted(pending, out)
    return bytes(out)


def _flush_shifted(pending: list[str], out: bytearray) -> None:
    if not pending:
        return
    try:
        utf16 = "".join(pending).encode("utf-16-be")
    except UnicodeEncodeError as exc:
        raise Mutf7Error("lone surrogate cannot be encoded") from exc
    pending.clear()
    encoded = binascii.b2a_base64(utf16, newline=False).rstrip(b"=").replace(b"/", b",")
    out += b"&" + encoded + b"-"


def decode_mutf7(data: bytes) -> str:
    """Decode a wire mailbox name, raising Mutf7Error for anything non-canonical."""
    parts: list[str] = []
    position = 0
    previous_was_shifted = False
    while position < len(data):
        byte = data[position]
        if not _is_printable(byte):
            raise Mutf7Error("mailbox names must be printable 7-bit ASCII on the wire")
        if byte != _SHIFT:
            end = _end_of_direct_run(data, position)
            parts.append(data[position:end].decode("ascii"))
            position = end
            previous_was_shifted = False
            continue
        end = data.find(b"-", position + 1)
        if end < 0:
            raise Mutf7Error("unterminated '&' shift sequence")
        run = data[position + 1 : end]
        if not run:
            parts.append("&")
            previous_was_shifted = False
        else:
            if previous_was_shifted:
                raise Mutf7Error("adjacent shift sequences must be merged")
            parts.append(_decode_run(run))
            previous_was_shifted = True
        position = end + 1
    return "".join(parts)


def _end_of_direct_run(data: bytes, start: int) -> int:
    end = start
    while end < len(data) and data[end] != _SHIFT and _is_printable(data[end]):
        end += 1
    return end


def _decode_run(run: bytes) -> str:
    if not all(byte in _BASE64_ALPHABET for byte in run):
        raise Mutf7Error("invalid character inside a shift sequence")
    if len(run) % 8 not in _MINIMAL_RUN_LENGTHS:
        raise Mutf7Error("shift sequence length does not encode whole UTF-16 units")
    standard = run.replace(b",", b"/")
    padded = standard + b"=" * (-len(standard) % 4)
    utf16 = binascii.a2b_base64(padded, strict_mode=True)
    if binascii.b2a_base64(utf16, newline=False).rstrip(b"=") != standard:
        raise Mutf7Error("non-zero padding bits in a shift sequence")
    try:
        text = utf16.decode("utf-16-be")
    except UnicodeDecodeError as exc:
        raise Mutf7Error("shift sequence is not valid UTF-16") from exc
    if any(_is_printable(ord(char)) for char in text):
        raise Mutf7Error("printable ASCII must not be shifted")
    return text
