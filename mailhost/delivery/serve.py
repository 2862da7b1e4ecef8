"""Running an aiosmtpd session on a connection the mailhost core accepted.

The core's listener has already applied the connection caps, the per-IP lockout and (on 465)
implicit TLS; the aiosmtpd protocol object is then attached to the same transport and this
coroutine lasts exactly as long as its session, so the server's accounting of open sessions
stays right and shutdown can wait for (or cut) it like any POP3 session.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from mailhost.delivery.handler import LMTP, SmtpHandler
from mailhost.delivery.smtpd import MailhostLMTP, MailhostSMTP

if TYPE_CHECKING:
    from mailhost.app import App
    from mailhost.config import ListenerSection
    from mailhost.connection import Connection

IDENT = {"smtp": "ESMTP mailhost", "lmtp": "LMTP mailhost", "submission": "ESMTP mailhost"}


async def serve_session(
    app: App, conn: Connection, listener: ListenerSection, kind: str
) -> None:
    """Serve one SMTP, LMTP or submission connection until the client is gone."""
    if conn.closed or conn.transport is None:  # hung up before the session started
        return
    handler = SmtpHandler(app, kind, conn.peer_ip, conn.is_loopback)
    offer_starttls = listener.tls == "starttls" and not conn.is_tls
    cls = MailhostLMTP if kind == LMTP else MailhostSMTP
    server = cls(
        handler,
        handshake_timeout=app.config.tls.handshake_timeout,
        max_recipients=app.config.smtp.max_recipients,
        data_size_limit=app.config.smtp.max_message_size,
        enable_SMTPUTF8=True,
        hostname=app.config.server.hostname,
        ident=IDENT[kind],
        tls_context=app.tls_context if offer_starttls else None,
        timeout=app.config.smtp.idle_timeout,
        auth_require_tls=False,  # the handler applies mailhost's own cleartext rule
        loop=asyncio.get_running_loop(),
    )
    conn.hand_over(server)
    try:
        await server.finished()
    finally:
        server.close()
