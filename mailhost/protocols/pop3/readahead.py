"""Read-ahead of message bodies for RETR and TOP.

A POP3 client downloads one message at a time and waits for each before asking for the next,
so every RETR that goes to the database pays a round trip to the account's database thread
while the client sits idle. Clients almost always walk the maildrop in order, so when a body
is not in memory the session reads it together with the bodies of the next messages, in one
store call, and answers the following RETRs from memory. While the client downloads one
window, the next one is read in the background (double buffering), so a sequential download
hardly ever waits for the database.

The window starts small (a client that only fetches one new message should not pull in
megabytes) and doubles with each read up to a count and a byte budget; at most two windows
are held. Bodies are immutable once stored, so nothing read ahead can go stale; a message
another session expunged after it was read ahead is served as it was, like one read a moment
before the expunge.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import TYPE_CHECKING

from mailhost.protocols.pop3.maildrop import MaildropEntry

if TYPE_CHECKING:
    from mailhost.store.sqlite.mailstore import SqliteMailStore

FIRST_WINDOW = 8  # messages in the first window a session reads
MAX_WINDOW = 256  # messages per window at most
MAX_WINDOW_BYTES = 2 * 1024 * 1024  # bytes per window (one bigger message still fits)

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


def _wanted(chosen: Sequence[MaildropEntry]) -> dict[int, list[int]]:
    """The chosen messages as mailbox id -> UIDs, as the store reads them."""
    wanted: dict[int, list[int]] = {}
    for entry in chosen:
        wanted.setdefault(entry.mailbox_id, []).append(entry.uid)
    return wanted


def _retrieve(task: asyncio.Task[dict[Key, bytes]]) -> None:
    """Mark a background read's failure as seen: a failed read-ahead only costs a re-read."""
    if not task.cancelled():
        task.exception()


class ReadAhead:
    """The bodies read ahead for one session: the current window and the next one."""

    def __init__(self) -> None:
        self._bodies: dict[Key, bytes] = {}
        self._next_count = FIRST_WINDOW
        self._following: asyncio.Task[dict[Key, bytes]] | None = None
        self._following_keys: frozenset[Key] = frozenset()
        self._following_last: MaildropEntry | None = None

    async def body(self, mail: SqliteMailStore, maildrop: Sequence[MaildropEntry],
                   entry: MaildropEntry, *, keep: bool) -> bytes | None:
        """The raw message, or None if it is gone from the store.

        ``keep=False`` (RETR) forgets the body once returned, so memory shrinks as the client
        downloads; TOP keeps it, since a RETR of the same message often follows.
        """
        raw = self.ready(mail, maildrop, entry, keep=keep)
        if raw is not None:
            return raw
        key = _key(entry)
        following, self._following = self._following, None
        bodies: dict[Key, bytes] = {}
        if following is not None and key in self._following_keys:
            with contextlib.suppress(Exception):  # read again below, once
                bodies = await following
        elif following is not None:
            following.cancel()
        if key in bodies and self._following_last is not None:
            self._adopt(mail, maildrop, bodies, self._following_last)
        else:
            self._bodies = {}  # drop the old window before reading the next one
            chosen = self._choose(maildrop, entry)
            self._adopt(mail, maildrop, await mail.raw_bodies(_wanted(chosen)), chosen[-1])
        return self._take(key, keep)

    def ready(self, mail: SqliteMailStore, maildrop: Sequence[MaildropEntry],
              entry: MaildropEntry, *, keep: bool) -> bytes | None:
        """The raw message if it is in memory now, else None: then :meth:`body` reads it.

        A finished background read that holds the message becomes the current window here,
        without an await, as :meth:`body` would make it.
        """
        key = _key(entry)
        if key not in self._bodies:
            following = self._following
            if (following is None or not following.done() or following.cancelled()
                    or following.exception() is not None or key not in self._following_keys
                    or self._following_last is None):
                return None
            bodies = following.result()
            if key not in bodies:
                return None
            self._following = None
            self._adopt(mail, maildrop, bodies, self._following_last)
        return self._take(key, keep)

    def _take(self, key: Key, keep: bool) -> bytes | None:
        return self._bodies.get(key) if keep else self._bodies.pop(key, None)

    def _adopt(self, mail: SqliteMailStore, maildrop: Sequence[MaildropEntry],
               bodies: dict[Key, bytes], last: MaildropEntry) -> None:
        """Make ``bodies`` (up to ``last``) the current window and start reading the next."""
        self._bodies = bodies
        self._read_following(mail, maildrop, last)

    def close(self) -> None:
        """Stop a background read (the session is over) and forget every body."""
        if self._following is not None:
            self._following.cancel()
            self._following = None
        self._bodies = {}

    def _choose(self, maildrop: Sequence[MaildropEntry],
                start: MaildropEntry) -> list[MaildropEntry]:
        chosen = window(maildrop, start, self._next_count, MAX_WINDOW_BYTES)
        self._next_count = min(self._next_count * 2, MAX_WINDOW)
        return chosen

    def _read_following(self, mail: SqliteMailStore, maildrop: Sequence[MaildropEntry],
                        last: MaildropEntry) -> None:
        """Start reading the window after ``last`` in the background, if there is one."""
        start = next((e for e in maildrop[last.number:] if not e.deleted), None)
        if start is None:
            return
        chosen = self._choose(maildrop, start)
        self._following_keys = frozenset(_key(e) for e in chosen)
        self._following_last = chosen[-1]
        self._following = asyncio.ensure_future(
            mail.raw_bodies(_wanted(chosen)))
        self._following.add_done_callback(_retrieve)
