"""The pieces of QRESYNC's fallback answer: gaps between present UIDs, and how far message
sequence match data proves the client's view intact (RFC 7162 §3.2.5.2)."""

from __future__ import annotations

from mailhost.protocols.imap.sequence import SequenceSet
from mailhost.protocols.imap.vanished import _gaps, _matching_floor, ranges_bytes


def pairs(numbers: bytes, uids: bytes) -> tuple[SequenceSet, SequenceSet]:
    return SequenceSet.parse(numbers), SequenceSet.parse(uids)


def test_gaps_are_the_ranges_not_present() -> None:
    assert _gaps(1, 10, [2, 3, 7]) == [(1, 1), (4, 6), (8, 10)]
    assert _gaps(4, 6, [1, 2, 9]) == [(4, 6)]
    assert _gaps(1, 3, [1, 2, 3]) == []
    assert ranges_bytes(tuple(_gaps(1, 10, [2, 3, 7]))) == b"1,4:6,8:10"


def test_matching_pairs_raise_the_floor_until_the_first_mismatch() -> None:
    current = [2, 3, 4, 5, 10]  # the client knew 2..10; 6..9 have gone since
    assert _matching_floor(pairs(b"1:4", b"2:5"), current) == 5
    assert _matching_floor(pairs(b"1,3,5", b"2,4,6"), current) == 4  # 5 -> 6 no longer holds
    assert _matching_floor(pairs(b"1", b"3"), current) == 0


def test_sets_of_different_sizes_prove_nothing() -> None:
    assert _matching_floor(pairs(b"1:4", b"2:4"), [2, 3, 4, 5]) == 0


def test_huge_sets_stop_at_the_end_of_the_mailbox() -> None:
    whole = b"1:4294967295"
    assert _matching_floor(pairs(whole, whole), [1, 2, 3]) == 3
