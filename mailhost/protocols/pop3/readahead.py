"""Read-ahead of message bodies for RETR and TOP.

A POP3 client downloads one message at a time and waits for each before asking for the next,
so every RETR that goes to the database pays a round trip to the account's database thread
while the client sits idle. Clients almost always walk the maildrop in order, so when a body
is not in memory the session reads it together with the bodies of the next messages, in one
store call, and answers the following RETRs from memory.

The window starts small (a client that only fetches one new message should not pull in
megabytes) and doubles with each refill up to a count and a byte budget. Bodies are
immutable once stored, so nothing read ahead can go stale; a message another session expunged
after it was read ahead is served as it was, like one read a moment before the expunge.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import TYPE_CHECKING

from mailhost.protocols.pop3.maildrop import MaildropEntry

if TYPE_CHECKING:
    from mailhost.store.sqlite.mailstore import SqliteMailStore

FIRST_WINDOW = 8  # messages read by the first refill of a session
MAX_WINDOW = 256  # messages per refill at most
MAX_WINDOW_BYTES = 8 * 1024 * 1024  # bytes per refill at most (one bigger message still fits)

Key = tuple[int, int]  # (mailbox id, uid)


def _key(entry: MaildropEntry) -> Key:
    return entry.mailbox_id, entry.uid


def window(maildrop: Sequence[MaildropEntry], start: MaildropEntry, count: int,
           budget: int) -> list[MaildropEntry]:
    """``start`` and the not-deleted messages after it, up to ``count`` and ``budget`` bytes.

    The first message is always included, however big, so RETR of a large message works.
    """
    chosen = [start]
    size = start.size
    for entry in maildrop[start.number:]:
        if entry.deleted:
            continue
        if len(chosen) >= count or size + entry.size > budget:
            break
        chosen.append(entry)
        size += entry.size
    return chosen


def _read_bodies(conn: sqlite3.Connection, wanted: dict[int, list[int]]) -> dict[Key, bytes]:
    """The raw bytes of the given (mailbox id -> uids); missing messages are left out."""
    found: dict[Key, bytes] = {}
    for mailbox_id, uids in wanted.items():
        marks = ",".join("?" * len(uids))
        rows = conn.execute(
            "SELECT g.uid, r.raw FROM message g JOIN body_raw r ON r.body_id = g.body_id "
            f"WHERE g.mailbox_id = ? AND g.uid IN ({marks})", (mailbox_id, *uids))
        for uid, raw in rows:
            found[mailbox_id, uid] = bytes(raw)
    return found


class ReadAhead:
    """The bodies read ahead for one session, at most one window's worth at a time."""

    def __init__(self) -> None:
        self._bodies: dict[Key, bytes] = {}
        self._next_count = FIRST_WINDOW

    async def body(self, mail: SqliteMailStore, maildrop: Sequence[MaildropEntry],
                   entry: MaildropEntry, *, keep: bool) -> bytes | None:
        """The raw message, or None if it is gone from the store.

        ``keep=False`` (RETR) forgets the body once returned, so memory shrinks as the client
        downloads; TOP keeps it, since a RETR of the same message often follows.
        """
        key = _key(entry)
        if key not in self._bodies:
            await self._refill(mail, maildrop, entry)
        return self._bodies.get(key) if keep else self._bodies.pop(key, None)

    async def _refill(self, mail: SqliteMailStore, maildrop: Sequence[MaildropEntry],
                      entry: MaildropEntry) -> None:
        chosen = window(maildrop, entry, self._next_count, MAX_WINDOW_BYTES)
        self._next_count = min(self._next_count * 2, MAX_WINDOW)
        wanted: dict[int, list[int]] = {}
        for item in chosen:
            wanted.setdefault(item.mailbox_id, []).append(item.uid)
        self._bodies = {}  # drop the old window before reading the next one
        self._bodies = await mail.run(lambda conn: _read_bodies(conn, wanted))
