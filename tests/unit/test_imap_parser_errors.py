"""Malformed input: always a ParseError (with the tag when it was readable), never a crash."""

from __future__ import annotations

import tracemalloc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailhost.protocols.imap.chunks import CommandChunks
from mailhost.protocols.imap.errors import BAD, ParseError
from mailhost.protocols.imap.parser import DEFAULT_REGISTRY, parse_command
from tests.unit.test_imap_support import parse_wire


def parse_error(wire: bytes) -> ParseError:
    with pytest.raises(ParseError) as caught:
        parse_wire(wire)
    error = caught.value
    assert error.status == BAD
    assert error.message.isascii() and "\r" not in error.message and "\n" not in error.message
    return error


@pytest.mark.parametrize(
    "wire",
    [
        pytest.param(b'a LOGIN "fr\x00ed" pw', id="NUL in quoted"),
        pytest.param(b"a LOGIN {4}\r\nfr\x00d pw", id="NUL in a string literal"),
        pytest.param(b'a LOGIN "fr\red" pw', id="bare CR in quoted"),
        pytest.param(b'a LOGIN "fr\ned" pw', id="bare LF in quoted"),
        pytest.param(b'a LOGIN "fr\xc3\xa9d" pw', id="8-bit in quoted"),
        pytest.param(b'a LOGIN "fred pw', id="unterminated quoted"),
        pytest.param(b'a LOGIN "f\\red" pw', id="bad escape"),
        pytest.param(b"a SELECT caf\xc3\xa9", id="8-bit in atom"),
        pytest.param(b"a NOOP\xff", id="8-bit after verb"),
        pytest.param(b"a NO\x00OP", id="NUL in verb"),
        pytest.param(b"a NOOP\r", id="bare CR at end"),
        pytest.param(b"a SELECT \x01box", id="control in atom"),
        pytest.param(b"a XYZZY", id="unknown command"),
        pytest.param(b"a NOOP ", id="trailing space"),
        pytest.param(b"a  NOOP", id="double space"),
        pytest.param(b"a", id="tag only"),
        pytest.param(b"a SELECT", id="missing argument"),
        pytest.param(b"a LOGIN fred", id="missing second argument"),
        pytest.param(b"a NOOP {3}\r\nabc", id="unexpected literal"),
        pytest.param(b"a LOGIN fred{2}\r\npw", id="literal glued to an atom"),
        pytest.param(b"a FETCH 4294967296 FLAGS", id="number over 32 bits"),
        pytest.param(b"a FETCH 1:" + b"9" * 30 + b" FLAGS", id="30-digit number"),
        pytest.param(b"a SELECT INBOX (CONDSTORE", id="unclosed list"),
        pytest.param(b"a SELECT &Jjo!", id="invalid modified UTF-7"),
        pytest.param(b"a SELECT &AGE-", id="shifted printable ASCII"),
    ],
)
def test_errors_keep_the_tag(wire: bytes) -> None:
    assert parse_error(wire).tag == b"a"


@pytest.mark.parametrize("wire", [b"", b" NOOP", b"+ NOOP", b"* NOOP", b"t\xffg NOOP", b"(x NOOP"])
def test_unreadable_tag_is_none(wire: bytes) -> None:
    assert parse_error(wire).tag is None


def test_literal_bytes_are_never_read_as_commands() -> None:
    # The literal holds a whole command; it must stay an opaque string.
    error = parse_error(b"a NOOP {14}\r\nb DELETE INBOX")
    assert error.tag == b"a"


@pytest.mark.parametrize(
    "wire",
    [
        pytest.param(b"a ID " + b"(" * 100_000, id="ID parens"),
        pytest.param(b"a SEARCH " + b"(" * 100_000, id="search parens"),
        pytest.param(b"a SEARCH " + b"NOT " * 100_000 + b"SEEN", id="NOT chain"),
        pytest.param(b"a SEARCH " + b"OR SEEN " * 100_000 + b"SEEN", id="OR chain"),
        pytest.param(b"a FETCH 1 " + b"(" * 100_000, id="fetch parens"),
        pytest.param(b'a LIST "" % RETURN ' + b"(" * 100_000, id="list parens"),
    ],
)
def test_deep_nesting_is_bounded(wire: bytes) -> None:
    tracemalloc.start()
    try:
        error = parse_error(wire)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert error.tag == b"a"
    assert peak < 2_000_000


def test_depth_limit_is_exact() -> None:
    allowed = b"(" * 64 + b"SEEN" + b")" * 64
    parse_wire(b"a SEARCH " + allowed)
    assert parse_error(b"a SEARCH (" + allowed + b")").message == "nesting too deep"


_TOKENS = st.sampled_from(
    [b" ", b"(", b")", b"[", b"]", b"<", b">", b'"', b"\\", b"{", b"}", b"*", b"%", b"$", b":",
     b",", b".", b"-", b"+", b"&", b"0", b"1", b"42", b"4294967296", b"99999999999999999999",
     b"NIL", b"INBOX", b"UID", b"HEADER", b"FIELDS", b"BODY", b"PEEK", b"TEXT", b"MIME",
     b"FLAGS", b"SILENT", b"\\Seen", b"NOT", b"OR", b"SEEN", b"CHARSET", b"UTF-8", b"RETURN",
     b"MIN", b"SAVE", b"QRESYNC", b"CONDSTORE", b"CHANGEDSINCE", b"VANISHED", b"USE",
     b"STATUS", b"MESSAGES", b"SUBSCRIBED", b"RECURSIVEMATCH", b"MODSEQ", b'"/flags/\\\\x"',
     b"1-Feb-1994", b'"17-Jul-1996 02:44:25 -0700"', b"AGZy", b"=", b"\x00", b"\r", b"\n",
     b"\xff", b"\xc3\xa9", b"&AGE-", b"&U,BTFw-"]
)  # fmt: skip
_VERBS = st.sampled_from([*sorted(DEFAULT_REGISTRY.verbs()), b"UID FETCH", b"UID STORE"])
_ARGUMENTS = st.lists(_TOKENS, max_size=25).map(b"".join)
_LINES = st.one_of(
    st.binary(max_size=120),
    st.builds(lambda verb, rest: b"t1 " + verb + rest, _VERBS, _ARGUMENTS),
)


def _parse_or_parse_error(chunks: CommandChunks) -> None:
    try:
        parse_command(chunks)
    except ParseError as error:
        assert error.message.isascii()


@settings(max_examples=400, deadline=None)
@given(_LINES)
def test_fuzz_single_lines_raise_only_parse_error(line: bytes) -> None:
    _parse_or_parse_error(CommandChunks.from_line(line))


@settings(max_examples=250, deadline=None)
@given(st.lists(st.tuples(_LINES, st.binary(max_size=20)), max_size=3), _LINES)
def test_fuzz_lines_with_literals_raise_only_parse_error(
    pieces: list[tuple[bytes, bytes]], last: bytes
) -> None:
    lines = (*(line for line, _ in pieces), last)
    literals = tuple(literal for _, literal in pieces)
    _parse_or_parse_error(CommandChunks(lines, literals))
