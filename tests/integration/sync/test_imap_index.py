"""The session's compact index (UIDs only) and the account's shared SELECT cache against a
real server: whatever other sessions did, SELECT and FETCH answer from the store as it is."""

from __future__ import annotations

import re

from mailhost.store.sqlite.mailstore import SqliteMailStore
from mailhost.testing.server import MailhostTestServer
from tests.integration.helpers import ALICE
from tests.integration.sync.conftest import Connect, Deliver, Fill


def select_facts(lines: list[bytes]) -> dict[str, bytes]:
    """EXISTS, RECENT, UNSEEN and FLAGS from a SELECT's untagged lines."""
    facts: dict[str, bytes] = {}
    for line in lines:
        if match := re.fullmatch(rb"\* (\d+) (EXISTS|RECENT)", line):
            facts[match[2].decode()] = match[1]
        elif match := re.fullmatch(rb"\* OK \[UNSEEN (\d+)\].*", line):
            facts["UNSEEN"] = match[1]
        elif line.startswith(b"* FLAGS "):
            facts["FLAGS"] = line[len(b"* FLAGS "):]
    return facts


def uids_of(lines: list[bytes]) -> list[int]:
    return [int(m[1]) for line in lines if (m := re.search(rb"UID (\d+)", line))]


def test_select_sees_what_others_changed_since_the_last_select(
    connect: Connect, fill: Fill, deliver: Deliver,
) -> None:
    fill(5)
    first = connect()  # fills the account's SELECT cache
    other = connect()
    other.ok(b"STORE 1:2 +FLAGS (\\Seen)")
    other.ok(b"STORE 4 +FLAGS ($Label)")
    other.expunge(b"3")
    deliver(9)
    again = select_facts(connect(select=None).ok(b"SELECT INBOX"))
    assert again["EXISTS"] == b"5"
    assert again["UNSEEN"] == b"3"  # UID 4, now third
    assert b"$Label" in again["FLAGS"]
    first.ok(b"NOOP")
    assert uids_of(first.ok(b"UID FETCH 1:* (UID)")) == [1, 2, 4, 5, 6]
    other.ok(b"NOOP")  # hears of UID 6 first
    other.ok(b"STORE 1:* +FLAGS (\\Seen)")
    assert "UNSEEN" not in select_facts(connect(select=None).ok(b"SELECT INBOX"))


def test_select_after_forgotten_expunges_reads_every_uid_again(
    users: MailhostTestServer, connect: Connect, fill: Fill,
) -> None:
    fill(6)
    worker = connect()

    async def remember_one(mail: SqliteMailStore) -> None:
        mail.expunged_kept = 1
    users.with_mail(ALICE, remember_one)
    for uid in (2, 4):  # two MODSEQs: the first is forgotten, the floor rises past the cache
        worker.ok(b"UID STORE %d +FLAGS.SILENT (\\Deleted)" % uid)
        worker.ok(b"EXPUNGE")
    fresh = connect()
    assert uids_of(fresh.ok(b"UID FETCH 1:* (UID)")) == [1, 3, 5, 6]


def test_sparse_and_dense_fetch_sets_answer_exactly_what_was_asked(
    connect: Connect, fill: Fill,
) -> None:
    fill(40)
    wire = connect()
    sparse = wire.ok(b"FETCH 1,40 (UID FLAGS)")
    assert [line.split(b" ")[1] for line in sparse] == [b"1", b"40"]
    mixed = wire.ok(b"UID FETCH 3:5,17,39:* (FLAGS)")
    assert uids_of(mixed) == [3, 4, 5, 17, 39, 40]
    assert len(wire.ok(b"FETCH 1:* (FLAGS RFC822.SIZE)")) == 40
    modseq = int(re.findall(rb"MODSEQ \((\d+)\)", b" ".join(wire.ok(b"FETCH 1:* (MODSEQ)")))[-1])
    wire.ok(b"STORE 2,39 +FLAGS.SILENT (\\Flagged)")
    changed = wire.ok(b"UID FETCH 1,2,39:40 (FLAGS) (CHANGEDSINCE %d)" % modseq)
    assert uids_of(changed) == [2, 39]
    assert uids_of(wire.ok(b"UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d)" % modseq)) == [2, 39]


def test_a_fetch_bigger_than_one_batch_comes_whole_and_in_order(
    users: MailhostTestServer, connect: Connect,
) -> None:
    filler = b"x" * 998 + b"\r\n"
    for n in range(6):  # ~100 KB each: several store batches of responses
        users.append(ALICE, b"Subject: big %d\r\n\r\n" % n + filler * 100)
    lines = connect().ok(b"FETCH 1:* (BODY.PEEK[] UID)")
    assert [line.split(b" ")[1] for line in lines] == [b"1", b"2", b"3", b"4", b"5", b"6"]
    assert all(b"Subject: big %d" % n in line for n, line in enumerate(lines))


def test_metadata_of_a_message_expunged_elsewhere_is_a_nil_fetch_response(
    connect: Connect, fill: Fill,
) -> None:
    """RFC 2180 §4.1.3 for items a NIL response can carry; §4.1.2 (NO) for the rest."""
    fill(3)
    one, two = connect(), connect()
    one.expunge(b"1")
    assert two.ok(b"FETCH 1:2 (UID FLAGS RFC822.SIZE)")[0] == \
        b"* 1 FETCH (UID 1 FLAGS () RFC822.SIZE 0)"
    lines = two.command(b"FETCH 1:2 (ENVELOPE)")
    assert lines[-1].split(b" ")[1:3] == [b"NO", b"[EXPUNGEISSUED]"]
    assert [line.split(b" ")[1] for line in lines[:-1]] == [b"2"]


def test_own_flag_changes_are_not_echoed_but_later_ones_by_others_are(
    connect: Connect, fill: Fill,
) -> None:
    fill(2)
    two, one = connect(), connect()  # the first holds \Recent; ``one`` has plain flags
    assert one.ok(b"STORE 1 +FLAGS (\\Flagged)") == [b"* 1 FETCH (FLAGS (\\Flagged))"]
    assert one.ok(b"NOOP") == []
    one.ok(b"STORE 2 +FLAGS.SILENT (\\Answered)")
    two.ok(b"STORE 2 +FLAGS.SILENT (\\Seen)")
    assert one.ok(b"NOOP") == [b"* 2 FETCH (FLAGS (\\Seen \\Answered))"]
    # Unchanged messages still answer a non-silent STORE, with their flags read back.
    assert one.ok(b"STORE 1:2 +FLAGS (\\Flagged)") == [
        b"* 1 FETCH (FLAGS (\\Flagged))", b"* 2 FETCH (FLAGS (\\Seen \\Answered \\Flagged))"]
