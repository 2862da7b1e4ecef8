"""The server core's defences, each against a real server on 127.0.0.1 (issue: foundation)."""

from __future__ import annotations

import base64
import poplib
import ssl
import time

import pytest

from mailhost.testing import ServerFactory
from mailhost.testing.server import MailhostTestServer
from tests.integration.helpers import ALICE, ALICE_PASSWORD, RawClient


def test_starttls_injection_is_never_answered(users: MailhostTestServer,
                                              raw_pop3: RawClient) -> None:
    # STLS and an injected command in the same packet: the injected one must be dropped.
    raw_pop3.send(b"STLS\r\nUSER injected@example.test\r\n")
    assert raw_pop3.line().startswith(b"+OK")
    raw_pop3.starttls(users.client_ssl_context())
    raw_pop3.send(b"PASS whatever\r\n")
    # Had USER been executed before the handshake, PASS would be tried as a login; instead
    # the server knows no USER and says so.
    assert raw_pop3.line() == b"-ERR send USER first\r\n"


def test_over_long_line_tail_is_not_run_as_a_command(users: MailhostTestServer,
                                                     raw_pop3: RawClient) -> None:
    raw_pop3.send(b"X" * 300 + b"QUIT\r\n")
    assert raw_pop3.line().startswith(b"-ERR line too long")
    raw_pop3.send(b"CAPA\r\n")
    capa = raw_pop3.lines_until()
    assert capa[0].startswith(b"+OK") and b"UIDL\r\n" in capa  # still open: QUIT never ran


def test_ten_megabytes_without_crlf_gets_one_error(users: MailhostTestServer,
                                                    raw_pop3: RawClient) -> None:
    raw_pop3.send(b"A" * 10_000_000 + b"\r\nNOOP\r\n")
    assert raw_pop3.line().startswith(b"-ERR line too long")
    assert raw_pop3.line().startswith(b"-ERR")  # NOOP before login: a clean error
    raw_pop3.send(b"QUIT\r\n")
    assert raw_pop3.line().startswith(b"+OK")


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion:DeprecationWarning")
@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1])
def test_old_tls_versions_are_refused(users: MailhostTestServer,
                                      version: ssl.TLSVersion) -> None:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_ciphers("ALL:@SECLEVEL=0")
    context.minimum_version = version
    context.maximum_version = version
    with pytest.raises((ssl.SSLError, ConnectionError)):
        poplib.POP3_SSL("127.0.0.1", users.port("pop3", "implicit"), context=context,
                        timeout=10)
    # ...while TLS 1.2 with the test CA works.
    modern = users.client_ssl_context()
    modern.maximum_version = ssl.TLSVersion.TLSv1_2
    pop = poplib.POP3_SSL("127.0.0.1", users.port("pop3", "implicit"), context=modern,
                          timeout=10)
    assert pop.sock.version() == "TLSv1.2"  # type: ignore[attr-defined]
    pop.quit()


def test_cleartext_login_refused_without_tls_when_loopback_is_not_trusted(
    mailhost_server_factory: ServerFactory,
) -> None:
    # With allow_cleartext_loopback = false, a loopback client is treated like any other
    # unencrypted network client.
    server = mailhost_server_factory(overrides={"auth": {"allow_cleartext_loopback": False}})
    server.add_user(ALICE, ALICE_PASSWORD)
    pop = poplib.POP3("127.0.0.1", server.port("pop3", "starttls"), timeout=10)
    caps = pop.capa()
    assert "USER" not in caps and "SASL" not in caps and "STLS" in caps
    with pytest.raises(poplib.error_proto, match=r"\[AUTH\]"):
        pop.user(ALICE)
    with pytest.raises(poplib.error_proto, match=r"\[AUTH\]"):
        pop._shortcmd("AUTH PLAIN " + base64.b64encode(
            f"\0{ALICE}\0{ALICE_PASSWORD}".encode()).decode())
    pop.stls(server.client_ssl_context())
    assert "USER" in pop.capa()
    pop.user(ALICE)
    assert pop.pass_(ALICE_PASSWORD).startswith(b"+OK")
    pop.quit()


