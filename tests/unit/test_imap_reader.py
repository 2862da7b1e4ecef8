"""The command assembler: literal negotiation, limits, and refusing literals safely."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailhost.protocols.imap.chunks import CommandChunks
from mailhost.protocols.imap.reader import (
    AssemblyError,
    CommandAssembler,
    CommandReady,
    NeedLiteral,
)

MESSAGE = (
    b"Date: Mon, 7 Feb 1994 21:52:25 -0800 (PST)\r\n"
    b"From: Fred Foobar <foobar@Blurdybloop.COM>\r\n"
    b"Subject: afternoon meeting\r\n"
    b"\r\n"
    b"Hello Joe, do you think we can meet at 3:30 tomorrow?\r\n"
)


def make(max_literal: int = 1000, max_command: int = 4000, **kwargs: int) -> CommandAssembler:
    return CommandAssembler(max_literal=max_literal, max_command=max_command, **kwargs)


def test_line_without_literal_is_ready_at_once() -> None:
    assert make().feed_line(b"A1 NOOP") == CommandReady(CommandChunks.from_line(b"A1 NOOP"))


def test_synchronizing_literal_round() -> None:
    assembler = make()
    need = assembler.feed_line(b"A003 APPEND saved-messages (\\Seen) {%d}" % len(MESSAGE))
    assert need == NeedLiteral(size=len(MESSAGE), synchronizing=True)
    assert assembler.in_command
    assert assembler.feed_literal(MESSAGE) == 0
    ready = assembler.feed_line(b"")
    assert ready == CommandReady(
        CommandChunks((b"A003 APPEND saved-messages (\\Seen) ", b""), (MESSAGE,))
    )
    assert not assembler.in_command


def test_non_synchronizing_literal_needs_no_continuation() -> None:
    assembler = make()
    assert assembler.feed_line(b"A1 LOGIN {4+}") == NeedLiteral(size=4, synchronizing=False)


def test_literal_may_arrive_in_pieces() -> None:
    assembler = make()
    assembler.feed_line(b"A1 LOGIN {6}")
    assert assembler.literal_remaining == 6
    assert assembler.feed_literal(b"fr") == 4
    assert assembler.feed_literal(b"ed") == 2
    assert assembler.feed_literal(b"\r\n") == 0
    assert assembler.literal_remaining == 0


def test_several_literals_and_empty_one() -> None:
    assembler = make()
    assert assembler.feed_line(b"A1 LOGIN {0}") == NeedLiteral(0, True)
    assembler.feed_literal(b"")
    assert assembler.feed_line(b" {3}") == NeedLiteral(3, True)
    assembler.feed_literal(b"pwd")
    ready = assembler.feed_line(b"")
    assert isinstance(ready, CommandReady)
    assert ready.chunks == CommandChunks((b"A1 LOGIN ", b" ", b""), (b"", b"pwd"))


def test_oversized_synchronizing_literal_is_refused_and_never_read() -> None:
    assembler = make(max_literal=100)
    refused = assembler.feed_line(b"A7 LOGIN {101}")
    assert refused == AssemblyError(
        tag=b"A7", message="literal too large", fatal=False, too_big=True
    )
    assert assembler.literal_remaining == 0 and not assembler.in_command
    # The client never got "+", so it sends no literal; the next line is a new command.
    assert assembler.feed_line(b"A8 NOOP") == CommandReady(CommandChunks.from_line(b"A8 NOOP"))


def test_oversized_non_synchronizing_literal_is_fatal() -> None:
    assembler = make(max_literal=100)
    refused = assembler.feed_line(b"A7 APPEND INBOX {5000+}")
    assert isinstance(refused, AssemblyError) and refused.fatal and refused.too_big
    assert refused.tag == b"A7"
    # Its bytes are already on the way: nothing after it may ever become a command.
    assert assembler.feed_line(b"A8 DELETE INBOX") is refused
    assert assembler.feed_line(b"") is refused


@pytest.mark.parametrize(
    ("marker", "too_big"),
    [(b"{4294967295}", True), (b"{" + b"9" * 30 + b"}", False), (b"{" + b"9" * 20 + b"}", False)],
)
def test_absurd_sizes_are_errors_not_exceptions(marker: bytes, too_big: bool) -> None:
    result = make().feed_line(b"X1 LOGIN " + marker)
    assert isinstance(result, AssemblyError)
    assert (result.tag, result.fatal, result.too_big) == (b"X1", False, too_big)
    plus = make().feed_line(b"X1 LOGIN " + marker[:-1] + b"+}")
    assert isinstance(plus, AssemblyError) and plus.fatal


def test_append_uses_append_limit() -> None:
    assembler = make(max_literal=10, append_limit=1000)
    assert assembler.feed_line(b"A1 APPEND INBOX {500}") == NeedLiteral(500, True)
    other = make(max_literal=10, append_limit=1000).feed_line(b"A1 LOGIN {500}")
    assert isinstance(other, AssemblyError) and other.too_big


def test_limits_can_be_raised_after_login() -> None:
    assembler = make(max_literal=10)
    assert isinstance(assembler.feed_line(b"A1 CREATE {50}"), AssemblyError)
    assembler.max_literal = 100
    assert assembler.feed_line(b"A2 CREATE {50}") == NeedLiteral(50, True)


def test_command_size_limit_counts_lines_and_literals() -> None:
    assembler = make(max_literal=100, max_command=120)
    long_line = assembler.feed_line(b"A1 NOOP " + b"x" * 200)
    assert isinstance(long_line, AssemblyError) and not long_line.fatal
    assembler.feed_line(b"A2 LOGIN {90}")
    assembler.feed_literal(b"u" * 90)
    over = assembler.feed_line(b" {90}")
    assert isinstance(over, AssemblyError) and over.too_big and over.tag == b"A2"


def test_tag_is_none_when_unreadable() -> None:
    result = make(max_literal=1).feed_line(b"+bad LOGIN {5}")
    assert isinstance(result, AssemblyError) and result.tag is None


@pytest.mark.parametrize("line", [b"A1 SEARCH SUBJECT {abc}", b"A1 X {}", b"A1 X {+}", b"A1 X }"])
def test_brace_endings_that_are_not_literal_markers(line: bytes) -> None:
    assert make().feed_line(line) == CommandReady(CommandChunks.from_line(line))


def test_any_trailing_marker_is_taken_as_a_literal() -> None:
    # Even inside a broken quoted string: the client will send those bytes as a literal,
    # and reading them as such keeps them from being run as a command.
    assert make().feed_line(b'A1 LOGIN "x {3}') == NeedLiteral(3, True)


def test_caller_misuse_raises() -> None:
    assembler = make()
    with pytest.raises(RuntimeError):
        assembler.feed_literal(b"x")
    assembler.feed_line(b"A1 LOGIN {2}")
    with pytest.raises(RuntimeError):
        assembler.feed_line(b"more")
    with pytest.raises(ValueError):
        assembler.feed_literal(b"xyz")


_MARKERS = st.sampled_from(
    [b"", b"{0}", b"{3}", b"{7+}", b"{99999}", b"{99999+}", b"{" + b"9" * 25 + b"}"]
)


@settings(max_examples=300)
@given(st.lists(st.tuples(st.binary(max_size=30), _MARKERS), min_size=1, max_size=6))
def test_fuzz_assembler_never_raises_on_client_input(lines: list[tuple[bytes, bytes]]) -> None:
    assembler = make(max_literal=100, max_command=200)
    for text, marker in lines:
        result = assembler.feed_line(text + marker)
        if isinstance(result, NeedLiteral):
            assert result.size <= 100
            assert assembler.feed_literal(b"x" * result.size) == 0
        elif isinstance(result, AssemblyError) and result.fatal:
            assert assembler.feed_line(b"A1 NOOP") is result
            return
