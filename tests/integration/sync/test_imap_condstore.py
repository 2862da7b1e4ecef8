"""CONDSTORE and QRESYNC (RFC 7162) across sessions, reconnects and a server restart."""

from __future__ import annotations

import re

from mailhost.store.sqlite.mailstore import SqliteMailStore
from mailhost.testing import ServerFactory
from mailhost.testing.clients import ImapWire
from mailhost.testing.server import MailhostTestServer
from tests.integration.helpers import ALICE, ALICE_PASSWORD
from tests.integration.sync.conftest import Connect, Deliver, Fill


def number(pattern: bytes, lines: list[bytes]) -> int:
    """The first integer captured by ``pattern`` in any of ``lines``."""
    for line in lines:
        match = re.search(pattern, line)
        if match:
            return int(match[1])
    raise AssertionError(f"{pattern!r} not in {lines!r}")


def mailbox_state(wire: ImapWire) -> tuple[int, int]:
    """(UIDVALIDITY, HIGHESTMODSEQ) of INBOX, by STATUS."""
    lines = wire.ok(b"STATUS INBOX (UIDVALIDITY HIGHESTMODSEQ)")
    return number(rb"UIDVALIDITY (\d+)", lines), number(rb"HIGHESTMODSEQ (\d+)", lines)


def qresync_select(wire: ImapWire, params: bytes) -> list[bytes]:
    """ENABLE QRESYNC and SELECT INBOX with ``params``; the lines after the standard ones."""
    wire.ok(b"ENABLE QRESYNC")
    lines = wire.ok(b"SELECT INBOX (QRESYNC (" + params + b"))")
    return [line for line in lines if line.startswith(b"* VANISHED") or b" FETCH " in line]


def test_highestmodseq_in_select_examine_and_status_rises_with_every_change(
    connect: Connect, deliver: Deliver,
) -> None:
    deliver(1)
    wire = connect(select=None)
    seen = [mailbox_state(wire)[1]]
    seen.append(number(rb"HIGHESTMODSEQ (\d+)", wire.ok(b"EXAMINE INBOX")))
    deliver(2)
    seen.append(number(rb"HIGHESTMODSEQ (\d+)", wire.ok(b"SELECT INBOX")))
    wire.ok(b"STORE 1 +FLAGS (\\Deleted)")
    seen.append(mailbox_state(wire)[1])
    wire.ok(b"EXPUNGE")
    seen.append(mailbox_state(wire)[1])
    assert seen[0] == seen[1] < seen[2] < seen[3] < seen[4]


def test_fetch_changedsince_returns_exactly_what_changed(
    connect: Connect, fill: Fill,
) -> None:
    fill(4)
    wire = connect(enable=b"CONDSTORE")
    _, before = mailbox_state(wire)
    wire.ok(b"STORE 2,4 +FLAGS.SILENT (\\Answered)")
    lines = wire.ok(b"UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d)" % before)
    assert lines == [b"* 2 FETCH (UID 2 FLAGS (\\Answered \\Recent) MODSEQ (%d))" % (before + 1),
                     b"* 4 FETCH (UID 4 FLAGS (\\Answered \\Recent) MODSEQ (%d))" % (before + 1)]
    assert wire.ok(b"FETCH 1:* (FLAGS) (CHANGEDSINCE %d)" % (before + 1)) == []


def test_store_unchangedsince_refuses_what_changed_meanwhile(
    connect: Connect, fill: Fill,
) -> None:
    fill(3)
    mine, theirs = connect(enable=b"CONDSTORE"), connect()
    _, before = mailbox_state(mine)
    theirs.ok(b"STORE 2 +FLAGS.SILENT (\\Seen)")
    lines = mine.command(b"STORE 1:3 (UNCHANGEDSINCE %d) +FLAGS.SILENT (\\Flagged)" % before)
    assert lines[-1].endswith(b"OK [MODIFIED 2] STORE completed")
    assert b"* 1 FETCH (MODSEQ (%d))" % (before + 2) in lines
    assert b"* 3 FETCH (MODSEQ (%d))" % (before + 2) in lines
    flags = mine.ok(b"FETCH 1:3 (FLAGS)")
    assert [b"\\Flagged" in line for line in flags] == [True, False, True]


