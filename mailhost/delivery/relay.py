"""Mail for other domains from submission, handed to the configured smarthost with aiosmtplib.

There is no queue: the submission client is answered with the smarthost's verdict, so a
temporary failure there becomes a 4xx here and the client retries (it still has the message).
aiosmtplib turns bare LF and CR into CRLF and dot-stuffs, so nothing the client sent can end
the DATA phase early on the smarthost (SMTP smuggling in the outbound direction).
"""

from __future__ import annotations

import asyncio
import logging
import re
import ssl
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import aiosmtplib

from mailhost.delivery.recipients import Recipient
from mailhost.delivery.replies import Reply
from mailhost.store.addresses import safe_for_log

if TYPE_CHECKING:
    from mailhost.app import App
    from mailhost.config import RelaySection

log = logging.getLogger("mailhost.relay")

RELAY_TIMEOUT = 60.0
RELAYED = Reply(250, "2.0.0", "OK, relayed to the smarthost")
_ENHANCED_PREFIX = re.compile(r"^([245]\.\d{1,3}\.\d{1,3})\s+")


def remote_reply(code: int, message: str, host: str) -> Reply:
    """The smarthost's refusal as our reply: its class and enhanced code, our wording."""
    if not 400 <= code <= 599:
        code = 451
    text = safe_for_log(message, limit=200)
    match = _ENHANCED_PREFIX.match(text)
    status = match.group(1) if match else f"{code // 100}.0.0"
    if match:
        text = text[match.end():]
    if status[0] != str(code // 100):
        status = f"{code // 100}.0.0"
    return Reply(code, status, f"smarthost {safe_for_log(host, 100)} said: {text}")


async def _password(settings: RelaySection) -> str | None:
    if not settings.password_file:
        return None
    text = await asyncio.to_thread(Path(settings.password_file).read_text, "utf-8")
    return text.strip("\r\n")


def client_context(settings: RelaySection) -> ssl.SSLContext:
    """Verify the smarthost's certificate: the system store, or ``[relay] ca_file``."""
    return ssl.create_default_context(cafile=settings.ca_file or None)


async def relay(
    app: App, sender: str, recipients: Sequence[Recipient], message: bytes
) -> Reply:
    """Send one message to the smarthost; a 250 means it accepted every recipient."""
    settings = app.config.relay
    try:
        password = await _password(settings)
    except (OSError, UnicodeDecodeError) as exc:
        log.error("relay: cannot read [relay] password_file: %s", exc)
        return Reply(451, "4.3.5", "relay is misconfigured on this server")
    try:
        refused, _response = await aiosmtplib.send(
            message, sender=sender, recipients=[r.address for r in recipients],
            hostname=settings.host, port=settings.port,
            use_tls=settings.tls == "implicit", start_tls=settings.tls == "starttls",
            tls_context=client_context(settings) if settings.tls != "none" else None,
            username=settings.username or None, password=password,
            local_hostname=app.config.server.hostname, timeout=RELAY_TIMEOUT,
        )
    except aiosmtplib.SMTPAuthenticationError as exc:
        log.error("relay: smarthost %s refused our login: %s %s", settings.host, exc.code,
                  safe_for_log(exc.message))
        return Reply(451, "4.7.0", "relay is misconfigured on this server (smarthost login)")
    except aiosmtplib.SMTPRecipientsRefused as exc:
        first = exc.recipients[0]
        return remote_reply(first.code, first.message, settings.host)
    except aiosmtplib.SMTPResponseException as exc:
        return remote_reply(exc.code, exc.message, settings.host)
    except (aiosmtplib.SMTPException, OSError, ssl.SSLError) as exc:
        log.warning("relay: smarthost %s:%d unreachable: %r", settings.host, settings.port, exc)
        return Reply(451, "4.4.1", "smarthost not reachable, please try again later")
    if refused:
        address, response = next(iter(refused.items()))
        log.warning("relay: smarthost refused %s: %s", safe_for_log(address), response)
        return remote_reply(response.code, response.message, settings.host)
    log.info("relayed from=<%s> to %d recipients via %s", safe_for_log(sender),
             len(recipients), settings.host)
    return RELAYED
