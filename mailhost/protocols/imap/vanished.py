"""Which UIDs a QRESYNC client must be told have vanished (RFC 7162 §3.2.5, §3.2.6).

The store remembers the newest expunges of each mailbox with their MODSEQ. When a client's
MODSEQ is older than what is remembered, the answer falls back to every UID of the client's
set that is not in the mailbox now: a superset the RFC allows (a client ignores UIDs it never
had), and exact enough because UIDs are never reused. Message sequence match data
(§3.2.5.2) then trims the UIDs the client provably still has.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from typing import TYPE_CHECKING

from mailhost.protocols.imap.sequence import SequenceSet

if TYPE_CHECKING:
    from mailhost.store.sqlite.mailstore import SqliteMailStore

Ranges = tuple[tuple[int, int], ...]


async def vanished_since(
    mail: SqliteMailStore, mailbox_id: int, modseq: int, uidnext: int, *,
    within: SequenceSet | None = None,
    match: tuple[SequenceSet, SequenceSet] | None = None, current: Sequence[int] = (),
) -> Ranges:
    """Merged UID ranges expunged after ``modseq``, limited to ``within`` if given.

    ``*`` in ``within`` stands for UIDNEXT - 1 here, not the largest UID present, so ``1:*``
    still covers messages expunged from the end of the mailbox. ``match`` is the client's
    (sequence numbers, UIDs) pairs and ``current`` the mailbox's UIDs in sequence order, used
    only when the store no longer remembers that far back.
    """
    gone = await mail.expunged_since(mailbox_id, modseq)
    if gone is not None:
        told = within.select(gone, uidnext - 1) if within is not None else gone
        return SequenceSet.from_values(told).ranges if told else ()
    last = uidnext - 1
    wanted = within.resolve(last) if within is not None else ((1, last),)
    floor = _matching_floor(match, current) if match is not None else 0
    clipped = [(max(low, floor + 1), min(high, last)) for low, high in wanted]
    present = await mail.uids(mailbox_id)
    return tuple(gap for low, high in clipped if low <= high
                 for gap in _gaps(low, high, present))


def _matching_floor(match: tuple[SequenceSet, SequenceSet], current: Sequence[int]) -> int:
    """The highest client UID whose sequence number is unchanged, walking pairs in order.

    A pair (n, uid) that still matches means the n - 1 messages below ``uid`` are the ones
    the client knew (UIDs below it cannot be added), so nothing up to ``uid`` vanished. The
    first pair that does not match ends the walk. Sets of different sizes are ignored.
    """
    top = len(current)
    numbers, uids = match
    max_uid = current[-1] if current else 0
    if _size(numbers.resolve(top)) != _size(uids.resolve(max_uid)):
        return 0
    floor = 0
    # Lazily: the walk stops at the first number past the mailbox, however large the sets.
    for number, uid in zip(numbers.iter_values(top), uids.iter_values(max_uid), strict=True):
        if number > top or current[number - 1] != uid:
            break
        floor = uid
    return floor


def _size(ranges: Ranges) -> int:
    return sum(high - low + 1 for low, high in ranges)


def _gaps(low: int, high: int, present: Sequence[int]) -> list[tuple[int, int]]:
    """The ranges of ``low..high`` that are not in the sorted ``present``."""
    out: list[tuple[int, int]] = []
    start = low
    for uid in present[bisect.bisect_left(present, low):bisect.bisect_right(present, high)]:
        if uid > start:
            out.append((start, uid - 1))
        start = uid + 1
    if start <= high:
        out.append((start, high))
    return out


def ranges_bytes(ranges: Ranges) -> bytes:
    """The wire form of non-empty merged ranges, e.g. ``b"1:3,7"``."""
    return SequenceSet(ranges=ranges).to_bytes()
