"""QUOTA (RFC 9208): limits on storage and message count, enforced at delivery, APPEND and
COPY inside the store's per-account lock, set by the admin CLI while clients stay connected."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Callable

import pytest

from mailhost.store.interface import OverQuota
from mailhost.store.sqlite.mailstore import SqliteMailStore
from mailhost.testing.clients import ImapWire
from mailhost.testing.server import MailhostTestServer
from tests.integration.helpers import ALICE
from tests.integration.sync.conftest import Connect, Deliver, Fill

MESSAGE = b"Subject: quota\r\n\r\n" + b"x" * 200 + b"\r\n"  # 220 bytes once stored

SetQuota = Callable[[int, int], None]


@pytest.fixture
def set_quota(users: MailhostTestServer) -> SetQuota:
    """``set_quota(bytes, messages)`` for alice, as ``mailhost user quota`` does (0: none)."""
    def apply(quota_bytes: int, quota_messages: int) -> None:
        assert users.app is not None
        users.run(users.app.store.directory.set_quota(ALICE, quota_bytes, quota_messages))
    return apply


def stored(users: MailhostTestServer) -> tuple[int, int, int]:
    """(bytes, messages, bodies) alice's database holds: bodies show nothing half-stored."""
    async def count(mail: SqliteMailStore) -> tuple[int, int, int]:
        used_bytes, used_messages = await mail.usage()
        bodies = await mail.run(
            lambda conn: conn.execute("SELECT COUNT(*) FROM body").fetchone()[0])
        return used_bytes, used_messages, int(bodies)
    return users.with_mail(ALICE, count)


def status(lines: list[bytes]) -> bytes:
    """The status and response code of a tagged line, e.g. ``b"NO [OVERQUOTA]"``."""
    return b" ".join(lines[-1].split(b" ")[1:3])


def test_append_over_either_limit_is_refused_whole(
    users: MailhostTestServer, connect: Connect, set_quota: SetQuota,
) -> None:
    wire = connect(select=None)
    assert status(wire.append(b"INBOX", MESSAGE)).startswith(b"OK")
    set_quota(0, 1)
    assert status(wire.append(b"INBOX", MESSAGE)) == b"NO [OVERQUOTA]"
    assert stored(users) == (len(MESSAGE), 1, 1)
    set_quota(2 * len(MESSAGE) - 1, 0)
    assert status(wire.append(b"INBOX", MESSAGE)) == b"NO [OVERQUOTA]"
    assert status(wire.append(b"INBOX", b"Subject: small\r\n\r\n")).startswith(b"OK")
    assert stored(users)[1:] == (2, 2)


def test_delivery_over_quota_is_refused(
    users: MailhostTestServer, deliver: Deliver, set_quota: SetQuota,
) -> None:
    deliver(1)
    set_quota(0, 1)
    with pytest.raises(OverQuota):
        deliver(2)
    assert stored(users)[1:] == (1, 1)


def test_copy_over_quota_is_refused(connect: Connect, deliver: Deliver,
                                    set_quota: SetQuota) -> None:
    deliver(1)
    wire = connect()
    wire.ok(b"CREATE Archive")
    set_quota(0, 1)
    assert status(wire.command(b"COPY 1 Archive")) == b"NO [OVERQUOTA]"
    assert wire.ok(b"STATUS Archive (MESSAGES)") == [b"* STATUS Archive (MESSAGES 0)"]


def test_getquotaroot_reports_usage_and_limits(
    connect: Connect, fill: Fill, set_quota: SetQuota,
) -> None:
    wire = connect(select=None)
    assert wire.ok(b"GETQUOTAROOT INBOX") == [b'* QUOTAROOT INBOX ""', b'* QUOTA "" ()']
    fill(3)
    set_quota(1024 * 1024, 10)
    assert wire.ok(b"GETQUOTAROOT INBOX")[1] == b'* QUOTA "" (STORAGE 1 1024 MESSAGE 3 10)'
    assert status(wire.command(b'SETQUOTA "" (STORAGE 1)')) == b"NO [NOPERM]"


@pytest.mark.parametrize("limit", ["storage", "messages"])
def test_ten_concurrent_appends_never_overshoot(
    users: MailhostTestServer, connect: Connect, set_quota: SetQuota, limit: str,
) -> None:
    """Ten clients APPEND at once with room for four: exactly four get in."""
    if limit == "storage":
        set_quota(4 * len(MESSAGE) + len(MESSAGE) // 2, 0)
    else:
        set_quota(0, 4)
    wires = [connect(select=None) for _ in range(10)]
    start = threading.Barrier(len(wires))
    answers: list[bytes] = []

    def append(wire: ImapWire) -> None:
        start.wait(timeout=10)
        answers.append(status(wire.append(b"INBOX", MESSAGE)))

    threads = [threading.Thread(target=append, args=(wire,)) for wire in wires]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(answers) == [b"NO [OVERQUOTA]"] * 6 + [b"OK [APPENDUID"] * 4
    assert stored(users) == (4 * len(MESSAGE), 4, 4)


def test_limits_set_by_the_cli_apply_to_a_client_that_stays_logged_in(
    users: MailhostTestServer, connect: Connect,
) -> None:
    wire = connect(select=None)
    assert status(wire.append(b"INBOX", MESSAGE)).startswith(b"OK")
    config = users.config.data_dir.parent / "cli.toml"
    config.write_text(f'[storage]\ndata_dir = "{users.config.data_dir}"\n')
    cli = subprocess.run(
        [sys.executable, "-m", "mailhost", "user", "quota", ALICE, "--messages", "1",
         "-c", str(config)], capture_output=True, text=True, timeout=60, check=False)
    assert cli.returncode == 0, cli.stderr
    assert cli.stdout.strip() == f"{ALICE}: storage 220B of unlimited, messages 1 of 1"
    assert status(wire.append(b"INBOX", MESSAGE)) == b"NO [OVERQUOTA]"
    assert wire.ok(b"GETQUOTA \"\"") == [b'* QUOTA "" (MESSAGE 1 1)']
