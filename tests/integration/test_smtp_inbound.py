"""Inbound SMTP (RFC 5321) and LMTP (RFC 2033) with Python's smtplib against a real server."""

from __future__ import annotations

import smtplib
from collections.abc import Iterator

import pytest

from mailhost.decisions import Defer, Deliver, DeliveryDecision, Reject
from mailhost.hookspecs import hookimpl
from mailhost.testing import ServerFactory
from mailhost.testing.server import MailhostTestServer
from tests.integration.helpers import (
    ALICE,
    ALICE_PASSWORD,
    BOB,
    BOB_PASSWORD,
    RawClient,
    start_data,
)

MESSAGE = (b"From: Sender <sender@remote.test>\r\nTo: alice@example.test\r\nSubject: hi\r\n"
           b"\r\nHello\r\n")


@pytest.fixture
def smtp(users: MailhostTestServer) -> Iterator[smtplib.SMTP]:
    client = smtplib.SMTP("127.0.0.1", users.port("smtp"), timeout=10)
    yield client
    client.close()


def test_ehlo_extensions_and_starttls(users: MailhostTestServer, smtp: smtplib.SMTP) -> None:
    code, _ = smtp.ehlo("client.remote.test")
    assert code == 250
    for keyword in ("pipelining", "8bitmime", "smtputf8", "enhancedstatuscodes", "starttls"):
        assert smtp.has_extn(keyword), keyword
    assert smtp.esmtp_features["size"] == "50000000"
    assert not smtp.has_extn("auth")  # AUTH lives on the submission port only
    smtp.starttls(context=users.client_ssl_context())
    smtp.ehlo("client.remote.test")
    assert not smtp.has_extn("starttls")
    assert smtp.sendmail("sender@remote.test", [ALICE], MESSAGE) == {}
    [stored] = users.raw_messages(ALICE)
    assert stored.startswith(b"Return-Path: <sender@remote.test>\r\nReceived: from "
                             b"client.remote.test ([127.0.0.1])\r\n\t(using TLSv1.3 ")
    assert b"\tby mail.example.test (mailhost) with ESMTPS id " in stored
    assert b"\tfor <alice@example.test>; " in stored
    assert stored.endswith(b"\r\n" + MESSAGE)


def test_replies_carry_enhanced_status_codes(smtp: smtplib.SMTP) -> None:
    smtp.ehlo("client.remote.test")
    assert smtp.docmd("NOOP") == (250, b"2.0.0 OK")
    assert smtp.docmd("DATA")[0:1] == (503,)
    assert smtp.docmd("DATA")[1].startswith(b"5.5.1 ")
    assert smtp.docmd("FROB")[1].startswith(b"5.5.2 ")


def test_aliases_unknown_users_and_no_open_relay(users: MailhostTestServer,
                                                 smtp: smtplib.SMTP) -> None:
    users.add_alias("info@example.test", ALICE)
    smtp.ehlo("client.remote.test")
    assert smtp.mail("sender@remote.test")[0] == 250
    assert smtp.rcpt("INFO@example.test") == (250, b"2.1.5 recipient OK")
    assert smtp.rcpt("nobody@example.test") == (550, b"5.1.1 no such user here")
    assert smtp.rcpt("victim@elsewhere.test") == (554, b"5.7.1 relay access denied")
    assert smtp.rcpt(BOB)[0] == 250
    assert smtp.data(MESSAGE)[0] == 250
    assert len(users.raw_messages(ALICE)) == len(users.raw_messages(BOB)) == 1
    assert b"\tfor <INFO@example.test>; " in users.raw_messages(ALICE)[0]


def test_null_sender_is_accepted_for_bounces(users: MailhostTestServer,
                                             smtp: smtplib.SMTP) -> None:
    smtp.ehlo("mx.remote.test")
    assert smtp.docmd("MAIL FROM:<>") == (250, b"2.1.0 sender OK")
    assert smtp.rcpt(ALICE)[0] == 250
    assert smtp.data(b"Subject: bounce\r\n\r\nundeliverable\r\n")[0] == 250
    assert users.raw_messages(ALICE)[0].startswith(b"Return-Path: <>\r\n")


def test_helo_instead_of_ehlo(users: MailhostTestServer, smtp: smtplib.SMTP) -> None:
    assert smtp.helo("old.remote.test") == (250, b"mail.example.test")
    assert smtp.sendmail("sender@remote.test", [ALICE], MESSAGE) == {}
    assert b"(mailhost) with SMTP id " in users.raw_messages(ALICE)[0]


