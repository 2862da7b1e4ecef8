"""Sequence sets: parsing, resolution against the mailbox size, compact formatting."""

from __future__ import annotations

import itertools
from array import array

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailhost.protocols.imap.sequence import (
    MAX_NUMBER,
    STAR,
    SequenceSet,
    SequenceSetError,
    format_uid_set,
)


def test_parse_keeps_client_order_and_star() -> None:
    sequence = SequenceSet.parse(b"7:*,1,3:2")
    assert sequence.ranges == ((7, STAR), (1, 1), (3, 2))
    assert sequence.uses_star
    assert sequence.to_bytes() == b"7:*,1,3:2"


def test_resolve_sorts_merges_and_substitutes_star() -> None:
    assert SequenceSet.parse(b"7:*,1,3:2,4").resolve(10) == ((1, 4), (7, 10))


def test_star_range_beyond_last_uid_still_includes_the_last_one() -> None:
    # RFC 3501 §6.4.8: "559:*" always includes the last UID, even below 559.
    assert SequenceSet.parse(b"559:*").resolve(300) == ((300, 559),)


def test_star_in_an_empty_mailbox_matches_nothing() -> None:
    assert SequenceSet.parse(b"*").resolve(0) == ()
    assert SequenceSet.parse(b"1:*").resolve(0) == ((1, 1),)


def test_saved_result_marker() -> None:
    saved = SequenceSet.parse(b"$")
    assert saved.saved and saved.to_bytes() == b"$"
    assert saved.resolve(100, saved=[5, 3, 4, 9]) == ((3, 5), (9, 9))
    assert saved.resolve(100) == ()
    assert saved.contains(9, 100, saved=[9])


def test_huge_ranges_stay_lazy() -> None:
    whole = SequenceSet.parse(b"1:4294967295")
    assert whole.resolve(5) == ((1, MAX_NUMBER),)
    assert whole.contains(4_000_000_000, 5)
    values = whole.iter_values(5)
    assert [next(values) for _ in range(3)] == [1, 2, 3]
    assert whole.select([2, 10, 4_000_000_000], 5) == [2, 10, 4_000_000_000]


def test_membership() -> None:
    sequence = SequenceSet.parse(b"2:4,10:*")
    assert [n for n in range(1, 14) if sequence.contains(n, 12)] == [2, 3, 4, 10, 11, 12]
    assert list(sequence.iter_values(12)) == [2, 3, 4, 10, 11, 12]
    assert sequence.select([1, 3, 5, 11, 13], 12) == [3, 11]


def test_one_range_selects_a_slice_of_the_candidates_own_type() -> None:
    uids = array("I", [1, 3, 5, 11, 13])
    one = SequenceSet.parse(b"3:*").select(uids, 13)
    assert isinstance(one, array) and list(one) == [3, 5, 11, 13]
    assert list(SequenceSet.parse(b"1:*").select(uids, 13)) == list(uids)
    assert list(SequenceSet.parse(b"6:10").select(uids, 13)) == []
    several = SequenceSet.parse(b"1,11:12").select(uids, 13)
    assert list(several) == [1, 11]


def test_format_uid_set() -> None:
    assert format_uid_set([1, 2, 3, 5]) == b"1:3,5"
    assert format_uid_set([9, 1, 2, 2, 8]) == b"1:2,8:9"
    assert format_uid_set([42]) == b"42"
    with pytest.raises(SequenceSetError):
        format_uid_set([])


@pytest.mark.parametrize(
    "text",
    [b"", b"0", b"01", b"1:", b":1", b"1::2", b"1,,2", b"1:2:3", b"4294967296", b"$,1", b"1,$",
     b"a", b"-1", b"1 2", b"9" * 30],
)  # fmt: skip
def test_rejects_invalid_sets(text: bytes) -> None:
    with pytest.raises(SequenceSetError):
        SequenceSet.parse(text)


_bounds = st.one_of(st.just(STAR), st.integers(min_value=1, max_value=MAX_NUMBER))


@settings(max_examples=200)
@given(st.lists(st.tuples(_bounds, _bounds), min_size=1, max_size=8))
def test_wire_round_trip(ranges: list[tuple[int, int]]) -> None:
    sequence = SequenceSet(ranges=tuple(ranges))
    assert SequenceSet.parse(sequence.to_bytes()) == sequence


@settings(max_examples=200)
@given(st.sets(st.integers(min_value=1, max_value=500), min_size=1, max_size=60))
def test_format_then_resolve_gives_the_same_numbers(values: set[int]) -> None:
    wire = format_uid_set(values)
    assert list(SequenceSet.parse(wire).iter_values(max(values))) == sorted(values)
    # Compact: no two adjacent ranges could have been merged.
    ranges = SequenceSet.parse(wire).ranges
    assert all(later[0] > earlier[1] + 1 for earlier, later in itertools.pairwise(ranges))
