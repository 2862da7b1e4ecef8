"""Helpers for integration tests: account names and a raw socket client."""

from __future__ import annotations

import socket
import ssl
import time

ALICE = "alice@example.test"
ALICE_PASSWORD = "correct horse battery staple"
BOB = "bob@example.test"
BOB_PASSWORD = "bob's other password"


class RawClient:
    """A line-oriented socket client for transcripts and hostile input."""

    def __init__(self, port: int, source: str = "127.0.0.1", timeout: float = 10.0) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                             source_address=(source, 0))
        self.file = self.sock.makefile("rb")

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def line(self) -> bytes:
        return self.file.readline()

    def lines_until(self, terminator: bytes = b".\r\n", limit: int = 10_000) -> list[bytes]:
        out = []
        for _ in range(limit):
            line = self.file.readline()
            if not line:
                break
            out.append(line)
            if line == terminator:
                break
        return out

    def reply(self, limit: int = 100) -> list[bytes]:
        """One SMTP reply: its lines up to the one with a space after the code."""
        out = []
        for _ in range(limit):
            line = self.file.readline()
            out.append(line)
            if len(line) < 4 or line[3:4] != b"-":
                break
        return out

    def starttls(self, context: ssl.SSLContext) -> None:
        self.file.close()
        self.sock = context.wrap_socket(self.sock, server_hostname="localhost")
        self.file = self.sock.makefile("rb")

    def is_closed(self, wait: float = 5.0) -> bool:
        """True if the server closed the connection (EOF) within ``wait`` seconds."""
        self.sock.settimeout(wait)
        try:
            return self.file.readline() == b""
        except (TimeoutError, OSError):
            return False

    def close(self) -> None:
        self.file.close()
        self.sock.close()


def wait_until(predicate: object, timeout: float = 5.0) -> bool:
    """Poll ``predicate()`` with a bounded loop (for effects of another thread)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(predicate) and predicate():
            return True
        time.sleep(0.02)
    return False
