"""Fixtures for multi-session tests: logged-in byte-level IMAP connections and mail."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from mailhost.testing.clients import ImapWire
from mailhost.testing.server import MailhostTestServer
from tests.integration.helpers import ALICE, ALICE_PASSWORD

Connect = Callable[..., ImapWire]
Deliver = Callable[..., int]
Fill = Callable[[int], list[int]]


@pytest.fixture
def connect(users: MailhostTestServer) -> Iterator[Connect]:
    """``connect(select=b"INBOX", enable=b"QRESYNC")``: a new session as alice, closed after
    the test. Plaintext on loopback, so the tests read the server's exact bytes."""
    opened: list[ImapWire] = []

    def open_session(select: bytes | None = b"INBOX", enable: bytes | None = None,
                     user: str = ALICE, password: str = ALICE_PASSWORD) -> ImapWire:
        wire = ImapWire(users.port("imap", "starttls"))
        opened.append(wire)
        wire.login(user, password)
        if enable is not None:
            wire.ok(b"ENABLE " + enable)
        if select is not None:
            wire.ok(b"SELECT " + select)
        return wire

    yield open_session
    for wire in opened:
        wire.close()


@pytest.fixture
def deliver(users: MailhostTestServer) -> Deliver:
    """``deliver(n)``: store message number ``n`` for alice as delivery would; its UID."""
    def store(n: int, mailbox: str = "INBOX", flags: tuple[str, ...] = ()) -> int:
        raw = (f"From: sender{n}@example.test\r\nTo: {ALICE}\r\nSubject: message {n}\r\n"
               f"Message-ID: <sync{n}@example.test>\r\n\r\nbody of message {n}\r\n").encode()
        return users.append(ALICE, raw, mailbox, flags).uid
    return store


@pytest.fixture
def fill(deliver: Deliver) -> Fill:
    """``fill(count)``: messages 0 .. count - 1 into alice's INBOX; their UIDs."""
    return lambda count: [deliver(n) for n in range(count)]
