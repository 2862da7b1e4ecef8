"""SMTP, LMTP and submission as a built-in plugin, registered like any other protocol."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from mailhost.delivery.handler import LMTP, SMTP, SUBMISSION
from mailhost.delivery.serve import serve_session
from mailhost.hookspecs import hookimpl
from mailhost.protocols.registry import ProtocolHandler

if TYPE_CHECKING:
    from mailhost.app import App
    from mailhost.config import ListenerSection
    from mailhost.connection import Connection


async def serve_smtp(app: App, conn: Connection, listener: ListenerSection) -> None:
    await serve_session(app, conn, listener, SMTP)


async def serve_lmtp(app: App, conn: Connection, listener: ListenerSection) -> None:
    await serve_session(app, conn, listener, LMTP)


async def serve_submission(app: App, conn: Connection, listener: ListenerSection) -> None:
    await serve_session(app, conn, listener, SUBMISSION)


def refuse(reason: str) -> bytes:
    """RFC 5321 §3.8: 421 when the service is not available to this client now."""
    return f"421 4.3.2 {reason}\r\n".encode()


@hookimpl
def mailhost_protocols() -> Sequence[ProtocolHandler]:
    return [
        ProtocolHandler("smtp", serve_smtp, refuse,
                        "SMTP (RFC 5321) for local domains, with STARTTLS; never relays"),
        ProtocolHandler("lmtp", serve_lmtp, refuse,
                        "LMTP (RFC 2033) for an MTA in front, one reply per recipient"),
        ProtocolHandler("submission", serve_submission, refuse,
                        "Submission (RFC 6409/8314): AUTH required, smarthost for remote mail"),
    ]


@hookimpl
def mailhost_startup(app: App) -> None:
    """aiosmtpd logs every command line at INFO; keep that for ``log_level = "debug"``."""
    if app.config.server.log_level != "debug":
        logging.getLogger("mail.log").setLevel(logging.WARNING)
