"""Numbering merged POP3 folders: message numbers, hidden messages and unique UIDLs."""

from __future__ import annotations

from datetime import UTC, datetime

from mailhost.protocols.pop3.maildrop import HIDDEN_KEYWORD, entries_for, uidl_for
from mailhost.protocols.pop3.readahead import window
from mailhost.store.interface import MailboxInfo, MessageMeta


def box(box_id: int, name: str, uidvalidity: int) -> MailboxInfo:
    return MailboxInfo(id=box_id, name=name, uidvalidity=uidvalidity, uidnext=10,
                       highestmodseq=1, subscribed=True, special_use=None)


def meta(uid: int, *flags: str) -> MessageMeta:
    return MessageMeta(uid=uid, modseq=1, flags=flags, size=100 + uid,
                       internaldate=datetime(2024, 1, 1, tzinfo=UTC), savedate=0.0)


def test_folders_are_merged_in_order_and_hidden_messages_skipped() -> None:
    inbox, junk = box(1, "INBOX", 500), box(2, "Junk", 501)
    entries = entries_for([(inbox, [meta(1), meta(2, HIDDEN_KEYWORD), meta(3)]),
                           (junk, [meta(1)])])
    assert [(e.number, e.mailbox, e.uid) for e in entries] == [
        (1, "INBOX", 1), (2, "INBOX", 3), (3, "Junk", 1)]
    assert [e.uidl for e in entries] == [uidl_for(500, 1), uidl_for(500, 3), uidl_for(501, 1)]


def test_a_repeated_x_uidl_is_used_once() -> None:
    inbox, junk = box(1, "INBOX", 500), box(2, "Junk", 501)
    x_uidls = {(1, 1): "migrated-7", (2, 1): "migrated-7", (2, 2): "migrated-8"}
    entries = entries_for([(inbox, [meta(1)]), (junk, [meta(1), meta(2)])], x_uidls)
    assert [e.uidl for e in entries] == ["migrated-7", uidl_for(501, 1), "migrated-8"]


def test_read_ahead_window_is_cut_by_count_and_bytes_and_skips_deleted() -> None:
    inbox = box(1, "INBOX", 500)
    entries = entries_for([(inbox, [meta(uid) for uid in range(1, 11)])])  # sizes 101..110
    entries[2].deleted = True
    assert [e.uid for e in window(entries, entries[0], 4, 10_000)] == [1, 2, 4, 5]
    assert [e.uid for e in window(entries, entries[0], 99, 310)] == [1, 2, 4]
    assert [e.uid for e in window(entries, entries[0], 99, 300)] == [1, 2]
    assert [e.uid for e in window(entries, entries[8], 99, 10_000)] == [9, 10]
    assert [e.uid for e in window(entries, entries[5], 99, 50)] == [6]  # bigger than budget
