"""Connection caps, timeouts, back-pressure and the authentication features of the core."""

from __future__ import annotations

import base64
import os
import poplib
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from passlib.hash import sha512_crypt

from mailhost.auth.passwords import hash_password, verify_password
from mailhost.testing import ServerFactory
from mailhost.testing.server import MailhostTestServer
from tests.integration.helpers import ALICE, ALICE_PASSWORD, BOB, BOB_PASSWORD, RawClient


def test_connection_caps_per_ip_and_in_total(mailhost_server_factory: ServerFactory) -> None:
    server = mailhost_server_factory(
        overrides={"server": {"max_connections_per_ip": 2, "max_connections": 3}})
    port = server.port("pop3", "starttls")
    first, second = RawClient(port), RawClient(port)
    assert first.line().startswith(b"+OK") and second.line().startswith(b"+OK")
    third = RawClient(port)
    assert third.line() == b"-ERR [SYS/TEMP] too many connections from your address\r\n"
    assert third.is_closed()
    other_ip = RawClient(port, source="127.0.0.3")
    assert other_ip.line().startswith(b"+OK")
    total = RawClient(port, source="127.0.0.4")
    assert total.line() == b"-ERR [SYS/TEMP] too many connections\r\n"
    for client in (first, second, third, other_ip, total):
        client.close()


def test_idle_timeout_before_login(mailhost_server_factory: ServerFactory) -> None:
    server = mailhost_server_factory(overrides={"pop3": {"auth_timeout": 0.5}})
    client = RawClient(server.port("pop3", "starttls"))
    assert client.line().startswith(b"+OK")
    assert client.line().startswith(b"-ERR autologout")
    assert client.is_closed()
    client.close()


def test_a_client_that_never_reads_is_disconnected(mailhost_server_factory: ServerFactory) -> None:
    server = mailhost_server_factory(overrides={"server": {"write_buffer_limit": 256 * 1024}})
    server.add_user(ALICE, ALICE_PASSWORD)
    server.append(ALICE, b"Subject: big\r\n\r\n" + b"x" * 1_000_000 + b"\r\n")
    sock = socket.create_connection(("127.0.0.1", server.port("pop3", "starttls")), timeout=10)
    sock.sendall(f"USER {ALICE}\r\nPASS {ALICE_PASSWORD}\r\n".encode() + b"RETR 1\r\n" * 20)
    time.sleep(1.0)  # the server writes, the client reads nothing
    sock.settimeout(10)
    received = 0
    with pytest.raises(ConnectionResetError):
        while True:  # bounded by the server closing the connection
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionResetError("closed")
            received += len(chunk)
    assert received < 20 * 1_000_000  # it stopped long before sending everything
    sock.close()
    pop = poplib.POP3("127.0.0.1", server.port("pop3", "starttls"), timeout=10)  # still alive
    pop.quit()


def test_dovecot_hashes_verify_and_are_upgraded(mailhost_server: MailhostTestServer) -> None:
    legacy = "{SHA512-CRYPT}" + sha512_crypt.using(rounds=5000).hash(ALICE_PASSWORD)
    mailhost_server.run(mailhost_server.app.store.directory.add_user(ALICE, legacy))  # type: ignore[union-attr]
    pop = poplib.POP3("127.0.0.1", mailhost_server.port("pop3", "starttls"), timeout=10)
    pop.user(ALICE)
    pop.pass_(ALICE_PASSWORD)
    pop.quit()
    user = mailhost_server.run(mailhost_server.app.store.directory.get_user(ALICE))  # type: ignore[union-attr]
    assert user is not None and user.password_hash.startswith("$argon2id$")


def test_a_changed_password_is_not_served_from_the_cache(
    mailhost_server: MailhostTestServer,
) -> None:
    mailhost_server.add_user(ALICE, ALICE_PASSWORD)
    port = mailhost_server.port("pop3", "starttls")
    for _ in range(2):  # the second login is answered from the auth cache
        pop = poplib.POP3("127.0.0.1", port, timeout=10)
        pop.user(ALICE)
        pop.pass_(ALICE_PASSWORD)
        pop.quit()
    directory = mailhost_server.app.store.directory  # type: ignore[union-attr]
    mailhost_server.run(directory.set_password(ALICE, hash_password("new password")))
    pop = poplib.POP3("127.0.0.1", port, timeout=10)
    pop.user(ALICE)
    with pytest.raises(poplib.error_proto, match=r"\[AUTH\]"):
        pop.pass_(ALICE_PASSWORD)
    pop.user(ALICE)
    pop.pass_("new password")
    pop.quit()


def test_master_user_may_log_in_as_another_user(mailhost_server_factory: ServerFactory) -> None:
    server = mailhost_server_factory(overrides={"auth": {"master_users": [BOB]}})
    server.add_user(ALICE, ALICE_PASSWORD)
    server.add_user(BOB, BOB_PASSWORD)
    server.append(ALICE, b"Subject: for alice\r\n\r\nhi\r\n")
    pop = poplib.POP3("127.0.0.1", server.port("pop3", "starttls"), timeout=10)
    blob = base64.b64encode(f"{ALICE}\0{BOB}\0{BOB_PASSWORD}".encode()).decode()
    assert pop._shortcmd(f"AUTH PLAIN {blob}").startswith(b"+OK")
    assert pop.stat()[0] == 1  # alice's maildrop
    pop.quit()


def test_passwords_over_1kb_are_refused(users: MailhostTestServer) -> None:
    pop = poplib.POP3("127.0.0.1", users.port("pop3", "starttls"), timeout=10)
    blob = base64.b64encode(f"\0{ALICE}\0{'p' * 1025}".encode()).decode()
    assert pop._shortcmd("AUTH PLAIN").startswith(b"+ ")  # too long for the command line
    with pytest.raises(poplib.error_proto, match=r"\[AUTH\]"):
        pop._shortcmd(blob)
    pop.quit()


def test_parallel_logins_hash_at_most_one_password_per_core(
    mailhost_server: MailhostTestServer, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Twenty logins at once must not run twenty argon2id hashes (19 MiB each) at once."""
    import mailhost.auth.authenticator as authenticator

    running, most = 0, 0
    lock = threading.Lock()

    def counting_verify(stored: str, password: str) -> bool:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        try:
            time.sleep(0.05)  # keep each hash in flight long enough for logins to overlap
            return verify_password(stored, password)
        finally:
            with lock:
                running -= 1

    monkeypatch.setattr(authenticator, "verify_password", counting_verify)
    users = [f"user{n}@example.test" for n in range(8)]
    for address in users:
        mailhost_server.add_user(address, ALICE_PASSWORD)
    port = mailhost_server.port("pop3", "starttls")

    def log_in(address: str) -> bytes:
        pop = poplib.POP3("127.0.0.1", port, timeout=30)
        pop.user(address)
        reply = pop.pass_(ALICE_PASSWORD)
        pop.quit()
        return reply

    with ThreadPoolExecutor(len(users)) as pool:
        replies = list(pool.map(log_in, users))
    assert all(reply.startswith(b"+OK") for reply in replies)
    assert 1 <= most <= (os.cpu_count() or 1)
