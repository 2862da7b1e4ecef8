"""Helpers for integration tests: account names, raw socket clients and IMAP set-up."""

from __future__ import annotations

import asyncio
import contextlib
import imaplib
import re
import socket
import sqlite3
import ssl
import threading
import time
from collections.abc import Callable, Iterator

from mailhost.store.sqlite.mailstore import SqliteMailStore
from mailhost.testing.server import MailhostTestServer

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


_LITERAL_AT_END = re.compile(rb"\{([0-9]+)\}\r\n\Z")


class RawImap(RawClient):
    """An IMAP client that speaks bytes: for exact responses and hostile input.

    ``command`` picks the tags; each response line comes back whole, with the bytes of any
    literal it announces (and the rest of the line after it) joined in.
    """

    def __init__(self, port: int, timeout: float = 10.0) -> None:
        super().__init__(port, timeout=timeout)
        self.greeting = self.line()
        self.counter = 0

    def next_tag(self) -> bytes:
        self.counter += 1
        return b"t%d" % self.counter

    def response_line(self) -> bytes:
        line = self.line()
        full = line
        while (match := _LITERAL_AT_END.search(line)) is not None:
            full += self.file.read(int(match.group(1)))
            line = self.line()
            full += line
        return full

    def response(self, tag: bytes, limit: int = 100_000) -> list[bytes]:
        """Lines up to and including the one tagged ``tag`` (or until the server closes)."""
        out = []
        for _ in range(limit):
            line = self.response_line()
            if not line:
                break
            out.append(line)
            if line.startswith(tag + b" "):
                break
        return out

    def command(self, text: bytes) -> list[bytes]:
        tag = self.next_tag()
        self.send(tag + b" " + text + b"\r\n")
        return self.response(tag)

    def ok(self, text: bytes) -> list[bytes]:
        """Run a command that must succeed; its untagged lines."""
        lines = self.command(text)
        assert lines and lines[-1].split(b" ")[1] == b"OK", lines
        return lines[:-1]

    def login(self, user: str = ALICE, password: str = ALICE_PASSWORD) -> None:
        self.ok(b'LOGIN "%s" "%s"' % (user.encode(), password.encode()))


def imap_client(
    server: MailhostTestServer, user: str | None = ALICE, password: str = ALICE_PASSWORD,
    implicit: bool = True,
) -> imaplib.IMAP4:
    """imaplib over implicit TLS (or plaintext on loopback), logged in unless ``user`` is
    None."""
    if implicit:
        client: imaplib.IMAP4 = imaplib.IMAP4_SSL(
            "127.0.0.1", server.port("imap", "implicit"),
            ssl_context=server.client_ssl_context(), timeout=30)
    else:
        client = imaplib.IMAP4("127.0.0.1", server.port("imap", "starttls"), timeout=30)
    if user is not None:
        client.login(user, password)
    return client


@contextlib.contextmanager
def store_held(server: MailhostTestServer, address: str) -> Iterator[Callable[[], int]]:
    """Commit a change to ``address``'s INBOX, then hold the account's store until the
    block ends; yields how many store jobs wait meanwhile.

    The store runs one job per account at a time, in order, so a test can line up what two
    sessions do (wait until ``waiting()`` counts each) and let it run in that order: races
    become deterministic. Sessions wake to the change (IDLE pushes it) as they would to any.
    """
    gate, held = threading.Event(), threading.Event()
    jobs: list[asyncio.Future[None]] = []
    stores: list[SqliteMailStore] = []

    async def hold(mail: SqliteMailStore) -> None:
        loop = asyncio.get_running_loop()

        def job(db: sqlite3.Connection) -> None:
            db.execute("UPDATE mailbox SET highestmodseq = highestmodseq + 1 "
                       "WHERE name = 'INBOX'")
            loop.call_soon_threadsafe(mail.after_commit)
            held.set()
            gate.wait(30)
        stores.append(mail)
        jobs.append(asyncio.ensure_future(mail.run(job)))

    server.with_mail(address, hold)
    assert held.wait(10), "the store job did not start"
    lock = stores[0]._serial  # the account's queue of store jobs
    try:
        yield lambda: len(lock._waiters or ())
    finally:
        gate.set()
        assert wait_until(jobs[0].done)


def mail(n: int, *, sender: str = "sender@example.test", to: str = ALICE,
         subject: str | None = None, body: str | None = None,
         date: str = "Mon, 7 Feb 1994 21:52:25 -0800", extra: str = "") -> bytes:
    """A small RFC 5322 message; every part can be varied for SEARCH tests."""
    return (f"From: {sender}\r\nTo: {to}\r\nSubject: {subject or f'message {n}'}\r\n"
            f"Date: {date}\r\nMessage-ID: <m{n}@example.test>\r\n{extra}"
            f"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
            f"Content-Transfer-Encoding: 8bit\r\n\r\n{body or f'body {n}'}\r\n").encode()


_LITERAL = re.compile(rb"\{([0-9]+)\}\r\n")


def fetch_items(response: bytes) -> dict[bytes, bytes]:
    """A ``* n FETCH (...)`` line as {item name: value}: a literal's value is its bytes,
    any other value (list, quoted string, number, NIL) exactly as sent."""
    match = re.match(rb"\* [0-9]+ FETCH \(", response)
    assert match, response[:80]
    pos = match.end()
    items: dict[bytes, bytes] = {}
    while response[pos:pos + 1] != b")":
        start, depth = pos, 0
        while depth or response[pos:pos + 1] != b" ":  # BODY[HEADER.FIELDS (A B)] has spaces
            depth += {b"[": 1, b"]": -1}.get(response[pos:pos + 1], 0)
            pos += 1
        name = response[start:pos]
        items[name], pos = _value(response, pos + 1)
        if response[pos:pos + 1] == b" ":
            pos += 1
    return items


def _value(data: bytes, pos: int) -> tuple[bytes, int]:
    """One value starting at ``pos`` and where it ends."""
    literal = _LITERAL.match(data, pos)
    if literal:
        end = literal.end() + int(literal.group(1))
        return data[literal.end():end], end
    start = pos
    if data[pos:pos + 1] == b"(":
        depth = 0
        while True:
            char = data[pos:pos + 1]
            if char == b'"' or _LITERAL.match(data, pos):
                pos = _value(data, pos)[1]
                continue
            depth += {b"(": 1, b")": -1}.get(char, 0)
            pos += 1
            if depth == 0:
                return data[start:pos], pos
    if data[pos:pos + 1] == b'"':
        pos += 1
        while data[pos:pos + 1] != b'"':
            pos += 2 if data[pos:pos + 1] == b"\\" else 1
        return data[start:pos + 1], pos + 1
    while data[pos:pos + 1] not in (b" ", b")", b""):
        pos += 1
    return data[start:pos], pos
