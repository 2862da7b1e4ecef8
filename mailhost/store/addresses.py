"""Validating account addresses before they reach a query, a filename or a log line.

Usernames arrive from hostile clients. Parameterised SQL already stops injection; this module
stops the rest: NUL and control bytes, path tricks, absurd lengths, and addresses that would
look different in a log than in the database.
"""

from __future__ import annotations

import functools
import re

MAX_ADDRESS = 254
_LOCAL = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}$")
_DOMAIN_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


class AddressError(ValueError):
    """Not an address mailhost accepts for an account or alias."""


def normalise_address(address: str) -> str:
    """Lowercase ``local@domain`` or raise AddressError saying what is wrong."""
    if not isinstance(address, str) or not address:
        raise AddressError("empty address")
    return _normalise(address)


@functools.lru_cache(maxsize=4096)
def _normalise(address: str) -> str:
    """normalise_address for a non-empty string, remembered: every RCPT, delivery and login
    normalises the same few addresses several times (an invalid one raises, and is not kept)."""
    if len(address) > MAX_ADDRESS:
        raise AddressError(f"address longer than {MAX_ADDRESS} characters")
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in address):
        raise AddressError("address contains spaces or control characters")
    local, sep, domain = address.rpartition("@")
    if not sep or not local or not domain:
        raise AddressError("address must look like user@domain")
    if not _LOCAL.match(local) or local.startswith(".") or local.endswith(".") or ".." in local:
        raise AddressError(f"invalid local part {local!r}")
    domain = domain.lower().rstrip(".")
    labels = domain.split(".")
    single_label = len(labels) < 2 and domain != "localhost"
    if single_label or not all(_DOMAIN_LABEL.match(label) for label in labels):
        raise AddressError(f"invalid domain {domain!r}")
    return f"{local.lower()}@{domain}"


def domain_of(address: str) -> str:
    return normalise_address(address).rpartition("@")[2]


def safe_for_log(text: str, limit: int = 80) -> str:
    """A printable, bounded rendering of client-supplied text for one log line."""
    if len(text) <= limit and text.isprintable():  # the usual case (CR and LF are not)
        return text
    cleaned = "".join(c if c.isprintable() and c not in "\r\n" else "?" for c in text[:limit])
    return cleaned + ("..." if len(text) > limit else "")
