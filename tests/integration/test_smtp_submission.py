"""Submission (RFC 6409, RFC 8314) on 587 (STARTTLS) and 465 (implicit TLS) with smtplib."""

from __future__ import annotations

import base64
import smtplib
from collections.abc import Iterator

import pytest

from mailhost.testing import ServerFactory
from mailhost.testing.server import MailhostTestServer
from tests.integration.helpers import ALICE, ALICE_PASSWORD, BOB, RawClient


def message(sender: str = ALICE, to: str = BOB) -> bytes:
    return f"From: Alice <{sender}>\r\nTo: {to}\r\nSubject: hello\r\n\r\nHi.\r\n".encode()


def connect(server: MailhostTestServer, mode: str) -> smtplib.SMTP:
    if mode == "implicit":
        return smtplib.SMTP_SSL("127.0.0.1", server.port("submission", "implicit"),
                                context=server.client_ssl_context(), timeout=10)
    client = smtplib.SMTP("127.0.0.1", server.port("submission", "starttls"), timeout=10)
    client.starttls(context=server.client_ssl_context())
    return client


@pytest.fixture(params=["starttls", "implicit"])
def submission(request: pytest.FixtureRequest,
               users: MailhostTestServer) -> Iterator[smtplib.SMTP]:
    client = connect(users, request.param)
    client.ehlo("laptop.example.test")
    yield client
    client.close()


def test_auth_is_required_and_then_mail_goes_out(users: MailhostTestServer,
                                                 submission: smtplib.SMTP) -> None:
    assert submission.has_extn("auth") and "PLAIN" in submission.esmtp_features["auth"]
    assert submission.docmd("MAIL FROM:<alice@example.test>") == \
        (530, b"5.7.0 authentication required")
    with pytest.raises(smtplib.SMTPAuthenticationError) as info:
        submission.login(ALICE, "wrong password")
    assert info.value.smtp_code == 535
    assert submission.login(ALICE, ALICE_PASSWORD)[0] == 235
    assert submission.sendmail(ALICE, [BOB], message()) == {}
    [stored] = users.raw_messages(BOB)
    assert b"\t(authenticated sender: alice@example.test)\r\n" in stored
    assert b" with ESMTPSA id " in stored


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_sasl_mechanisms(users: MailhostTestServer, mechanism: str) -> None:
    with connect(users, "implicit") as client:
        client.ehlo("laptop.example.test")
        client.user, client.password = ALICE, ALICE_PASSWORD
        auth = getattr(client, f"auth_{mechanism.lower()}")
        assert client.auth(mechanism, auth, initial_response_ok=mechanism == "PLAIN")[0] == 235
        assert client.docmd("AUTH PLAIN AGFAYg==")[0] == 503  # already authenticated


def test_sender_must_be_the_users_own_address_or_alias(users: MailhostTestServer,
                                                       submission: smtplib.SMTP) -> None:
    users.add_alias("info@example.test", ALICE)
    submission.login(ALICE, ALICE_PASSWORD)
    code, text = submission.docmd("MAIL FROM:<bob@example.test>")
    assert (code, text) == (550, b"5.7.1 sender address <bob@example.test> is not yours")
    assert submission.docmd("MAIL FROM:<>")[0] == 550
    assert submission.sendmail("info@example.test", [BOB], message("info@example.test")) == {}
    with pytest.raises(smtplib.SMTPDataError) as info:
        submission.sendmail(ALICE, [BOB], message(sender=BOB))  # envelope fine, From: forged
    assert info.value.smtp_code == 550 and b"From: address <bob@example.test>" in \
        info.value.smtp_error
    with pytest.raises(smtplib.SMTPDataError):
        submission.sendmail(ALICE, [BOB], b"Subject: no From at all\r\n\r\nx\r\n")
    assert len(users.raw_messages(BOB)) == 1


def test_remote_recipient_without_a_smarthost(users: MailhostTestServer,
                                              submission: smtplib.SMTP) -> None:
    submission.login(ALICE, ALICE_PASSWORD)
    submission.mail(ALICE)
    code, text = submission.rcpt("friend@elsewhere.test")
    assert code == 550 and b"relaying to other domains is not configured" in text
    assert submission.rcpt("nobody@example.test")[0] == 550


def test_starttls_forgets_a_plaintext_login(mailhost_server_factory: ServerFactory) -> None:
    server = mailhost_server_factory()
    server.add_user(ALICE, ALICE_PASSWORD)
    client = smtplib.SMTP("127.0.0.1", server.port("submission", "starttls"), timeout=10)
    client.ehlo("laptop")
    assert client.login(ALICE, ALICE_PASSWORD)[0] == 235  # loopback cleartext is allowed
    client.starttls(context=server.client_ssl_context())
    client.ehlo("laptop")
    assert client.docmd("MAIL FROM:<alice@example.test>")[0] == 530  # RFC 3207 §4.2
    client.close()


def test_no_password_without_tls_unless_loopback_is_trusted(
        mailhost_server_factory: ServerFactory) -> None:
    server = mailhost_server_factory(overrides={"auth": {"allow_cleartext_loopback": False}})
    server.add_user(ALICE, ALICE_PASSWORD)
    raw = RawClient(server.port("submission", "starttls"))
    raw.line()
    raw.send(b"EHLO laptop\r\n")
    keywords = [line[4:].strip() for line in raw.reply()]
    assert b"STARTTLS" in keywords and not any(k.startswith(b"AUTH") for k in keywords)
    raw.send(b"AUTH PLAIN AGFsaWNlQGV4YW1wbGUudGVzdABwdw==\r\n")
    assert raw.line().startswith(b"538 5.7.11 ")
    raw.close()
    with connect(server, "starttls") as client:
        client.ehlo("laptop")
        assert client.login(ALICE, ALICE_PASSWORD)[0] == 235


def test_auth_only_on_submission(users: MailhostTestServer) -> None:
    with smtplib.SMTP("127.0.0.1", users.port("smtp"), timeout=10) as client:
        client.starttls(context=users.client_ssl_context())
        client.ehlo("x")
        assert client.docmd("AUTH PLAIN AGFAYg==")[0] == 502


def test_lockout_ends_the_session(mailhost_server_factory: ServerFactory) -> None:
    server = mailhost_server_factory(overrides={"auth": {"max_failures": 2}})
    server.add_user(ALICE, ALICE_PASSWORD)
    with connect(server, "implicit") as client:
        client.ehlo("guesser")

        def guess(password: str) -> tuple[int, bytes]:
            blob = base64.b64encode(f"\0{ALICE}\0{password}".encode()).decode()
            return client.docmd("AUTH PLAIN", blob)

        assert guess("guess 1")[0] == 535
        assert guess("guess 2") == (421, b"4.7.0 too many failed logins from your address, "
                                         b"closing connection")
        with pytest.raises(smtplib.SMTPServerDisconnected):
            client.noop()
    raw = RawClient(server.port("submission", "starttls"))
    assert raw.line().startswith(b"421 ")  # new connections are refused while locked out
    raw.close()