def test_qresync_reconnect_reports_exactly_what_happened_while_away(
    users: MailhostTestServer, connect: Connect, deliver: Deliver, fill: Fill,
) -> None:
    fill(6)
    first = connect(select=None)
    uidvalidity, modseq = mailbox_state(first)
    first.ok(b"LOGOUT")
    other = connect()
    other.expunge(b"2,5")
    other.ok(b"UID STORE 3 +FLAGS.SILENT (\\Flagged)")
    deliver(7)
    back = qresync_select(connect(select=None), b"%d %d 1:6" % (uidvalidity, modseq))
    assert back[0] == b"* VANISHED (EARLIER) 2,5"
    assert [number(rb"UID (\d+)", [line]) for line in back[1:]] == [3, 7]
    assert b"\\Flagged" in back[1]
    narrower = qresync_select(connect(select=None), b"%d %d 1:4" % (uidvalidity, modseq))
    assert narrower[0] == b"* VANISHED (EARLIER) 2"
    stale = qresync_select(connect(select=None), b"%d %d 1:6" % (uidvalidity + 1, modseq))
    assert stale == []  # a different UIDVALIDITY: the client must start over


def test_modseqs_survive_a_restart_and_keep_rising(
    users: MailhostTestServer, mailhost_server_factory: ServerFactory, fill: Fill,
) -> None:
    fill(3)
    wire = ImapWire(users.port("imap", "starttls"))
    wire.login(ALICE, ALICE_PASSWORD)
    uidvalidity, modseq = mailbox_state(wire)
    wire.ok(b"SELECT INBOX")
    wire.expunge(b"1")
    _, before_restart = mailbox_state(wire)
    wire.close()
    users.stop()
    again = mailhost_server_factory(data_dir=users.config.data_dir)
    wire = ImapWire(again.port("imap", "starttls"))
    try:
        wire.login(ALICE, ALICE_PASSWORD)
        assert mailbox_state(wire) == (uidvalidity, before_restart)
        back = qresync_select(wire, b"%d %d 1:3" % (uidvalidity, modseq))
        assert back[0] == b"* VANISHED (EARLIER) 1"
        wire.ok(b"STORE 1 +FLAGS.SILENT (\\Seen)")
        assert mailbox_state(wire)[1] == before_restart + 1
    finally:
        wire.close()


def test_uid_expunge_removes_only_what_it_names(connect: Connect, fill: Fill) -> None:
    fill(3)
    mine, plain, resync = connect(), connect(), connect(enable=b"QRESYNC")
    mine.ok(b"STORE 1:3 +FLAGS.SILENT (\\Deleted)")
    _, modseq = mailbox_state(mine)
    lines = mine.command(b"UID EXPUNGE 2")
    assert lines == [b"* 2 EXPUNGE", lines[-1]] and lines[-1].endswith(b"OK EXPUNGE completed")
    assert plain.ok(b"NOOP")[-1] == b"* 2 EXPUNGE"
    noop = resync.ok(b"NOOP")
    assert b"* VANISHED 2" in noop and not any(line.endswith(b"EXPUNGE") for line in noop)
    lines = resync.command(b"UID EXPUNGE 3")
    assert lines[0] == b"* VANISHED 3"
    assert lines[-1].endswith(b"OK [HIGHESTMODSEQ %d] EXPUNGE completed" % (modseq + 2))
    assert resync.ok(b"UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d VANISHED)" % modseq) == [
        b"* VANISHED (EARLIER) 2:3"]


def test_forgotten_expunges_fall_back_to_every_absent_uid(
    users: MailhostTestServer, connect: Connect, fill: Fill,
) -> None:
    """With room for one expunge, older client MODSEQs get every UID of their set that is
    gone (a superset RFC 7162 allows); sequence match data trims what the client still has."""
    fill(10)
    worker = connect(enable=b"QRESYNC")
    worker.expunge(b"1")
    uidvalidity, modseq = mailbox_state(worker)  # the client's view: UIDs 2..10
    watching = connect()

    async def remember_one(mail: SqliteMailStore) -> None:
        mail.expunged_kept = 1
    users.with_mail(ALICE, remember_one)
    for uid in (7, 8, 9):  # three expunges with three MODSEQs; the first two are forgotten
        worker.ok(b"UID STORE %d +FLAGS.SILENT (\\Deleted)" % uid)
        worker.ok(b"EXPUNGE")
    _, newest = mailbox_state(worker)

    known = b"%d %d 1:10" % (uidvalidity, modseq)
    assert qresync_select(connect(select=None), known)[0] == b"* VANISHED (EARLIER) 1,7:9"
    matched = qresync_select(connect(select=None), known + b" (1:4 2:5)")
    assert matched[0] == b"* VANISHED (EARLIER) 7:9"
    exact = qresync_select(connect(select=None), b"%d %d 1:10" % (uidvalidity, newest - 1))
    assert exact[0] == b"* VANISHED (EARLIER) 9"  # still remembered: the exact answer
    assert worker.ok(b"UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d VANISHED)" % modseq)[0] == \
        b"* VANISHED (EARLIER) 1,7:9"
    # A session that slept through all three still hears of each.
    assert len([line for line in watching.ok(b"NOOP") if line.endswith(b"EXPUNGE")]) == 3
    assert watching.ok(b"UID SEARCH ALL") == [b"* SEARCH 2 3 4 5 6 10"]
