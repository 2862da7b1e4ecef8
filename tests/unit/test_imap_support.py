"""Shared helpers for the IMAP parser tests: drive the assembler as a connection would."""

from __future__ import annotations

from mailhost.protocols.imap.chunks import CommandChunks
from mailhost.protocols.imap.commands import Command
from mailhost.protocols.imap.parser import parse_command
from mailhost.protocols.imap.reader import CommandAssembler, CommandReady, NeedLiteral


def assemble(wire: bytes) -> CommandChunks:
    """Split what a client sends for one command (CRLF line ends, literals inline)."""
    assembler = CommandAssembler(max_literal=1 << 20, max_command=1 << 21)
    rest = wire
    while True:
        line, _, rest = rest.partition(b"\r\n")
        result = assembler.feed_line(line)
        if isinstance(result, CommandReady):
            assert rest == b"", "bytes left after the command"
            return result.chunks
        assert isinstance(result, NeedLiteral), result
        assert assembler.feed_literal(rest[: result.size]) == 0, "literal cut short"
        rest = rest[result.size :]


def parse_wire(wire: bytes) -> Command:
    """Assemble then parse one command."""
    return parse_command(assemble(wire))


def test_assemble_splits_lines_around_literals() -> None:
    chunks = assemble(b"A1 LOGIN {4}\r\nfred {6+}\r\nsecret")
    assert chunks == CommandChunks((b"A1 LOGIN ", b" ", b""), (b"fred", b"secret"))


def test_assemble_single_line() -> None:
    assert assemble(b"A1 NOOP") == CommandChunks.from_line(b"A1 NOOP")
