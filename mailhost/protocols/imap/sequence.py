"""IMAP sequence sets (RFC 3501 §9 ``sequence-set``, RFC 5182 ``$``).

Sets stay symbolic (``*`` unresolved) until the session knows the mailbox size, and
resolve to merged ranges so ``1:4294967295`` never becomes four billion integers.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Final

STAR: Final = 0
"""Stands for ``*`` (the largest number in use) in a raw range bound; 0 is never valid."""

MAX_NUMBER: Final = 0xFFFFFFFF
_MAX_DIGITS: Final = len(str(MAX_NUMBER))


class SequenceSetError(ValueError):
    """Text that is not a valid sequence set."""


@dataclass(frozen=True)
class SequenceSet:
    """A parsed sequence set, as the client wrote it.

    ``ranges`` holds (first, last) bound pairs in the client's order, with ``STAR`` for
    ``*``; a single number ``n`` is ``(n, n)``. ``saved`` is True for ``$`` (the result
    saved by ``SEARCH RETURN (SAVE)``), in which case ``ranges`` is empty.
    """

    ranges: tuple[tuple[int, int], ...] = ()
    saved: bool = False

    def __post_init__(self) -> None:
        if self.saved == bool(self.ranges):
            raise SequenceSetError("a sequence set is either '$' or a list of ranges")
        for bounds in self.ranges:
            if not all(bound == STAR or 1 <= bound <= MAX_NUMBER for bound in bounds):
                raise SequenceSetError("sequence numbers must lie in 1..4294967295")

    @classmethod
    def parse(cls, text: bytes) -> SequenceSet:
        """Parse wire bytes such as ``b"1:3,5,7:*"`` or ``b"$"``."""
        if text == b"$":
            return cls(saved=True)
        if not text:
            raise SequenceSetError("empty sequence set")
        return cls(ranges=tuple(_parse_element(element) for element in text.split(b",")))

    @classmethod
    def from_values(cls, values: Iterable[int]) -> SequenceSet:
        """Build the most compact set covering exactly ``values`` (at least one)."""
        return cls(ranges=tuple(_compact(values)))

    @property
    def uses_star(self) -> bool:
        """True when the set depends on the mailbox's largest number."""
        return any(STAR in bounds for bounds in self.ranges)

    def to_bytes(self) -> bytes:
        """The wire form, keeping the client's order and ``*``."""
        if self.saved:
            return b"$"
        return b",".join(_format_range(first, last) for first, last in self.ranges)

    def resolve(self, max_value: int, saved: Iterable[int] = ()) -> tuple[tuple[int, int], ...]:
        """Sorted, merged, inclusive ranges with ``*`` replaced by ``max_value``.

        ``max_value`` is the highest sequence number or UID in use (0 for an empty
        mailbox, where ``*`` matches nothing). Ranges are not clipped to ``max_value``:
        for UIDs ``559:*`` legitimately covers UIDs above the last one, and for
        sequence numbers the caller decides whether out-of-range numbers are an error.
        ``saved`` supplies the saved search result that ``$`` stands for.
        """
        if self.saved:
            return _merge([(value, value) for value in set(saved)])
        normalised: list[tuple[int, int]] = []
        for first, last in self.ranges:
            low, high = sorted((_substitute(first, max_value), _substitute(last, max_value)))
            if high >= 1:
                normalised.append((max(low, 1), high))
        return _merge(normalised)

    def contains(self, number: int, max_value: int, saved: Iterable[int] = ()) -> bool:
        """Whether ``number`` belongs to the set once ``*`` means ``max_value``."""
        return _ranges_contain(self.resolve(max_value, saved), number)

    def iter_values(self, max_value: int, saved: Iterable[int] = ()) -> Iterator[int]:
        """Every member in ascending order, generated lazily range by range."""
        for first, last in self.resolve(max_value, saved):
            yield from range(first, last + 1)

    def select(
        self, candidates: Sequence[int], max_value: int, saved: Iterable[int] = ()
    ) -> Sequence[int]:
        """The members of the sorted ``candidates`` (e.g. a mailbox's UIDs) in the set.

        Costs O(ranges * log(candidates)) lookups plus the output, so huge ranges over a
        small mailbox stay cheap. One range (``1:*``, ``n:m``) is one slice of
        ``candidates``, of its type: a list of 100,000 UIDs cost 1 ms, an array slice 5 us.
        """
        parts = [candidates[bisect.bisect_left(candidates, first):
                            bisect.bisect_right(candidates, last)]
                 for first, last in self.resolve(max_value, saved)]
        return parts[0] if len(parts) == 1 else [uid for part in parts for uid in part]


def format_uid_set(values: Iterable[int]) -> bytes:
    """Compact wire form of a set of numbers: ``[1, 2, 3, 5]`` -> ``b"1:3,5"``."""
    return SequenceSet.from_values(values).to_bytes()


def _parse_element(element: bytes) -> tuple[int, int]:
    bounds = element.split(b":")
    if len(bounds) == 1:
        number = _parse_number(bounds[0])
        return number, number
    if len(bounds) == 2:
        return _parse_number(bounds[0]), _parse_number(bounds[1])
    raise SequenceSetError("a range has exactly two bounds")


def _parse_number(text: bytes) -> int:
    if text == b"*":
        return STAR
    if not text or not text.isdigit() or text.startswith(b"0") or len(text) > _MAX_DIGITS:
        raise SequenceSetError("sequence numbers are non-zero decimal numbers")
    number = int(text)
    if number > MAX_NUMBER:
        raise SequenceSetError("sequence numbers must lie in 1..4294967295")
    return number


def _format_bound(bound: int) -> bytes:
    return b"*" if bound == STAR else str(bound).encode("ascii")


def _format_range(first: int, last: int) -> bytes:
    if first == last:
        return _format_bound(first)
    return _format_bound(first) + b":" + _format_bound(last)


def _substitute(bound: int, max_value: int) -> int:
    return max_value if bound == STAR else bound


def _merge(ranges: list[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    merged: list[tuple[int, int]] = []
    for first, last in sorted(ranges):
        if merged and first <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], last))
        else:
            merged.append((first, last))
    return tuple(merged)


def _compact(values: Iterable[int]) -> list[tuple[int, int]]:
    ordered = sorted(set(values))
    if not ordered:
        raise SequenceSetError("an empty set has no wire form")
    return list(_merge([(value, value) for value in ordered]))


def _ranges_contain(ranges: tuple[tuple[int, int], ...], number: int) -> bool:
    index = bisect.bisect_right(ranges, (number, MAX_NUMBER + 1)) - 1
    return index >= 0 and ranges[index][0] <= number <= ranges[index][1]
