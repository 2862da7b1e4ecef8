"""Hostile SMTP clients: smuggling, STARTTLS injection, absurd input, pipelined floods."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from mailhost.testing import ServerFactory
from mailhost.testing.server import MailhostTestServer
from tests.integration.helpers import ALICE, ALICE_PASSWORD, BOB, RawClient, start_data


@pytest.fixture
def client(users: MailhostTestServer) -> Iterator[RawClient]:
    raw = RawClient(users.port("smtp"))
    assert raw.line().startswith(b"220 mail.example.test ESMTP")
    raw.send(b"EHLO client.remote.test\r\n")
    assert raw.reply()[-1].startswith(b"250 ")
    yield raw
    raw.close()


def envelope(client: RawClient, *recipients: str) -> None:
    client.send(b"MAIL FROM:<s@remote.test>\r\n")
    assert client.line().startswith(b"250 ")
    for rcpt in recipients:
        client.send(b"RCPT TO:<" + rcpt.encode() + b">\r\n")
        assert client.line().startswith(b"250 ")
    client.send(b"DATA\r\n")
    assert client.line().startswith(b"354 ")


@pytest.mark.parametrize("fake_end", [b"\n.\n", b"\r.\r", b"\n.\r\n", b"\r\n.\n", b"\r.\r\n"])
def test_only_crlf_dot_crlf_ends_data(users: MailhostTestServer, client: RawClient,
                                      fake_end: bytes) -> None:
    """SMTP smuggling (CVE-2023-51764): a second message hidden behind a non-standard end."""
    envelope(client, ALICE)
    smuggled = (b"Subject: first\r\n\r\nbody" + fake_end
                + b"MAIL FROM:<ceo@example.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n"
                + b"Subject: smuggled\r\n\r\nwire the money\r\n.\r\n")
    client.send(smuggled)
    assert client.line() == b"250 2.0.0 OK, delivered\r\n"
    client.send(b"NOOP\r\n")
    assert client.line() == b"250 2.0.0 OK\r\n"  # no stray replies to smuggled commands
    [stored] = users.raw_messages(ALICE)
    assert b"MAIL FROM:<ceo@example.test>" in stored and b"wire the money" in stored
    assert users.raw_messages(BOB) == []


def test_starttls_discards_pipelined_plaintext_and_forgets_the_session(
        users: MailhostTestServer, client: RawClient) -> None:
    """RFC 3207 §4.2; the injected commands sit in the same packet as STARTTLS."""
    client.send(b"MAIL FROM:<before@remote.test>\r\n")
    assert client.line().startswith(b"250 ")
    client.send(b"STARTTLS\r\nRSET\r\nMAIL FROM:<injected@remote.test>\r\n"
                b"RCPT TO:<alice@example.test>\r\n")
    assert client.line() == b"220 Ready to start TLS\r\n"
    client.starttls(users.client_ssl_context())
    client.send(b"RCPT TO:<alice@example.test>\r\n")
    # Neither the injected commands nor the MAIL FROM before STARTTLS survived: the first
    # reply over TLS is to our RCPT, and it says the session starts from scratch.
    assert client.line() == b"503 5.5.1 Error: send HELO first\r\n"
    client.send(b"EHLO client.remote.test\r\n")
    keywords = [line[4:].strip() for line in client.reply()]
    assert keywords[0] == b"mail.example.test" and b"STARTTLS" not in keywords
    client.send(b"RCPT TO:<alice@example.test>\r\n")
    assert client.line() == b"503 5.5.1 Error: need MAIL command\r\n"


def test_hostile_addresses_get_clean_replies(users: MailhostTestServer, client: RawClient,
                                             tmp_path: object) -> None:
    started = time.monotonic()
    client.send(b"MAIL FROM:<;sleep 9;@x>\r\n")
    assert client.line().startswith(b"553 5.1.3 ")
    client.send(b"MAIL FROM:<$(touch /tmp/mailhost-pwned)@x.test>\r\n")
    reply = client.line()
    assert reply.startswith((b"250 ", b"553 "))
    client.send(b"RSET\r\n")
    assert client.line().startswith(b"250 ")
    client.send(b"MAIL FROM:<a\rb@remote.test>\r\n")
    assert client.line() == b"501 5.1.7 bad sender address syntax\r\n"
    client.send(b"MAIL FROM:<" + b"a" * 10_000 + b"@remote.test>\r\n")
    assert client.line().startswith(b"500 5.5.2 ")
    client.send(b"MAIL FROM:<s@remote.test>\r\n")
    assert client.line().startswith(b"250 ")
    client.send(b"RCPT TO:<" + b"b" * 10_000 + b"@example.test>\r\n")
    assert client.line().startswith(b"500 5.5.2 ")
    client.send(b"RCPT TO:<" + b"b" * 65 + b"@example.test>\r\n")
    assert client.line().startswith(b"553 5.1.3 ")  # local part over 64 octets
    client.send(b"RCPT TO:<alice\x00@example.test>\r\n")
    assert client.line().startswith(b"501 ")
    client.send(b"NOOP\r\n")
    assert client.line() == b"250 2.0.0 OK\r\n"
    assert time.monotonic() - started < 5  # nothing slept
    import os

    assert not os.path.exists("/tmp/mailhost-pwned")


def test_helo_with_control_characters(users: MailhostTestServer) -> None:
    raw = RawClient(users.port("smtp"))
    raw.line()
    raw.send(b"EHLO evil\rX-Injected: 1\r\n")
    assert raw.reply()[0].startswith(b"501 5.5.4 ")
    raw.send(b"EHLO a(b)<c>\r\nMAIL FROM:<s@remote.test>\r\nRCPT TO:<alice@example.test>\r\n"
             b"DATA\r\n")
    raw.reply()
    assert [raw.line()[:3] for _ in range(3)] == [b"250", b"250", b"354"]
    raw.send(b"Subject: x\r\n\r\nx\r\n.\r\n")
    assert raw.line().startswith(b"250 ")
    raw.close()
    stored = users.raw_messages(ALICE)[0]
    assert stored.split(b"\r\n")[1] == b"Received: from a?b??c? ([127.0.0.1])"


def test_a_hundred_thousand_pipelined_recipients(mailhost_server_factory: ServerFactory) -> None:
    server = mailhost_server_factory()
    server.add_user(ALICE, ALICE_PASSWORD)
    client = RawClient(server.port("smtp"), timeout=60)
    client.line()
    client.send(b"EHLO flood.remote.test\r\n")
    client.reply()
    count = 100_000
    limit = server.config.smtp.max_recipients
    payload = b"MAIL FROM:<s@remote.test>\r\n" + b"RCPT TO:<alice@example.test>\r\n" * count
    sender = threading.Thread(target=client.send, args=(payload + b"RSET\r\n",), daemon=True)
    started = time.monotonic()
    sender.start()  # the server's replies must be read while the flood is still being sent
    assert client.line().startswith(b"250 2.1.0")
    codes: dict[bytes, int] = {}
    for _ in range(count):
        code = client.line()[:3]
        codes[code] = codes.get(code, 0) + 1
    sender.join(timeout=30)
    assert codes == {b"250": limit, b"452": count - limit}
    assert client.line().startswith(b"250 ")  # RSET: still a working session
    assert time.monotonic() - started < 40
    client.close()


def test_ten_megabytes_without_a_line_end(users: MailhostTestServer,
                                          client: RawClient) -> None:
    client.send(b"X" * 10_000_000 + b"\r\nNOOP\r\n")
    assert client.line().startswith(b"500 5.5.2 ")
    assert client.line() == b"250 2.0.0 OK\r\n"


def test_lmtp_next_transaction_in_the_same_packet_as_the_end_marker(
        users: MailhostTestServer) -> None:
    """The bulk DATA reader stops at CRLF.CRLF: what follows is the next pipelined command."""
    client = start_data(users.port("lmtp"), ALICE, BOB, hello=b"LHLO mta")
    client.send(b"Subject: one\r\n\r\n..stuffed\r\n.\r\nMAIL FROM:<s@remote.test>\r\n"
                b"RCPT TO:<alice@example.test>\r\nDATA\r\n")
    assert [client.line()[:3] for _ in range(5)] == [b"250", b"250", b"250", b"250", b"354"]
    client.send(b"Subject: two\r\n\r\n.\r\nNOOP\r\n")
    assert [client.line()[:3] for _ in range(2)] == [b"250", b"250"]
    client.close()
    first, second = users.raw_messages(ALICE)
    assert first.endswith(b"Subject: one\r\n\r\n.stuffed\r\n") and second.endswith(b"two\r\n\r\n")
    assert users.raw_messages(BOB)[0].endswith(b"Subject: one\r\n\r\n.stuffed\r\n")


def test_data_line_length_limit(users: MailhostTestServer, client: RawClient) -> None:
    """1,001 octets with the CRLF is the longest line taken (aiosmtpd's limit), in any reads."""
    longest = b"x" * 999 + b"\r\n"
    envelope(client, ALICE)
    client.send(b"Subject: long\r\n\r\n" + longest[:500])
    client.send(longest[500:] + b"." + longest[1:] + b".\r\n")  # the stuffing dot counts
    assert client.line().startswith(b"250 ")
    envelope(client, ALICE)
    client.send(b"Subject: too long\r\n\r\nx" + longest + b".\r\nNOOP\r\n")
    assert client.line().startswith(b"500 5.5.2 ")
    assert client.line() == b"250 2.0.0 OK\r\n"
    [stored] = users.raw_messages(ALICE)
    assert stored.endswith(b"\r\n\r\n" + longest + longest[1:])
