"""Tokenizer over one assembled command: the lexical layer of RFC 3501 §9.

Parse functions (built-in and plugin ones) read their arguments through a
:class:`Cursor`; every failure goes through :meth:`Cursor.fail`, so a :class:`ParseError`
carrying the command's tag is the only exception that escapes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Final, NoReturn, TypeVar

from mailhost.protocols.imap.charclasses import (
    ASTRING_CHARS,
    ATOM_CHARS,
    DIGITS,
    LIST_CHARS,
    QUOTED_PLAIN_CHARS,
    QUOTED_SPECIALS,
    TAG_CHARS,
)
from mailhost.protocols.imap.chunks import CommandChunks
from mailhost.protocols.imap.errors import ParseError

T = TypeVar("T")

MAX_DEPTH: Final = 64
"""Deepest nesting of parentheses and search-key operators a command may use."""

NUMBER_MAX: Final = 0xFFFFFFFF
NUMBER64_MAX: Final = 0x7FFFFFFFFFFFFFFF
_SP: Final = ord(" ")
_DQUOTE: Final = ord('"')
_QUOTED_ESCAPE: Final = re.compile(rb'\\(["\\])')
_SPAN_PATTERNS: dict[frozenset[int], re.Pattern[bytes]] = {}


def _char_class(allowed: frozenset[int]) -> bytes:
    return b"[" + b"".join(re.escape(bytes([byte])) for byte in sorted(allowed)) + b"]"


def _span_pattern(allowed: frozenset[int]) -> re.Pattern[bytes]:
    """A cached regex for runs of ``allowed``: scanning long tokens byte by byte is slow."""
    pattern = _SPAN_PATTERNS.get(allowed)
    if pattern is None:
        pattern = _SPAN_PATTERNS[allowed] = re.compile(_char_class(allowed) + b"*")
    return pattern


# quoted = DQUOTE *QUOTED-CHAR DQUOTE, where QUOTED-CHAR is a plain char or an escape.
_ESCAPED: Final = re.escape(b"\\") + _char_class(QUOTED_SPECIALS)
_QUOTED: Final = re.compile(b'"((?:' + _char_class(QUOTED_PLAIN_CHARS) + b"|" + _ESCAPED + b')*)"')


class Cursor:
    """Reads tokens left to right across the lines and literals of one command."""

    def __init__(self, chunks: CommandChunks) -> None:
        self._lines = chunks.lines
        self._literals = chunks.literals
        self._index = 0
        self._position = 0
        self._depth = 0
        self.tag: bytes | None = None

    # -- errors and position -------------------------------------------------

    def fail(self, message: str) -> NoReturn:
        """Abort the parse with this command's tag; ``message`` must not echo client bytes."""
        raise ParseError(self.tag, message)

    @property
    def _line(self) -> bytes:
        return self._lines[self._index]

    def peek(self) -> int | None:
        """The next byte of line text, or None at a literal or the end of the command."""
        if self._position < len(self._line):
            return self._line[self._position]
        return None

    def at_end(self) -> bool:
        """True when the whole command has been consumed."""
        return self._index == len(self._literals) and self._position == len(self._line)

    def at_literal(self) -> bool:
        """True when the next token is a literal."""
        return self._position == len(self._line) and self._index < len(self._literals)

    def expect_end(self) -> None:
        """Fail unless nothing is left."""
        if not self.at_end():
            self.fail("unexpected data after the command arguments")

    # -- single bytes --------------------------------------------------------

    def accept(self, byte: int) -> bool:
        """Consume ``byte`` if it comes next."""
        if self.peek() == byte:
            self._position += 1
            return True
        return False

    def expect(self, byte: int, what: str) -> None:
        """Consume ``byte`` or fail saying ``what`` was expected."""
        if not self.accept(byte):
            self.fail(f"expected {what}")

    def sp(self) -> None:
        """Consume exactly one space."""
        self.expect(_SP, "a space")

    def accept_sp(self) -> bool:
        """Consume a space if one comes next (for optional trailing arguments)."""
        return self.accept(_SP)

    # -- runs of characters --------------------------------------------------

    def span(self, allowed: frozenset[int]) -> bytes:
        """The longest run of ``allowed`` bytes from here (possibly empty)."""
        match = _span_pattern(allowed).match(self._line, self._position)
        assert match is not None  # a starred character class always matches
        self._position = match.end()
        return match.group()

    def atom(self) -> bytes:
        """An atom (RFC 3501 ``atom``)."""
        text = self.span(ATOM_CHARS)
        if not text:
            self.fail("expected an atom")
        return text

    def keyword(self) -> bytes:
        """An atom, upper-cased: command names and options are case-insensitive."""
        return self.atom().upper()

    def accept_keyword(self, word: bytes) -> bool:
        """Consume the atom ``word`` (any case) if it is exactly the next atom."""
        line = self._line
        end = self._position + len(word)
        if line[self._position : end].upper() != word.upper():
            return False
        if end < len(line) and line[end] in ATOM_CHARS:
            return False
        self._position = end
        return True

    def tag_token(self) -> bytes:
        """The command tag (any ASTRING-CHAR except ``+``), which must end at a space."""
        text = self.span(TAG_CHARS)
        if not text or self.peek() not in (_SP, None) or self.at_literal():
            self.fail("missing or invalid tag")
        return text

    def number(self, *, maximum: int = NUMBER_MAX, nonzero: bool = False) -> int:
        """A decimal number no larger than ``maximum`` (32-bit by default)."""
        digits = self.span(DIGITS)
        if not digits:
            self.fail("expected a number")
        if nonzero and digits.startswith(b"0"):
            self.fail("expected a non-zero number without leading zeros")
        significant = digits.lstrip(b"0") or b"0"
        if len(significant) > len(str(maximum)) or int(significant) > maximum:
            self.fail("number out of range")
        return int(significant)

    # -- strings -------------------------------------------------------------

    def quoted(self) -> bytes:
        """A quoted string; NUL, CR, LF and 8-bit bytes are refused."""
        match = _QUOTED.match(self._line, self._position)
        if match is None:
            self.fail("invalid or unterminated quoted string")
        self._position = match.end()
        return _QUOTED_ESCAPE.sub(rb"\1", match.group(1))

    def literal(self, *, allow_nul: bool = False) -> bytes:
        """The literal that comes next; CHAR8 excludes NUL unless the caller opts in."""
        if not self.at_literal():
            self.fail("expected a literal")
        data = self._literals[self._index]
        if not allow_nul and b"\x00" in data:
            self.fail("NUL is not allowed in a literal")
        self._index += 1
        self._position = 0
        return data

    def string(self) -> bytes:
        """A quoted string or a literal."""
        if self.at_literal():
            return self.literal()
        return self.quoted()

    def astring(self) -> bytes:
        """An atom-like run (``]`` allowed) or a string."""
        return self._string_or_span(ASTRING_CHARS, "a string")

    def list_mailbox(self) -> bytes:
        """A LIST pattern: like an astring, but ``%`` and ``*`` may stand bare."""
        return self._string_or_span(LIST_CHARS, "a mailbox pattern")

    def nstring(self) -> bytes | None:
        """A string, or None for ``NIL``."""
        if self.peek() in (ord("N"), ord("n")):
            if self.keyword() != b"NIL":
                self.fail("expected a string or NIL")
            return None
        return self.string()

    def _string_or_span(self, allowed: frozenset[int], what: str) -> bytes:
        if self.at_literal() or self.peek() == _DQUOTE:
            return self.string()
        text = self.span(allowed)
        if not text:
            self.fail(f"expected {what}")
        return text

    # -- nesting -------------------------------------------------------------

    @contextmanager
    def nested(self) -> Iterator[None]:
        """Count one level of nesting; fail beyond MAX_DEPTH so input cannot blow the stack."""
        if self._depth >= MAX_DEPTH:
            self.fail("nesting too deep")
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1

    def parenthesized(self, item: Callable[[], T], *, allow_empty: bool = False) -> list[T]:
        """``"(" item *(SP item) ")"``, optionally ``()``."""
        self.expect(ord("("), "'('")
        with self.nested():
            items: list[T] = []
            if self.accept(ord(")")):
                if not allow_empty:
                    self.fail("empty list")
                return items
            items.append(item())
            while self.accept_sp():
                items.append(item())
            self.expect(ord(")"), "')'")
            return items
