"""Delivery-time filing: which folder a message goes to, from its header and envelope address.

Pure functions over bytes and strings. The header is parsed here rather than with
``email.parser`` because delivery must never fail on a malformed message: a header this
cannot decode is compared as raw text, and the worst outcome is INBOX.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from email.header import decode_header, make_header

from mailhost.store.interface import InvalidMailboxName
from mailhost.store.names import SEPARATOR, validate_mailbox_name
from mailhost_folder_sync.settings import Rule

# Only the header is read; a longer one is cut here (real headers are a few KB).
MAX_HEADER = 256 * 1024
_END_OF_HEADER = re.compile(rb"\r?\n\r?\n")
_FOLD = re.compile(r"\r?\n(?=[ \t])")


def parse_header(message: bytes) -> list[tuple[str, str]]:
    """(name, value) of each header field, unfolded and with RFC 2047 words decoded."""
    end = _END_OF_HEADER.search(message, 0, MAX_HEADER)
    head = message[:end.start() if end else MAX_HEADER].decode("utf-8", "replace")
    fields: list[tuple[str, str]] = []
    for line in _FOLD.sub("", head).splitlines():
        name, colon, value = line.partition(":")
        name = name.rstrip(" \t")  # RFC 5322 obs-optional allows space before the colon
        if colon and name and not any(c in name for c in " \t"):
            fields.append((name, _decode(value.strip())))
    return fields


def _decode(value: str) -> str:
    if "=?" not in value:
        return value
    try:
        return str(make_header(decode_header(value)))
    except (ValueError, LookupError, UnicodeError):
        return value  # unknown charset or broken encoded word: compare the raw text


def rule_folder(fields: Sequence[tuple[str, str]], rules: Sequence[Rule]) -> str | None:
    """The folder of the first rule any header field matches, or None."""
    for rule in rules:
        wanted = rule.header.casefold()
        needle = rule.contains.casefold()
        for name, value in fields:
            if name.casefold() == wanted and needle in value.casefold():
                return rule.folder
    return None


def subaddress_tag(address: str, recipient: str) -> str | None:
    """The ``tag`` of ``user+tag@domain`` (RFC 5233), unless the account itself has a ``+``."""
    local, at, _domain = address.rpartition("@")
    if not at or address.casefold() == recipient.casefold():
        return None
    _user, plus, tag = local.partition("+")
    return tag if plus and tag else None


def tag_folder(tag: str, prefix: str) -> str | None:
    """The folder a tag files into, or None when the tag cannot name one safely.

    A tag comes from whoever sent the mail, so it may only name one folder level: no
    separator, no wildcards, nothing :func:`validate_mailbox_name` refuses.
    """
    if SEPARATOR in tag:
        return None
    try:
        name = validate_mailbox_name(prefix + tag)
    except InvalidMailboxName:
        return None
    return None if name == "INBOX" else name
