"""aiosmtpd sessions on the core's connections: accounting, timeouts, caps and shutdown."""

from __future__ import annotations

import smtplib
import time

from mailhost.testing import ServerFactory
from tests.integration.helpers import ALICE, ALICE_PASSWORD, RawClient, start_data, wait_until

MESSAGE = b"Subject: x\r\n\r\nbody\r\n"


def test_sessions_are_counted_until_the_client_is_gone(
        mailhost_server_factory: ServerFactory) -> None:
    server = mailhost_server_factory()
    server.add_user(ALICE, ALICE_PASSWORD)
    core = server.server
    assert core is not None
    quitting = smtplib.SMTP("127.0.0.1", server.port("smtp"), timeout=10)
    vanishing = RawClient(server.port("lmtp"))
    assert vanishing.line().startswith(b"220 ")
    tls = smtplib.SMTP_SSL("127.0.0.1", server.port("submission", "implicit"),
                           context=server.client_ssl_context(), timeout=10)
    assert wait_until(lambda: len(core.sessions) == 3)
    assert core.per_ip["127.0.0.1"] == 3
    quitting.sendmail("s@remote.test", [ALICE], MESSAGE)
    quitting.quit()
    vanishing.send(b"LHLO mta\r\nMAIL FROM:<s@remote.test>\r\n")
    vanishing.close()  # gone mid-transaction, without QUIT
    tls.login(ALICE, ALICE_PASSWORD)
    tls.close()
    assert wait_until(lambda: not core.sessions and not core.per_ip, timeout=10)


def test_connection_cap_answers_421(mailhost_server_factory: ServerFactory) -> None:
    server = mailhost_server_factory(overrides={"server": {"max_connections_per_ip": 1}})
    first = RawClient(server.port("smtp"))
    assert first.line().startswith(b"220 ")
    second = RawClient(server.port("smtp"))
    assert second.line() == b"421 4.3.2 too many connections from your address\r\n"
    assert second.is_closed()
    first.close()
    second.close()


def test_idle_timeout(mailhost_server_factory: ServerFactory) -> None:
    server = mailhost_server_factory(overrides={"smtp": {"idle_timeout": 1.0}})
    idle = RawClient(server.port("smtp"))
    assert idle.line().startswith(b"220 ")
    started = time.monotonic()
    assert idle.is_closed(wait=10)
    assert time.monotonic() - started < 5
    idle.close()


def test_a_slow_upload_is_not_idle(mailhost_server_factory: ServerFactory) -> None:
    server = mailhost_server_factory(overrides={"smtp": {"idle_timeout": 1.0}})
    server.add_user(ALICE, ALICE_PASSWORD)
    client = start_data(server.port("smtp"), ALICE)
    client.send(b"Subject: slow\r\n\r\n")
    for n in range(6):  # 2.4 s in all, never silent for the 1 s idle timeout
        time.sleep(0.4)
        client.send(f"line {n}\r\n".encode())
    client.send(b".\r\n")
    assert client.line() == b"250 2.0.0 OK, delivered\r\n"
    client.close()


def test_stalled_tls_handshake_is_cut_off(mailhost_server_factory: ServerFactory) -> None:
    server = mailhost_server_factory(overrides={"smtp": {"idle_timeout": 60.0},
                                                "tls": {"handshake_timeout": 1.0}})
    stalled = RawClient(server.port("smtp"))
    stalled.line()
    stalled.send(b"EHLO x\r\n")
    stalled.reply()
    stalled.send(b"STARTTLS\r\n")
    assert stalled.line().startswith(b"220 ")
    started = time.monotonic()  # now say nothing: no ClientHello
    assert stalled.is_closed(wait=10)
    assert time.monotonic() - started < 5  # the handshake timeout, not the 60 s idle one
    stalled.close()


def test_shutdown_closes_smtp_sessions_within_the_grace_period(
        mailhost_server_factory: ServerFactory) -> None:
    server = mailhost_server_factory()
    server.add_user(ALICE, ALICE_PASSWORD)
    client = start_data(server.port("smtp"), ALICE)
    client.send(b"Subject: half a message\r\n")  # and then the server is told to stop
    started = time.monotonic()
    server.stop(grace=0.5)
    assert time.monotonic() - started < 10
    assert client.is_closed()
    client.close()
