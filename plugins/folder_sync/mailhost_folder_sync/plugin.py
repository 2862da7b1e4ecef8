"""The hook implementations of folder_sync; each one is a thin call into the policy modules."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from mailhost.decisions import Deliver
from mailhost.hookspecs import hookimpl
from mailhost.protocols.registry import CommandRegistry
from mailhost_folder_sync import NAME, filing
from mailhost_folder_sync.cli import COMMANDS
from mailhost_folder_sync.folders import (
    ensure_special_folders,
    filing_folder,
    pop3_folders_of,
    resolve,
    settings_of,
)
from mailhost_folder_sync.imap import wrap_commands
from mailhost_folder_sync.settings import Settings

if TYPE_CHECKING:
    from mailhost.app import App
    from mailhost.cli_registry import CliCommand


@hookimpl
def mailhost_settings_schema() -> Mapping[str, type]:
    return {NAME: Settings}


@hookimpl(trylast=True)
def mailhost_imap_commands(registry: CommandRegistry[Any]) -> None:
    """trylast: pluggy runs later plugins first, and the built-in verbs must exist to wrap."""
    wrap_commands(registry)


@hookimpl
async def mailhost_login(app: App, username: str, protocol: str, peer: str) -> None:
    settings = settings_of(app)
    if settings.create_on_login and settings.policy.folders:
        async with app.store.account(username) as mail:
            await ensure_special_folders(mail, settings.policy)


@hookimpl
async def mailhost_delivery_decide(
    app: App, recipient: str, address: str, sender: str, message: bytes, protocol: str
) -> Deliver | None:
    """File by the first matching rule, else by ``+tag``; None leaves it to the next plugin."""
    settings = settings_of(app)
    wanted = None
    if settings.rules:
        wanted = filing.rule_folder(filing.parse_header(message), settings.rules)
    from_tag = False
    if wanted is None and settings.subaddress_filing:
        tag = filing.subaddress_tag(address, recipient)
        wanted = filing.tag_folder(tag, settings.subaddress_prefix) if tag else None
        from_tag = wanted is not None
    if wanted is None and not settings.create_on_delivery:
        return None
    async with app.store.account(recipient) as mail:
        if settings.create_on_delivery:
            await ensure_special_folders(mail, settings.policy)
        if wanted is None:
            return None
        folder = await filing_folder(mail, settings.policy, wanted, from_tag=from_tag,
                                     create=settings.subaddress_create)
    return None if folder is None else Deliver(folder=folder)


@hookimpl
async def mailhost_pop3_folders(app: App, username: str) -> list[str] | None:
    """The user's (or the configured) folder list, aliases resolved; INBOX alone is left to
    the default, so another plugin's answer is not overridden by a no-op."""
    names, _per_user = await pop3_folders_of(app, username)
    if names == ["INBOX"]:
        return None
    policy = settings_of(app).policy
    async with app.store.account(username) as mail:
        return [(await resolve(mail, policy, name)).name for name in names]


@hookimpl
async def mailhost_mailbox_delete_check(app: App, username: str, mailbox: str) -> str | None:
    """Protected by pattern, or above a protected folder the account has."""
    policy = settings_of(app).policy
    if not policy.protected:
        return None
    async with app.store.account(username) as mail:
        existing = [box.name for box in await mail.list_mailboxes()]
    return policy.protection(mailbox, existing)


@hookimpl
def mailhost_hidden_mailboxes(app: App, username: str) -> Iterable[str] | None:
    """The ``hidden`` patterns; the core hides what they match and everything below it."""
    return sorted(settings_of(app).policy.hidden) or None


@hookimpl
def mailhost_cli_commands() -> Sequence[CliCommand]:
    return COMMANDS
