"""Fixtures for integration tests: a running server with two users."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mailhost.testing.server import MailhostTestServer
from tests.integration.helpers import ALICE, ALICE_PASSWORD, BOB, BOB_PASSWORD, RawClient


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
