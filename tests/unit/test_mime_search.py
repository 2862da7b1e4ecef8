"""SearchFields and searchable_text."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from mailhost.mime import analyse_strict, search_fields, searchable_text
from mailhost.mime.search import decode_words
from tests.unit.mime_samples import RFC3501_EXAMPLE, crlf


def test_search_fields_decoded() -> None:
    raw = crlf(
        "From: =?iso-8859-1?q?Andr=E9?= <andre@example.com>\n"
        'To: a@b.c, "Bee" <bee@d.e>, Team: x@y.z;\n'
        "Cc: =?utf-8?b?5pel5pys?= <jp@example.jp>\n"
        "Bcc: hidden@example.com\n"
        "Subject: =?utf-8?q?caf=C3=A9?= =?utf-8?q?_au_lait?= and more\n"
        "Date: Tue, 1 Jul 2003 10:52:37 +0200\n"
        "Message-ID: <abc@example.com>\n\nbody\n"
    )
    f = analyse_strict(raw).fields
    assert f.from_ == "Andr\u00e9 <andre@example.com>"
    assert f.to == "a@b.c, Bee <bee@d.e>, Team, x@y.z"
    assert f.cc == "\u65e5\u672c <jp@example.jp>"
    assert f.bcc == "hidden@example.com"
    assert f.subject == "caf\u00e9 au lait and more"
    assert f.sent_date == datetime(2003, 7, 1, 10, 52, 37, tzinfo=timezone(timedelta(hours=2)))
    assert f.message_id == "<abc@example.com>"


def test_missing_and_garbage_fields() -> None:
    f = analyse_strict(crlf("Date: not a date at all\nFrom: Nobody <>\n\n")).fields
    assert f.sent_date is None
    assert (f.from_, f.to, f.subject, f.message_id) == ("Nobody", "", "", None)
    f = analyse_strict(crlf("Date: Tue, 1 Jul 2003 10:52:37 -0000\n\n")).fields
    assert f.sent_date == datetime(2003, 7, 1, 10, 52, 37, tzinfo=UTC)


def test_decode_words() -> None:
    assert decode_words("plain") == "plain"
    assert decode_words("=?UTF-8?B?4oKs?=") == "\u20ac"
    # A character split over two words, and whitespace between words dropped.
    assert decode_words("=?utf-8?q?=E2=82?= =?utf-8?q?=AC?=") == "\u20ac"
    assert decode_words("a =?utf-8?q?b?= c") == "a b c"
    assert decode_words("=?x-unknown?q?abc?=") == "abc"
    assert decode_words("=?utf-8?b?####?=") == ""
    assert decode_words("=?utf-8*en?q?lang?=") == "lang"
    assert decode_words("=?utf-8?q?=FF?=") == "\ufffd"
    assert decode_words("raw \udcff byte") == "raw \ufffd byte"


def test_searchable_text_decodes_parts() -> None:
    raw = crlf(
        "Content-Type: multipart/mixed; boundary=b\n\n"
        "--b\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\n"
        "Y2Fmw6kgYXUgbGFpdA==\n"
        "--b\nContent-Type: text/html; charset=iso-8859-1\n"
        "Content-Transfer-Encoding: quoted-printable\n\n"
        "<p>na=EFve soft=\nbreak</p>\n"
        "--b\nContent-Type: application/octet-stream\n\nnot text\n"
        "--b\nContent-Type: message/rfc822\n\nSubject: inner\n\ninner text\n"
        "--b\nContent-Type: text/plain; charset=bogus-charset\n\nbogus \xff\n"
        "--b--\n"
    ).replace(b"\xc3\xbf", b"\xff")
    text = searchable_text(raw, analyse_strict(raw).tree)
    assert "caf\u00e9 au lait" in text
    assert "<p>na\u00efve softbreak</p>" in text
    assert "not text" not in text
    assert "inner text" in text
    assert "bogus \ufffd" in text


def test_searchable_text_of_rfc3501_example() -> None:
    text = searchable_text(RFC3501_EXAMPLE, analyse_strict(RFC3501_EXAMPLE).tree)
    for piece in ("part one", "three point one", "four two one", "<bold>rich</bold>"):
        assert piece in text
    assert "GIF89a" not in text


def test_search_fields_of_encapsulated_message() -> None:
    raw = crlf("Content-Type: message/rfc822\n\nSubject: inner\nFrom: i@n.r\n\nx\n")
    tree = analyse_strict(raw).tree
    f = search_fields(raw, tree.children[0])
    assert (f.subject, f.from_) == ("inner", "i@n.r")
