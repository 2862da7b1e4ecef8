"""Response encoders: quoting, literals, astrings, mailbox names, flags, date-times."""

from __future__ import annotations

import datetime

import pytest

from mailhost.protocols.imap import wire


def test_quoted_escapes_specials() -> None:
    assert wire.quoted('say "hi" \\o/') == b'"say \\"hi\\" \\\\o/"'


@pytest.mark.parametrize("value", [b"a\r\nb", b"\x00", "Grüße".encode()])
def test_quoted_refuses_what_needs_a_literal(value: bytes) -> None:
    with pytest.raises(ValueError):
        wire.quoted(value)


def test_literal() -> None:
    assert wire.literal(b"ab\r\n") == b"{4}\r\nab\r\n"


def test_string_or_literal_chooses_by_content() -> None:
    assert wire.string_or_literal(b"plain text") == b'"plain text"'
    assert wire.string_or_literal("Grüße") == b"{7}\r\nGr\xc3\xbc\xc3\x9fe"


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        ("INBOX", b"INBOX"),
        ("a]b", b"a]b"),
        ("", b'""'),
        ("two words", b'"two words"'),
        ("NIL", b'"NIL"'),
        ("a%b", b'"a%b"'),
        ("x\ny", b"{3}\r\nx\ny"),
    ],
)
def test_astring(value: str, encoded: bytes) -> None:
    assert wire.astring(value) == encoded


def test_nstring() -> None:
    assert wire.nstring(None) == b"NIL"
    assert wire.nstring(b"NIL") == b'"NIL"'


def test_mailbox_name_encodes_then_quotes_as_needed() -> None:
    assert wire.mailbox_name("Entwürfe") == b"Entw&APw-rfe"
    assert wire.mailbox_name("Sent Items") == b'"Sent Items"'


def test_flag_list() -> None:
    assert wire.flag_list(["\\Seen", "$Forwarded", "\\*"]) == b"(\\Seen $Forwarded \\*)"
    assert wire.flag_list([]) == b"()"
    for bad in ["two words", "\\", "", "ü", "a(b"]:
        with pytest.raises(ValueError):
            wire.flag_list([bad])


def test_format_date_time() -> None:
    zone = datetime.timezone(-datetime.timedelta(hours=7))
    moment = datetime.datetime(1996, 7, 17, 2, 44, 25, tzinfo=zone)
    assert wire.format_date_time(moment) == b'"17-Jul-1996 02:44:25 -0700"'
    early = datetime.datetime(
        2024, 3, 5, 23, 0, 9, tzinfo=datetime.timezone(datetime.timedelta(hours=5, minutes=30))
    )
    assert wire.format_date_time(early) == b'" 5-Mar-2024 23:00:09 +0530"'
    with pytest.raises(ValueError):
        wire.format_date_time(datetime.datetime(2024, 1, 1))
