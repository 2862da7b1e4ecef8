"""A mailbox renamed or deleted by one session while another has it selected.

RENAME keeps the mailbox (same UIDVALIDITY, same messages), so a session that has it selected
goes on working on it under its new name, as in Dovecot; a mailbox later created under the
old name is another mailbox that the selected session never touches. DELETE ends the
selection with ``* OK [CLOSED]`` (RFC 7162 §3.2.11): commands that need a selected mailbox
then get a tagged BAD, never a traceback or an answer about another mailbox. Two imaplib
sessions drive each case against the real server.
"""

from __future__ import annotations

import contextlib
import imaplib
from collections.abc import Callable, Iterator

import pytest

from mailhost.testing.server import MailhostTestServer
from tests.integration.helpers import ALICE, imap_client, mail, store_held, wait_until
from tests.integration.sync.conftest import Connect

PUSH_WAIT = 5.0

Session = Callable[[], imaplib.IMAP4]


@pytest.fixture
def session(users: MailhostTestServer) -> Iterator[Session]:
    """``session()``: a new imaplib connection logged in as alice, logged out after."""
    opened: list[imaplib.IMAP4] = []

    def open_one() -> imaplib.IMAP4:
        client = imap_client(users)
        opened.append(client)
        return client

    yield open_one
    for client in opened:
        with contextlib.suppress(imaplib.IMAP4.error, OSError):
            client.logout()


def ok(result: tuple[str, list[object]]) -> list[object]:
    typ, data = result
    assert typ == "OK", (typ, data)
    return data


@pytest.fixture
def work(session: Session) -> tuple[imaplib.IMAP4, imaplib.IMAP4]:
    """Session A with "Work" (three messages) selected, and session B."""
    a, b = session(), session()
    ok(b.create("Work"))
    for n in range(3):
        ok(b.append("Work", "", None, mail(n)))
    assert ok(a.select("Work")) == [b"3"]
    a.untagged_responses.clear()  # imaplib keeps SELECT's; the tests look at what follows
    return a, b


@pytest.fixture
def moved(work: tuple[imaplib.IMAP4, imaplib.IMAP4]) -> tuple[imaplib.IMAP4, imaplib.IMAP4]:
    """As ``work``, after B renamed Work to Projects and created a new, empty Work."""
    _a, b = work
    ok(b.rename("Work", "Projects"))
    ok(b.create("Work"))
    return work


@pytest.mark.usefixtures("no_tracebacks")
def test_selected_session_keeps_working_on_a_renamed_mailbox(
    users: MailhostTestServer, moved: tuple[imaplib.IMAP4, imaplib.IMAP4],
) -> None:
    a, _b = moved
    ok(a.noop())
    assert ok(a.fetch("1:*", "(UID)")) == [b"1 (UID 1)", b"2 (UID 2)", b"3 (UID 3)"]
    ok(a.store("1", "+FLAGS", "(\\Flagged)"))
    ok(a.store("3", "+FLAGS", "(\\Deleted)"))
    assert ok(a.expunge()) == [b"3"]
    assert users.message_flags(ALICE, "Projects") == {1: ("\\Flagged",), 2: ()}
    assert users.mailbox_uids(ALICE, "Work") == []
    ok(a.copy("2", "INBOX"))
    assert users.mailbox_uids(ALICE, "Projects") == [1, 2]


def test_changes_under_the_new_name_reach_the_selected_session(
    work: tuple[imaplib.IMAP4, imaplib.IMAP4],
) -> None:
    a, b = work
    ok(b.rename("Work", "Projects"))
    ok(b.append("Projects", "", None, mail(9)))
    ok(b.select("Projects"))
    ok(b.store("1", "+FLAGS", "(\\Seen)"))
    ok(a.noop())
    assert a.untagged_responses.pop("EXISTS", None) == [b"4"]
    assert a.untagged_responses.pop("FETCH", None) == [b"1 (FLAGS (\\Seen \\Recent))"]


