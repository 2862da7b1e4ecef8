"""The policy applied to one account's store: create role folders, resolve names, merge.

Small async steps over :class:`~mailhost.store.sqlite.mailstore.SqliteMailStore`, shared by
the login and delivery hooks, the IMAP wrappers and the CLI, so each rule is written once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mailhost.store.interface import MailboxExists, MailboxInfo
from mailhost.store.names import SEPARATOR
from mailhost.store.sqlite.mailstore import SqliteMailStore
from mailhost_folder_sync import NAME
from mailhost_folder_sync.names import (
    SPECIAL_USE,
    FolderPolicy,
    PolicyError,
    Resolved,
    Role,
    pop3_folder_list,
)
from mailhost_folder_sync.settings import Settings

if TYPE_CHECKING:
    from mailhost.app import App

log = logging.getLogger("mailhost.folder_sync")

# Per-user setting (directory namespace NAME): the folders that user's POP3 view merges.
POP3_FOLDERS_KEY = "pop3_folders"


def settings_of(app: App) -> Settings:
    settings: Settings = app.plugin_settings(NAME)
    return settings


async def ensure_folder(
    mail: SqliteMailStore, name: str, special_use: str | None = None, subscribed: bool = False
) -> bool:
    """Create ``name`` (and missing parents, like IMAP CREATE) unless it exists; True if made.

    Another session may create the same folder at the same moment; that is not an error.
    """
    parts = name.split(SEPARATOR)
    for depth in range(1, len(parts)):
        parent = SEPARATOR.join(parts[:depth])
        if await mail.get_mailbox(parent) is None:
            try:
                await mail.create_mailbox(parent)
            except MailboxExists:
                pass
    if await mail.get_mailbox(name) is not None:
        return False
    try:
        await mail.create_mailbox(name, special_use, subscribed=subscribed)
    except MailboxExists:
        return False
    return True


async def ensure_role_folder(mail: SqliteMailStore, policy: FolderPolicy, role: Role) -> bool:
    """Create the role's folder, subscribed and with its SPECIAL-USE attribute."""
    return await ensure_folder(mail, policy.folders[role], SPECIAL_USE[role], subscribed=True)


async def ensure_special_folders(mail: SqliteMailStore, policy: FolderPolicy) -> list[str]:
    """Create missing role folders and mark existing ones; returns the names created.

    A folder a client made before the plugin was enabled ("Sent" without \\Sent) gets the
    attribute, so clients that look for SPECIAL-USE find it.
    """
    boxes = {box.name: box for box in await mail.list_mailboxes()}
    created: list[str] = []
    for role, name in policy.folders.items():
        box = boxes.get(name)
        if box is None:
            if await ensure_role_folder(mail, policy, role):
                created.append(name)
                log.info("%s: created %s folder %s", mail.account, role, name)
        else:
            await mark_role(mail, box, role, True)
    return created


async def mark_role(mail: SqliteMailStore, box: MailboxInfo, role: Role, on: bool) -> None:
    """Add (or take off) the role's SPECIAL-USE attribute, keeping any others the folder has.

    Taken off when a role folder is renamed away, so clients do not see two \\Sent folders.
    """
    uses = (box.special_use or "").split()
    use = SPECIAL_USE[role]
    if (use in uses) == on:
        return
    uses = [*uses, use] if on else [u for u in uses if u != use]
    await mail.set_special_use(box.name, " ".join(uses) or None)


async def resolve(mail: SqliteMailStore, policy: FolderPolicy, name: str) -> Resolved:
    """:meth:`FolderPolicy.resolve`, except that a folder that really has the alias name wins.

    An account may have a "Sent Items" folder from before the plugin was enabled; rewriting
    its name would hide its mail from every client. ``mailhost folders merge`` folds it in.
    """
    resolved = policy.resolve(name)
    if resolved.alias is not None and await mail.get_mailbox(resolved.alias) is not None:
        return policy.resolve_literal(name)
    return resolved


@dataclass(frozen=True)
class Merged:
    """One legacy folder folded into its role folder by :func:`merge_alias_folders`."""

    source: str
    target: str
    messages: int
    deleted: bool


async def merge_alias_folders(mail: SqliteMailStore, policy: FolderPolicy) -> list[Merged]:
    """Move the mail of folders named like an alias ("Sent Items") into the role folder.

    The emptied folder is deleted unless it has subfolders (those are left for the user).
    Hidden folders are left alone: hiding one is the admin's way of keeping it apart.
    """
    boxes = await mail.list_mailboxes()
    names = {box.name for box in boxes}
    merged: list[Merged] = []
    for box in boxes:
        resolved = policy.resolve(box.name)
        if resolved.alias != box.name or resolved.role is None:
            continue
        await ensure_role_folder(mail, policy, resolved.role)
        count = await _move_all(mail, box, resolved.name)
        has_children = any(other.startswith(box.name + SEPARATOR) for other in names)
        if not has_children:
            await mail.delete_mailbox(box.name)
        merged.append(Merged(box.name, resolved.name, count, not has_children))
    return merged


async def _move_all(mail: SqliteMailStore, box: MailboxInfo, target: str) -> int:
    uids = [meta.uid for meta in await mail.messages(box.id)]
    if uids:
        await mail.move(box.id, uids, target)
    return len(uids)


async def filing_folder(
    mail: SqliteMailStore, policy: FolderPolicy, wanted: str, *, from_tag: bool, create: bool
) -> str | None:
    """The folder a delivery rule or a ``+tag`` files into, created if needed; None: INBOX.

    A tag is chosen by whoever sends the mail, so it never files into a role folder (no
    planted drafts or fake sent mail) or a hidden one, and it reuses an existing folder whose
    name differs only in case, so ``+Lists`` and ``+lists`` do not split.
    """
    target = await resolve(mail, policy, wanted)
    if not from_tag:
        if target.role is not None:
            await ensure_role_folder(mail, policy, target.role)
        else:
            await ensure_folder(mail, target.name, subscribed=True)
        return None if target.name == "INBOX" else target.name
    if target.role is not None or policy.is_hidden(target.name):
        return None
    existing = {box.name.casefold(): box.name for box in await mail.list_mailboxes()}
    name = existing.get(target.name.casefold())
    if name is None:
        if not create:
            return None
        await ensure_folder(mail, target.name, subscribed=True)
        name = target.name
    if name == "INBOX" or policy.is_hidden(name) or policy.role_of(name) is not None:
        return None
    return name


async def pop3_folders_of(app: App, username: str) -> tuple[list[str], bool]:
    """The folders ``username``'s POP3 view merges, and whether that is a per-user choice.

    A broken per-user value is logged and the configured list used, so one bad row in the
    account database never locks a user out of POP3.
    """
    settings = settings_of(app)
    if settings.pop3_per_user:
        value = await app.store.directory.get_setting(username, NAME, POP3_FOLDERS_KEY)
        if value is not None:
            try:
                return pop3_folder_list(value), True
            except PolicyError as exc:
                log.warning("%s: ignoring per-user %s (%s); using the configured list",
                            username, POP3_FOLDERS_KEY, exc)
    return list(settings.pop3_folders), False
