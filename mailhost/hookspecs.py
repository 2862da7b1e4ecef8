"""Every hook a mailhost plugin can implement, in one typed file.

Each docstring is the reference documentation (``docs/hooks.md`` mirrors it and a test keeps the
two in step). pluggy itself is synchronous, so each hook is one of three kinds, named in its
docstring and honoured by :class:`mailhost.plugins.PluginHost`:

* **notify**: every implementation runs, in order; results are ignored. An implementation may be
  ``async def``; the host awaits it. An exception is logged with the plugin's name and the other
  implementations still run.
* **collect**: every implementation runs and the host returns the list of their results.
* **decide**: implementations run in order until one returns something other than ``None``; that
  value wins and the rest are not called. ``async def`` implementations are awaited one at a time,
  so an async plugin really decides before the next is asked. An exception becomes a temporary
  failure for the client (``-ERR [SYS/TEMP]``, ``NO [UNAVAILABLE]``, ``451``), logged with the
  plugin's name.

Order: plugins registered later run first, ``tryfirst``/``trylast`` adjust that, and the built-in
defaults are ``trylast`` so any enabled plugin overrides them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from mailhost.app import App
    from mailhost.cli_registry import CliCommand
    from mailhost.decisions import AuthOutcome, DeliveryDecision, Pop3Action
    from mailhost.protocols.pop3.maildrop import MaildropEntry, Pop3Advert
    from mailhost.protocols.pop3.session import Pop3Session
    from mailhost.protocols.registry import CommandRegistry, ProtocolHandler
    from mailhost.store.events import StoreEvent
    from mailhost.store.interface import MessageMeta, MessageRef

PROJECT = "mailhost"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

MaybeAwaitable = Any  # a value, or an awaitable of it; spelled out in each docstring


# --------------------------------------------------------------------------------------------
# Configuration and lifecycle
# --------------------------------------------------------------------------------------------


@hookspec
def mailhost_settings_schema() -> Mapping[str, type]:
    """**collect** Map a plugin name to the dataclass that validates ``[plugins.NAME]``.

    The loader checks the table against the dataclass exactly like the core sections: unknown
    keys and wrong types are config errors that name the file, key and fix. The validated
    instance is then available as ``app.plugin_settings(NAME)``.
    """



@hookspec
def mailhost_startup(app: App) -> MaybeAwaitable:
    """**notify** The store is open and listeners are about to start.

    Start background work here (a retention sweep, say) with ``app.spawn(coro)`` so the server
    cancels it on shutdown. May be ``async def``.
    """


@hookspec
def mailhost_shutdown(app: App) -> MaybeAwaitable:
    """**notify** The server is stopping; listeners are closed, sessions are draining."""


@hookspec
def mailhost_protocols() -> Sequence[ProtocolHandler]:
    """**collect** The wire protocols a listener may name (``imap``, ``pop3``, ...).

    Each :class:`~mailhost.protocols.registry.ProtocolHandler` says how to run one connection.
    The built-in protocols are registered through this hook like any plugin's.
    """



# --------------------------------------------------------------------------------------------
# Authentication
# --------------------------------------------------------------------------------------------


@hookspec
def mailhost_authenticate(
    app: App, username: str, password: str, protocol: str, peer: str
) -> Awaitable[AuthOutcome | None] | AuthOutcome | None:
    """**decide** Check a username and password from any protocol.

    Return :class:`~mailhost.decisions.AuthSuccess` with the canonical account name,
    :class:`~mailhost.decisions.AuthFailure`, or ``None`` to let the next source decide. The
    built-in source (the SQLite user table) is ``trylast``, so an LDAP or static-file plugin is
    asked first. May be ``async def``. Failure delays, rate limits and the auth cache are applied
    by the core around this hook, so a plugin need not repeat them.
    """


@hookspec
def mailhost_login(app: App, username: str, protocol: str, peer: str) -> MaybeAwaitable:
    """**notify** A user has logged in (any protocol), before the first command is served.

    Folder policy uses it to create special-use folders on first login. May be ``async def``.
    """


@hookspec
def mailhost_auth_failed(
    app: App, username: str, protocol: str, mechanism: str, peer: str
) -> MaybeAwaitable:
    """**notify** A login failed. The core has already logged it and counted it for lockout."""


# --------------------------------------------------------------------------------------------
# Protocol commands
# --------------------------------------------------------------------------------------------


@hookspec
def mailhost_pop3_commands(registry: CommandRegistry[Pop3Session]) -> None:
    """**notify** Register or wrap POP3 commands: ``registry.add(verb, handler, states=...)``.

    The built-in RFC 1939 commands are registered the same way, so ``registry.wrap(verb, fn)``
    can decorate any of them and ``registry.add`` can add an X-command.
    """


@hookspec
def mailhost_imap_commands(registry: CommandRegistry[Any]) -> None:
    """**notify** Register or wrap IMAP commands, as for :func:`mailhost_pop3_commands`."""


# --------------------------------------------------------------------------------------------
# Delivery
# --------------------------------------------------------------------------------------------


@hookspec
def mailhost_delivery_decide(
    app: App, recipient: str, address: str, sender: str, message: bytes, protocol: str
) -> Awaitable[DeliveryDecision | None] | DeliveryDecision | None:
    """**decide** Choose what happens to ``message`` for one local ``recipient``.

    Return :class:`~mailhost.decisions.Deliver` (folder and flags),
    :class:`~mailhost.decisions.Reject`, :class:`~mailhost.decisions.Defer`,
    :class:`~mailhost.decisions.Discard`, or ``None`` to pass. The default (``trylast``)
    delivers to INBOX. ``recipient`` is the resolved account name, after aliases and
    ``+tag`` subaddresses; ``address`` is the envelope address as the sender wrote it
    (``alice+lists@example.org``), so a plugin can file by tag.
    """


@hookspec
def mailhost_message_stored(app: App, ref: MessageRef, protocol: str) -> MaybeAwaitable:
    """**notify** A delivery (SMTP, LMTP, submission, ``mailhost deliver``) was committed."""


@hookspec
def mailhost_store_event(app: App, event: StoreEvent) -> MaybeAwaitable:
    """**notify** Any committed change: mailbox created, renamed or deleted, message stored
    (delivery, APPEND, COPY, MOVE), flags changed, messages expunged.

    Runs in the background after the change is durable; it cannot veto it. Use it to follow
    mailboxes (push notifications, audit logs, policy bookkeeping). May be ``async def``.
    """


# --------------------------------------------------------------------------------------------
# POP3 leave-on-server policy
# --------------------------------------------------------------------------------------------


@hookspec
def mailhost_pop3_folders(
    app: App, username: str
) -> Awaitable[list[str] | None] | list[str] | None:
    """**decide** Which folders make up a user's POP3 maildrop, merged in this order.

    Default: ``["INBOX"]``. Folder policy answers this (INBOX plus Junk, say); it composes
    with any maildrop filter, because :func:`~mailhost.protocols.pop3.maildrop.default_maildrop`
    asks this hook first.
    """


@hookspec
def mailhost_pop3_maildrop(
    app: App, session: Pop3Session
) -> Awaitable[list[MaildropEntry] | None] | list[MaildropEntry] | None:
    """**decide** The messages this POP3 session sees, in order (message numbers follow it).

    The default (``trylast``) is :func:`~mailhost.protocols.pop3.maildrop.default_maildrop`:
    the folders from :func:`mailhost_pop3_folders`, oldest first, minus messages hidden from
    POP3. A policy that filters the view (only mail from a date on) should start from
    ``await default_maildrop(app, session)`` so it keeps honouring the folder policy.
    """


@hookspec
def mailhost_pop3_on_retrieve(
    app: App, session: Pop3Session, entry: MaildropEntry
) -> Awaitable[Pop3Action | None] | Pop3Action | None:
    """**decide** What a completed RETR does to the server copy, applied at QUIT.

    Default: ``keep``. Return a :class:`~mailhost.decisions.Pop3Action`. Not called for
    messages also marked deleted in the same session (their delete action wins).
    """


@hookspec
def mailhost_pop3_on_delete(
    app: App, session: Pop3Session, entry: MaildropEntry
) -> Awaitable[Pop3Action | None] | Pop3Action | None:
    """**decide** What DELE followed by QUIT does to the server copy. Default: ``expunge``."""


@hookspec
def mailhost_pop3_login_check(
    app: App, username: str, peer: str
) -> Awaitable[str | None] | str | None:
    """**decide** Return a reason to refuse this POP3 login with ``-ERR [LOGIN-DELAY]``.

    Called after the password was accepted. ``None`` lets the login proceed.
    """


@hookspec
def mailhost_pop3_advert(
    app: App, username: str | None
) -> Awaitable[Pop3Advert | None] | Pop3Advert | None:
    """**decide** The EXPIRE and LOGIN-DELAY values CAPA advertises (RFC 2449 §6.7, §6.5).

    ``username`` is None before login (server-wide values), the account name after it.
    Default: ``EXPIRE NEVER`` and ``LOGIN-DELAY 0``.
    """


# --------------------------------------------------------------------------------------------
# Folder policy
# --------------------------------------------------------------------------------------------


@hookspec
def mailhost_mailbox_delete_check(
    app: App, username: str, mailbox: str
) -> Awaitable[str | None] | str | None:
    """**decide** Return a reason to refuse deleting ``mailbox`` (e.g. a protected folder).

    INBOX can never be deleted; the core refuses that itself. ``None`` allows the delete.
    """


@hookspec
def mailhost_hidden_mailboxes(app: App, username: str) -> Iterable[str] | None:
    """**collect** Folders to leave out of LIST, LSUB and STATUS for ``username``.

    Each entry is a name or a LIST-style pattern (``*`` anything, ``%`` anything but "/";
    INBOX in any case); a folder is hidden when it or a level above it matches, so a hidden
    folder never leaks through its subfolders.
    """


# --------------------------------------------------------------------------------------------
# Retention and administration
# --------------------------------------------------------------------------------------------


@hookspec
def mailhost_retention_decide(
    app: App, username: str, mailbox: str, message: MessageMeta, rule: str
) -> Awaitable[bool | None] | bool | None:
    """**decide** Should a message that retention ``rule`` would expire really go?

    Return ``False`` to keep it (a veto: "never expire flagged mail"), ``True`` to expire it,
    or ``None`` to accept the rule's verdict. Only asked for messages a rule selected.
    """


@hookspec
def mailhost_cli_commands() -> Sequence[CliCommand]:
    """**collect** Subcommands a plugin adds to the ``mailhost`` command line.

    Each :class:`~mailhost.cli_registry.CliCommand` names the command, adds its arguments to
    an argparse parser and runs with the opened :class:`~mailhost.app.App`.
    """
