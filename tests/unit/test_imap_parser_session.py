"""Parsing connection-level commands (RFC 3501 §6.1-6.2, SASL-IR, ID, ENABLE, IDLE...)."""

from __future__ import annotations

import pytest

from mailhost.protocols.imap import commands as cmd
from mailhost.protocols.imap.errors import ParseError
from tests.unit.test_imap_support import parse_wire


@pytest.mark.parametrize(
    ("wire", "expected"),
    [
        (b"abcd CAPABILITY", cmd.Capability(b"abcd")),
        (b"a002 NOOP", cmd.Noop(b"a002")),
        (b"A023 LOGOUT", cmd.Logout(b"A023")),
        (b"a001 STARTTLS", cmd.Starttls(b"a001")),
        (b"FXXZ CHECK", cmd.Check(b"FXXZ")),
        (b"A341 CLOSE", cmd.Close(b"A341")),
        (b"a UNSELECT", cmd.Unselect(b"a")),
        (b"A1 NAMESPACE", cmd.Namespace(b"A1")),
        (b"a002 IDLE", cmd.Idle(b"a002")),
        (b"a1 noop", cmd.Noop(b"a1")),
        (b"t]ag NOOP", cmd.Noop(b"t]ag")),
    ],
)
def test_commands_without_arguments(wire: bytes, expected: cmd.Command) -> None:
    assert parse_wire(wire) == expected


def test_login_rfc_example() -> None:
    assert parse_wire(b"a001 LOGIN SMITH SESAME") == cmd.Login(b"a001", "SMITH", b"SESAME")


def test_login_with_quoted_and_literal_credentials() -> None:
    assert parse_wire(b'a LOGIN "j\\"o e" {5}\r\np\xc3\xa4ss') == cmd.Login(
        b"a", 'j"o e', b"p\xc3\xa4ss"
    )
    assert parse_wire("a LOGIN {5+}\r\njürg pw".encode()) == cmd.Login(b"a", "jürg", b"pw")


def test_login_username_must_be_utf8() -> None:
    with pytest.raises(ParseError):
        parse_wire(b"a LOGIN {2}\r\n\xff\xfe pw")


def test_authenticate_without_initial_response() -> None:
    assert parse_wire(b"A001 AUTHENTICATE GSSAPI") == cmd.Authenticate(b"A001", "GSSAPI")


def test_authenticate_with_initial_response() -> None:
    command = parse_wire(b"a AUTHENTICATE plain AGZyZWQAc2VjcmV0")
    assert command == cmd.Authenticate(b"a", "PLAIN", b"\x00fred\x00secret")
    assert parse_wire(b"a AUTHENTICATE EXTERNAL =") == cmd.Authenticate(b"a", "EXTERNAL", b"")


@pytest.mark.parametrize("response", [b"AGZy*ZWQ", b"AGZyZ", b"A===", b"(x)", b""])
def test_authenticate_rejects_bad_base64(response: bytes) -> None:
    with pytest.raises(ParseError) as caught:
        parse_wire(b"a AUTHENTICATE PLAIN " + response)
    assert caught.value.tag == b"a"


def test_id_rfc_2971_example() -> None:
    wire = b'a023 ID ("name" "sodr" "version" "19.34" "vendor" "Pink Floyd Music Limited")'
    assert parse_wire(wire) == cmd.Id(
        b"a023",
        (("name", "sodr"), ("version", "19.34"), ("vendor", "Pink Floyd Music Limited")),
    )


def test_id_nil_and_nil_values() -> None:
    assert parse_wire(b"a ID NIL") == cmd.Id(b"a", None)
    assert parse_wire(b"a ID ()") == cmd.Id(b"a", ())
    assert parse_wire(b'a ID ("os" NIL)') == cmd.Id(b"a", (("os", None),))


@pytest.mark.parametrize(
    "wire",
    [
        b'a ID ("name")',
        b'a ID (name "x")',
        b'a ID ("name" "x" "NAME" "y")',
        b'a ID ("' + b"f" * 31 + b'" "x")',
        b'a ID ("f" "' + b"v" * 1025 + b'")',
        b"a ID (" + b" ".join(b'"f%d" "v"' % n for n in range(31)) + b")",
    ],
)
def test_id_rejects_malformed_or_oversized_parameters(wire: bytes) -> None:
    with pytest.raises(ParseError):
        parse_wire(wire)


def test_enable() -> None:
    command = parse_wire(b"t2 ENABLE CONDSTORE X-GOOD-IDEA qresync")
    assert command == cmd.Enable(b"t2", ("CONDSTORE", "X-GOOD-IDEA", "QRESYNC"))
    with pytest.raises(ParseError):
        parse_wire(b"t2 ENABLE")
