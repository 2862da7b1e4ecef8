"""The one exception the IMAP command parser raises, so the session needs a single handler."""

from __future__ import annotations

from typing import Final

BAD: Final = b"BAD"
NO: Final = b"NO"
BADCHARSET_CODE: Final = b"BADCHARSET (US-ASCII UTF-8)"


class ParseError(Exception):
    """A command the server cannot accept as written.

    ``tag`` is the client's tag when it could be read (answer with it), else None (answer
    with ``*``). ``status`` is the response the client expects: ``BAD`` for syntax errors,
    ``NO`` where the RFC asks for it (an unsupported search charset). ``code`` is the
    response code to put in brackets, if any. ``message`` never echoes raw client bytes,
    so it is always safe to send as resp-text.
    """

    def __init__(
        self,
        tag: bytes | None,
        message: str,
        *,
        status: bytes = BAD,
        code: bytes | None = None,
    ) -> None:
        super().__init__(message)
        self.tag = tag
        self.message = message
        self.status = status
        self.code = code

    def __repr__(self) -> str:
        return f"ParseError(tag={self.tag!r}, message={self.message!r}, status={self.status!r})"
