"""Drive a protocol session with bytes and read its replies, with no socket at all.

``MemoryChannel`` implements :class:`mailhost.channel.Channel` over in-memory buffers, so a
test can feed client lines to a real POP3 or IMAP session (with a real store and real hooks)
and compare what it wrote, line by line, to a transcript taken from an RFC.
"""

from __future__ import annotations

import asyncio
import re
import ssl
from collections.abc import Awaitable, Callable, Mapping, Sequence

from mailhost.connection import ConnectionClosed
from mailhost.linebuffer import LineBuffer, LineTooLong


class MemoryChannel:
    """A channel whose peer is the test: ``feed`` client bytes, read ``output``."""

    def __init__(self, peer_ip: str = "127.0.0.1", secure: bool = True) -> None:
        self.peer_ip = peer_ip
        self._secure = secure
        self.buffer = LineBuffer(8192)
        self.output = bytearray()
        self.closed = False
        self._input_closed = False
        self._ready = asyncio.Event()

    @property
    def is_secure(self) -> bool:
        return self._secure

    @property
    def is_loopback(self) -> bool:
        return self.peer_ip in ("127.0.0.1", "::1")

    def feed(self, data: bytes) -> None:
        self.buffer.feed(data)
        self._ready.set()

    def end_input(self) -> None:
        """The client hangs up after what was fed."""
        self._input_closed = True
        self._ready.set()

    def set_max_line(self, max_line: int) -> None:
        self.buffer.max_line = max_line

    async def _wait(self) -> None:
        if self._input_closed:
            raise ConnectionClosed()
        self._ready.clear()
        await self._ready.wait()

    async def read_line(self, timeout: float | None = None) -> bytes | LineTooLong:
        while (line := self.buffer.next_line()) is None:
            await self._wait()
        return line

    async def read_exact(self, size: int, timeout: float | None = None) -> bytes:
        while (chunk := self.buffer.take(size)) is None:
            await self._wait()
        return chunk

    def write(self, data: bytes) -> None:
        self.output += data

    def writelines(self, parts: Sequence[bytes]) -> None:
        for part in parts:
            self.output += part

    async def drain(self, timeout: float | None = 120.0) -> None:
        await asyncio.sleep(0)

    async def start_tls(self, context: ssl.SSLContext, handshake_timeout: float) -> None:
        self.buffer.clear()
        self._secure = True

    def tls_info(self) -> str:
        return "memory" if self._secure else ""

    def close(self) -> None:
        self.closed = True


Action = Callable[[], Awaitable[None]]


def parse_transcript(script: str) -> list[tuple[str, str]]:
    """``C:``, ``S:`` and ``A:`` steps from an RFC-style transcript (other lines ignored)."""
    steps = []
    for raw in script.strip("\n").splitlines():
        line = raw.strip()
        if line.startswith(("C: ", "S: ", "A: ")) or line in ("C:", "S:"):
            steps.append((line[0], line[3:]))
    return steps


async def run_transcript(
    script: str, session_factory: Callable[[MemoryChannel], Awaitable[None]],
    channel: MemoryChannel | None = None, timeout: float = 10.0,
    actions: Mapping[str, Action] | None = None,
) -> list[str]:
    """Play a transcript against a session: each ``C:`` line is sent only after every ``S:``
    line before it has arrived, as a real client would.

    An ``S:`` line is a regular expression matched against the whole server line, so
    transcripts can say ``S: \\+OK .*`` where the RFC's wording is not normative. After the
    script the client hangs up; any further server output is a failure. Returns the server
    lines; raises AssertionError naming the first mismatch.

    ``A: name`` runs ``actions[name]()`` at that point, once the server has said everything
    before it: how a transcript shows another client changing the mailbox between commands
    (RFC 3501's NOOP example).
    """
    channel = channel or MemoryChannel()
    session = asyncio.ensure_future(session_factory(channel))
    seen: list[str] = []

    async def next_server_line() -> str:
        async with asyncio.timeout(timeout):
            while b"\r\n" not in channel.output:
                if session.done():
                    raise AssertionError(f"session ended; server said {seen!r}")
                await asyncio.sleep(0.001)
        line, _, rest = bytes(channel.output).partition(b"\r\n")
        channel.output[:] = rest
        text = line.decode("utf-8", "replace")
        seen.append(text)
        return text

    try:
        for number, (who, text) in enumerate(parse_transcript(script), start=1):
            if who == "C":
                channel.feed(text.encode("utf-8") + b"\r\n")
                continue
            if who == "A":
                await (actions or {})[text]()
                continue
            line = await next_server_line()
            if not re.fullmatch(text, line):
                raise AssertionError(f"step {number}: server said {line!r}, expected {text!r}")
        channel.end_input()
        await asyncio.wait_for(session, timeout=timeout)
    finally:
        if not session.done():
            session.cancel()
    if channel.output:
        raise AssertionError(f"unexpected extra server output: {bytes(channel.output)!r}")
    return seen
