"""The hook implementations: POP3 view, dispositions, EXPIRE/LOGIN-DELAY, and the sweep."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from mailhost.cli_registry import CliCommand
from mailhost.decisions import Pop3Action
from mailhost.hookspecs import hookimpl
from mailhost.protocols.pop3.maildrop import MaildropEntry, Pop3Advert, default_maildrop
from mailhost_leave_on_server import cli
from mailhost_leave_on_server.policy import Policy
from mailhost_leave_on_server.settings import Settings
from mailhost_leave_on_server.state import PluginState

if TYPE_CHECKING:
    from mailhost.app import App
    from mailhost.protocols.pop3.session import Pop3Session

NAME = "leave_on_server"
log = logging.getLogger("mailhost.plugins.leave_on_server")
_state: dict[int, PluginState] = {}  # per App, by id(app): one plugin module, many servers


def state_of(app: App) -> PluginState:
    return _state[id(app)]


async def policy_for(app: App, username: str | None) -> Policy:
    settings: Settings = app.plugin_settings(NAME)
    overrides = None
    if username is not None:
        overrides = await app.store.directory.get_setting(username, NAME, "policy")
    return Policy.effective(settings, overrides)


@hookimpl
def mailhost_settings_schema() -> Mapping[str, type]:
    return {NAME: Settings}


@hookimpl
async def mailhost_startup(app: App) -> None:
    _state[id(app)] = await PluginState.open(app.config.data_dir)
    app.spawn(_sweep_forever(app), name="leave_on_server sweep")


@hookimpl
async def mailhost_shutdown(app: App) -> None:
    state = _state.pop(id(app), None)
    if state is not None:
        await state.close()


@hookimpl
async def mailhost_login(app: App, username: str, protocol: str, peer: str) -> None:
    """Start the user's 'from now on' clock at their first POP3 login."""
    if protocol != "pop3":
        return
    directory = app.store.directory
    if await directory.get_setting(username, NAME, "enabled_at") is None:
        await directory.set_setting(username, NAME, "enabled_at", time.time())


@hookimpl
async def mailhost_pop3_maildrop(app: App, session: Pop3Session) -> list[MaildropEntry]:
    assert session.username is not None
    policy = await policy_for(app, session.username)
    entries = await default_maildrop(app, session)
    enabled_at = await app.store.directory.get_setting(session.username, NAME, "enabled_at")
    kept = [e for e in entries if policy.visible(e.savedate, enabled_at)]
    for number, entry in enumerate(kept, start=1):
        entry.number = number
    return kept


@hookimpl
async def mailhost_pop3_on_retrieve(
    app: App, session: Pop3Session, entry: MaildropEntry
) -> Pop3Action:
    assert session.username is not None
    policy = await policy_for(app, session.username)
    action = policy.retrieve_action()
    if action.kind == "move" and session.mail is not None:
        action = await _resolve_target(session, action, policy)
    if policy.records_downloads():
        await state_of(app).record_downloads(session.username,
                                             [(entry.uidvalidity, entry.uid)])
    return action


SPECIAL_USE_OF = {"archive": "\\Archive", "trash": "\\Trash"}


async def _resolve_target(session: Pop3Session, action: Pop3Action, policy: Policy) -> Pop3Action:
    """Move to the account's folder with the matching SPECIAL-USE attribute when there is one
    (folder policy may call Trash "Papierkorb"), else to the configured name, created here."""
    mail = session.mail
    assert mail is not None
    wanted = SPECIAL_USE_OF[policy.on_retrieve]
    for box in await mail.list_mailboxes():
        if box.special_use and wanted in box.special_use.split():
            return Pop3Action("move", box.name)
    if await mail.get_mailbox(action.folder) is None:
        await mail.create_mailbox(action.folder, wanted, subscribed=True)
    return action


@hookimpl
async def mailhost_pop3_on_delete(
    app: App, session: Pop3Session, entry: MaildropEntry
) -> Pop3Action:
    return (await policy_for(app, session.username)).delete_action()


@hookimpl
async def mailhost_pop3_login_check(app: App, username: str, peer: str) -> str | None:
    policy = await policy_for(app, username)
    now = time.time()
    state = state_of(app)
    if policy.login_delay:
        last = await state.last_login(username)
        if last is not None and now - last < policy.login_delay:
            wait = int(policy.login_delay - (now - last)) + 1
            return f"wait {wait} seconds; at most one login every {policy.login_delay} seconds"
    await state.set_last_login(username, now)
    return None


@hookimpl
async def mailhost_pop3_advert(app: App, username: str | None) -> Pop3Advert:
    return (await policy_for(app, username)).advert()


@hookimpl
def mailhost_cli_commands() -> Sequence[CliCommand]:
    return [cli.POP3_POLICY]


async def sweep(app: App, now: float | None = None) -> int:
    """Expunge downloaded messages older than each user's keep_days; returns how many."""
    state = state_of(app)
    now = time.time() if now is None else now
    cutoffs: dict[str, float] = {}
    for account in await state.accounts_with_downloads():
        if await app.store.directory.get_user(account) is None:
            cutoffs[account] = float("inf")  # account gone: forget its records
            continue
        policy = await policy_for(app, account)
        if policy.keep_days > 0:
            cutoffs[account] = now - policy.keep_days * 86400
    due = await state.downloaded_before(cutoffs)
    removed = 0
    by_account: dict[str, list[tuple[int, int]]] = {}
    for account, uidvalidity, uid in due:
        by_account.setdefault(account, []).append((uidvalidity, uid))
    for account, messages in by_account.items():
        if await app.store.directory.get_user(account) is None:
            continue
        async with app.store.account(account) as mail:
            boxes = {box.uidvalidity: box for box in await mail.list_mailboxes()}
            for uidvalidity in {v for v, _ in messages}:
                box = boxes.get(uidvalidity)
                if box is not None:
                    uids = [u for v, u in messages if v == uidvalidity]
                    removed += len(await mail.expunge(box.id, uids))
    await state.forget(due)
    return removed


async def _sweep_forever(app: App) -> None:
    settings: Settings = app.plugin_settings(NAME)
    await asyncio.sleep(min(60.0, settings.sweep_interval))
    while True:
        try:
            removed = await sweep(app)
            if removed:
                log.info("keep_days sweep expunged %d downloaded messages", removed)
        except Exception:
            log.exception("keep_days sweep failed; retrying at the next interval")
        await asyncio.sleep(settings.sweep_interval)