def test_smtputf8_message(users: MailhostTestServer, smtp: smtplib.SMTP) -> None:
    raw = "From: jörg@remote.test\r\nSubject: Grüße\r\n\r\nÄpfel\r\n".encode()
    smtp.ehlo("client.remote.test")
    assert smtp.sendmail("jörg@remote.test", [ALICE], raw, mail_options=["SMTPUTF8"]) == {}
    stored = users.raw_messages(ALICE)[0]
    assert stored.startswith("Return-Path: <jörg@remote.test>\r\n".encode())
    assert b" with UTF8SMTP id " in stored and stored.endswith(raw)


def test_size_limit(mailhost_server_factory: ServerFactory) -> None:
    server = mailhost_server_factory(overrides={"smtp": {"max_message_size": 20_000}})
    server.add_user(ALICE, ALICE_PASSWORD)
    with smtplib.SMTP("127.0.0.1", server.port("smtp"), timeout=10) as client:
        client.ehlo("client.remote.test")
        assert client.esmtp_features["size"] == "20000"
        code, text = client.docmd("MAIL FROM:<s@remote.test> SIZE=20001")
        assert (code, text[:6]) == (552, b"5.3.4 ")
        big = MESSAGE + (b"z" * 98 + b"\r\n") * 250  # short lines, too many of them
        client.mail("s@remote.test")  # no SIZE= declared: the limit applies during DATA
        client.rcpt(ALICE)
        code, text = client.data(big)
        assert (code, text[:6]) == (552, b"5.3.4 ")
        assert server.raw_messages(ALICE) == []
        assert client.sendmail("s@remote.test", [ALICE], MESSAGE) == {}  # session goes on
    assert len(server.raw_messages(ALICE)) == 1


def test_recipient_limit(mailhost_server_factory: ServerFactory) -> None:
    server = mailhost_server_factory(overrides={"smtp": {"max_recipients": 3}})
    server.add_user(ALICE, ALICE_PASSWORD)
    with smtplib.SMTP("127.0.0.1", server.port("smtp"), timeout=10) as client:
        client.ehlo("client.remote.test")
        client.mail("s@remote.test")
        assert [client.rcpt(ALICE)[0] for _ in range(3)] == [250, 250, 250]
        assert client.rcpt(ALICE) == (452, b"4.5.3 too many recipients")
        assert client.data(MESSAGE)[0] == 250
    assert len(server.raw_messages(ALICE)) == 1  # three RCPTs, one account, one copy


class Policy:
    def __init__(self) -> None:
        self.decisions: dict[str, DeliveryDecision | Exception] = {}

    @hookimpl
    def mailhost_delivery_decide(self, app: object, recipient: str, sender: str,
                                 message: bytes, protocol: str) -> DeliveryDecision | None:
        decision = self.decisions.get(recipient)
        if isinstance(decision, Exception):
            raise decision
        return decision


@pytest.fixture
def policy_server(mailhost_server_factory: ServerFactory) -> tuple[MailhostTestServer, Policy]:
    policy = Policy()
    server = mailhost_server_factory(plugins=[("policy", policy)])
    server.add_user(ALICE, ALICE_PASSWORD)
    server.add_user(BOB, BOB_PASSWORD)
    return server, policy


def test_delivery_hook_over_smtp(policy_server: tuple[MailhostTestServer, Policy]) -> None:
    server, policy = policy_server
    with smtplib.SMTP("127.0.0.1", server.port("smtp"), timeout=10) as client:
        policy.decisions[ALICE] = Deliver("Junk", ("$Junk",))
        assert client.sendmail("s@remote.test", [ALICE], MESSAGE) == {}
        policy.decisions[ALICE] = Defer("greylisted, come back later")
        with pytest.raises(smtplib.SMTPDataError) as info:
            client.sendmail("s@remote.test", [ALICE], MESSAGE)
        assert (info.value.smtp_code, info.value.smtp_error) == \
            (451, b"4.7.1 greylisted, come back later")
        policy.decisions[ALICE] = RuntimeError("plugin crashed")
        with pytest.raises(smtplib.SMTPDataError) as info:
            client.sendmail("s@remote.test", [ALICE], MESSAGE)
        assert info.value.smtp_code == 451 and info.value.smtp_error.startswith(b"4.3.0 ")
        assert client.noop()[0] == 250  # the session survived the broken plugin
    assert server.message_flags(ALICE, "Junk") == {1: ("$Junk",)}
    assert server.raw_messages(ALICE) == []


