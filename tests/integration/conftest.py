"""Fixtures for integration tests: a running server with two users, and clients."""

from __future__ import annotations

import contextlib
import imaplib
import logging
from collections.abc import Iterator

import pytest

from mailhost.testing.server import MailhostTestServer, ThrowawayCA, make_config
from tests.integration.helpers import (
    ALICE,
    ALICE_PASSWORD,
    BOB,
    BOB_PASSWORD,
    RawClient,
    RawImap,
    imap_client,
)


@pytest.fixture
def users(mailhost_server: MailhostTestServer) -> MailhostTestServer:
    mailhost_server.add_user(ALICE, ALICE_PASSWORD)
    mailhost_server.add_user(BOB, BOB_PASSWORD)
    return mailhost_server


@pytest.fixture
def raw_pop3(users: MailhostTestServer) -> Iterator[RawClient]:
    client = RawClient(users.port("pop3", "starttls"))
    assert client.line().startswith(b"+OK")
    yield client
    client.close()


@pytest.fixture(scope="module")
def module_users(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MailhostTestServer]:
    """One server for a whole module, for tests that only read what the module set up."""
    directory = tmp_path_factory.mktemp("server")
    ca = ThrowawayCA(directory / "tls")
    with MailhostTestServer(make_config(directory / "data", ca), ca) as server:
        server.add_user(ALICE, ALICE_PASSWORD)
        server.add_user(BOB, BOB_PASSWORD)
        yield server


@pytest.fixture
def raw_imap(users: MailhostTestServer) -> Iterator[RawImap]:
    """A raw IMAP connection (plaintext on loopback, not logged in)."""
    client = RawImap(users.port("imap", "starttls"))
    assert client.greeting.startswith(b"* OK")
    yield client
    client.close()


@pytest.fixture
def alice(users: MailhostTestServer) -> Iterator[imaplib.IMAP4]:
    """imaplib over implicit TLS, logged in as alice."""
    client = imap_client(users)
    yield client
    with contextlib.suppress(imaplib.IMAP4.error, OSError):
        client.logout()


@pytest.fixture
def no_tracebacks(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Fail the test if anything logged a traceback while it ran (the server included)."""
    caplog.set_level(logging.INFO)
    yield
    logged = caplog.get_records("setup") + caplog.get_records("call") + caplog.records
    assert not [record for record in logged if record.exc_info], caplog.text
