"""LIST/LSUB pattern matching and mailbox attributes (RFC 3501 §6.3.8, RFC 5258, RFC 6154).

Pure functions over mailbox names, so the rules can be tested without a store. The wildcard
matcher itself is in :mod:`mailhost.store.names`, where plugins that let admins choose folders
by pattern (retention, folder_sync) use the same one.
"""

from __future__ import annotations

from collections.abc import Iterable

from mailhost.store.names import SEPARATOR, canonical_pattern, matches, parents_of

__all__ = ["SEPARATOR", "canonical_pattern", "has_children", "hierarchy_gaps", "matches",
           "parents_of", "special_use_attributes"]


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
