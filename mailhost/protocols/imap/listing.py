"""LIST/LSUB pattern matching and mailbox attributes (RFC 3501 §6.3.8, RFC 5258, RFC 6154).

Pure functions over mailbox names, so the rules can be tested without a store.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

SEPARATOR = "/"


@lru_cache(maxsize=256)
def _compile(pattern: str) -> re.Pattern[str]:
    parts = []
    for char in pattern:
        if char == "*":
            parts.append(".*")
        elif char == "%":
            parts.append("[^/]*")
        else:
            parts.append(re.escape(char))
    return re.compile("".join(parts), re.DOTALL)


def canonical_pattern(reference: str, pattern: str) -> str:
    """Reference and pattern joined into one pattern, INBOX spelled canonically."""
    full = reference + pattern
    if full[:5].upper() == "INBOX" and (len(full) == 5 or full[5] == SEPARATOR):
        full = "INBOX" + full[5:]
    return full


def matches(name: str, pattern: str) -> bool:
    return _compile(pattern).fullmatch(name) is not None


def parents_of(name: str) -> list[str]:
    parts = name.split(SEPARATOR)
    return [SEPARATOR.join(parts[:i]) for i in range(1, len(parts))]


def has_children(name: str, all_names: Iterable[str]) -> bool:
    prefix = name + SEPARATOR
    return any(other.startswith(prefix) for other in all_names)


def hierarchy_gaps(names: Iterable[str], pattern: str) -> list[str]:
    """Levels above ``names`` that are not in ``names`` but match where those names do not.

    RFC 3501 §6.3.8/§6.3.9: when "%" stops above a mailbox (or a subscription), the level
    it stops at is returned, marked \\Noselect, if it is not itself a mailbox (subscribed).
    """
    present = set(names)
    gaps = {
        parent
        for name in present if not matches(name, pattern)
        for parent in parents_of(name) if parent not in present and matches(parent, pattern)
    }
    return sorted(gaps)


def special_use_attributes(special_use: str | None) -> list[str]:
    return special_use.split() if special_use else []
