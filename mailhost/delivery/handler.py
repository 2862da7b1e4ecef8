"""aiosmtpd's ``handle_*`` hooks for one connection: policy per command, the pipeline at DATA.

One handler class serves the three listener kinds; they differ only in rules:

* ``smtp`` (port 25): anyone may send, to local recipients only (never an open relay);
* ``lmtp``: the same, with a reply per recipient after DATA, for an MTA in front;
* ``submission`` (587/465): AUTH first (over TLS, or loopback when allowed), the envelope
  sender and From: must be the user's own address or alias, and remote recipients go to the
  smarthost when one is configured.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiosmtpd.smtp import Envelope, TLSSetupException

from mailhost.delivery.pipeline import (
    Transaction,
    deliver_all,
    deliver_each,
    finish_even_if_cancelled,
)
from mailhost.delivery.recipients import (
    Recipient,
    check_recipient,
    envelope_address,
    from_addresses,
    may_send_as,
)
from mailhost.delivery.relay import relay
from mailhost.delivery.replies import (
    AUTH_REQUIRED,
    BAD_RECIPIENT,
    BAD_SENDER,
    LOCAL_ERROR,
    RECIPIENT_OK,
    SENDER_OK,
    Reply,
    ehlo_response,
)
from mailhost.delivery.smtpauth import authenticate
from mailhost.delivery.smtpd import MailhostEnvelope, MailhostSession, MailhostSMTP
from mailhost.delivery.trace import TraceInfo, new_queue_id
from mailhost.store.addresses import safe_for_log

if TYPE_CHECKING:
    from mailhost.app import App

log = logging.getLogger("mailhost.smtp")

SMTP, LMTP, SUBMISSION = "smtp", "lmtp", "submission"
MAX_HELO = 255


@dataclass(frozen=True)
class _Security:
    """The connection as the cleartext-password rule sees it."""

    is_secure: bool
    is_loopback: bool


def acceptable_helo(name: str) -> bool:
    """A HELO/EHLO argument we record: printable, bounded (its content is sanitised later)."""
    return 0 < len(name) <= MAX_HELO and name.isprintable()


class SmtpHandler:
    """Hooks aiosmtpd calls with (server, session, envelope, ...) for each command."""

    def __init__(self, app: App, kind: str, peer_ip: str, peer_is_loopback: bool) -> None:
        self.app = app
        self.kind = kind
        self.peer_ip = peer_ip
        self.peer_is_loopback = peer_is_loopback

    # -- greeting --------------------------------------------------------------------------

    def _may_auth(self, server: MailhostSMTP, session: MailhostSession) -> bool:
        security = _Security(server.is_tls(), self.peer_is_loopback)
        return (self.kind == SUBMISSION and session.user is None
                and self.app.authenticator.cleartext_allowed(security))

    async def handle_HELO(
        self, server: MailhostSMTP, session: MailhostSession, envelope: Envelope, hostname: str
    ) -> str | bytes:
        if not acceptable_helo(hostname):
            return "501 5.5.4 invalid HELO name"
        session.host_name = hostname
        return f"250 {self.app.config.server.hostname}".encode()

    async def handle_EHLO(
        self, server: MailhostSMTP, session: MailhostSession, envelope: Envelope, hostname: str,
        responses: list[str],
    ) -> Sequence[str | bytes]:
        """The EHLO (and LHLO) keywords, rebuilt from our own state rather than aiosmtpd's."""
        if not acceptable_helo(hostname):
            return ["501 5.5.4 invalid EHLO name"]
        session.host_name = hostname
        keywords = ["PIPELINING", f"SIZE {self.app.config.smtp.max_message_size}", "8BITMIME",
                    "SMTPUTF8", "ENHANCEDSTATUSCODES"]
        if server.tls_context is not None and not server.is_tls():
            keywords.append("STARTTLS")
        if self._may_auth(server, session):
            keywords.append("AUTH PLAIN LOGIN")
        return ehlo_response(self.app.config.server.hostname, keywords)

    async def handle_AUTH(
        self, server: MailhostSMTP, session: MailhostSession, envelope: Envelope, args: list[str]
    ) -> str | None:
        if self.kind != SUBMISSION:
            return "502 5.5.1 AUTH is offered on the submission port only"
        if not self._may_auth(server, session):
            return "538 5.7.11 Encryption required for requested authentication mechanism"
        return await authenticate(self.app, server, session, args, self.peer_ip)

    # -- envelope --------------------------------------------------------------------------

    async def handle_MAIL(
        self, server: MailhostSMTP, session: MailhostSession, envelope: Envelope, address: str,
        mail_options: list[str],
    ) -> str:
        if self.kind == SUBMISSION and session.user is None:
            return str(AUTH_REQUIRED)
        sender = envelope_address(address)
        if sender is None:
            return str(BAD_SENDER)
        if session.user is not None:
            user = session.user
            if not sender or not await may_send_as(self.app, user, sender):
                log.info("submission: %s may not send as <%s>", user, safe_for_log(sender))
                return f"550 5.7.1 sender address <{safe_for_log(sender)}> is not yours"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return str(SENDER_OK)

    async def handle_RCPT(
        self, server: MailhostSMTP, session: MailhostSession, envelope: Envelope, address: str,
        rcpt_options: list[str],
    ) -> str:
        assert isinstance(envelope, MailhostEnvelope)
        recipient = envelope_address(address)
        if not recipient:
            return str(BAD_RECIPIENT)
        may_relay = self.kind == SUBMISSION and session.user is not None
        result = await check_recipient(self.app, recipient, may_relay=may_relay)
        if isinstance(result, Reply):
            log.info("%s from %s: RCPT <%s> refused: %s", self.kind, self.peer_ip,
                     safe_for_log(recipient), result)
            return str(result)
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        envelope.accepted.append(result)
        return str(RECIPIENT_OK)

    # -- the message -----------------------------------------------------------------------

    async def handle_DATA(
        self, server: MailhostSMTP, session: MailhostSession, envelope: Envelope
    ) -> str:
        assert isinstance(envelope, MailhostEnvelope)
        try:
            return await finish_even_if_cancelled(self._deliver(server, session, envelope))
        except Exception:  # a reply must still go out, one per recipient for LMTP
            log.exception("%s from %s: delivery failed", self.kind, self.peer_ip)
            count = len(envelope.accepted) if self.kind == LMTP else 1
            return "\r\n".join([str(LOCAL_ERROR)] * count)

    async def _deliver(
        self, server: MailhostSMTP, session: MailhostSession, envelope: MailhostEnvelope
    ) -> str:
        content = envelope.original_content or b""
        trace = TraceInfo(
            hostname=self.app.config.server.hostname, protocol=self.kind,
            queue_id=new_queue_id(), helo=session.host_name or "", peer_ip=self.peer_ip,
            tls=server.tls_description(),
            authenticated=session.user,
            extended=session.extended_smtp, smtputf8=envelope.smtp_utf8,
        )
        sender = envelope_address(envelope.mail_from or "") or ""
        txn = Transaction(trace, sender, tuple(envelope.accepted))
        if self.kind == LMTP:
            replies = await deliver_each(self.app, txn, content)
            return "\r\n".join(str(reply) for reply in replies)
        if session.user is not None:
            refusal = await self._check_from(session.user, content)
            if refusal is not None:
                return refusal

        async def to_smarthost(recipients: Sequence[Recipient], message: bytes) -> Reply:
            return await relay(self.app, sender, recipients, message)

        return str(await deliver_all(self.app, txn, content, relay=to_smarthost))

    async def _check_from(self, user: str, content: bytes) -> str | None:
        """RFC 6409 §8: the From: of submitted mail must be the user's too."""
        addresses = from_addresses(content)
        if not addresses:
            return "550 5.7.1 a From: header with your address is required"
        for address in addresses:
            if not await may_send_as(self.app, user, address):
                log.info("submission: %s may not send as From: <%s>", user,
                         safe_for_log(address))
                return f"550 5.7.1 From: address <{safe_for_log(address)}> is not yours"
        return None

    async def handle_exception(self, error: Exception) -> str:
        if isinstance(error, TLSSetupException):
            log.info("%s from %s: TLS handshake failed: %r", self.kind, self.peer_ip,
                     error.__cause__)
            return "454 4.7.0 TLS handshake failed"
        log.exception("%s from %s: unexpected error", self.kind, self.peer_ip)
        return str(LOCAL_ERROR)

