"""POP3 sessions driven byte-for-byte with no sockets, pinned to RFC 1939's examples."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from mailhost.app import App
from mailhost.auth.passwords import hash_password
from mailhost.config import ListenerSection, parse_config
from mailhost.protocols.pop3.session import Pop3Session
from mailhost.testing.transcript import MemoryChannel, run_transcript

USER = "mrose@example.test"
PASSWORD = "tanstaaf"
MESSAGE_1 = b"Subject: one\r\n\r\n" + b"x" * 102 + b"\r\n"  # 120 octets
MESSAGE_2 = b"Subject: two\r\n\r\n.dot\r\n" + b"y" * 176 + b"\r\n"  # 200 octets
LISTENER = ListenerSection(protocol="pop3", port=0, tls="starttls")


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[App]:
    config = parse_config({
        "storage": {"data_dir": str(tmp_path)},
        "auth": {"failure_delay": 0.0},
        "server": {"hostname": "dbc.mtview.ca.us"},
        "listener": [{"protocol": "pop3", "port": 0, "tls": "starttls"}],
    }, "<test>")
    application = await App.create(config)
    await application.store.directory.add_user(USER, hash_password(PASSWORD))
    async with application.store.account(USER) as mail:
        await mail.append("INBOX", MESSAGE_1)
        await mail.append("INBOX", MESSAGE_2)
    yield application
    await application.close()


def session_factory(app: App) -> object:
    async def run(channel: MemoryChannel) -> None:
        await Pop3Session(app, channel, LISTENER).run()
    return run


async def test_rfc1939_example_session(app: App) -> None:
    assert len(MESSAGE_1) == 120 and len(MESSAGE_2) == 200
    await run_transcript(rf"""
        S: \+OK dbc\.mtview\.ca\.us POP3 ready
        C: USER {USER}
        S: \+OK .*
        C: PASS {PASSWORD}
        S: \+OK 2 messages \(320 octets\)
        C: STAT
        S: \+OK 2 320
        C: LIST
        S: \+OK 2 messages
        S: 1 120
        S: 2 200
        S: \.
        C: RETR 1
        S: \+OK 120 octets
        S: Subject: one
        S:
        S: x{{102}}
        S: \.
        C: DELE 1
        S: \+OK message 1 deleted
        C: RETR 2
        S: \+OK 200 octets
        S: Subject: two
        S:
        S: \.\.dot
        S: y{{176}}
        S: \.
        C: DELE 2
        S: \+OK message 2 deleted
        C: QUIT
        S: \+OK bye \(2 messages removed\)
    """, session_factory(app))  # type: ignore[arg-type]
    async with app.store.account(USER) as mail:
        inbox = await mail.get_mailbox("INBOX")
        assert inbox is not None and inbox.messages == 0


async def test_rfc1939_list_uidl_top_and_rset(app: App) -> None:
    await run_transcript(rf"""
        S: \+OK .*
        C: USER {USER}
        S: \+OK .*
        C: PASS {PASSWORD}
        S: \+OK .*
        C: LIST 2
        S: \+OK 2 200
        C: LIST 3
        S: -ERR no such message
        C: UIDL
        S: \+OK
        S: 1 [0-9A-F]{{16}}
        S: 2 [0-9A-F]{{16}}
        S: \.
        C: TOP 1 0
        S: \+OK .*
        S: Subject: one
        S:
        S: \.
        C: DELE 1
        S: \+OK .*
        C: STAT
        S: \+OK 1 200
        C: RSET
        S: \+OK maildrop has 2 messages \(320 octets\)
        C: NOOP
        S: \+OK
        C: QUIT
        S: \+OK bye \(0 messages removed\)
    """, session_factory(app))  # type: ignore[arg-type]


async def test_wrong_password_and_wrong_state(app: App) -> None:
    await run_transcript(rf"""
        S: \+OK .*
        C: STAT
        S: -ERR STAT is not valid in the authorization state
        C: USER {USER}
        S: \+OK .*
        C: PASS wrong
        S: -ERR \[AUTH\] authentication failed
        C: QUIT
        S: \+OK bye
    """, session_factory(app))  # type: ignore[arg-type]


async def test_cleartext_refused_for_a_remote_unencrypted_peer(app: App) -> None:
    remote = MemoryChannel(peer_ip="192.0.2.10", secure=False)
    await run_transcript(rf"""
        S: \+OK .*
        C: USER {USER}
        S: -ERR \[AUTH\] plaintext authentication is not allowed without TLS; use STLS
        C: STLS
        S: \+OK Begin TLS negotiation
        C: USER {USER}
        S: \+OK .*
        C: PASS {PASSWORD}
        S: \+OK .*
        C: QUIT
        S: \+OK .*
    """, session_factory(app), remote)  # type: ignore[arg-type]
