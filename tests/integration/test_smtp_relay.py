"""Submission relays remote mail through the configured smarthost (aiosmtplib).

The smarthost is a second real mailhost on 127.0.0.1 for which example.org is local: plain
SMTP for the unauthenticated case, its submission ports (STARTTLS and implicit TLS, AUTH)
otherwise.
"""

from __future__ import annotations

import smtplib
import socket
from pathlib import Path

import pytest

from mailhost.testing import ServerFactory
from mailhost.testing.server import MailhostTestServer
from tests.integration.helpers import ALICE, ALICE_PASSWORD, BOB, BOB_PASSWORD

CAROL = "carol@example.org"
RELAY_LOGIN_PASSWORD = "smarthost secret"


def message(to: str) -> bytes:
    return f"From: {ALICE}\r\nTo: {to}\r\nSubject: out\r\n\r\n.dot line\r\nbye\r\n".encode()


@pytest.fixture
def smarthost(mailhost_server_factory: ServerFactory) -> MailhostTestServer:
    server = mailhost_server_factory()
    server.add_user(CAROL, "carol's password")
    server.add_user(ALICE, RELAY_LOGIN_PASSWORD)  # the account mailhost A logs in with
    return server


def sending_server(factory: ServerFactory, relay: dict[str, object]) -> MailhostTestServer:
    server = factory(overrides={"relay": relay})
    server.add_user(ALICE, ALICE_PASSWORD)
    server.add_user(BOB, BOB_PASSWORD)
    return server


def submit(server: MailhostTestServer, recipients: list[str], raw: bytes) -> dict[str, object]:
    with smtplib.SMTP_SSL("127.0.0.1", server.port("submission", "implicit"),
                          context=server.client_ssl_context(), timeout=30) as client:
        client.login(ALICE, ALICE_PASSWORD)
        return dict(client.sendmail(ALICE, recipients, raw))


def test_relay_over_plain_smtp(mailhost_server_factory: ServerFactory,
                               smarthost: MailhostTestServer) -> None:
    server = sending_server(mailhost_server_factory, {
        "host": "127.0.0.1", "port": smarthost.port("smtp"), "tls": "none"})
    raw = message(CAROL)
    assert submit(server, [CAROL, BOB], raw) == {}
    [relayed] = smarthost.raw_messages(CAROL)
    lines = relayed.split(b"\r\n")
    assert lines[0] == b"Return-Path: <alice@example.test>"  # added by the final hop only
    assert lines[1].startswith(b"Received: from mail.example.test ([127.0.0.1])")
    assert relayed.count(b"Return-Path:") == 1
    assert b"(authenticated sender: alice@example.test)" in relayed  # our hop's Received
    assert relayed.endswith(raw)  # the leading dot survived dot-stuffing both ways
    assert server.raw_messages(BOB)[0].endswith(raw)


@pytest.mark.parametrize("tls", ["starttls", "implicit"])
def test_relay_with_tls_and_login(mailhost_server_factory: ServerFactory,
                                  smarthost: MailhostTestServer, tmp_path: Path,
                                  tls: str) -> None:
    password_file = tmp_path / "relay-password"
    password_file.write_text(RELAY_LOGIN_PASSWORD + "\n")
    server = sending_server(mailhost_server_factory, {
        "host": "127.0.0.1", "port": smarthost.port("submission", tls), "tls": tls,
        "username": ALICE, "password_file": str(password_file),
        "ca_file": str(smarthost.ca.ca_file)})
    assert submit(server, [CAROL], message(CAROL)) == {}
    [relayed] = smarthost.raw_messages(CAROL)
    assert relayed.count(b"with ESMTPSA id") == 2  # both hops: TLS and authenticated


def test_smarthost_refusals_and_failures(mailhost_server_factory: ServerFactory,
                                         smarthost: MailhostTestServer,
                                         tmp_path: Path) -> None:
    server = sending_server(mailhost_server_factory, {
        "host": "127.0.0.1", "port": smarthost.port("smtp"), "tls": "none"})
    with pytest.raises(smtplib.SMTPDataError) as info:
        submit(server, ["nobody@example.org", BOB], message("nobody@example.org"))
    assert info.value.smtp_code == 550
    assert info.value.smtp_error.startswith(b"5.1.1 smarthost 127.0.0.1 said: ")
    assert server.raw_messages(BOB) == []  # no local copy when the relay failed

    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        closed_port = unused.getsockname()[1]
    down = sending_server(mailhost_server_factory, {
        "host": "127.0.0.1", "port": closed_port, "tls": "none"})
    with pytest.raises(smtplib.SMTPDataError) as info:
        submit(down, [CAROL], message(CAROL))
    assert (info.value.smtp_code, info.value.smtp_error[:6]) == (451, b"4.4.1 ")

    password_file = tmp_path / "wrong"
    password_file.write_text("not the password")
    misconfigured = sending_server(mailhost_server_factory, {
        "host": "127.0.0.1", "port": smarthost.port("submission", "implicit"),
        "tls": "implicit", "username": ALICE, "password_file": str(password_file),
        "ca_file": str(smarthost.ca.ca_file)})
    with pytest.raises(smtplib.SMTPDataError) as info:
        submit(misconfigured, [CAROL], message(CAROL))
    assert (info.value.smtp_code, info.value.smtp_error[:6]) == (451, b"4.7.0 ")
    assert smarthost.raw_messages(CAROL) == []


def test_relay_certificate_is_verified(mailhost_server_factory: ServerFactory,
                                       smarthost: MailhostTestServer, tmp_path: Path) -> None:
    password_file = tmp_path / "relay-password"
    password_file.write_text(RELAY_LOGIN_PASSWORD)
    server = sending_server(mailhost_server_factory, {  # no ca_file: the system store
        "host": "127.0.0.1", "port": smarthost.port("submission", "implicit"),
        "tls": "implicit", "username": ALICE, "password_file": str(password_file)})
    with pytest.raises(smtplib.SMTPDataError) as info:
        submit(server, [CAROL], message(CAROL))
    assert (info.value.smtp_code, info.value.smtp_error[:6]) == (451, b"4.4.1 ")
    assert smarthost.raw_messages(CAROL) == []
