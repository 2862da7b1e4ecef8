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
        "CAPA": (commands.capa, BOTH),
        "STLS": (commands.stls, {AUTHORIZATION}),
        "UTF8": (commands.utf8, {AUTHORIZATION}),
        "USER": (commands.user, {AUTHORIZATION}),
        "PASS": (commands.pass_, {AUTHORIZATION}),
        "AUTH": (commands.auth, {AUTHORIZATION}),
        "STAT": (commands.stat, {TRANSACTION}),
        "LIST": (commands.list_, {TRANSACTION}),
        "UIDL": (commands.uidl, {TRANSACTION}),
        "RETR": (commands.retr, {TRANSACTION}),
        "TOP": (commands.top, {TRANSACTION}),
        "DELE": (commands.dele, {TRANSACTION}),
        "NOOP": (commands.noop, {TRANSACTION}),
        "RSET": (commands.rset, {TRANSACTION}),
        "QUIT": (commands.quit_, BOTH),
    }
    for verb, (handler, states) in table.items():
        registry.add(verb, handler, states=states)


@hookimpl(trylast=True)
async def mailhost_pop3_maildrop(app: App, session: Pop3Session) -> list[MaildropEntry]:
    """Classic POP3: the INBOX (or the folder policy's folders), oldest first."""
    return await default_maildrop(app, session)
