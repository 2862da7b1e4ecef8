"""Real sync clients against one account: mbsync (isync) on two devices, offlineimap, and two
imaplib sessions. Each device is a Maildir; the server is the meeting point."""

from __future__ import annotations

import email
import imaplib
from pathlib import Path

from mailhost.testing.clients import ImapWire, mbsync, offlineimap
from mailhost.testing.server import MailhostTestServer
from tests.integration.helpers import ALICE, ALICE_PASSWORD
from tests.integration.sync.conftest import Deliver, Fill


def maildir(folder: Path) -> dict[str, tuple[Path, str]]:
    """Subject -> (file, Maildir flags) of the messages in one Maildir folder."""
    out: dict[str, tuple[Path, str]] = {}
    for sub in ("new", "cur"):
        for path in sorted((folder / sub).glob("*")):
            subject = email.message_from_bytes(path.read_bytes())["Subject"]
            _, _, flags = path.name.partition(":2,")
            out[str(subject)] = (path, flags)
    return out


def add_flag(path: Path, flag: str) -> None:
    """Set a Maildir flag the way a mail reader does: rename into cur/ (flags sorted)."""
    base, _, flags = path.name.partition(":2,")
    path.rename(path.parent.parent / "cur" / f"{base}:2,{''.join(sorted(set(flags + flag)))}")


def write_message(folder: Path, name: str, subject: str) -> None:
    for sub in ("cur", "new", "tmp"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    (folder / "new" / name).write_bytes(f"Subject: {subject}\r\n\r\nwritten locally\r\n".encode())


def server_view(server: MailhostTestServer, mailbox: str = "INBOX") -> dict[str, set[str]]:
    """Subject -> flags of a mailbox on the server, read with imaplib."""
    imap = imaplib.IMAP4("127.0.0.1", server.port("imap", "starttls"), timeout=10)
    try:
        imap.login(ALICE, ALICE_PASSWORD)
        imap.select(f'"{mailbox}"', readonly=True)
        _, data = imap.fetch("1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    finally:
        imap.logout()
    view: dict[str, set[str]] = {}
    for item in data:
        if isinstance(item, tuple):
            flags = imaplib.ParseFlags(item[0])
            subject = email.message_from_bytes(item[1])["Subject"]
            view[str(subject)] = {flag.decode() for flag in flags} - {"\\Recent"}
    return view


def test_mbsync_keeps_two_devices_and_the_server_in_step(
    users: MailhostTestServer, deliver: Deliver, fill: Fill, tmp_path: Path,
) -> None:
    fill(3)
    one, two = tmp_path / "A", tmp_path / "B"

    def sync(*devices: Path) -> None:
        for device in devices:
            mbsync(users, device, ALICE, ALICE_PASSWORD)

    sync(one, two)  # 1. both devices get the mailbox
    subjects = {"message 0", "message 1", "message 2"}
    assert set(maildir(one / "mail/INBOX")) == set(maildir(two / "mail/INBOX")) == subjects

    maildir(one / "mail/INBOX")["message 0"][0].unlink()  # 2. delete on A
    sync(one, two)
    assert set(server_view(users)) == set(maildir(two / "mail/INBOX")) == subjects - {
        "message 0"}

    add_flag(maildir(two / "mail/INBOX")["message 1"][0], "F")  # 3. flag on B
    sync(two, one)
    assert server_view(users)["message 1"] == {"\\Flagged"}
    assert "F" in maildir(one / "mail/INBOX")["message 1"][1]

    write_message(one / "mail/Projects", "local.1", "a plan")  # 4. new folder on A
    sync(one, two)
    assert set(server_view(users, "Projects")) == {"a plan"}
    assert set(maildir(two / "mail/Projects")) == {"a plan"}

    deliver(9)  # 5. delivery reaches both
    sync(one, two)
    assert "message 9" in maildir(one / "mail/INBOX")
    assert "message 9" in maildir(two / "mail/INBOX")
    assert set(server_view(users)) == {"message 1", "message 2", "message 9"}


def test_offlineimap_follows_the_server_and_back(
    users: MailhostTestServer, deliver: Deliver, fill: Fill, tmp_path: Path,
) -> None:
    fill(3)
    device = tmp_path / "C"
    offlineimap(users, device, ALICE, ALICE_PASSWORD)
    inbox = device / "mail/INBOX"
    assert set(maildir(inbox)) == {"message 0", "message 1", "message 2"}

    maildir(inbox)["message 0"][0].unlink()
    offlineimap(users, device, ALICE, ALICE_PASSWORD)
    assert set(server_view(users)) == {"message 1", "message 2"}

    wire = ImapWire(users.port("imap", "starttls"))
    try:
        wire.login(ALICE, ALICE_PASSWORD)
        wire.ok(b"SELECT INBOX")
        wire.ok(b"UID STORE 2 +FLAGS.SILENT (\\Flagged)")
        wire.ok(b"CREATE Projects")
        wire.append(b"Projects", b"Subject: a plan\r\n\r\nfrom the server\r\n")
    finally:
        wire.close()
    deliver(9)
    offlineimap(users, device, ALICE, ALICE_PASSWORD)
    assert "F" in maildir(inbox)["message 1"][1]
    assert "message 9" in maildir(inbox)
    assert set(maildir(device / "mail/Projects")) == {"a plan"}


def test_imaplib_sessions_see_each_other_at_the_right_moments(
    users: MailhostTestServer, fill: Fill,
) -> None:
    fill(3)
    one, two = (imaplib.IMAP4("127.0.0.1", users.port("imap", "starttls"), timeout=10)
                for _ in range(2))
    try:
        for client in (one, two):
            client.login(ALICE, ALICE_PASSWORD)
            client.select("INBOX")
            client.response("EXISTS")  # imaplib keeps SELECT's EXISTS until asked
        one.store("2", "+FLAGS", "(\\Flagged)")
        two.noop()
        assert two.response("FETCH")[1] == [b"2 (FLAGS (\\Flagged))"]

        one.store("1", "+FLAGS", "(\\Deleted)")
        one.expunge()
        two.fetch("1:3", "(FLAGS)")  # sequence numbers must not move during FETCH
        assert two.response("EXPUNGE")[1] == [None]
        two.noop()
        assert two.response("EXPUNGE")[1] == [b"1"]

        one.append("INBOX", None, None, b"Subject: appended\r\n\r\nhi\r\n")
        two.noop()
        assert two.response("EXISTS")[1] == [b"3"]
        _, data = two.fetch("3", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        assert b"appended" in data[0][1]
    finally:
        one.logout()
        two.logout()
