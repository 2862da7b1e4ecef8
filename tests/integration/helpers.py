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


def start_data(port: int, *recipients: str, hello: bytes = b"EHLO client.remote.test") -> \
        RawClient:
    """A raw SMTP/LMTP client that pipelined HELLO, MAIL, RCPTs and DATA, and got the 354."""
    client = RawClient(port)
    assert client.line().startswith(b"220 ")
    rcpts = b"".join(b"RCPT TO:<" + rcpt.encode() + b">\r\n" for rcpt in recipients)
    client.send(hello + b"\r\nMAIL FROM:<s@remote.test>\r\n" + rcpts + b"DATA\r\n")
    assert client.reply()[-1].startswith(b"250 ")
    codes = [client.line()[:3] for _ in range(len(recipients) + 2)]
    assert codes == [b"250"] * (len(recipients) + 1) + [b"354"], codes
    return client


def wait_until(predicate: object, timeout: float = 5.0) -> bool:
    """Poll ``predicate()`` with a bounded loop (for effects of another thread)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(predicate) and predicate():
            return True
        time.sleep(0.02)
    return False
