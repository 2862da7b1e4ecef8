"""ENVELOPE rendering and the address parser behind it."""

from __future__ import annotations

import pytest

from mailhost.mime import analyse_strict, parse_structure, render_envelope
from mailhost.mime._address import Address, parse_addresses
from mailhost.mime._imap import string
from tests.unit.imap_grammar import validate_envelope
from tests.unit.mime_samples import crlf


def envelope(header: str) -> bytes:
    raw = crlf(header + "\n\nbody\n")
    env = render_envelope(raw, parse_structure(raw))
    validate_envelope(env)
    return env


def test_full_envelope() -> None:
    env = envelope(
        "Date: Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\n"
        "From: Terry Gray <gray@cac.washington.edu>\n"
        "Subject: IMAP4rev1 WG mtg summary and minutes\n"
        "To: imap@cac.washington.edu\n"
        "cc: minutes@CNRI.Reston.VA.US,\n John Klensin <KLENSIN@MIT.EDU>\n"
        "Message-Id: <B27397-0100000@cac.washington.edu>\n"
        "In-Reply-To: <x@y>\n"
        "Bcc: hidden@example.com"
    )
    assert env == (
        b'("Wed, 17 Jul 1996 02:23:25 -0700 (PDT)" "IMAP4rev1 WG mtg summary and minutes" '
        b'(("Terry Gray" NIL "gray" "cac.washington.edu")) '
        b'(("Terry Gray" NIL "gray" "cac.washington.edu")) '
        b'(("Terry Gray" NIL "gray" "cac.washington.edu")) '
        b'((NIL NIL "imap" "cac.washington.edu")) '
        b'((NIL NIL "minutes" "CNRI.Reston.VA.US")("John Klensin" NIL "KLENSIN" "MIT.EDU")) '
        b'((NIL NIL "hidden" "example.com")) "<x@y>" "<B27397-0100000@cac.washington.edu>")'
    )


def test_absent_fields_are_nil_and_sender_reply_to_default_to_from() -> None:
    assert envelope("X-Nothing: here") == b"(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)"
    env = envelope("From: a@b.c\nSender: s@b.c\nReply-To:")
    assert env == (
        b'(NIL NIL ((NIL NIL "a" "b.c")) ((NIL NIL "s" "b.c")) ((NIL NIL "a" "b.c")) '
        b"NIL NIL NIL NIL NIL)"
    )


def test_values_are_unfolded_and_not_decoded() -> None:
    env = envelope("Subject: =?utf-8?q?caf=C3=A9?=\n\tfolded\nFrom: =?utf-8?b?w6k=?= <e@x.y>")
    assert env.startswith(
        b'(NIL "=?utf-8?q?caf=C3=A9?=\tfolded" (("=?utf-8?b?w6k=?=" NIL "e" "x.y"))'
    )


def test_strings_quoting_and_literals() -> None:
    assert string(b'a "b" \\c') == b'"a \\"b\\" \\\\c"'
    assert string("caf\u00e9".encode()) == b"{5}\r\ncaf\xc3\xa9"
    assert string(b"a\rb") == b"{3}\r\na\rb"
    assert string(b"nul\x00") == b"{4}\r\nnul\x80"
    env = envelope("Subject: caf\u00e9")
    assert b"{5}\r\ncaf\xc3\xa9" in env


def test_group_syntax() -> None:
    env = envelope(
        'To: Friends: a@b.c, "Joe Q." <joe@d.e>;, other@f.g\nCc: undisclosed-recipients:;'
    )
    assert env == (
        b"(NIL NIL NIL NIL NIL "
        b'((NIL NIL "Friends" NIL)(NIL NIL "a" "b.c")("Joe Q." NIL "joe" "d.e")(NIL NIL NIL NIL)'
        b'(NIL NIL "other" "f.g")) '
        b'((NIL NIL "undisclosed-recipients" NIL)(NIL NIL NIL NIL)) NIL NIL NIL)'
    )


def A(name: str | None, mailbox: str, host: str, adl: str | None = None) -> Address:
    return Address(name, adl, mailbox, host)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("a@b.c", [A(None, "a", "b.c")]),
        ("<a@b.c>", [A(None, "a", "b.c")]),
        ('"Doe, John" <john@x.y>', [A("Doe, John", "john", "x.y")]),
        ('"john doe"@x.y', [A(None, "john doe", "x.y")]),
        ('"a\\"b"@x.y', [A(None, 'a"b', "x.y")]),
        ("john.q.public@x.y", [A(None, "john.q.public", "x.y")]),
        ("John Q. Public <jqp@x.y>", [A("John Q. Public", "jqp", "x.y")]),
        ("a@b.c (Alice (nested) A)", [A("Alice (nested) A", "a", "b.c")]),
        ("(comment) Bob <b@c.d> (more)", [A("Bob", "b", "c.d")]),
        ("a @ b . c", [A(None, "a", "b.c")]),
        ("<@r1.x,@r2.y:a@b.c>", [A(None, "a", "b.c", "@r1.x,@r2.y")]),
        ("a@[127.0.0.1]", [A(None, "a", "[127.0.0.1]")]),
        ("alice", [A(None, "alice", "MISSING_DOMAIN")]),
        ("Alice <alice>", [A("Alice", "alice", "MISSING_DOMAIN")]),
        ("Mailer Daemon <>", [A("Mailer Daemon", "MISSING_MAILBOX", "MISSING_DOMAIN")]),
        ("@b.c", [A(None, "MISSING_MAILBOX", "b.c")]),
        ("a@b.c, , d@e.f,", [A(None, "a", "b.c"), A(None, "d", "e.f")]),
        ("<a@b.c", [A(None, "a", "b.c")]),
        ('"unterminated <a@b.c>', [A(None, "unterminated <a@b.c>", "MISSING_DOMAIN")]),
        ("", []),
        (" ,;: ", [Address(None, None, "", None), Address(None, None, None, None)]),
    ],
)
def test_address_parser(value: str, expected: list[Address]) -> None:
    assert list(parse_addresses(value)) == expected


def test_unterminated_group_is_closed() -> None:
    got = list(parse_addresses("G: a@b.c"))
    assert got == [
        Address(None, None, "G", None),
        A(None, "a", "b.c"),
        Address(None, None, None, None),
    ]


def test_garbage_headers_give_valid_envelopes() -> None:
    for value in (
        "<<<>>>",
        "@@@",
        ":::;;;",
        '"',
        "(",
        ")",
        "\\",
        "[",
        "a@b@c",
        "<a@b> <c@d>",
        "\udcff@x",
    ):
        raw = ("From: " + value + "\r\n\r\n").encode("utf-8", "surrogateescape")
        validate_envelope(render_envelope(raw, parse_structure(raw)))


def test_first_occurrence_wins() -> None:
    env = analyse_strict(crlf("Subject: one\nSubject: two\n\n")).envelope
    assert env == b'(NIL "one" NIL NIL NIL NIL NIL NIL NIL NIL)'
