"""The sweep: walk accounts, apply the policy, expunge through the store.

Expunging through :meth:`SqliteMailStore.expunge` (never by deleting rows) is what makes open
IMAP sessions see ``EXPUNGE``/``VANISHED``, frees quota at once and emits store events. A
failure in one account or folder is logged and reported, and the sweep goes on with the rest.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mailhost.config import ConfigError
from mailhost.plugins import PluginError
from mailhost.store.interface import MailboxInfo, MessageMeta
from mailhost.store.sqlite.mailstore import SqliteMailStore
from mailhost_retention.policy import (
    AppliedRule,
    Hold,
    Reason,
    effective_rules,
    hold_from_json,
    rule_for,
    rules_from_json,
    select_expired,
)
from mailhost_retention.report import FolderResult, UserResult, uid_ranges
from mailhost_retention.settings import RetentionSettings, Rule

if TYPE_CHECKING:
    from mailhost.app import App

log = logging.getLogger("mailhost.retention")

NAMESPACE = "retention"  # directory settings: the per-user "rules" and "hold"
EXPUNGE_BATCH = 500  # UIDs per expunge transaction, so IMAP sessions are not held up long


@dataclass(frozen=True)
class UserPolicy:
    overrides: list[Rule]
    rules: list[AppliedRule]


async def load_hold(app: App, user: str) -> Hold | None:
    value = await app.store.directory.get_setting(user, NAMESPACE, "hold")
    return hold_from_json(value, f"retention hold of {user}")


async def load_policy(app: App, user: str, settings: RetentionSettings) -> UserPolicy:
    """The user's overrides and the rules in force; ConfigError if the stored ones are bad."""
    stored = await app.store.directory.get_setting(user, NAMESPACE, "rules")
    overrides = rules_from_json(stored, f"retention overrides of {user}")
    return UserPolicy(overrides, effective_rules(settings.rules, overrides))


async def _plugins_allow(
    app: App, user: str, mailbox: str, message: MessageMeta, rule: str
) -> bool:
    """Ask ``mailhost_retention_decide``; a plugin that fails keeps the message (fail safe)."""
    try:
        verdict = await app.plugins.decide(
            "mailhost_retention_decide", app=app, username=user, mailbox=mailbox,
            message=message, rule=rule,
        )
    except PluginError as exc:
        log.warning("retention: keeping %s/%s uid %d: %s", user, mailbox, message.uid, exc)
        return False
    return verdict is not False


async def sweep_folder(
    app: App, mail: SqliteMailStore, box: MailboxInfo, applied: AppliedRule, *,
    dry_run: bool, now: float,
) -> FolderResult:
    rule = applied.rule
    result = FolderResult(box.name, rule.label, applied.source, rule.describe())
    if rule.keeps_forever:
        return result
    candidates = select_expired(await mail.messages(box.id), rule, now)
    ask = app.plugins.has_implementations("mailhost_retention_decide")
    chosen: list[int] = []
    reasons: dict[int, Reason] = {}
    for expiry in candidates:
        uid = expiry.message.uid
        if ask and not await _plugins_allow(app, mail.account, box.name, expiry.message,
                                            rule.label):
            result.kept.append(uid)
            continue
        chosen.append(uid)
        reasons[uid] = expiry.reason
    if dry_run:
        gone = chosen
    else:
        gone = []
        for start in range(0, len(chosen), EXPUNGE_BATCH):
            gone.extend(await mail.expunge(box.id, chosen[start:start + EXPUNGE_BATCH]))
    result.expunged = gone
    result.by_age = sum(1 for uid in gone if reasons[uid] == "age")
    result.by_count = len(gone) - result.by_age
    return result


async def has_mail_database(app: App, user: str) -> bool:
    """Opening an account creates its database; a sweep should not, for accounts never used."""
    account = await app.store.directory.get_user(user)
    return account is not None and app.store.account_path(account.id).exists()


async def sweep_user(
    app: App, settings: RetentionSettings, user: str, *, dry_run: bool, now: float
) -> UserResult:
    """Apply the rules to one account; the hold is read first, so it wins even over errors."""
    result = UserResult(user)
    try:
        result.hold = await load_hold(app, user)
        if result.hold is not None:
            return result
        policy = await load_policy(app, user, settings)
    except ConfigError as exc:
        log.error("retention: skipping %s: %s", user, exc)
        result.error = str(exc)
        return result
    if not policy.rules or not await has_mail_database(app, user):
        return result
    async with app.store.account(user) as mail:
        for box in await mail.list_mailboxes():
            applied = rule_for(policy.rules, box.name, box.special_use)
            if applied is None:
                continue
            try:
                folder = await sweep_folder(app, mail, box, applied, dry_run=dry_run, now=now)
            except Exception as exc:  # one broken folder must not stop the sweep
                log.exception("retention: sweeping %s/%s failed", user, box.name)
                folder = FolderResult(box.name, applied.rule.label, applied.source,
                                      applied.rule.describe(), error=repr(exc))
            if folder.expunged or folder.kept or folder.error:
                result.folders.append(folder)
    return result


async def sweep(
    app: App, settings: RetentionSettings, users: Iterable[str] | None = None, *,
    dry_run: bool = False, now: float | None = None,
) -> list[UserResult]:
    """Sweep ``users`` (default: every account) and report what went, per user and folder."""
    when = time.time() if now is None else now
    names = ([user.address for user in await app.store.directory.list_users()]
             if users is None else list(users))
    results: list[UserResult] = []
    for name in names:
        try:
            results.append(await sweep_user(app, settings, name, dry_run=dry_run, now=when))
        except Exception as exc:  # e.g. the account's database cannot be opened
            log.exception("retention: sweeping %s failed", name)
            results.append(UserResult(name, error=repr(exc)))
    return results


def log_results(results: Sequence[UserResult]) -> None:
    """A line per folder that lost mail and a summary; quiet when a sweep found nothing."""
    for result in results:
        for folder in result.folders:
            if folder.expunged:
                log.info("retention: expunged %d from %s/%s (rule %s): uids %s",
                         len(folder.expunged), result.user, folder.mailbox, folder.rule,
                         uid_ranges(folder.expunged))
    total = sum(result.expunged for result in results)
    failed = sum(1 for result in results if result.failed)
    log.log(logging.INFO if total or failed else logging.DEBUG,
            "retention: sweep done: %d messages expunged, %d of %d accounts with errors",
            total, failed, len(results))


async def run_schedule(app: App, settings: RetentionSettings) -> None:
    """Sweep every ``interval`` after a short first delay, until the server cancels us."""
    await asyncio.sleep(settings.first_sweep_seconds)
    while True:
        try:
            log_results(await sweep(app, settings))
        except Exception:  # the directory itself failed; try again next time
            log.exception("retention: sweep failed")
        await asyncio.sleep(settings.interval_seconds)