def test_idle_goes_on_after_a_rename(connect: Connect, session: Session) -> None:
    b = session()
    ok(b.create("Work"))
    idler = connect(select=b"Work")
    idler.idle()
    ok(b.rename("Work", "Projects"))
    ok(b.create("Work"))
    ok(b.append("Work", "", None, mail(1)))  # the new Work: nothing for the idler
    ok(b.append("Projects", "", None, mail(2)))
    assert idler.wait_for(rb"\* 1 EXISTS", PUSH_WAIT) == [b"* 1 EXISTS"]
    assert idler.done()[-1].endswith(b"OK IDLE terminated")
    assert idler.ok(b"FETCH 1 (BODY.PEEK[HEADER.FIELDS (SUBJECT)])")[0].startswith(
        b"* 1 FETCH (BODY[HEADER.FIELDS (SUBJECT)] {")


@pytest.mark.usefixtures("no_tracebacks")
def test_delete_after_rename_ends_the_selection(
    users: MailhostTestServer, moved: tuple[imaplib.IMAP4, imaplib.IMAP4],
) -> None:
    a, b = moved
    ok(b.append("Work", "", None, mail(7)))
    ok(b.delete("Projects"))
    with pytest.raises(imaplib.IMAP4.error, match="not valid in the authenticated state"):
        a.store("1", "+FLAGS", "(\\Flagged)")
    assert b"[CLOSED]" in b" ".join(a.untagged_responses.get("OK", []))
    with pytest.raises(imaplib.IMAP4.error):
        a.expunge()
    assert users.message_flags(ALICE, "Work") == {1: ()}  # the new Work is untouched
    assert ok(a.select("Work")) == [b"1"]


def test_renaming_the_selected_inbox_moves_its_messages_away_as_expunges(
    users: MailhostTestServer, session: Session,
) -> None:
    """RENAME INBOX moves the messages to a new mailbox and leaves INBOX (RFC 3501 §6.3.5):
    a session with INBOX selected stays on INBOX and hears that its messages went."""
    a, b = session(), session()
    for n in range(2):
        ok(b.append("INBOX", "", None, mail(n)))
    assert ok(a.select("INBOX")) == [b"2"]
    a.untagged_responses.clear()
    ok(b.rename("INBOX", "Old"))
    ok(a.noop())
    assert a.untagged_responses.pop("EXPUNGE", None) == [b"1", b"1"]
    ok(b.append("INBOX", "", None, mail(5)))
    ok(a.noop())
    assert a.untagged_responses.pop("EXISTS", None)[-1] == b"1"
    assert users.mailbox_uids(ALICE, "Old") == [1, 2]


@pytest.mark.parametrize("command", [b"COPY 1 INBOX", b"MOVE 1 INBOX", b"EXPUNGE",
                                     b"UID EXPUNGE 1", b"FETCH 1 (BODY[])"])
@pytest.mark.usefixtures("no_tracebacks")
def test_delete_landing_in_the_middle_of_a_command(
    users: MailhostTestServer, connect: Connect, command: bytes,
) -> None:
    """The DELETE commits after the session found its mailbox still there, before the
    command's own work: the command acts on nothing (never on another mailbox), and its
    answer says the selection is over. The store's job queue lines the two up."""
    other = connect(select=None)
    other.ok(b"CREATE Work")
    other.append(b"Work", mail(1))
    selected = connect(select=b"Work")
    selected.ok(b"STORE 1 +FLAGS.SILENT (\\Deleted)")
    with store_held(users, ALICE) as waiting:
        selected.send(b"c1 " + command + b"\r\n")
        assert wait_until(lambda: waiting() == 1)  # its check that Work still exists
        other.send(b"d1 DELETE Work\r\n")
        assert wait_until(lambda: waiting() == 2)
    assert other.wait_for(rb"d1 .*") == [b"d1 OK DELETE completed"]
    lines = selected.wait_for(rb"c1 .*")
    assert b"* OK [CLOSED] the selected mailbox no longer exists" in lines
    assert lines[-1].split(b" ")[1] in (b"OK", b"NO") and b"COPYUID" not in b"".join(lines)
    assert users.mailbox_uids(ALICE, "INBOX") == []
    assert selected.command(b"NOOP")[-1].endswith(b" OK NOOP completed")
