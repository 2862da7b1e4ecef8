"""Who may receive mail here, and who may send it through submission.

Checked at RCPT time, so an unknown user or a relay attempt is refused before any data is sent
(a sender's MTA then bounces, instead of this server accepting mail it cannot deliver). The
rule that keeps the server from being an open relay lives here, once: a recipient outside the
local domains is only ever accepted from an authenticated submission session, and only when a
smarthost is configured.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from email.utils import getaddresses
from typing import TYPE_CHECKING

from mailhost.delivery.replies import (
    BAD_RECIPIENT,
    RELAY_DENIED,
    RELAY_NOT_CONFIGURED,
    USER_UNKNOWN,
    Reply,
)
from mailhost.store.addresses import AddressError, domain_of, normalise_address

if TYPE_CHECKING:
    from mailhost.app import App

# RFC 5321 §4.5.3.1: 64 octets of local part, 255 of domain, and the "@".
MAX_ENVELOPE_ADDRESS = 64 + 1 + 255
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")  # C0 controls and DEL


@dataclass(frozen=True)
class Recipient:
    """An accepted RCPT: the address as given and the local account it reaches (None: remote)."""

    address: str
    account: str | None

    @property
    def local(self) -> bool:
        return self.account is not None


def envelope_address(text: str) -> str | None:
    """The MAIL/RCPT address as a plain string (``""`` for ``<>``), or None if unusable.

    aiosmtpd has already parsed the RFC 5321 syntax; what it lets through may still hold a raw
    CR, a NUL or a megabyte of text, none of which may reach a header or a log line.
    """
    if text == "<>":
        return ""
    if not text or len(text) > MAX_ENVELOPE_ADDRESS:
        return None
    if _CONTROL.search(text):
        return None
    return text


async def check_recipient(app: App, address: str, *, may_relay: bool) -> Recipient | Reply:
    """Accept ``address`` as a recipient, or say why not (RFC 5321 §3.3 / §3.6.2)."""
    if address.lower() == "postmaster":  # RFC 5321 §4.5.1: accepted without a domain
        address = f"postmaster@{app.config.server.hostname}"
    local_part, at, domain = address.rpartition("@")
    if not at or not local_part:
        return BAD_RECIPIENT
    try:
        domain = domain_of(f"x@{domain}")
    except AddressError:
        return BAD_RECIPIENT
    accounts = await app.store.directory.route(domain, address)
    if accounts is not None:  # a local domain
        if not accounts:
            return USER_UNKNOWN
        return Recipient(address, accounts[0])
    if not may_relay:
        return RELAY_DENIED
    if not app.config.relay.host:
        return RELAY_NOT_CONFIGURED
    return Recipient(address, None)


async def may_send_as(app: App, user: str, address: str) -> bool:
    """Is ``address`` the authenticated ``user``'s own address or one of their aliases?"""
    try:
        wanted = normalise_address(address)
    except AddressError:
        return False
    if wanted == user:
        return True
    return wanted in await app.store.directory.aliases_of(user)


def from_addresses(message: bytes) -> list[str]:
    """The addresses in the message's From: fields (RFC 5322 allows a list)."""
    headers = BytesHeaderParser().parsebytes(message)
    values = [str(value) for value in headers.get_all("From", [])]
    return [address for _name, address in getaddresses(values) if address]
