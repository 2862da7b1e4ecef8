"""Decoded values that IMAP SEARCH matches against, computed once at store time."""

from __future__ import annotations

import binascii
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

from mailhost.mime._address import MISSING_DOMAIN, MISSING_MAILBOX, parse_addresses
from mailhost.mime._headers import clean, first_values, to_str
from mailhost.mime._params import charset_decode
from mailhost.mime.structure import Part

MAX_TEXT_INPUT = 16 * 1024 * 1024
"""searchable_text decodes at most this many body octets in total."""

MAX_HEADER_INPUT = 1024 * 1024
"""SearchFields keep the decoded text of at most this many characters per header."""

SEARCH_FIELDS = frozenset({"from", "to", "cc", "bcc", "subject", "date", "message-id"})
_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=")
_WS_ONLY = re.compile(r"[ \t\r\n]*")
_B64_JUNK = re.compile(rb"[^A-Za-z0-9+/]")


@dataclass(frozen=True, slots=True)
class SearchFields:
    """Header values for SEARCH FROM/TO/CC/BCC/SUBJECT/SENTxxx, decoded (RFC 2047).

    Address fields list each address as ``Display Name <local@domain>`` joined
    by ", ", so a substring search matches the name or the address.
    """

    from_: str = ""
    to: str = ""
    cc: str = ""
    bcc: str = ""
    subject: str = ""
    sent_date: datetime | None = None
    message_id: str | None = None


def decode_words(value: str) -> str:
    """RFC 2047 decoding, lenient: any charset, errors replaced, never raises.

    Whitespace between adjacent encoded-words is dropped; adjacent words in the
    same charset are decoded together, so a character split across words
    survives. Encoded-words are recognised anywhere (also inside quotes, as
    many mailers put them there).
    """
    if len(value) > MAX_HEADER_INPUT:
        value = value[:MAX_HEADER_INPUT]
    if "=?" not in value:
        return clean(value)
    out: list[str] = []
    pend_charset: str | None = None
    pend: list[bytes] = []

    def flush() -> None:
        nonlocal pend_charset
        if pend:
            out.append(charset_decode(b"".join(pend), pend_charset))
            pend.clear()
        pend_charset = None

    pos = 0
    for m in _ENCODED_WORD.finditer(value):
        gap = value[pos : m.start()]
        if gap and not (pend and _WS_ONLY.fullmatch(gap)):
            flush()
            out.append(clean(gap))
        charset = m.group(1).split("*", 1)[0].lower()
        data = _decode_word(m.group(2), m.group(3))
        if pend and charset != pend_charset:
            flush()
        pend_charset = charset
        pend.append(data)
        pos = m.end()
    flush()
    out.append(clean(value[pos:]))
    return "".join(out)


def _decode_word(kind: str, text: str) -> bytes:
    data = text.encode("ascii", "replace")
    if kind in "bB":
        return _b64(data)
    return binascii.a2b_qp(data, header=True)


def _b64(data: bytes) -> bytes:
    try:  # the common case: well-formed (non-alphabet bytes such as CRLF are skipped)
        return binascii.a2b_base64(data)
    except (binascii.Error, ValueError):
        pass
    data = _B64_JUNK.sub(b"", data)
    data = data[: len(data) - len(data) % 4] if len(data) % 4 == 1 else data
    data += b"=" * (-len(data) % 4)
    try:
        return binascii.a2b_base64(data)
    except (binascii.Error, ValueError):
        return b""


def _addresses(value: bytes | None) -> str:
    if value is None:
        return ""
    items: list[str] = []
    for a in parse_addresses(to_str(value)):
        if a.host is None:
            if a.mailbox:  # group start: the group's name
                items.append(decode_words(a.mailbox))
            continue
        # The envelope's placeholders for missing parts are not message text.
        local = "" if a.mailbox == MISSING_MAILBOX else a.mailbox or ""
        spec = clean(local if a.host == MISSING_DOMAIN else f"{local}@{a.host}")
        if a.name:
            items.append(f"{decode_words(a.name)} <{spec}>" if spec else decode_words(a.name))
        elif spec:
            items.append(spec)
    return ", ".join(items)


_MONTHS = {m: i for i, m in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)}
# The canonical RFC 5322 form nearly every mailer writes; anything else takes the general path.
_PLAIN_DATE = re.compile(
    rb"(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), )?(\d{1,2}) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct"
    rb"|Nov|Dec) (\d{4}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)"
)


def _plain_date(value: bytes) -> datetime | None:
    """What ``parsedate_to_datetime`` gives for the canonical form, built directly."""
    m = _PLAIN_DATE.fullmatch(value)
    # -0000 (no zone) and years below 100 (read as 19xx/20xx) take the general path.
    if m is None or (m[7] == b"-" and m[8] == m[9] == b"00") or int(m[3]) < 100:
        return None
    offset = int(m[8]) * 3600 + int(m[9]) * 60
    try:
        return datetime(
            int(m[3]), _MONTHS[m[2].decode()], int(m[1]), int(m[4]), int(m[5]), int(m[6]),
            tzinfo=timezone(timedelta(seconds=-offset if m[7] == b"-" else offset)),
        )
    except ValueError:  # out of range: let the general path decide
        return None


def _date(value: bytes | None) -> datetime | None:
    if value is None:
        return None
    if (dt := _plain_date(value)) is not None:
        return dt
    try:
        dt = parsedate_to_datetime(value[:256].decode("ascii", "replace"))
    except Exception:  # garbage dates raise all sorts of things
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt


def search_fields(raw: bytes, root: Part) -> SearchFields:
    """The decoded SEARCH fields of the message whose header ``root`` points at."""
    return fields_of(first_values(raw, root.header_start, root.body_start, SEARCH_FIELDS))


def fields_of(values: dict[str, bytes]) -> SearchFields:
    """:func:`search_fields` from the header's values of (at least) :data:`SEARCH_FIELDS`."""
    subject = values.get("subject")
    mid = values.get("message-id")
    return SearchFields(
        from_=_addresses(values.get("from")),
        to=_addresses(values.get("to")),
        cc=_addresses(values.get("cc")),
        bcc=_addresses(values.get("bcc")),
        subject="" if subject is None else decode_words(to_str(subject)),
        sent_date=_date(values.get("date")),
        message_id=None if mid is None else clean(to_str(mid)),
    )


def decode_body(data: bytes, encoding: str | None) -> bytes:
    """Undo a Content-Transfer-Encoding (base64, quoted-printable); never raises."""
    if encoding == "base64":
        return _b64(data)
    if encoding == "quoted-printable":
        try:
            return binascii.a2b_qp(data)
        except (binascii.Error, ValueError):
            return data
    return data


def searchable_text(raw: bytes, root: Part) -> str:
    """The decoded text of every text/* part, in order, separated by newlines.

    Covers parts inside attached messages too. At most :data:`MAX_TEXT_INPUT`
    body octets are decoded in total.
    """
    out: list[str] = []
    budget = MAX_TEXT_INPUT
    stack = [root]
    while stack and budget > 0:
        part = stack.pop()
        if part.children:
            stack.extend(reversed(part.children))
            continue
        if part.type != "text" or part.size == 0:
            continue
        end = min(part.end, part.body_start + budget)
        budget -= end - part.body_start
        data = decode_body(raw[part.body_start : end], part.encoding)
        out.append(charset_decode(data, part.params.get("charset")))
    return "\n".join(out)


__all__ = ["SearchFields", "decode_body", "decode_words", "search_fields", "searchable_text"]
