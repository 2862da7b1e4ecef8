"""IDLE (RFC 2177) when what the connection's reader gets is not a clean DONE.

While a session idles, its reader waits for DONE next to the store's change signal. A client
that vanishes (a TCP reset), sends an over-long line or garbage, or whose DONE arrives in
pieces must leave the server clean: a clear answer where there is still someone to answer,
the session ended and counted out when there is not, no traceback in the log, and the other
sessions untouched. Raw sockets, so the tests choose exactly what reaches the server.
"""

from __future__ import annotations

import gc
import socket
import struct
import time
from collections.abc import Iterator

import pytest

from mailhost.testing.server import MailhostTestServer
from tests.integration.helpers import ALICE, RawImap, store_held, wait_until


def sessions(server: MailhostTestServer) -> int:
    """Connections the server is serving now."""
    assert server.server is not None
    return len(server.server.sessions)


def idling(server: MailhostTestServer) -> RawImap:
    """A new raw session, logged in, with INBOX selected and IDLE started."""
    client = RawImap(server.port("imap", "starttls"))
    client.login()
    client.ok(b"SELECT INBOX")
    client.send(b"i IDLE\r\n")
    assert client.line() == b"+ idling\r\n"
    return client


def reset(client: RawImap) -> None:
    """Close with SO_LINGER 0: the kernel sends a TCP reset instead of a FIN."""
    client.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    client.close()


@pytest.fixture
def watched(users: MailhostTestServer, no_tracebacks: None) -> Iterator[RawImap]:
    """Another logged-in session that must not notice; no traceback may be logged."""
    other = RawImap(users.port("imap", "starttls"))
    other.login()
    other.ok(b"SELECT INBOX")
    yield other
    assert other.command(b"NOOP")[-1].endswith(b" OK NOOP completed\r\n")
    other.close()


def test_reset_during_idle_ends_the_session_cleanly(users: MailhostTestServer,
                                                    watched: RawImap) -> None:
    before = sessions(users)
    client = idling(users)
    assert sessions(users) == before + 1
    reset(client)
    assert wait_until(lambda: sessions(users) == before)


def test_reset_while_idle_pushes_a_change(users: MailhostTestServer, watched: RawImap) -> None:
    """The reset arrives while IDLE is fetching a change to push: the reader has failed and
    the push's write ends the session. The reader's error is the session's end, not a task
    exception nobody retrieved (which asyncio logs, with a traceback, once it is collected).
    """
    before = sessions(users)
    client = idling(users)
    port = client.sock.getsockname()[1]
    assert users.server is not None
    conn = next(c for c in users.server.sessions if c.peer_port == port)
    with store_held(users, ALICE) as waiting:
        assert wait_until(lambda: waiting() == 1)  # IDLE woke to push; its read waits
        reset(client)
        assert wait_until(lambda: conn.closed)
    assert wait_until(lambda: sessions(users) == before)
    gc.collect()  # an unretrieved task exception is logged when the task is collected


def test_over_long_line_during_idle_ends_it_with_bad(users: MailhostTestServer,
                                                     watched: RawImap) -> None:
    before = sessions(users)
    client = idling(users)
    client.send(b"DONE" + b"x" * 100_000 + b" t9 CREATE tail\r\n")
    assert client.line() == b"i BAD expected DONE\r\n"
    assert client.ok(b"NOOP") == []  # the tail of the long line was never run
    assert b"tail" not in b"".join(client.ok(b'LIST "" "*"'))
    client.close()
    assert wait_until(lambda: sessions(users) == before)


def test_garbage_instead_of_done_ends_idle_with_bad(users: MailhostTestServer,
                                                    watched: RawImap) -> None:
    client = idling(users)
    client.send(b"no thanks\r\n")
    assert client.line() == b"i BAD expected DONE\r\n"
    client.send(b"DONE\r\n")  # IDLE has already ended: this is a bad command now
    assert client.line().startswith(b"DONE BAD ")
    assert client.ok(b"NOOP") == []
    client.close()


def test_done_split_across_segments_ends_idle(users: MailhostTestServer,
                                              watched: RawImap) -> None:
    client = idling(users)
    client.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    client.send(b"DO")
    time.sleep(0.2)
    client.send(b"NE\r")
    time.sleep(0.2)
    client.send(b"\n")
    assert client.line() == b"i OK IDLE terminated\r\n"
    assert client.ok(b"NOOP") == []
    client.close()
