"""Sans-I/O command assembler: joins a command's lines and literals before parsing.

The connection reads a line (CRLF stripped) and calls :meth:`CommandAssembler.feed_line`.
The answer says what to do next:

* :class:`NeedLiteral` - read ``size`` bytes and pass them to ``feed_literal``; if
  ``synchronizing`` is True, first send ``+ <text>`` so the client sends them. Then read
  the next line and call ``feed_line`` again.
* :class:`CommandReady` - hand ``chunks`` to the parser.
* :class:`AssemblyError` - answer the client (see the class). A refused literal is never
  read, so none of its bytes is ever taken for a command; when they are already in
  flight (``{n+}``) the error is ``fatal`` and the connection must close.

Limits are checked against the size the client announces, before anything is read or
allocated. IDLE's ``DONE`` and SASL continuation lines are not commands: the session reads
those itself, without the assembler.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from mailhost.protocols.imap.charclasses import DIGITS, TAG_CHARS
from mailhost.protocols.imap.chunks import CommandChunks

# 19 digits always fit a signed 63-bit size; more is refused before int() sees it.
_MAX_SIZE_DIGITS: Final = 19
_APPEND_VERB: Final = b"APPEND"


@dataclass(frozen=True)
class NeedLiteral:
    """Read ``size`` literal bytes next; send a continuation first if ``synchronizing``."""

    size: int
    synchronizing: bool


@dataclass(frozen=True)
class CommandReady:
    """A complete command for :func:`mailhost.protocols.imap.parser.parse_command`."""

    chunks: CommandChunks


@dataclass(frozen=True)
class AssemblyError:
    """The command cannot be assembled.

    Reply ``<tag> NO [TOOBIG] <message>`` when ``too_big``, else ``<tag> BAD <message>``
    (``*`` when ``tag`` is None). When ``fatal`` the client has already sent literal bytes
    the server refused to read: send ``* BYE`` and close, as the stream can no longer be
    trusted. ``message`` never contains client bytes.
    """

    tag: bytes | None
    message: str
    fatal: bool
    too_big: bool = False


FeedResult = NeedLiteral | CommandReady | AssemblyError


@dataclass(frozen=True)
class _LiteralMarker:
    text: bytes
    size_digits: bytes
    synchronizing: bool


class CommandAssembler:
    """Collects the lines and literals of one command at a time.

    ``max_literal`` bounds any single literal; ``append_limit`` (APPENDLIMIT, RFC 7889)
    replaces it for APPEND and defaults to ``max_literal``. ``max_command`` bounds a
    command's lines plus literals; an APPEND may additionally hold ``append_limit`` bytes
    of message. All three are plain attributes the session raises after login.
    """

    def __init__(self, max_literal: int, max_command: int, append_limit: int | None = None):
        self.max_literal = max_literal
        self.max_command = max_command
        self.append_limit = append_limit
        self._fatal: AssemblyError | None = None
        self._reset()

    def _reset(self) -> None:
        self._lines: list[bytes] = []
        self._literals: list[bytes] = []
        self._size = 0
        self._tag: bytes | None = None
        self._is_append = False
        self._literal = bytearray()
        self._literal_size: int | None = None

    @property
    def literal_remaining(self) -> int:
        """Bytes still owed to the pending literal (0 when none is pending)."""
        if self._literal_size is None:
            return 0
        return self._literal_size - len(self._literal)

    @property
    def in_command(self) -> bool:
        """True between the first line of a command and its completion."""
        return bool(self._lines)

    def feed_line(self, line: bytes) -> FeedResult:
        """Take one line (without CRLF) and say what the connection must do next."""
        if self._fatal is not None:
            return self._fatal
        if self._literal_size is not None:
            raise RuntimeError("a literal is pending; call feed_literal first")
        if not self._lines:
            self._tag = _leading_tag(line)
            self._is_append = _verb(line) == _APPEND_VERB
        self._size += len(line)
        marker = _literal_marker(line)
        if marker is None:
            if self._size > self._command_budget():
                return self._fail("command too long", fatal=False)
            self._lines.append(line)
            ready = CommandReady(CommandChunks(tuple(self._lines), tuple(self._literals)))
            self._reset()
            return ready
        return self._announce_literal(marker)

    def feed_literal(self, data: bytes) -> int:
        """Take literal bytes (all at once or in pieces); return how many are still owed."""
        if self._literal_size is None:
            raise RuntimeError("no literal is pending")
        if len(data) > self.literal_remaining:
            raise ValueError("more literal bytes than announced")
        if not self._literal and len(data) == self._literal_size:
            # The usual case, the whole literal at once: keep the caller's bytes, no copies.
            self._literals.append(bytes(data))
            self._literal_size = None
            return 0
        self._literal += data
        remaining = self.literal_remaining
        if remaining == 0:
            self._literals.append(bytes(self._literal))
            self._literal = bytearray()
            self._literal_size = None
        return remaining

    def _announce_literal(self, marker: _LiteralMarker) -> FeedResult:
        fatal = not marker.synchronizing
        if len(marker.size_digits) > _MAX_SIZE_DIGITS:
            return self._fail("literal size out of range", fatal=fatal)
        size = int(marker.size_digits)
        if size > self._literal_limit():
            return self._fail("literal too large", fatal=fatal, too_big=True)
        if self._size + size > self._command_budget():
            return self._fail("command too long", fatal=fatal, too_big=True)
        self._size += size
        self._lines.append(marker.text)
        self._literal_size = size
        return NeedLiteral(size=size, synchronizing=marker.synchronizing)

    def _literal_limit(self) -> int:
        if self._is_append and self.append_limit is not None:
            return self.append_limit
        return self.max_literal

    def _command_budget(self) -> int:
        return self.max_command + (self._literal_limit() if self._is_append else 0)

    def _fail(self, message: str, *, fatal: bool, too_big: bool = False) -> AssemblyError:
        error = AssemblyError(tag=self._tag, message=message, fatal=fatal, too_big=too_big)
        self._reset()
        if fatal:
            self._fatal = error
        return error


def _literal_marker(line: bytes) -> _LiteralMarker | None:
    """Find a trailing ``{digits}`` or ``{digits+}``; any such ending announces a literal."""
    if not line.endswith(b"}"):
        return None
    opening = line.rfind(b"{")
    if opening < 0:
        return None
    inside = line[opening + 1 : -1]
    synchronizing = not inside.endswith(b"+")
    digits = inside if synchronizing else inside[:-1]
    if not digits or not all(byte in DIGITS for byte in digits):
        return None
    return _LiteralMarker(line[:opening], digits, synchronizing)


def _leading_tag(line: bytes) -> bytes | None:
    tag = line.split(b" ", 1)[0]
    if tag and all(byte in TAG_CHARS for byte in tag):
        return tag
    return None


def _verb(line: bytes) -> bytes:
    words = line.split(b" ", 2)
    return words[1].upper() if len(words) > 1 else b""
