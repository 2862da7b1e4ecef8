"""The SMTP/LMTP DATA payload, read in bulk rather than line by line (sans-I/O).

aiosmtpd reads DATA with one ``readuntil(b"\\r\\n")`` per line and bytearray work on each:
~0.1-0.2 ms of event-loop time for a 5 KB message, growing with its size. This reader finds
the end marker with one ``find`` per received chunk and applies aiosmtpd's per-line rules to
the whole payload at once, with the same outcome for every input:

* only ``CRLF . CRLF`` ends the data (a line that is exactly ``.``; the data starts at a line
  start, so it may begin with ``.\\r\\n``); a bare LF or CR never ends a line, so smuggling
  variants such as ``LF . LF`` stay part of the message;
* a line longer than ``line_limit`` octets with its CRLF makes the whole DATA fail with 500;
  more than ``size_limit`` octets (dot-stuffing included, the final ``.CRLF`` not) with 552;
  whichever aiosmtpd would notice first wins (see :meth:`DataReader._check`); the reply goes
  out only after the end marker, and nothing is kept after a failure (bounded memory);
* dot-unstuffing: the first ``.`` of every line that starts with one is removed.
"""

from __future__ import annotations

import enum

END = b"\r\n.\r\n"


class DataState(enum.Enum):
    NOMINAL = enum.auto()
    TOO_LONG = enum.auto()  # 500
    TOO_MUCH = enum.auto()  # 552


class DataReader:
    """Feed it what :meth:`wanted` allows until :attr:`done`; then see :attr:`state`."""

    def __init__(self, size_limit: int | None, line_limit: int) -> None:
        self.size_limit = size_limit or None  # aiosmtpd: 0 or None means no limit
        self.line_limit = line_limit
        self.state = DataState.NOMINAL
        self.done = False
        self._tail = b"\r\n"  # the last bytes fed (data starts at a line start)
        self._kept: list[bytes] = []  # fed, not yet checked line by line (only while NOMINAL)
        self._kept_size = 0
        self._counted = 0  # octets of the lines already checked and dropped (see _settle)

    def wanted(self, buffered: bytes | bytearray) -> int:
        """How many octets of ``buffered`` (non-empty) are data: up to the end marker, or all.

        The rest is the client's next pipelined command, left in the buffer for the command loop.
        """
        head = self._tail + bytes(buffered[:4])  # a marker that began in earlier bytes
        at = head.find(END)
        if at >= 0:
            return at + len(END) - len(self._tail)
        at = buffered.find(END)
        return len(buffered) if at < 0 else at + len(END)

    def feed(self, chunk: bytes) -> None:
        """Take the next octets (never past the end marker: see :meth:`wanted`)."""
        last = self._tail + chunk[-5:]  # not the whole chunk: no copy of it
        self.done = last.endswith(END)
        self._tail = last[-4:]
        if self.state is not DataState.NOMINAL:
            return  # keep scanning for the end, keep nothing
        self._kept.append(chunk)
        self._kept_size += len(chunk)
        if self.done:
            self._check(b"".join(self._kept)[:-3], final=True)  # without the final ".\r\n"
        elif self.size_limit is not None and self._counted + self._kept_size - 2 > self.size_limit:
            # Over the limit even if the last two octets begin the end marker: decide now
            # rather than buffer on.
            self._check(b"".join(self._kept), final=False)

    def content(self) -> bytes:
        """The message, dot-unstuffed (RFC 5321 §4.5.2); only when done and NOMINAL."""
        assert self.done and self.state is DataState.NOMINAL
        data = self._kept[0] if self._kept else b""
        if data.startswith(b"."):
            data = data[1:]
        return data.replace(b"\r\n.", b"\r\n")

    def _check(self, data: bytes, *, final: bool) -> None:
        """Apply aiosmtpd's rules to ``data``, which starts at a line start.

        aiosmtpd's StreamReader (limit = line_limit) raises before a line with more than
        ``line_limit`` octets before its CRLF is counted, so that line is "too long" even if
        it also crosses the size limit; a line that fits the reader but not ``line_limit`` with
        its CRLF is counted first, so crossing the size limit there means "too much". With
        ``final`` the data ends with a CRLF (or is empty) and, if NOMINAL, is kept whole;
        otherwise the lines before its last CRLF are checked and dropped, and the unfinished
        last one is kept until it ends or is surely too long.
        """
        limit, line_limit = self.size_limit, self.line_limit
        lines = data.split(b"\r\n")
        partial = lines.pop()  # b"" when data ends with CRLF
        total = self._counted + len(data) - len(partial)
        if (limit is None or total <= limit) and max(map(len, lines), default=0) + 2 <= line_limit:
            counted = total  # the common case: nothing wrong, no Python loop over the lines
        else:
            counted = self._counted
            for line in lines:
                if len(line) > line_limit:
                    self._fail(DataState.TOO_LONG)
                    return
                counted += len(line) + 2
                if limit is not None and counted > limit:
                    self._fail(DataState.TOO_MUCH)
                    return
                if len(line) + 2 > line_limit:
                    self._fail(DataState.TOO_LONG)
                    return
        if final:
            self._kept = [data]
            return
        if len(partial) > line_limit + 1:  # the reader would overrun before its CRLF
            self._fail(DataState.TOO_LONG)
            return
        self._counted = counted
        self._kept = [partial]
        self._kept_size = len(partial)

    def _fail(self, state: DataState) -> None:
        self.state = state
        self._kept = []
        self._kept_size = 0
