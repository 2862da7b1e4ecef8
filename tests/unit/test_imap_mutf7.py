"""Modified UTF-7 mailbox names: RFC 3501 §5.1.3 examples, strict rejection, round trip."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailhost.protocols.imap.mutf7 import Mutf7Error, decode_mutf7, encode_mutf7

KNOWN = [
    ("INBOX", b"INBOX"),
    ("~peter/mail/台北/日本語", b"~peter/mail/&U,BTFw-/&ZeVnLIqe-"),
    ("Entwürfe", b"Entw&APw-rfe"),
    ("Tom & Jerry", b"Tom &- Jerry"),
    ("&&", b"&-&-"),
    ("", b""),
    ("😀", b"&2D3eAA-"),
    ("a\tb", b"a&AAk-b"),
]


@pytest.mark.parametrize(("text", "wire"), KNOWN)
def test_known_encodings(text: str, wire: bytes) -> None:
    assert encode_mutf7(text) == wire
    assert decode_mutf7(wire) == text


@pytest.mark.parametrize(
    "wire",
    [
        pytest.param(b"&U,BTFw", id="unterminated shift"),
        pytest.param(b"abc&", id="ampersand at end"),
        pytest.param(b"&AGE-", id="encoded printable ASCII 'a'"),
        pytest.param(b"&ACY-", id="encoded ampersand"),
        pytest.param(b"&APx-", id="non-zero padding bits"),
        pytest.param(b"&AP-", id="length not a whole code unit"),
        pytest.param(b"&APwA-", id="superfluous base64 character"),
        pytest.param(b"&U/BTFw-", id="standard base64 slash"),
        pytest.param(b"&U=BTFw-", id="padding character"),
        pytest.param(b"&2D0-", id="lone high surrogate"),
        pytest.param(b"&APw-&APw-", id="adjacent shifts not merged"),
        pytest.param("Entwürfe".encode(), id="raw 8-bit"),
        pytest.param(b"a\x00b", id="NUL"),
        pytest.param(b"a\tb", id="raw control character"),
    ],
)
def test_rejects_non_canonical(wire: bytes) -> None:
    with pytest.raises(Mutf7Error):
        decode_mutf7(wire)


def test_encoding_a_lone_surrogate_is_refused() -> None:
    with pytest.raises(Mutf7Error):
        encode_mutf7("\ud800")


@settings(max_examples=300)
@given(st.text())
def test_round_trip(text: str) -> None:
    wire = encode_mutf7(text)
    assert all(0x20 <= byte <= 0x7E for byte in wire)
    assert decode_mutf7(wire) == text


@settings(max_examples=300)
@given(st.binary(max_size=40))
def test_decode_accepts_only_canonical_spellings(data: bytes) -> None:
    try:
        text = decode_mutf7(data)
    except Mutf7Error:
        return
    assert encode_mutf7(text) == data