def test_failed_login_is_delayed(mailhost_server_factory: ServerFactory) -> None:
    server = mailhost_server_factory(overrides={"auth": {"failure_delay": 0.6}})
    server.add_user(ALICE, ALICE_PASSWORD)
    pop = poplib.POP3("127.0.0.1", server.port("pop3", "starttls"), timeout=10)
    pop.user(ALICE)
    started = time.monotonic()
    with pytest.raises(poplib.error_proto, match=r"\[AUTH\]"):
        pop.pass_("wrong")
    assert time.monotonic() - started >= 0.6
    pop.quit()


def test_per_ip_lockout_spares_other_addresses(mailhost_server_factory: ServerFactory) -> None:
    server = mailhost_server_factory(
        overrides={"auth": {"max_failures": 3, "failure_delay": 0.0, "lockout": 60.0}}
    )
    server.add_user(ALICE, ALICE_PASSWORD)
    port = server.port("pop3", "starttls")
    attacker = RawClient(port, source="127.0.0.1")
    assert attacker.line().startswith(b"+OK")
    for _ in range(3):
        attacker.send(f"USER {ALICE}\r\nPASS nope\r\n".encode())
        assert attacker.line().startswith(b"+OK")
        assert attacker.line().startswith(b"-ERR [AUTH]")
    attacker.close()
    refused = RawClient(port, source="127.0.0.1")
    assert refused.line().startswith(b"-ERR [SYS/TEMP] too many failed logins")
    assert refused.is_closed()
    refused.close()
    # Another loopback address (still this machine) is not affected.
    other = RawClient(port, source="127.0.0.2")
    assert other.line().startswith(b"+OK")
    other.send(f"USER {ALICE}\r\nPASS {ALICE_PASSWORD}\r\n".encode())
    assert other.line().startswith(b"+OK")
    assert other.line().startswith(b"+OK")
    other.close()


HOSTILE_USERNAMES = [
    "'", "' OR '1'='1", "%", "%@%", "/", "../bob@example.test", "..", "a\0b@example.test",
    "alice@example.test\r\nDELE 1", "\udcff", "x" * 10_000, "alice@example.test'--",
]


@pytest.mark.parametrize("username", HOSTILE_USERNAMES)
def test_hostile_usernames_get_a_clean_error(users: MailhostTestServer,
                                             username: str) -> None:
    client = RawClient(users.port("pop3", "starttls"))
    assert client.line().startswith(b"+OK")
    blob = b"\0" + username.encode("utf-8", "surrogateescape") + b"\0password"
    client.send(b"AUTH PLAIN\r\n")
    assert client.line().startswith(b"+ ")
    client.send(base64.b64encode(blob) + b"\r\n")
    reply = client.line()
    assert reply.startswith(b"-ERR"), reply
    assert b"Traceback" not in reply and b"sqlite" not in reply.lower()
    client.send(b"CAPA\r\n")
    assert client.lines_until()[0].startswith(b"+OK")  # the session and server are alive
    client.close()


def test_uids_are_never_reused_after_restart(mailhost_server_factory: ServerFactory,
                                             tmp_path: object) -> None:
    from pathlib import Path

    data_dir = Path(str(tmp_path)) / "persistent"
    first = mailhost_server_factory(data_dir=data_dir)
    first.add_user(ALICE, ALICE_PASSWORD)
    uids = [first.append(ALICE, b"Subject: %d\r\n\r\nbody\r\n" % i).uid for i in range(3)]
    assert uids == [1, 2, 3]

    async def expunge_last(mail: object) -> None:
        from mailhost.store.sqlite.mailstore import SqliteMailStore

        assert isinstance(mail, SqliteMailStore)
        inbox = await mail.get_mailbox("INBOX")
        assert inbox is not None
        assert await mail.expunge(inbox.id, [3]) == [3]

    first.with_mail(ALICE, expunge_last)
    first.stop()
    second = mailhost_server_factory(data_dir=data_dir)
    assert second.append(ALICE, b"Subject: again\r\n\r\nbody\r\n").uid == 4
    assert second.mailbox_uids(ALICE) == [1, 2, 4]