def test_lmtp_one_reply_per_recipient(policy_server: tuple[MailhostTestServer, Policy]) -> None:
    server, policy = policy_server
    policy.decisions[BOB] = Reject("bob does not want it")
    client = RawClient(server.port("lmtp"))
    assert client.line().startswith(b"220 mail.example.test LMTP")
    client.send(b"EHLO mta.example.test\r\n")
    assert client.reply()[0].startswith(b"500 ")  # LMTP has LHLO, not EHLO
    client.send(b"LHLO mta.example.test\r\n")
    lhlo = client.reply()
    assert b"250-PIPELINING\r\n" in lhlo and lhlo[-1] == b"250 ENHANCEDSTATUSCODES\r\n"
    client.send(b"MAIL FROM:<s@remote.test>\r\nRCPT TO:<alice@example.test>\r\n"
                b"RCPT TO:<nobody@example.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n")
    assert [client.line()[:3] for _ in range(5)] == [b"250", b"250", b"550", b"250", b"354"]
    client.send(MESSAGE + b".\r\n")
    assert client.line() == b"250 2.0.0 OK, delivered\r\n"  # alice
    assert client.line() == b"550 5.7.1 bob does not want it\r\n"  # bob; nobody got no 250
    client.send(b"QUIT\r\n")
    assert client.line().startswith(b"221 ")
    client.close()
    assert b" with LMTP id " in server.raw_messages(ALICE)[0]
    assert server.raw_messages(BOB) == []


def test_lmtp_message_too_big_gets_a_reply_for_each_recipient(
        mailhost_server_factory: ServerFactory) -> None:
    server = mailhost_server_factory(overrides={"smtp": {"max_message_size": 1000}})
    server.add_user(ALICE, ALICE_PASSWORD)
    server.add_user(BOB, BOB_PASSWORD)
    client = start_data(server.port("lmtp"), ALICE, BOB, hello=b"LHLO mta")
    client.send((b"x" * 78 + b"\r\n") * 40 + b".\r\n")
    assert [client.line()[:9] for _ in range(2)] == [b"552 5.3.4"] * 2
    client.send(b"NOOP\r\n")
    assert client.line() == b"250 2.0.0 OK\r\n"
    client.close()
    assert server.raw_messages(ALICE) == server.raw_messages(BOB) == []


def test_python_lmtp_client(users: MailhostTestServer) -> None:
    with smtplib.LMTP("127.0.0.1", users.port("lmtp"), timeout=10) as client:
        assert client.sendmail("s@remote.test", [BOB], MESSAGE) == {}
    assert users.raw_messages(BOB)[0].endswith(MESSAGE)


def test_full_disk_and_full_mailbox_are_temporary(users: MailhostTestServer) -> None:
    big = MESSAGE + b"padding to need new database pages\r\n" * 500
    assert users.app is not None
    directory = users.app.store.directory
    with smtplib.SMTP("127.0.0.1", users.port("smtp"), timeout=10) as client:
        client.ehlo("client.remote.test")
        with users.full_disk(ALICE):
            client.mail("s@remote.test")
            client.rcpt(ALICE)
            assert client.data(big) == \
                (452, b"4.3.1 insufficient system storage, please try again later")
            assert users.raw_messages(ALICE) == []
        assert client.sendmail("s@remote.test", [ALICE], big) == {}  # space is back
        users.run(directory.set_quota(BOB, 10, 0))
        client.mail("s@remote.test")
        client.rcpt(BOB)
        assert client.data(MESSAGE) == (452, b"4.2.2 mailbox full, please try again later")
    assert len(users.raw_messages(ALICE)) == 1 and users.raw_messages(BOB) == []


def test_pipelined_replies_go_out_before_the_server_waits(users: MailhostTestServer) -> None:
    """Replies to a pipelined group may be sent together, but never held while the server
    waits for the rest of a command line (RFC 2920 §3.2)."""
    client = RawClient(users.port("lmtp"))
    client.line()
    client.send(b"LHLO mta.example.test\r\nMAIL FROM:<s@remote.test>\r\n"
                b"RCPT TO:<alice@example.test>\r\nRCPT TO:<bob@example.test>\r\nDA")
    assert client.reply()[-1] == b"250 ENHANCEDSTATUSCODES\r\n"
    assert [client.line()[:3] for _ in range(3)] == [b"250"] * 3  # before "TA" is sent
    client.send(b"TA\r\n")
    assert client.line().startswith(b"354 ")
    client.send(MESSAGE + b".\r\nRSET\r\nNOOP\r\nQUIT\r\n")
    assert [client.line()[:3] for _ in range(5)] == [b"250", b"250", b"250", b"250", b"221"]
    client.close()
    assert users.raw_messages(ALICE)[0].endswith(MESSAGE)
    assert users.raw_messages(BOB)[0].endswith(MESSAGE)
