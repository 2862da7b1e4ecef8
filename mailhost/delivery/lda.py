"""``mailhost deliver``: a local delivery agent, one message on stdin into one mailbox.

Meant for Postfix's ``mailbox_command`` (or ``pipe``) and for scripts. It runs the same
pipeline as SMTP (recipient check, decide hook, trace headers, store, notification), and its
exit status follows ``sysexits.h`` so the calling MTA bounces or retries correctly:
0 delivered, 67 unknown user, 65 unusable input, 77 refused by policy, 75 try again later.
Anything unexpected is 75, because a temporary failure keeps the message queued and a
misconfigured LDA must never turn into bounced (lost) mail.
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING

from mailhost.delivery.pipeline import Transaction, deliver_each
from mailhost.delivery.recipients import check_recipient, envelope_address
from mailhost.delivery.replies import BAD_SENDER, Reply
from mailhost.delivery.trace import TraceInfo, new_queue_id

if TYPE_CHECKING:
    from mailhost.app import App

EX_OK = os.EX_OK  # 0
EX_DATAERR = os.EX_DATAERR  # 65
EX_NOUSER = os.EX_NOUSER  # 67
EX_TEMPFAIL = os.EX_TEMPFAIL  # 75
EX_NOPERM = os.EX_NOPERM  # 77

_HEADER_FIELD = re.compile(rb"[\x21-\x39\x3b-\x7e]+[ \t]*:")  # RFC 5322 field-name ":"


class UnusableInput(ValueError):
    """The input is not a message this agent can store (exit 65)."""


def prepare(raw: bytes, limit: int) -> bytes:
    """Strip an mbox ``From `` envelope line and check the input looks like a message."""
    if len(raw) > limit:
        raise UnusableInput(f"message larger than {limit} bytes ([smtp] max_message_size)")
    if raw.startswith(b"From "):  # what MTAs prepend for mbox delivery; not a header field
        raw = raw.partition(b"\n")[2]
    if not raw.strip():
        raise UnusableInput("empty message")
    if not _HEADER_FIELD.match(raw):
        raise UnusableInput("input does not start with a header field (Name: value)")
    return raw


def exit_code(reply: Reply) -> int:
    """sysexits status for a delivery reply."""
    if reply.ok:
        return EX_OK
    if reply.temporary:
        return EX_TEMPFAIL
    if reply.status == "5.1.7":  # the --from address is unusable
        return EX_DATAERR
    if reply.status.startswith("5.1."):  # unknown user, bad address
        return EX_NOUSER
    if reply.status == "5.7.1" and reply.code == 554:  # not one of our domains
        return EX_NOUSER
    return EX_NOPERM


async def deliver_message(app: App, recipient: str, raw: bytes, sender: str = "") -> Reply:
    """Deliver ``raw`` (already prepared) to one local address, like one LMTP recipient."""
    checked_sender = envelope_address(sender) if sender else ""
    if checked_sender is None:
        return BAD_SENDER
    accepted = await check_recipient(app, recipient, may_relay=False)
    if isinstance(accepted, Reply):
        return accepted
    trace = TraceInfo(hostname=app.config.server.hostname, protocol="deliver",
                      queue_id=new_queue_id())
    [reply] = await deliver_each(app, Transaction(trace, checked_sender, (accepted,)), raw)
    return reply
