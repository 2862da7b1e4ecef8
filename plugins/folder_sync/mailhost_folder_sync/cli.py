"""``mailhost folders``: look at and repair one account's folders from the command line.

An admin needs to see what the policy does for one user (which role folder is which, what
POP3 shows), to set that user's POP3 folders, and to fold folders that existed before the
plugin was enabled ("Sent Items" next to "Sent") into the standard ones.
"""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

from mailhost.cli import CliError
from mailhost.cli_registry import CliCommand
from mailhost_folder_sync import NAME
from mailhost_folder_sync.folders import (
    POP3_FOLDERS_KEY,
    ensure_special_folders,
    merge_alias_folders,
    pop3_folders_of,
    settings_of,
)
from mailhost_folder_sync.names import SPECIAL_USE, FolderPolicy, PolicyError, pop3_folder_list

if TYPE_CHECKING:
    from mailhost.app import App
    from mailhost.store.sqlite.mailstore import SqliteMailStore

T = TypeVar("T")

Action = Callable[[argparse.Namespace, "App"], Awaitable[int]]


def _users_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("users", nargs="*", metavar="USER", help="account addresses")
    parser.add_argument("--all", action="store_true", help="every account")


def configure(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="folders_action", metavar="ACTION", required=True)
    show = actions.add_parser("show", help="role folders and POP3 view of one account")
    show.add_argument("user")
    ensure = actions.add_parser("ensure", help="create missing special-use folders now")
    _users_argument(ensure)
    merge = actions.add_parser(
        "merge", help="move mail from folders named like an alias into the role folder")
    _users_argument(merge)
    pop3 = actions.add_parser("pop3", help="show or set the folders one user's POP3 sees")
    pop3.add_argument("user")
    pop3.add_argument("folders", nargs="*", metavar="FOLDER", help="e.g. INBOX Junk")
    pop3.add_argument("--default", action="store_true",
                      help="forget the user's own list; use [plugins.folder_sync] pop3_folders")
    for sub in (show, ensure, merge, pop3):
        # -c after the action too; SUPPRESS keeps an earlier -c from being overwritten.
        sub.add_argument("-c", "--config", metavar="FILE", default=argparse.SUPPRESS,
                         help="TOML config file")


def _messages(count: int) -> str:
    return f"{count} message{'' if count == 1 else 's'}"


async def _require_user(app: App, address: str) -> str:
    user = await app.store.directory.get_user(address)
    if user is None:
        raise CliError(f"no user {address}")
    return user.address


async def _users(app: App, args: argparse.Namespace) -> list[str]:
    if args.all == bool(args.users):
        raise CliError("name the accounts, or give --all")
    if args.all:
        return [user.address for user in await app.store.directory.list_users()]
    return [await _require_user(app, address) for address in args.users]


async def show(args: argparse.Namespace, app: App) -> int:
    address = await _require_user(app, args.user)
    policy = settings_of(app).policy
    async with app.store.account(address) as mail:
        boxes = {box.name: box for box in await mail.list_mailboxes()}
    for role, name in policy.folders.items():
        box = boxes.get(name)
        state = "missing" if box is None else _messages(box.messages)
        marked = box is not None and SPECIAL_USE[role] in (box.special_use or "").split()
        flag = SPECIAL_USE[role] if marked else "-"
        print(f"{role:8} {name:20} {flag:9} {state}")
    names, per_user = await pop3_folders_of(app, address)
    print(f"pop3     {', '.join(names)} ({'this user' if per_user else 'configured'})")
    return 0


async def _each_account(
    app: App, args: argparse.Namespace, step: Callable[[SqliteMailStore, FolderPolicy],
                                                        Awaitable[T]],
) -> AsyncIterator[tuple[str, T]]:
    """Run ``step`` on each account the arguments name, one account open at a time."""
    policy = settings_of(app).policy
    for address in await _users(app, args):
        async with app.store.account(address) as mail:
            result = await step(mail, policy)
        yield address, result


async def ensure(args: argparse.Namespace, app: App) -> int:
    async for address, created in _each_account(app, args, ensure_special_folders):
        print(f"{address}: {'created ' + ', '.join(created) if created else 'nothing to create'}")
    return 0


async def merge(args: argparse.Namespace, app: App) -> int:
    async for address, merged in _each_account(app, args, merge_alias_folders):
        if not merged:
            print(f"{address}: nothing to merge")
        for step in merged:
            fate = "deleted" if step.deleted else "kept: it has subfolders"
            print(f"{address}: {step.source} -> {step.target} "
                  f"({_messages(step.messages)}; {fate})")
    return 0


async def pop3(args: argparse.Namespace, app: App) -> int:
    address = await _require_user(app, args.user)
    directory = app.store.directory
    if args.default and args.folders:
        raise CliError("give folders or --default, not both")
    if args.default:
        await directory.set_setting(address, NAME, POP3_FOLDERS_KEY, None)
    elif args.folders:
        try:
            folders = pop3_folder_list(list(args.folders))
        except PolicyError as exc:
            raise CliError(str(exc)) from None
        await directory.set_setting(address, NAME, POP3_FOLDERS_KEY, folders)
    names, per_user = await pop3_folders_of(app, address)
    print(f"{address}: {', '.join(names)} ({'this user' if per_user else 'configured'})")
    return 0


ACTIONS: dict[str, Action] = {"show": show, "ensure": ensure, "merge": merge, "pop3": pop3}


async def run(args: argparse.Namespace, app: App) -> int:
    return await ACTIONS[args.folders_action](args, app)


COMMANDS = [CliCommand("folders", "special-use folders, aliases and POP3 folders (folder_sync)",
                       configure, run)]
