"""Pipelined commands over a real socket: APPENDs sent back to back (LITERAL+) are stored
together but answered strictly in command order, each with its own outcome, and whatever
follows them sees all of them done."""

from __future__ import annotations

import re

from mailhost.testing.server import MailhostTestServer
from tests.integration.helpers import ALICE, RawImap, mail

_APPENDUID = re.compile(rb"^(t[0-9]+) OK \[APPENDUID ([0-9]+) ([0-9]+)\] APPEND completed\r\n$")


def append(tag: bytes, mailbox: bytes, raw: bytes, flags: bytes = b"") -> bytes:
    """One LITERAL+ APPEND, ready to send without waiting for anything."""
    flag_part = b" (" + flags + b")" if flags else b""
    return tag + b" APPEND " + mailbox + flag_part + b" {%d+}\r\n" % len(raw) + raw + b"\r\n"


def tagged_replies(raw: RawImap, tags: list[bytes]) -> tuple[list[bytes], list[bytes]]:
    """(tagged lines in the order they came, untagged lines) up to the last tag's reply."""
    tagged: list[bytes] = []
    untagged: list[bytes] = []
    while len(tagged) < len(tags):
        line = raw.response_line()
        assert line, "connection closed early"
        (untagged if line.startswith(b"* ") else tagged).append(line)
    return tagged, untagged


def test_pipelined_appends_are_answered_in_order(users: MailhostTestServer) -> None:
    raw = RawImap(users.port("imap", "starttls"))
    raw.login()
    tags = [b"t%d" % n for n in range(1, 101)]
    burst = b"".join(append(tag, b"Missing" if n == 50 else b"INBOX", mail(n))
                     for n, tag in enumerate(tags, start=1))
    raw.send(burst + b"s1 STATUS INBOX (MESSAGES UIDNEXT)\r\n")
    tagged, _ = tagged_replies(raw, tags)
    assert [line.split(b" ")[0] for line in tagged] == tags
    assert tagged[49] == b"t50 NO [TRYCREATE] mailbox does not exist; create it first\r\n"
    found = [_APPENDUID.match(line) for n, line in enumerate(tagged, start=1) if n != 50]
    assert all(found), tagged
    assert [int(m.group(3)) for m in found if m] == list(range(1, 100))
    assert len({m.group(2) for m in found if m}) == 1  # one UIDVALIDITY
    assert raw.response(b"s1") == [b"* STATUS INBOX (MESSAGES 99 UIDNEXT 100)\r\n",
                                    b"s1 OK STATUS completed\r\n"]
    stored = users.raw_messages(ALICE)
    assert [m.split(b"Subject: ")[1].split(b"\r\n")[0] for m in stored] == [
        b"message %d" % n for n in range(1, 101) if n != 50]
    raw.close()


def test_pipelined_appends_to_the_selected_mailbox_report_every_message(
    users: MailhostTestServer,
) -> None:
    users.append(ALICE, mail(0))
    raw = RawImap(users.port("imap", "starttls"))
    raw.login()
    raw.ok(b"SELECT INBOX")
    tags = [b"t%d" % n for n in range(1, 21)]
    raw.send(b"".join(append(tag, b"INBOX", mail(n), b"\\Flagged")
                      for n, tag in enumerate(tags, start=1)) + b"n1 NOOP\r\n")
    tagged, untagged = tagged_replies(raw, tags)
    assert [line.split(b" ")[0] for line in tagged] == tags
    exists = [int(line.split(b" ")[1]) for line in untagged if line.endswith(b" EXISTS\r\n")]
    assert exists == sorted(exists) and exists[-1] == 21  # never backwards, all reported
    assert raw.response(b"n1") == [b"n1 OK NOOP completed\r\n"]  # nothing left to report
    fetched = raw.ok(b"FETCH 2:* (UID FLAGS)")
    assert fetched == [b"* %d FETCH (UID %d FLAGS (\\Flagged \\Recent))\r\n" % (n + 1, n + 1)
                       for n in range(1, 21)]
    raw.close()


def test_bad_commands_between_pipelined_appends_are_answered_in_place(
    users: MailhostTestServer,
) -> None:
    raw = RawImap(users.port("imap", "starttls"))
    raw.login()
    raw.send(append(b"a1", b"INBOX", mail(1)) + append(b"a2", b"INBOX", mail(2))
             + b"a3 FROBNICATE\r\n"
             + append(b"a4", b"INBOX", mail(4), b"\\Bogus")
             + append(b"a5", b"INBOX", mail(5)))
    tagged, _ = tagged_replies(raw, [b"a1", b"a2", b"a3", b"a4", b"a5"])
    assert [line.split(b" ")[:2] for line in tagged] == [
        [b"a1", b"OK"], [b"a2", b"OK"], [b"a3", b"BAD"], [b"a4", b"BAD"], [b"a5", b"OK"]]
    assert users.mailbox_uids(ALICE) == [1, 2, 3]
    raw.close()


def test_pipelined_appends_over_quota_fail_in_order(users: MailhostTestServer) -> None:
    assert users.app is not None
    users.run(users.app.store.directory.set_quota(ALICE, 0, 5))
    raw = RawImap(users.port("imap", "starttls"))
    raw.login()
    tags = [b"q%d" % n for n in range(1, 11)]
    raw.send(b"".join(append(tag, b"INBOX", mail(n)) for n, tag in enumerate(tags, start=1)))
    tagged, _ = tagged_replies(raw, tags)
    assert [line.split(b" ")[0] for line in tagged] == tags
    assert [line.split(b" ")[1] for line in tagged] == [b"OK"] * 5 + [b"NO"] * 5
    assert all(b"[OVERQUOTA]" in line for line in tagged[5:])
    assert users.mailbox_uids(ALICE) == [1, 2, 3, 4, 5]
    raw.close()


def test_client_gone_during_pipelined_appends(users: MailhostTestServer) -> None:
    raw = RawImap(users.port("imap", "starttls"))
    raw.login()
    raw.send(b"".join(append(b"g%d" % n, b"INBOX", mail(n)) for n in range(1, 41)))
    raw.close()
    again = RawImap(users.port("imap", "starttls"))
    again.login()
    again.ok(b"NOOP")
    uids = users.mailbox_uids(ALICE)
    assert uids == list(range(1, len(uids) + 1))  # whatever was started is stored whole
    again.close()


def test_synchronizing_append_after_pipelined_ones_gets_its_continuation(
    users: MailhostTestServer,
) -> None:
    raw = RawImap(users.port("imap", "starttls"))
    raw.login()
    last = mail(4)
    raw.send(b"".join(append(b"p%d" % n, b"INBOX", mail(n)) for n in (1, 2, 3))
             + b"p4 APPEND INBOX {%d}\r\n" % len(last))
    before: list[bytes] = []
    while not (line := raw.response_line()).startswith(b"+ "):
        assert line, "connection closed early"
        before.append(line)  # replies to p1-p3 may come before the continuation
    raw.send(last + b"\r\n")
    tagged, _ = tagged_replies(raw, [b"p1", b"p2", b"p3", b"p4"][len(before):])
    assert [line.split(b" ")[:2] for line in before + tagged] == [
        [b"p%d" % n, b"OK"] for n in (1, 2, 3, 4)]
    assert users.mailbox_uids(ALICE) == [1, 2, 3, 4]
    raw.close()
