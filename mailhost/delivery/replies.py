"""SMTP replies as values, and the enhanced status codes (RFC 2034, RFC 3463) they carry.

The delivery pipeline answers with :class:`Reply` values so SMTP, LMTP and ``mailhost deliver``
phrase the same outcome the same way. aiosmtpd's own replies ("250 OK", "503 Error: need RCPT
command") have no enhanced code; :func:`with_enhanced_code` adds one, because a server that
advertises ENHANCEDSTATUSCODES must send one with every reply except the greeting and EHLO.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from mailhost.decisions import Defer, Reject
from mailhost.store.addresses import safe_for_log


@dataclass(frozen=True)
class Reply:
    """One SMTP reply line: basic code, enhanced status code and text."""

    code: int
    status: str
    text: str

    def __str__(self) -> str:
        return f"{self.code} {self.status} {self.text}"

    @property
    def ok(self) -> bool:
        return 200 <= self.code < 300

    @property
    def temporary(self) -> bool:
        return 400 <= self.code < 500

    @property
    def permanent(self) -> bool:
        return self.code >= 500


# Outcomes the pipeline and the front ends share.
DELIVERED = Reply(250, "2.0.0", "OK, delivered")
DISCARDED = Reply(250, "2.0.0", "OK")  # a Discard must look like success to the sender
SENDER_OK = Reply(250, "2.1.0", "sender OK")
RECIPIENT_OK = Reply(250, "2.1.5", "recipient OK")
PLUGIN_FAILED = Reply(451, "4.3.0", "temporary local problem, please try again later")
LOCAL_ERROR = Reply(451, "4.3.0", "local error in processing, please try again later")
STORAGE_FULL = Reply(452, "4.3.1", "insufficient system storage, please try again later")
# RFC 3463 X.2.2 "mailbox full" is "a persistent transient failure": the user can make room,
# so the sender should keep the message queued and retry, not bounce it at once.
OVER_QUOTA = Reply(452, "4.2.2", "mailbox full, please try again later")
TOO_MANY_RECIPIENTS = Reply(452, "4.5.3", "too many recipients")
USER_UNKNOWN = Reply(550, "5.1.1", "no such user here")
RELAY_DENIED = Reply(554, "5.7.1", "relay access denied")
RELAY_NOT_CONFIGURED = Reply(
    550, "5.7.1", "relaying to other domains is not configured on this server ([relay] host)"
)
AUTH_REQUIRED = Reply(530, "5.7.0", "authentication required")
BAD_SENDER = Reply(501, "5.1.7", "bad sender address syntax")
BAD_RECIPIENT = Reply(501, "5.1.3", "bad recipient address syntax")


def decision_reply(decision: Reject | Defer) -> Reply:
    """A plugin's Reject or Defer as a reply; the code is forced into the right class.

    A plugin that returns ``Reject(code=250)`` must not turn a refusal into an acceptance, and
    its text must not smuggle a CRLF into the reply.
    """
    text = safe_for_log(decision.message, limit=200) or "refused by policy"
    if isinstance(decision, Reject):
        code = decision.code if 500 <= decision.code <= 599 else 550
        return Reply(code, "5.7.1", text)
    code = decision.code if 400 <= decision.code <= 499 else 451
    return Reply(code, "4.7.1", text)


_ENHANCED = re.compile(r"[245]\.\d{1,3}\.\d{1,3}(?: |$)")
_REPLY_LINE = re.compile(r"(\d{3})([ -])(.*)", re.DOTALL)

# RFC 3463 codes for aiosmtpd's replies that lack one; otherwise "class.0.0" (undefined).
DEFAULT_ENHANCED: dict[int, str] = {
    250: "2.0.0",
    251: "2.1.5",
    252: "2.0.0",
    421: "4.3.2",
    500: "5.5.2",
    501: "5.5.4",
    502: "5.5.1",
    503: "5.5.1",
    504: "5.5.4",
    530: "5.7.0",
    552: "5.3.4",
    554: "5.7.0",
    555: "5.5.4",
}

# The greeting (and STARTTLS's go-ahead) carry no enhanced code; 3xx never do.
_EXEMPT = {220}


@functools.lru_cache(maxsize=512)
def with_enhanced_code(reply: str) -> str:
    """Insert a default enhanced status code into each line of ``reply`` that lacks one.

    Remembered: every reply goes through here, and nearly all are the same few strings.
    """
    lines = reply.split("\r\n")
    out = []
    for line in lines:
        match = _REPLY_LINE.fullmatch(line)
        if match is None:
            out.append(line)
            continue
        code, sep, text = int(match.group(1)), match.group(2), match.group(3)
        if code in _EXEMPT or code // 100 not in (2, 4, 5) or _ENHANCED.match(text):
            out.append(line)
            continue
        status = DEFAULT_ENHANCED.get(code, f"{code // 100}.0.0")
        out.append(f"{code}{sep}{status} {text}".rstrip())
    return "\r\n".join(out)


def one_per_recipient(reply: str, recipients: int) -> str:
    """LMTP (RFC 2033 §4.2): after DATA the client waits for one reply per recipient.

    A failure that hits the whole message (too big, a line too long) is one line from aiosmtpd;
    repeat it so an LMTP client is not left waiting for replies that never come.
    """
    lines = reply.split("\r\n")
    if recipients <= 1 or len(lines) == recipients:
        return reply
    return "\r\n".join([lines[0]] * recipients)


def ehlo_response(hostname: str, keywords: list[str]) -> list[bytes]:
    """The multi-line EHLO/LHLO reply, as bytes so no enhanced code is inserted (RFC 2034)."""
    lines = [hostname, *keywords]
    last = len(lines) - 1
    return [f"250{' ' if i == last else '-'}{line}".encode() for i, line in enumerate(lines)]
