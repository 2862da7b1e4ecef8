"""POP3 as a built-in plugin: the protocol, its verb table, and its default maildrop view."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from mailhost.hookspecs import hookimpl
from mailhost.protocols.pop3 import commands
from mailhost.protocols.pop3.maildrop import MaildropEntry, default_maildrop
from mailhost.protocols.pop3.parser import err
from mailhost.protocols.pop3.session import AUTHORIZATION, TRANSACTION, Pop3Session
from mailhost.protocols.registry import CommandRegistry, ProtocolHandler

if TYPE_CHECKING:
    from mailhost.app import App
    from mailhost.config import ListenerSection
    from mailhost.connection import Connection

BOTH = {AUTHORIZATION, TRANSACTION}


async def serve(app: App, conn: Connection, listener: ListenerSection) -> None:
    await Pop3Session(app, conn, listener).run()


def refuse(reason: str) -> bytes:
    return err(reason, "SYS/TEMP")


@hookimpl
def mailhost_protocols() -> Sequence[ProtocolHandler]:
    return [ProtocolHandler("pop3", serve, refuse, "POP3 (RFC 1939) with STLS, SASL, UIDL, TOP")]


@hookimpl
def mailhost_pop3_commands(registry: CommandRegistry[Any]) -> None:
    table = {
        "CAPA": (commands.capa, BOTH, None),
        "STLS": (commands.stls, {AUTHORIZATION}, None),
        "UTF8": (commands.utf8, {AUTHORIZATION}, None),
        "USER": (commands.user, {AUTHORIZATION}, None),
        "PASS": (commands.pass_, {AUTHORIZATION}, None),
        "AUTH": (commands.auth, {AUTHORIZATION}, None),
        "STAT": (commands.stat, {TRANSACTION}, commands.stat_now),
        "LIST": (commands.list_, {TRANSACTION}, commands.list_now),
        "UIDL": (commands.uidl, {TRANSACTION}, commands.uidl_now),
        "RETR": (commands.retr, {TRANSACTION}, commands.retr_now),
        "TOP": (commands.top, {TRANSACTION}, commands.top_now),
        "DELE": (commands.dele, {TRANSACTION}, commands.dele_now),
        "NOOP": (commands.noop, {TRANSACTION}, commands.noop_now),
        "RSET": (commands.rset, {TRANSACTION}, commands.rset_now),
        "QUIT": (commands.quit_, BOTH, None),
    }
    for verb, (handler, states, instant) in table.items():
        registry.add(verb, handler, states=states, instant=instant)


@hookimpl(trylast=True)
async def mailhost_pop3_maildrop(app: App, session: Pop3Session) -> list[MaildropEntry]:
    """Classic POP3: the INBOX (or the folder policy's folders), oldest first."""
    return await default_maildrop(app, session)
