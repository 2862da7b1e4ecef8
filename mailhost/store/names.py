"""Mailbox names: one canonical spelling, and nothing that looks like a path escape.

Names are keys in the account's own database, never filesystem paths, so ``../bob/INBOX`` could
not reach another account anyway; refusing it outright keeps logs and backups unambiguous.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
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


_Matcher = Callable[[str], object]  # truthy when the name matches


@lru_cache(maxsize=256)
def _compile(pattern: str) -> _Matcher:
    """A matcher for ``pattern`` whose time grows with the name's length only.

    A regular expression with several ``.*`` backtracks: ``*a*a*a*a*a*a*a*b`` against a
    60-character name of a's took seconds, on the event loop, and any user can send it in a
    LIST. One wildcard cannot backtrack that way, so such a pattern (most of them: ``*``,
    ``%``, ``INBOX/*``) stays a regular expression; others run as a set of pattern positions
    advanced one character at a time (a bit set, see :func:`_positions_matcher`).
    """
    tokens = re.sub(r"[*%]{2,}", lambda run: "*" if "*" in run.group() else "%", pattern)
    if tokens.count("*") + tokens.count("%") <= 1:
        parts = []
        for char in tokens:
            if char == "*":
                parts.append(".*")
            elif char == "%":
                parts.append(f"[^{re.escape(SEPARATOR)}]*")
            else:
                parts.append(re.escape(char))
        return re.compile("".join(parts), re.DOTALL).fullmatch
    return _positions_matcher(tokens)


def _positions_matcher(tokens: str) -> _Matcher:
    """Bit i of the state: the name read so far can end where pattern position i begins.

    A literal moves its bit on when the character matches it; ``*`` keeps its bit on any
    character, ``%`` on any but the separator; a wildcard may also match nothing, so its bit
    lights the next one too (runs of wildcards were merged, so one step is enough).
    """
    literal: dict[str, int] = {}
    star = percent = 0
    for position, char in enumerate(tokens):
        if char == "*":
            star |= 1 << position
        elif char == "%":
            percent |= 1 << position
        else:
            literal[char] = literal.get(char, 0) | 1 << position
    wild = star | percent
    accept = 1 << len(tokens)

    def match(name: str) -> object:
        state = 1 | (1 & wild) << 1
        for char in name:
            state = ((state & literal.get(char, 0)) << 1 | state & star
                     | (state & percent if char != SEPARATOR else 0))
            if not state:
                return False
            state |= (state & wild) << 1
        return bool(state & accept)

    return match


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
    return bool(_compile(pattern)(name))


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
