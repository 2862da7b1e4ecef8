"""The IMAP ENVELOPE (RFC 3501 section 7.4.2) in wire form."""

from __future__ import annotations

from mailhost.mime._address import Address, parse_addresses
from mailhost.mime._headers import first_values, to_str
from mailhost.mime._imap import NIL, nsstring, nstring, sstring
from mailhost.mime.structure import Part

ENVELOPE_FIELDS = frozenset(
    {
        "date",
        "subject",
        "from",
        "sender",
        "reply-to",
        "to",
        "cc",
        "bcc",
        "in-reply-to",
        "message-id",
    }
)


def render_envelope(raw: bytes, part: Part) -> bytes:
    """ENVELOPE of the message whose header is ``raw[part.header_start:part.body_start]``.

    ``part`` is the root Part or the encapsulated message of a message/rfc822
    part. Values are the first occurrence of each field, unfolded and otherwise
    undecoded. Sender and Reply-To default to From when absent or empty.
    """
    return envelope_of(first_values(raw, part.header_start, part.body_start, ENVELOPE_FIELDS))


def envelope_of(values: dict[str, bytes]) -> bytes:
    """:func:`render_envelope` from the header's values of (at least) :data:`ENVELOPE_FIELDS`."""
    from_ = _address_list(values.get("from"))
    sender = _address_list(values.get("sender"))
    reply_to = _address_list(values.get("reply-to"))
    items = [
        nstring(values.get("date")),
        nstring(values.get("subject")),
        from_,
        from_ if sender == NIL else sender,
        from_ if reply_to == NIL else reply_to,
        _address_list(values.get("to")),
        _address_list(values.get("cc")),
        _address_list(values.get("bcc")),
        nstring(values.get("in-reply-to")),
        nstring(values.get("message-id")),
    ]
    return b"(" + b" ".join(items) + b")"


def _address_list(value: bytes | None) -> bytes:
    if value is None:
        return NIL
    addrs = parse_addresses(to_str(value))
    if not addrs:
        return NIL
    return b"(" + b"".join(_address(a) for a in addrs) + b")"


def _address(a: Address) -> bytes:
    return b"(%s %s %s %s)" % (
        nsstring(a.name),
        nsstring(a.adl),
        NIL if a.mailbox is None else sstring(a.mailbox),
        NIL if a.host is None else sstring(a.host),
    )
