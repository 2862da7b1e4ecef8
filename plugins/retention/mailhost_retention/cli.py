"""``mailhost retention ...``: sweep now (or preview), and manage overrides and legal holds.

Overrides and holds are stored with the account (directory settings), so the running server
applies a change at its next sweep without a reload.
"""

from __future__ import annotations

import argparse
import time
from typing import TYPE_CHECKING

from mailhost.cli import CliError
from mailhost.cli_registry import CliCommand, config_option
from mailhost.config import ConfigError, InvalidValue
from mailhost_retention.policy import (
    Hold,
    hold_to_json,
    remove_override,
    rule_for,
    rule_to_json,
    selector_key,
    set_override,
)
from mailhost_retention.report import format_results, format_time
from mailhost_retention.settings import RetentionSettings, Rule
from mailhost_retention.sweep import (
    NAMESPACE,
    UserPolicy,
    has_mail_database,
    load_hold,
    load_policy,
    sweep,
)

if TYPE_CHECKING:
    from mailhost.app import App

EXIT_OK, EXIT_FAIL = 0, 1


def _leaf(actions: argparse._SubParsersAction[argparse.ArgumentParser], name: str,
          help_text: str) -> argparse.ArgumentParser:
    """A subcommand that also takes -c after its arguments, like the core commands do."""
    return actions.add_parser(name, help=help_text, description=help_text,
                              parents=[config_option()])


def _selector(parser: argparse.ArgumentParser, *, allow_all: bool) -> None:
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--special-use", metavar="USE", help="folders with this special use")
    group.add_argument("--folder", metavar="PATTERN",
                       help="folders by name (* anything, %% anything but /)")
    if allow_all:
        group.add_argument("--all", action="store_true", help="every override of the user")


