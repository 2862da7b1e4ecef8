"""Two or more sessions on one account: each learns what the others did, at the moments
RFC 3501 §5.2 and §7.4.1 allow, and IDLE (RFC 2177) pushes it as it happens."""

from __future__ import annotations

import poplib
import re
import smtplib
import subprocess
import sys
from pathlib import Path

from mailhost.testing.clients import ImapWire
from mailhost.testing.server import (
    MailhostTestServer,
    ThrowawayCA,
    make_config,
    replace_section,
)
from tests.integration.helpers import ALICE, ALICE_PASSWORD
from tests.integration.sync.conftest import Connect, Deliver, Fill

PUSH_WAIT = 5.0  # bounded wait for a push; IDLE normally delivers within milliseconds


def expunges(lines: list[bytes]) -> list[bytes]:
    return [line for line in lines if re.fullmatch(rb"\* \d+ EXPUNGE|\* VANISHED .*", line)]


def test_flag_change_reaches_the_other_session_at_its_next_command(
    connect: Connect, fill: Fill,
) -> None:
    fill(3)
    one, two = connect(), connect()
    one.ok(b"STORE 2 +FLAGS.SILENT (\\Flagged)")
    assert b"* 2 FETCH (FLAGS (\\Flagged))" in two.ok(b"NOOP")
    assert two.ok(b"NOOP") == []  # told once


def test_expunge_is_held_back_during_fetch_store_and_search(
    connect: Connect, fill: Fill,
) -> None:
    fill(3)
    one, two = connect(), connect()
    one.expunge(b"1")
    fetched = two.ok(b"FETCH 1:3 (FLAGS)")
    assert not expunges(fetched)
    assert [line.split(b" ")[1] for line in fetched if b"FETCH" in line][-3:] == [b"1", b"2", b"3"]
    assert not expunges(two.ok(b"STORE 3 +FLAGS (\\Seen)"))
    searched = two.ok(b"SEARCH ALL")
    assert not expunges(searched)
    assert searched[-1] == b"* SEARCH 2 3"  # numbers still as the client knows them
    assert expunges(two.ok(b"NOOP")) == [b"* 1 EXPUNGE"]
    assert two.ok(b"FETCH 1:* (UID)") == [b"* 1 FETCH (UID 2)", b"* 2 FETCH (UID 3)"]


def test_uid_commands_may_carry_the_expunge(connect: Connect, fill: Fill) -> None:
    fill(3)
    one, two = connect(), connect()
    one.expunge(b"2")
    assert b"* 2 EXPUNGE" in two.ok(b"UID FETCH 1:* (FLAGS)")


def test_append_elsewhere_shows_as_exists_and_recent(connect: Connect, deliver: Deliver) -> None:
    deliver(1)
    one, two = connect(), connect(select=None)
    assert two.append(b"INBOX", b"Subject: x\r\n\r\nbody\r\n")[-1].split(b" ")[1] == b"OK"
    assert one.ok(b"NOOP") == [b"* 2 EXISTS", b"* 2 RECENT"]  # it saw message 1 first too
    assert b"* 2 EXISTS" in two.ok(b"SELECT INBOX")


