"""Sans-I/O line framing with limits that cannot be smuggled past.

A naive ``readline()`` loop that rejects an over-long line and reads again starts the next
"command" in the middle of the long line, so a client can hide a command inside it. Here an
over-long line is reported once and everything up to its terminating LF is thrown away as it
arrives, so none of it is ever framed as a line, and memory stays bounded by the limit.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LineTooLong:
    """The current line exceeded the limit; its remainder is being discarded."""

    limit: int


class LineBuffer:
    """Accumulates received bytes and hands out complete lines or exact byte counts."""

    __slots__ = ("_data", "_discarding", "_scan_from", "_unread", "max_line")

    def __init__(self, max_line: int) -> None:
        self.max_line = max_line
        self._data = bytearray()
        self._discarding = False
        self._scan_from = 0  # bytes already searched for LF, so feeding is linear overall
        self._unread: bytes | LineTooLong | None = None  # a line given back, returned first

    def __len__(self) -> int:
        return len(self._data)

    def feed(self, data: bytes) -> None:
        if self._discarding:
            newline = data.find(b"\n")
            if newline < 0:
                return
            self._discarding = False
            data = data[newline + 1:]
        self._data += data

    def next_line(self) -> bytes | LineTooLong | None:
        """A line without its CRLF (or bare LF), LineTooLong once per long line, or None."""
        if self._unread is not None:
            line, self._unread = self._unread, None
            return line
        newline = self._data.find(b"\n", self._scan_from)
        if newline < 0:
            if len(self._data) > self.max_line:
                self._data.clear()
                self._scan_from = 0
                self._discarding = True
                return LineTooLong(self.max_line)
            self._scan_from = len(self._data)
            return None
        self._scan_from = 0
        end = newline
        if end > 0 and self._data[end - 1] == 0x0D:
            end -= 1
        if end > self.max_line:
            del self._data[:newline + 1]
            return LineTooLong(self.max_line)
        line = bytes(self._data[:end])
        del self._data[:newline + 1]
        return line

    def unread(self, line: bytes | LineTooLong) -> None:
        """Give back the line just taken, so the next :meth:`next_line` returns it again.

        For a reader that looks at a line and finds it is not the one to handle it.
        """
        assert self._unread is None, "only one line can be given back"
        self._unread = line

    def take(self, size: int) -> bytes | None:
        """Exactly ``size`` bytes (an IMAP literal), or None until that many have arrived."""
        assert self._unread is None, "a line was given back; read it first"
        if len(self._data) < size:
            return None
        with memoryview(self._data) as view:  # one copy, not two (slice, then bytes)
            chunk = bytes(view[:size])
        del self._data[:size]
        self._scan_from = 0
        return chunk

    def clear(self) -> int:
        """Drop everything buffered (after STARTTLS); returns how many bytes were dropped."""
        dropped = len(self._data) + (len(self._unread) if isinstance(self._unread, bytes) else 0)
        self._data.clear()
        self._scan_from = 0
        self._discarding = False
        self._unread = None
        return dropped
