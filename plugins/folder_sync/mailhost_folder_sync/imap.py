"""IMAP mailbox commands, wrapped so every name a client uses goes through the folder policy.

Each wrapper rewrites the command's ``mailbox`` with :func:`dataclasses.replace` and hands it
to the built-in handler, so the core IMAP code needs no knowledge of aliases: ``SELECT "Sent
Items"`` simply becomes ``SELECT "Sent"``. Only where the answer itself differs (CREATE of an
alias, DELETE by an alias, hidden and protected folders) does a wrapper reply on its own.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from functools import partial
from typing import Any

from mailhost.protocols.imap.session import ImapSession
from mailhost.protocols.imap.wire import mailbox_name
from mailhost.protocols.registry import CommandRegistry
from mailhost_folder_sync import NAME
from mailhost_folder_sync.folders import ensure_role_folder, mark_role, resolve
from mailhost_folder_sync.names import FolderPolicy, Resolved
from mailhost_folder_sync.settings import Settings

Handler = Callable[[ImapSession, Any], Awaitable[None]]


def _policy(session: ImapSession) -> FolderPolicy:
    settings: Settings = session.app.plugin_settings(NAME)
    return settings.policy


# How a hidden folder is refused: as the core refuses a folder that does not exist, except
# that creating one (or renaming onto it) cannot pretend to work.
NONEXISTENT = (b"NONEXISTENT", "no such mailbox")
TRYCREATE = (b"TRYCREATE", "target mailbox does not exist")
RESERVED = (b"CANNOT", "that name is reserved by the server")


async def _resolved(
    session: ImapSession, command: Any, name: str, if_hidden: tuple[bytes, str]
) -> Resolved | None:
    """The folder ``name`` stands for, or None once a hidden one has been refused."""
    policy = _policy(session)
    target = await resolve(session.require_mail(), policy, name)
    if policy.is_hidden(target.name):
        code, text = if_hidden
        session.no(command, text, code)
        return None
    return target


@contextmanager
def _replies_as_asked(
    session: ImapSession, response: bytes, real: str, asked: str
) -> Iterator[None]:
    """Send the ``response`` lines naming ``real`` under the name the client ``asked`` about.

    The session runs one command at a time, so redirecting its ``untagged`` for the length of
    one command cannot touch another command's replies.
    """
    real_prefix = response + b" " + mailbox_name(real) + b" "
    asked_prefix = response + b" " + mailbox_name(asked) + b" "
    untagged = session.untagged

    def as_asked(text: bytes) -> None:
        if text.startswith(real_prefix):
            text = asked_prefix + text[len(real_prefix):]
        untagged(text)

    setattr(session, "untagged", as_asked)  # noqa: B010 (mypy forbids assigning a method)
    try:
        yield
    finally:
        del session.__dict__["untagged"]


def opening(handler: Handler, response: bytes = b"") -> Handler:
    """SELECT, EXAMINE, STATUS, (UN)SUBSCRIBE, GETQUOTAROOT: follow the alias.

    ``response`` is the untagged reply that names the folder (STATUS, QUOTAROOT). It goes out
    under the client's name: a client that asked about "Deleted Items" matches the reply by
    name and would drop one about "Trash".
    """

    async def wrapped(session: ImapSession, command: Any) -> None:
        target = await _resolved(session, command, command.mailbox, NONEXISTENT)
        if target is None:
            return
        rewritten = replace(command, mailbox=target.name)
        if not response or target.name == command.mailbox:
            await handler(session, rewritten)
            return
        with _replies_as_asked(session, response, target.name, command.mailbox):
            await handler(session, rewritten)

    return wrapped


def storing(handler: Handler) -> Handler:
    """APPEND, COPY, MOVE: follow the alias, creating a missing role folder first.

    A client that saves a sent message right after the folder was deleted (recreate mode)
    should not need the TRYCREATE round trip for a folder the server promises to provide.
    """

    async def wrapped(session: ImapSession, command: Any) -> None:
        target = await _resolved(session, command, command.mailbox, TRYCREATE)
        if target is None:
            return
        if target.role is not None:
            await ensure_role_folder(session.require_mail(), _policy(session), target.role)
        await handler(session, replace(command, mailbox=target.name))

    return wrapped


def creating(handler: Handler) -> Handler:
    """CREATE: an alias of an existing role folder succeeds without making a second folder."""

    async def wrapped(session: ImapSession, command: Any) -> None:
        name = command.mailbox.rstrip("/") or command.mailbox
        target = await _resolved(session, command, name, RESERVED)
        if target is None:
            return
        if target.role is not None:
            if await ensure_role_folder(session.require_mail(), _policy(session), target.role):
                await session.complete(command)
                return
            if target.alias is not None:
                await session.complete(command, f"completed ({name} is {target.name})")
                return
        await handler(session, replace(command, mailbox=target.name))

    return wrapped


def deleting(handler: Handler) -> Handler:
    """DELETE: a role folder is never deleted through one of its other names.

    A client cleaning up "its" Deleted Items would otherwise delete Trash and its mail.
    Protection of the folder itself is the ``mailhost_mailbox_delete_check`` hook's job.
    """

    async def wrapped(session: ImapSession, command: Any) -> None:
        target = await _resolved(session, command, command.mailbox, NONEXISTENT)
        if target is None:
            return
        if target.alias is not None and target.role is not None:
            session.no(command, f"{command.mailbox} is another name for {target.name}; "
                       f"delete {target.name} itself", b"CANNOT")
            return
        await handler(session, replace(command, mailbox=target.name))

    return wrapped


def renaming(handler: Handler) -> Handler:
    """RENAME: protected folders stay put, hidden ones stay hidden, and the role attribute
    follows the role's name."""

    async def wrapped(session: ImapSession, command: Any) -> None:
        source = await _resolved(session, command, command.mailbox, NONEXISTENT)
        if source is None:
            return
        dest = await _resolved(session, command, command.new_name, RESERVED)
        if dest is None:
            return
        mail = session.require_mail()
        policy = _policy(session)
        existing = [box.name for box in await mail.list_mailboxes()]
        reason = policy.protection(source.name, existing)
        if reason:
            session.no(command, reason, b"CANNOT")
            return
        if policy.hidden_below(source.name, existing):
            # Renamed, a hidden subfolder would come out under a visible name.
            session.no(command, f"{source.name} has subfolders that cannot be moved", b"CANNOT")
            return
        await handler(session, replace(command, mailbox=source.name, new_name=dest.name))
        renamed = await mail.get_mailbox(dest.name)
        if renamed is None or await mail.get_mailbox(source.name) is not None:
            return  # refused, or INBOX (which stays)
        if source.role is not None:
            await mark_role(mail, renamed, source.role, False)
            renamed = await mail.get_mailbox(dest.name) or renamed
        if dest.role is not None:
            await mark_role(mail, renamed, dest.role, True)

    return wrapped


WRAPPERS: dict[str, Callable[[Handler], Handler]] = {
    "SELECT": opening,
    "EXAMINE": opening,
    "STATUS": partial(opening, response=b"STATUS"),
    "SUBSCRIBE": opening,
    "UNSUBSCRIBE": opening,
    "GETQUOTAROOT": partial(opening, response=b"QUOTAROOT"),
    "APPEND": storing,
    "COPY": storing,
    "MOVE": storing,
    "CREATE": creating,
    "DELETE": deleting,
    "RENAME": renaming,
}


def wrap_commands(registry: CommandRegistry[Any]) -> None:
    """Wrap every mailbox-naming command the registry has (a plugin may have removed one)."""
    for verb, wrapper in WRAPPERS.items():
        if verb in registry:
            registry.wrap(verb, wrapper, owner=NAME)