def configure(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    run = _leaf(actions, "run", "expunge what the rules expire now (or preview with --dry-run)")
    run.add_argument("--dry-run", action="store_true",
                     help="only show what would be expunged, per user and folder")
    run.add_argument("--user", action="append", metavar="USER",
                     help="sweep only this account (repeatable; default: all)")
    show = _leaf(actions, "show", "show a user's hold, rules and which rule each folder gets")
    show.add_argument("user")
    set_ = _leaf(actions, "set", "give a user their own rule for some folders")
    set_.add_argument("user")
    _selector(set_, allow_all=False)
    set_.add_argument("--max-age", default="", metavar="DURATION",
                      help="expunge messages saved longer ago (30d, 12h, 2w)")
    set_.add_argument("--max-count", type=int, default=0, metavar="N",
                      help="keep only the N most recently saved messages")
    set_.add_argument("--forever", action="store_true",
                      help="no limit: exempt these folders from the defaults")
    set_.add_argument("--name", default="", help="label for reports and plugins")
    unset = _leaf(actions, "unset", "remove a user's own rule (the defaults apply again)")
    unset.add_argument("user")
    _selector(unset, allow_all=True)
    hold = _leaf(actions, "hold", "turn a user's legal hold on or off (on: nothing expires)")
    hold.add_argument("user")
    hold.add_argument("state", choices=("on", "off"))
    hold.add_argument("--reason", default="", help="why, for the record (e.g. a case number)")


async def _account(app: App, address: str) -> str:
    user = await app.store.directory.get_user(address)
    if user is None:
        raise CliError(f"no user {address}")
    return user.address


def _selector_rule(
    args: argparse.Namespace, max_age: str = "", max_count: int = 0, name: str = ""
) -> Rule:
    """The Rule the arguments describe; its own checks become one-line CLI errors."""
    try:
        return Rule(special_use=args.special_use or "", folder=args.folder or "",
                    max_age=max_age, max_count=max_count, name=name)
    except InvalidValue as exc:
        raise CliError(f"--{exc.key.replace('_', '-')}: {exc.problem}") from None


async def _policy(app: App, user: str, settings: RetentionSettings) -> UserPolicy:
    try:
        return await load_policy(app, user, settings)
    except ConfigError as exc:
        raise CliError(f"{exc}; or: mailhost retention unset {user} --all") from None


async def _save_rules(app: App, user: str, rules: list[Rule]) -> None:
    await app.store.directory.set_setting(
        user, NAMESPACE, "rules", [rule_to_json(rule) for rule in rules] or None)


async def cmd_run(args: argparse.Namespace, app: App, settings: RetentionSettings) -> int:
    users = [await _account(app, name) for name in args.user] if args.user else None
    results = await sweep(app, settings, users, dry_run=args.dry_run)
    for line in format_results(results, args.dry_run):
        print(line)
    return EXIT_FAIL if any(result.failed for result in results) else EXIT_OK


async def cmd_show(args: argparse.Namespace, app: App, settings: RetentionSettings) -> int:
    user = await _account(app, args.user)
    print(user)
    hold = await load_hold(app, user)
    print("  legal hold: " + ("off" if hold is None else
                              f"on since {format_time(hold.since)} "
                              f"({hold.reason or 'no reason given'})"))
    policy = await _policy(app, user, settings)
    print("  rules, first match per folder wins:" if policy.rules else "  rules: none")
    for applied in policy.rules:
        name = f" [{applied.rule.name}]" if applied.rule.name else ""
        print(f"    {applied.source:<8} {applied.rule.selector:<20} "
              f"{applied.rule.describe()}{name}")
    if not await has_mail_database(app, user):
        print("  folders: none yet (the account has no mail database)")
        return EXIT_OK
    print("  folders:")
    async with app.store.account(user) as mail:
        for box in await mail.list_mailboxes():
            match = rule_for(policy.rules, box.name, box.special_use)
            which = ("no rule" if match is None else
                     f"{match.rule.label} ({match.source}): {match.rule.describe()}")
            print(f"    {box.name:<24} {box.messages:>6} messages  {which}")
    return EXIT_OK


async def cmd_set(args: argparse.Namespace, app: App, settings: RetentionSettings) -> int:
    user = await _account(app, args.user)
    if args.forever == bool(args.max_age or args.max_count):
        raise CliError("give --max-age and/or --max-count, or --forever")
    rule = _selector_rule(args, max_age=args.max_age, max_count=args.max_count, name=args.name)
    policy = await _policy(app, user, settings)
    await _save_rules(app, user, set_override(policy.overrides, rule))
    replaces = any(selector_key(rule) == selector_key(d) for d in settings.rules)
    print(f"{user}: {rule.selector}: {rule.describe()}"
          + (" (instead of the default rule)" if replaces else ""))
    return EXIT_OK


async def cmd_unset(args: argparse.Namespace, app: App, settings: RetentionSettings) -> int:
    user = await _account(app, args.user)
    if args.all:
        await app.store.directory.set_setting(user, NAMESPACE, "rules", None)
        print(f"{user}: all own rules removed; the defaults apply")
        return EXIT_OK
    key = selector_key(_selector_rule(args))
    policy = await _policy(app, user, settings)
    remaining = remove_override(policy.overrides, key)
    if len(remaining) == len(policy.overrides):
        raise CliError(f"{user} has no own rule for {key[1]}")
    await _save_rules(app, user, remaining)
    print(f"{user}: own rule for {key[1]} removed")
    return EXIT_OK


async def cmd_hold(args: argparse.Namespace, app: App, settings: RetentionSettings) -> int:
    user = await _account(app, args.user)
    directory = app.store.directory
    if args.state == "off":
        await directory.set_setting(user, NAMESPACE, "hold", None)
        print(f"{user}: legal hold off; the rules apply again at the next sweep")
        return EXIT_OK
    current = await load_hold(app, user)
    hold = Hold(args.reason or (current.reason if current else ""),
                current.since if current else time.time())
    await directory.set_setting(user, NAMESPACE, "hold", hold_to_json(hold))
    print(f"{user}: legal hold on since {format_time(hold.since)}; nothing expires")
    return EXIT_OK


ACTIONS = {"run": cmd_run, "show": cmd_show, "set": cmd_set, "unset": cmd_unset,
           "hold": cmd_hold}


async def run(args: argparse.Namespace, app: App) -> int:
    settings: RetentionSettings = app.plugin_settings("retention")
    return await ACTIONS[args.action](args, app, settings)


COMMAND = CliCommand("retention", "expire old mail by folder rules; overrides and legal holds",
                     configure, run)
