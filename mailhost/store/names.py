"""Mailbox names: one canonical spelling, and nothing that looks like a path escape.

Names are keys in the account's own database, never filesystem paths, so ``../bob/INBOX`` could
not reach another account anyway; refusing it outright keeps logs and backups unambiguous.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

from mailhost.store.interface import InvalidMailboxName

SEPARATOR = "/"
MAX_NAME_LENGTH = 512
MAX_DEPTH = 32


def validate_mailbox_name(name: str) -> str:
    """Return the canonical form of ``name`` (INBOX in any case becomes INBOX) or raise."""
    if not name:
        raise InvalidMailboxName("empty mailbox name")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidMailboxName(f"mailbox name longer than {MAX_NAME_LENGTH} characters")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in name):
        raise InvalidMailboxName("mailbox name contains control characters")
    if "*" in name or "%" in name:
        raise InvalidMailboxName("mailbox names cannot contain the wildcards * or %")
    parts = name.split(SEPARATOR)
    if len(parts) > MAX_DEPTH:
        raise InvalidMailboxName(f"mailbox nested deeper than {MAX_DEPTH} levels")
    if any(part in ("", ".", "..") for part in parts) or name.startswith("~"):
        raise InvalidMailboxName("mailbox name has an empty, '.', '..' or '~' component")
    if parts[0].upper() == "INBOX":
        parts[0] = "INBOX"
    return SEPARATOR.join(parts)


# -- folder patterns: IMAP LIST wildcards, shared by LIST/LSUB and the folder-choosing plugins --


@lru_cache(maxsize=256)
def _compile(pattern: str) -> re.Pattern[str]:
    parts = []
    for char in pattern:
        if char == "*":
            parts.append(".*")
        elif char == "%":
            parts.append(f"[^{re.escape(SEPARATOR)}]*")
        else:
            parts.append(re.escape(char))
    return re.compile("".join(parts), re.DOTALL)


def canonical_pattern(reference: str, pattern: str) -> str:
    """Reference and pattern joined into one pattern, INBOX spelled canonically.

    Names are case-sensitive except INBOX (RFC 3501 §5.1), which the store spells one way.
    """
    full = reference + pattern
    if full[:5].upper() == "INBOX" and (len(full) == 5 or full[5] == SEPARATOR):
        full = "INBOX" + full[5:]
    return full


def matches(name: str, pattern: str) -> bool:
    """Does the canonical ``pattern`` match all of ``name``? ``*`` is anything, ``%`` anything
    but the hierarchy separator (RFC 3501 §6.3.8)."""
    return _compile(pattern).fullmatch(name) is not None


def folder_matches(name: str, pattern: str) -> bool:
    """:func:`matches` for a pattern an admin wrote, in which INBOX may be spelled any way."""
    return matches(name, canonical_pattern("", pattern))


def parents_of(name: str) -> list[str]:
    """The levels above ``name``, outermost first: ``a/b/c`` -> ``a``, ``a/b``."""
    parts = name.split(SEPARATOR)
    return [SEPARATOR.join(parts[:i]) for i in range(1, len(parts))]


def subtree_match(name: str, patterns: Iterable[str]) -> str | None:
    """The first of ``patterns`` that matches ``name`` or a level above it, or None.

    A folder chosen by a pattern takes its subfolders with it: hiding "Archive/Old" must
    hide "Archive/Old/2019" too, or the mail it was meant to hide is one level down.
    """
    levels = [*parents_of(name), name]
    return next((pattern for pattern in patterns
                 if any(folder_matches(level, pattern) for level in levels)), None)
