"""Loopback only: every server in the benchmark listens on, and every client dials, 127.0.0.1."""

from __future__ import annotations

import asyncio
import socket
import time
from typing import Self

LOOPBACK = "127.0.0.1"

# Stream buffer limit: large enough for one FETCH response line or a whole 2 MB POP3 message.
STREAM_LIMIT = 8 * 1024 * 1024


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(port: int, timeout: float) -> None:
    """Block until something accepts on ``port``; bounded by ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((LOOPBACK, port), timeout=1.0):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"nothing listens on {LOOPBACK}:{port} after {timeout}s") from None
            time.sleep(0.05)


async def open_stream(
    port: int, timeout: float
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.wait_for(
        asyncio.open_connection(LOOPBACK, port, limit=STREAM_LIMIT), timeout)


class StreamClient:
    """What every benchmark client shares: a stream pair to 127.0.0.1 and a reply timeout."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 timeout: float) -> None:
        self.reader = reader
        self.writer = writer
        self.timeout = timeout

    @classmethod
    async def open(cls, port: int, timeout: float) -> Self:
        reader, writer = await open_stream(port, timeout)
        return cls(reader, writer, timeout)
