"""The interface protocol sessions use instead of a socket.

:class:`mailhost.connection.Connection` implements it over asyncio; tests and plugin authors
use :class:`mailhost.testing.transcript.MemoryChannel` to drive a session with bytes and read
its replies without any network.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

from mailhost.linebuffer import LineTooLong

# Answers one complete command line at once and returns True, or returns False having done
# nothing, so the line goes to the session's read_line instead.
LineHandler = Callable[[bytes], bool]


class Channel(Protocol):
    peer_ip: str

    @property
    def is_secure(self) -> bool: ...
    @property
    def is_loopback(self) -> bool: ...
    def set_max_line(self, max_line: int) -> None: ...
    async def read_line(self, timeout: float | None = None) -> bytes | LineTooLong: ...
    async def read_exact(self, size: int, timeout: float | None = None) -> bytes: ...
    def write(self, data: bytes) -> None: ...
    def writelines(self, parts: Sequence[bytes]) -> None: ...
    async def drain(self, timeout: float | None = 120.0) -> None: ...
    async def start_tls(self, context: ssl.SSLContext, handshake_timeout: float) -> None: ...
    def tls_info(self) -> str: ...
    def close(self) -> None: ...


@runtime_checkable
class AnswersLines(Protocol):
    """A channel that can hand complete lines to the session as they arrive.

    :class:`mailhost.connection.Connection` calls ``line_handler`` from its data callback
    while the session waits in ``read_line``; that saves a task switch per command when the
    answer is already in memory.
    """

    line_handler: LineHandler | None
