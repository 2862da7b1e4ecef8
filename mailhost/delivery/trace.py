"""Trace headers (RFC 5321 §4.4): ``Return-Path`` and ``Received``, built from hostile input.

Everything that goes into them (the HELO name, envelope addresses, the SASL identity) was typed
by a client. A CR or LF would end the header and let the client write its own headers into the
stored message, so every value passes through a whitelist first; parentheses and angle
brackets are replaced too, so a value cannot close its comment and fake another clause.
"""

from __future__ import annotations

import functools
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import format_datetime

MAX_TOKEN = 255
_HOST_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_:[]")
_PLAIN_HOST = re.compile(r"[A-Za-z0-9.\-_:\[\]]+")  # only _HOST_CHARS: nothing to replace
_ADDRESS_FORBIDDEN = frozenset("<>()\\")


def clean_host(text: str, limit: int = MAX_TOKEN) -> str:
    """A HELO name or host as plain ASCII host characters; anything else becomes ``?``."""
    if len(text) <= limit and _PLAIN_HOST.fullmatch(text):  # the usual case, without a loop
        return text
    cleaned = "".join(c if c in _HOST_CHARS else "?" for c in text[:limit])
    return cleaned or "unknown"


def clean_address(text: str, allow_utf8: bool = False, limit: int = MAX_TOKEN) -> str:
    """An envelope address or login name fit for a header: no controls, no brackets.

    Non-ASCII survives only for SMTPUTF8 mail (RFC 6532 allows UTF-8 headers there).
    """
    if (len(text) <= limit and text.isprintable() and (allow_utf8 or text.isascii())
            and _ADDRESS_FORBIDDEN.isdisjoint(text)):  # the usual case: nothing to replace
        return text
    out = []
    for c in text[:limit]:
        printable = c.isprintable() and c not in _ADDRESS_FORBIDDEN and c not in "\r\n"
        if printable and (c.isascii() or allow_utf8):
            out.append(c)
        else:
            out.append("?")
    return "".join(out)


def new_queue_id() -> str:
    """A short random id that ties the Received header to the log lines of one message."""
    return secrets.token_hex(6).upper()


@dataclass(frozen=True)
class TraceInfo:
    """What the trace headers record about one transaction (all client values raw)."""

    hostname: str  # ours, from [server] hostname
    protocol: str  # smtp, lmtp, submission or deliver
    queue_id: str
    helo: str = ""
    peer_ip: str = ""
    tls: str = ""  # "TLSv1.3 TLS_AES_256_GCM_SHA384", empty without TLS
    authenticated: str | None = None
    extended: bool = True  # EHLO/LHLO rather than HELO
    smtputf8: bool = False


def with_protocol(info: TraceInfo) -> str:
    """The ``with`` keyword: RFC 3848 (ESMTPS, ESMTPSA, LMTPA ...) and RFC 6531 (UTF8SMTP...)."""
    if info.protocol == "lmtp":
        base = "LMTP"
    elif info.extended or info.tls or info.authenticated:
        base = "ESMTP"
    else:
        base = "SMTP"
    if info.smtputf8:
        base = "UTF8" + base.removeprefix("E")
    return base + ("S" if info.tls else "") + ("A" if info.authenticated else "")


def received_header(info: TraceInfo, recipient: str | None, when: datetime) -> bytes:
    """One ``Received:`` field, folded, ending in CRLF; ``for`` names a single recipient."""
    utf8 = info.smtputf8
    lines: list[str] = []
    if info.protocol == "deliver":
        lines.append(f"Received: by {clean_host(info.hostname)} (mailhost deliver)")
        lines.append(f"\tid {info.queue_id}")
    else:
        lines.append(f"Received: from {clean_host(info.helo)} ([{clean_host(info.peer_ip)}])")
        if info.tls:
            lines.append(f"\t(using {clean_address(info.tls)})")
        if info.authenticated:
            lines.append(
                f"\t(authenticated sender: {clean_address(info.authenticated, utf8)})"
            )
        lines.append(f"\tby {clean_host(info.hostname)} (mailhost) with {with_protocol(info)}"
                     f" id {info.queue_id}")
    stamp = _date_field(when.replace(microsecond=0), when.utcoffset())
    if recipient is not None:
        lines.append(f"\tfor <{clean_address(recipient, utf8)}>; {stamp}")
    else:
        lines[-1] += ";"
        lines.append(f"\t{stamp}")
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


@functools.lru_cache(maxsize=8)
def _date_field(when: datetime, offset: timedelta | None) -> str:
    """The RFC 5322 date of a Received field, formatted once per second rather than per copy.

    ``offset`` is part of the key because aware datetimes of the same instant compare equal
    whatever their offsets, and the text shows the offset.
    """
    return format_datetime(when)


def return_path_header(sender: str, smtputf8: bool = False) -> bytes:
    """``Return-Path:`` as added at final delivery; ``<>`` for the null sender (bounces)."""
    return f"Return-Path: <{clean_address(sender, smtputf8)}>\r\n".encode()
