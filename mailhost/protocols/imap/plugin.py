"""IMAP as a built-in plugin: the protocol and its verb table, registered like any plugin's."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from mailhost.hookspecs import hookimpl
from mailhost.protocols.imap import commands as cmd
from mailhost.protocols.imap.handlers import mailboxes, messages
from mailhost.protocols.imap.handlers import session as conn
from mailhost.protocols.imap.parser import default_registry
from mailhost.protocols.imap.session import ImapSession
from mailhost.protocols.registry import CommandRegistry, ProtocolHandler

if TYPE_CHECKING:
    from mailhost.app import App
    from mailhost.config import ListenerSection
    from mailhost.connection import Connection

HANDLERS: dict[type[cmd.Command], Any] = {
    cmd.Capability: conn.capability,
    cmd.Noop: conn.noop,
    cmd.Logout: conn.logout,
    cmd.Id: conn.id_,
    cmd.Starttls: conn.starttls,
    cmd.Authenticate: conn.authenticate,
    cmd.Login: conn.login,
    cmd.Enable: conn.enable,
    cmd.Namespace: conn.namespace,
    cmd.Select: mailboxes.select,
    cmd.Examine: mailboxes.select,
    cmd.Create: mailboxes.create,
    cmd.Delete: mailboxes.delete,
    cmd.Rename: mailboxes.rename,
    cmd.Subscribe: mailboxes.subscribe,
    cmd.Unsubscribe: mailboxes.unsubscribe,
    cmd.List: mailboxes.list_,
    cmd.Lsub: mailboxes.lsub,
    cmd.Status: mailboxes.status,
    cmd.Append: mailboxes.append,
    cmd.GetQuota: mailboxes.getquota,
    cmd.GetQuotaRoot: mailboxes.getquotaroot,
    cmd.SetQuota: mailboxes.setquota,
    cmd.Idle: messages.idle,
    cmd.Check: messages.check,
    cmd.Close: messages.close,
    cmd.Unselect: messages.unselect,
    cmd.Expunge: messages.expunge,
    cmd.Search: messages.search,
    cmd.Fetch: messages.fetch,
    cmd.Store: messages.store,
    cmd.Copy: messages.copy,
    cmd.Move: messages.move,
}

# Commands a session may start while earlier ones still run (replies stay in order): an
# APPEND only adds a message, so pipelined APPENDs can share the store's group commit.
CONCURRENT: frozenset[type[cmd.Command]] = frozenset({cmd.Append})


async def serve(app: App, conn_: Connection, listener: ListenerSection) -> None:
    await ImapSession(app, conn_, listener).run()


def refuse(reason: str) -> bytes:
    return b"* BYE [UNAVAILABLE] " + reason.encode() + b"\r\n"


@hookimpl
def mailhost_protocols() -> Sequence[ProtocolHandler]:
    return [ProtocolHandler("imap", serve, refuse, "IMAP4rev1 (RFC 3501) with extensions")]


@hookimpl
def mailhost_imap_commands(registry: CommandRegistry[Any]) -> None:
    if registry.parsers is None:
        registry.parsers = default_registry()
    for command_class, handler in HANDLERS.items():
        verb = getattr(command_class, "verb", command_class.__name__.upper())
        registry.add(verb, handler, states={state.value for state in command_class.states},
                     concurrent=command_class in CONCURRENT)