def test_fetching_a_body_expunged_elsewhere_answers_the_others_and_says_why(
    connect: Connect, fill: Fill,
) -> None:
    fill(4)
    one, two = connect(), connect()
    one.expunge(b"2")
    lines = two.command(b"FETCH 1:4 (BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    numbers = [line.split(b" ")[1] for line in lines if b" FETCH " in line]
    assert numbers == [b"1", b"3", b"4"]  # message 2 left out, the ones after it are not
    assert b"[EXPUNGEISSUED]" in lines[-1] and lines[-1].split(b" ")[1] == b"NO"
    assert not expunges(lines)
    assert expunges(two.ok(b"NOOP")) == [b"* 2 EXPUNGE"]


def test_condstore_names_a_safe_sync_point_while_expunges_wait(
    connect: Connect, fill: Fill,
) -> None:
    fill(3)
    one, two = connect(), connect(enable=b"CONDSTORE")
    before = int(re.search(rb"MODSEQ (\d+)", two.ok(b"STATUS INBOX (HIGHESTMODSEQ)")[0])[1])
    one.expunge(b"1")
    one.ok(b"STORE 2 +FLAGS.SILENT (\\Flagged)")  # UID 3, after the expunge in this session
    lines = two.ok(b"FETCH 2 (FLAGS)")
    newest = max(int(m) for m in re.findall(rb"MODSEQ \((\d+)\)", b" ".join(lines)))
    assert newest == before + 3
    # The expunge (before + 2) is not told yet, so the sync point must stay below it.
    assert b"* OK [HIGHESTMODSEQ %d] expunges pending" % before in lines
    after = two.ok(b"NOOP")
    assert expunges(after) == [b"* 1 EXPUNGE"]
    assert not any(b"HIGHESTMODSEQ" in line for line in after)


def test_idle_pushes_delivery_flags_and_expunge(connect: Connect, deliver: Deliver) -> None:
    deliver(1)
    watcher, other = connect(), connect()
    watcher.idle()
    deliver(2)
    assert watcher.wait_for(rb"\* 2 EXISTS", PUSH_WAIT)
    other.ok(b"STORE 1 +FLAGS.SILENT (\\Deleted)")
    assert watcher.wait_for(rb"\* 1 FETCH \(FLAGS \(\\Deleted( \\Recent)?\)\)", PUSH_WAIT)
    other.ok(b"EXPUNGE")
    assert watcher.wait_for(rb"\* 1 EXPUNGE", PUSH_WAIT)
    assert watcher.done()[-1].endswith(b"OK IDLE terminated")
    assert watcher.ok(b"FETCH 1 (UID)") == [b"* 1 FETCH (UID 2)"]


def test_sessions_on_different_listeners_share_one_view(
    users: MailhostTestServer, connect: Connect, deliver: Deliver,
) -> None:
    deliver(1)
    secure = ImapWire(users.port("imap", "implicit"), users.client_ssl_context())
    try:
        secure.login(ALICE, ALICE_PASSWORD)
        secure.ok(b"SELECT INBOX")
        secure.idle()
        connect().ok(b"STORE 1 +FLAGS.SILENT (\\Answered)")  # plaintext listener
        assert secure.wait_for(rb"\* 1 FETCH \(FLAGS \(\\Answered( \\Recent)?\)\)", PUSH_WAIT)
        secure.done()
    finally:
        secure.close()


def test_idle_with_qresync_pushes_vanished(connect: Connect, fill: Fill) -> None:
    fill(3)
    watcher, other = connect(enable=b"QRESYNC"), connect()
    watcher.idle()
    other.expunge(b"1:2")
    lines = watcher.wait_for(rb"\* VANISHED 1:2", PUSH_WAIT)
    assert not any(line.endswith(b"EXPUNGE") for line in lines)
    watcher.done()


def test_pop3_quit_reaches_an_idling_imap_session(
    users: MailhostTestServer, connect: Connect, fill: Fill,
) -> None:
    fill(2)
    watcher = connect()
    watcher.idle()
    pop = poplib.POP3("127.0.0.1", users.port("pop3", "starttls"), timeout=10)
    pop.user(ALICE)
    pop.pass_(ALICE_PASSWORD)
    pop.dele(1)
    assert watcher.quiet_for(0.3) == []  # nothing happens before QUIT (RFC 1939 UPDATE state)
    pop.quit()
    assert watcher.wait_for(rb"\* 1 EXPUNGE", PUSH_WAIT)
    watcher.done()


def test_lmtp_and_smtp_delivery_reach_an_idling_session(
    users: MailhostTestServer, connect: Connect,
) -> None:
    watcher = connect()
    watcher.idle()
    with smtplib.LMTP("127.0.0.1", users.port("lmtp"), timeout=10) as lmtp:
        assert lmtp.sendmail("s@remote.test", [ALICE], b"Subject: by LMTP\r\n\r\nhi\r\n") == {}
    assert watcher.wait_for(rb"\* 1 EXISTS", PUSH_WAIT)
    with smtplib.SMTP("127.0.0.1", users.port("smtp"), timeout=10) as smtp:
        assert smtp.sendmail("s@remote.test", [ALICE], b"Subject: by SMTP\r\n\r\nhi\r\n") == {}
    assert watcher.wait_for(rb"\* 2 EXISTS", PUSH_WAIT)
    watcher.done()


def deliver_from_another_process(users: MailhostTestServer, tmp_path: Path) -> None:
    """Run ``mailhost deliver`` (Postfix's mailbox_command) for alice in its own process."""
    config = tmp_path / "deliver.toml"
    config.write_text(f'[storage]\ndata_dir = "{users.config.storage.data_dir}"\n')
    result = subprocess.run(
        [sys.executable, "-m", "mailhost", "deliver", "-c", str(config), "--to", ALICE],
        input=b"Subject: from Postfix\r\n\r\nhi\r\n", capture_output=True, timeout=60,
        check=False)
    assert result.returncode == 0, result.stderr


def test_idle_sees_mailhost_deliver_run_as_another_process(
    users: MailhostTestServer, connect: Connect, tmp_path: Path,
) -> None:
    """``mailhost deliver`` (Postfix's mailbox_command) commits from its own process: the
    server learns of it only through the database, never through an in-process signal."""
    watcher = connect()
    watcher.idle()
    deliver_from_another_process(users, tmp_path)
    assert watcher.wait_for(rb"\* 1 EXISTS", PUSH_WAIT)
    watcher.done()


def test_noop_sees_mailhost_deliver_run_as_another_process(
    users: MailhostTestServer, connect: Connect, tmp_path: Path,
) -> None:
    """A session skips its queries while nothing was committed; a commit by another process
    counts too, so the next command after it reports the message."""
    session = connect()
    assert session.ok(b"NOOP") == []
    deliver_from_another_process(users, tmp_path)
    assert b"* 1 EXISTS" in session.ok(b"NOOP")
    assert session.ok(b"NOOP") == []


def test_select_sees_mailhost_deliver_run_as_another_process(
    users: MailhostTestServer, connect: Connect, tmp_path: Path,
) -> None:
    """A repeated SELECT is answered from memory while nothing was committed; a commit by
    another process moves the WAL index all the same, and \\Recent goes to one session."""
    one, two = connect(select=None), connect(select=None)
    for _ in range(2):
        assert b"* 0 EXISTS" in one.ok(b"SELECT INBOX")
    deliver_from_another_process(users, tmp_path)
    selected = one.ok(b"SELECT INBOX")
    assert b"* 1 EXISTS" in selected and b"* 1 RECENT" in selected
    for _ in range(2):
        selected = two.ok(b"SELECT INBOX")
        assert b"* 1 EXISTS" in selected and b"* 0 RECENT" in selected


def test_deleting_the_selected_mailbox_ends_that_selection(connect: Connect) -> None:
    one = connect(select=None)
    one.ok(b"CREATE Work")
    one.ok(b"SELECT Work")
    idler = connect(select=b"Work")
    idler.idle()
    connect(select=None).ok(b"DELETE Work")
    assert idler.wait_for(rb"\* OK \[CLOSED\] .*", PUSH_WAIT)
    assert idler.done()[-1].endswith(b"OK IDLE terminated")
    lines = one.command(b"FETCH 1 (FLAGS)")
    assert lines[0].startswith(b"* OK [CLOSED]")
    assert lines[-1].split(b" ")[1] == b"BAD"  # the authenticated state has no FETCH
    assert one.command(b"FETCH 1 (FLAGS)")[0].split(b" ")[1] == b"BAD"  # CLOSED told once
    one.ok(b"SELECT INBOX")


def test_folder_operations_are_visible_to_every_session(connect: Connect) -> None:
    one, two = connect(select=None), connect(select=None)
    one.ok(b"CREATE Projects/2024")
    one.ok(b"SUBSCRIBE Projects/2024")
    assert two.ok(b'LIST "" "Projects*"') == [
        b'* LIST (\\HasChildren) "/" Projects', b'* LIST (\\HasNoChildren) "/" Projects/2024']
    assert two.ok(b'LSUB "" "*"') == [b'* LSUB () "/" INBOX', b'* LSUB () "/" Projects/2024']
    one.ok(b"RENAME Projects Archive/Projects")
    assert two.ok(b'LIST "" "*"') == [
        b'* LIST (\\HasChildren) "/" Archive', b'* LIST (\\HasChildren) "/" Archive/Projects',
        b'* LIST (\\HasNoChildren) "/" Archive/Projects/2024',
        b'* LIST (\\HasNoChildren) "/" INBOX',
    ]
    assert b'* LIST (\\HasNoChildren \\Subscribed) "/" Archive/Projects/2024' in two.ok(
        b'LIST (SUBSCRIBED) "" "*"')
    two.ok(b"DELETE Archive/Projects/2024")
    assert b"Archive/Projects/2024" not in b" ".join(one.ok(b'LIST "" "*"'))


def test_reissuing_idle_renews_the_timeout_and_silence_ends_it(
    tmp_path: Path, mailhost_ca: ThrowawayCA,
) -> None:
    """With idle_timeout at 1.5 s (the config loader insists on >= 1800 s, so the test builds
    the config directly), a client that re-issues IDLE every 0.5 s stays connected for 3 s;
    one that does not is logged out."""
    config = replace_section(make_config(tmp_path / "data", mailhost_ca), "imap",
                             idle_timeout=1.5)
    with MailhostTestServer(config, mailhost_ca) as server:
        server.add_user(ALICE, ALICE_PASSWORD)
        wire = ImapWire(server.port("imap", "starttls"))
        try:
            wire.login(ALICE, ALICE_PASSWORD)
            wire.ok(b"SELECT INBOX")
            for _ in range(6):
                wire.idle()
                assert wire.quiet_for(0.5) == []
                assert wire.done()[-1].endswith(b"OK IDLE terminated")
            wire.ok(b"NOOP")
            wire.idle()
            assert wire.wait_for(rb"\* BYE .*", 5.0)
        finally:
            wire.close()
