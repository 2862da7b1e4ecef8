"""System flags as bits and keywords as text, so SEARCH SEEN is an integer test in SQL."""

from __future__ import annotations

import functools
from collections.abc import Iterable

SEEN, ANSWERED, FLAGGED, DELETED, DRAFT = 1, 2, 4, 8, 16
SYSTEM_FLAGS: dict[str, int] = {
    "\\seen": SEEN,
    "\\answered": ANSWERED,
    "\\flagged": FLAGGED,
    "\\deleted": DELETED,
    "\\draft": DRAFT,
}
CANONICAL = {bit: name for name, bit in zip(
    ("\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft"), SYSTEM_FLAGS.values(),
    strict=True,
)}


def split_flags(flags: Iterable[str]) -> tuple[int, frozenset[str]]:
    """Separate system flags (as a bitmask) from keywords; \\Recent is session state, dropped."""
    bits = 0
    keywords: set[str] = set()
    for flag in flags:
        bit = SYSTEM_FLAGS.get(flag.lower())
        if bit is not None:
            bits |= bit
        elif flag.lower() != "\\recent" and not flag.startswith("\\"):
            keywords.add(flag)
    return bits, frozenset(keywords)


def join_flags(bits: int, keywords: Iterable[str]) -> tuple[str, ...]:
    """The flag names of a message, system flags first, in a stable order.

    Messages with the same flags share one tuple: sessions keep flags for every message of
    the mailbox they have selected, and most messages carry one of a few combinations.
    """
    return _joined(bits, frozenset(keywords))


@functools.lru_cache(maxsize=4096)
def _joined(bits: int, keywords: frozenset[str]) -> tuple[str, ...]:
    names = [name for bit, name in CANONICAL.items() if bits & bit]
    names.extend(sorted(keywords))
    return tuple(names)


@functools.lru_cache(maxsize=4096)
def flags_of(bits: int, keywords: str) -> tuple[str, ...]:
    """The flag names of a stored row (bits and encoded keywords), shared like join_flags."""
    return _joined(bits, decode_keywords(keywords))


def encode_keywords(keywords: Iterable[str]) -> str:
    return " ".join(sorted(set(keywords)))


def decode_keywords(text: str) -> frozenset[str]:
    return frozenset(text.split()) if text else frozenset()
