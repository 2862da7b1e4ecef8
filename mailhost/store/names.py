"""Mailbox names: one canonical spelling, and nothing that looks like a path escape.

Names are keys in the account's own database, never filesystem paths, so ``../bob/INBOX`` could
not reach another account anyway; refusing it outright keeps logs and backups unambiguous.
"""

from __future__ import annotations

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
