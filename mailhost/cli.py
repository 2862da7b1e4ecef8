"""The ``mailhost`` command: run the server and administer accounts.

Every failure an admin can cause (a bad config, a missing user, a weak invocation) ends in one
clear line on stderr and a non-zero exit status; usage errors exit with 2, as argparse does.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import os
import re
import sys
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any

from mailhost.auth.passwords import MAX_PASSWORD_BYTES, PasswordTooLong, hash_password
from mailhost.cli_registry import CliCommand, config_option
from mailhost.config import Config, ConfigError, load_config
from mailhost.logs import configure_logging
from mailhost.store.addresses import AddressError
from mailhost.store.interface import StoreError
from mailhost.store.sqlite.store import SqliteStore

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2

Handler = Callable[[argparse.Namespace, Config], Coroutine[Any, Any, int]]
_handlers: dict[str, Handler] = {}


def command(name: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        _handlers[name] = fn
        return fn
    return register


class CliError(Exception):
    """A user-facing failure: printed as one line, exit status 1."""


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        data = sys.stdin.buffer.read(MAX_PASSWORD_BYTES + 2)
        try:
            password = data.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError:
            raise CliError("the password on stdin is not valid UTF-8") from None
    else:
        if not sys.stdin.isatty():
            raise CliError("no terminal to ask for a password; use --password-stdin")
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            raise CliError("the passwords differ")
    if not password:
        raise CliError("empty password")
    try:
        return hash_password(password)
    except PasswordTooLong:
        raise CliError(f"password longer than {MAX_PASSWORD_BYTES} bytes") from None


StoreAction = Callable[[argparse.Namespace, SqliteStore], Awaitable[list[str]]]


def store_command(name: str) -> Callable[[StoreAction], StoreAction]:
    """Register an admin command that works on the store and prints lines (no server)."""
    def register(action: StoreAction) -> StoreAction:
        async def handler(args: argparse.Namespace, config: Config) -> int:
            store = await SqliteStore.open(config.data_dir)
            try:
                lines = await action(args, store)
            finally:
                await store.close()
            for line in lines:
                print(line)
            return EXIT_OK
        _handlers[name] = handler
        return action
    return register


# -- serve ----------------------------------------------------------------------------------


@command("serve")
async def cmd_serve(args: argparse.Namespace, config: Config) -> int:
    from mailhost.app import App
    from mailhost.memory import return_large_blocks_to_the_system
    from mailhost.server import Server

    return_large_blocks_to_the_system()
    app = await App.create(config)
    server = Server(app, getattr(args, "config", None))
    try:
        await server.start()
    except BaseException:
        await server.stop(grace=0)
        raise
    server.drop_privileges()

    def ready() -> None:
        print(f"mailhost is running (data in {config.data_dir.resolve()}):", flush=True)
        for listener in server.listeners.values():
            cfg = listener.config
            print(f"  {cfg.protocol:<10} {cfg.address}:{listener.port:<5} tls={cfg.tls}",
                  flush=True)
        print("Add the first user from another terminal with:\n"
              "  .venv/bin/mailhost user add you@example.test --password-stdin"
              + (f" -c {args.config}" if getattr(args, "config", None) else "")
              + "\nStop with Ctrl-C.", flush=True)

    await server.run_until_stopped(on_ready=ready)
    return EXIT_OK


@command("deliver")
async def cmd_deliver(args: argparse.Namespace, config: Config) -> int:
    """Local delivery agent: exit codes follow sysexits (see mailhost.delivery.lda)."""
    from mailhost.app import App
    from mailhost.delivery import lda

    limit = config.smtp.max_message_size
    try:
        raw = lda.prepare(sys.stdin.buffer.read(limit + 1), limit)
    except lda.UnusableInput as exc:
        print(f"mailhost deliver: {exc}", file=sys.stderr)
        return lda.EX_DATAERR
    app = await App.create(config)
    try:
        reply = await lda.deliver_message(app, args.to, raw, args.sender)
    finally:
        await app.close()
    if not reply.ok:
        print(f"mailhost deliver: <{args.to}>: {reply}", file=sys.stderr)
    return lda.exit_code(reply)


@command("check-config")
async def cmd_check_config(args: argparse.Namespace, config: Config) -> int:
    from mailhost.app import App

    app = await App.create(config)  # also loads plugins and validates their sections
    try:
        app.tls_context  # noqa: B018 - loads (or generates) the certificate pair
    finally:
        await app.close()
    print(f"{config.source}: OK ({len(config.listeners)} listeners, "
          f"{len(config.plugins.enabled)} plugins enabled)")
    return EXIT_OK


@command("plugins")
async def cmd_plugins(args: argparse.Namespace, config: Config) -> int:
    from mailhost.plugins import PluginHost

    host = PluginHost(config)
    for info in host.describe():
        print(info.name)
        for hook in info.hooks:
            print(f"    {hook}")
    return EXIT_OK


# -- users, aliases, domains ----------------------------------------------------------------


@store_command("user add")
async def user_add(args: argparse.Namespace, store: SqliteStore) -> list[str]:
    user = await store.directory.add_user(args.address, _read_password(args))
    return [f"added {user.address}"]


@store_command("user passwd")
async def user_passwd(args: argparse.Namespace, store: SqliteStore) -> list[str]:
    await store.directory.set_password(args.address, _read_password(args))
    return [f"password changed for {args.address.lower()}"]


@store_command("user del")
async def user_del(args: argparse.Namespace, store: SqliteStore) -> list[str]:
    user = await store.directory.get_user(args.address)
    if user is None:
        raise CliError(f"no user {args.address}")
    if not args.keep_mail:
        await store.remove_account_files(user.id)
    await store.directory.delete_user(user.address)
    return [f"deleted {user.address}" + (" (mail kept)" if args.keep_mail else "")]


_SIZE = re.compile(r"([0-9]+)\s*([KMGT]?)(?:i?B)?", re.IGNORECASE)
_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def parse_size(text: str) -> int:
    """``100M`` -> bytes (K, M, G and T are powers of 1024, as in Dovecot); 0 or ``none``
    means no limit."""
    if text.strip().lower() in ("none", "unlimited"):
        return 0
    match = _SIZE.fullmatch(text.strip())
    if match is None:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 500M, 2G, none)")
    return int(match[1]) * _UNITS[match[2].upper()]


def parse_count(text: str) -> int:
    """A message count; 0 or ``none`` means no limit."""
    if text.strip().lower() in ("none", "unlimited"):
        return 0
    if not text.strip().isdigit():
        raise argparse.ArgumentTypeError(f"not a message count: {text!r}")
    return int(text)


def _show_size(size: int) -> str:
    """Bytes in the units ``--storage`` takes: 100M, 1.5G, 700B."""
    for unit in ("T", "G", "M", "K"):
        if size >= _UNITS[unit]:
            value = size / _UNITS[unit]
            return f"{value:.0f}{unit}" if value == int(value) else f"{value:.1f}{unit}"
    return f"{size}B"


@store_command("user quota")
async def user_quota(args: argparse.Namespace, store: SqliteStore) -> list[str]:
    """Set and show an account's limits; they apply at once, also to logged-in clients."""
    user = await store.directory.get_user(args.address)
    if user is None:
        raise CliError(f"no user {args.address}")
    storage = user.quota_bytes if args.storage is None else args.storage
    messages = user.quota_messages if args.messages is None else args.messages
    if args.storage is not None or args.messages is not None:
        await store.directory.set_quota(user.address, storage, messages)
    async with store.account(user.address) as mail:
        used_bytes, used_messages = await mail.usage()
    return [
        f"{user.address}: storage {_show_size(used_bytes)} of "
        f"{_show_size(storage) if storage else 'unlimited'}, messages {used_messages} of "
        f"{messages or 'unlimited'}"
    ]


@store_command("user list")
async def user_list(args: argparse.Namespace, store: SqliteStore) -> list[str]:
    return [user.address for user in await store.directory.list_users()]


@store_command("alias add")
async def alias_add(args: argparse.Namespace, store: SqliteStore) -> list[str]:
    await store.directory.add_alias(args.alias, args.target)
    return [f"{args.alias.lower()} -> {args.target.lower()}"]


@store_command("alias del")
async def alias_del(args: argparse.Namespace, store: SqliteStore) -> list[str]:
    await store.directory.delete_alias(args.alias)
    return [f"deleted alias {args.alias.lower()}"]


@store_command("alias list")
async def alias_list(args: argparse.Namespace, store: SqliteStore) -> list[str]:
    return [f"{alias} -> {target}" for alias, target in await store.directory.list_aliases()]


@store_command("domain add")
async def domain_add(args: argparse.Namespace, store: SqliteStore) -> list[str]:
    await store.directory.add_domain(args.domain)
    return [f"added domain {args.domain.lower()}"]


@store_command("domain del")
async def domain_del(args: argparse.Namespace, store: SqliteStore) -> list[str]:
    await store.directory.delete_domain(args.domain)
    return [f"deleted domain {args.domain.lower()}"]


@store_command("domain list")
async def domain_list(args: argparse.Namespace, store: SqliteStore) -> list[str]:
    return await store.directory.list_domains()


# -- argument parsing -----------------------------------------------------------------------


def _plugin_commands(argv: Sequence[str] | None) -> list[CliCommand]:
    """Subcommands of the plugins the config enables (read with a first, lenient pass)."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("-c", "--config")
    known, _ = pre.parse_known_args(argv)
    try:
        from mailhost.plugins import PluginHost

        host = PluginHost(load_config(known.config))
    except ConfigError:
        return []  # reported properly once the command itself loads the config
    commands: list[CliCommand] = []
    for group in host.collect("mailhost_cli_commands"):
        commands.extend(group)
    return commands


def _run_plugin_command(plugin_command: CliCommand) -> Handler:
    async def run(args: argparse.Namespace, config: Config) -> int:
        from mailhost.app import App

        app = await App.create(config)
        try:
            return await plugin_command.run(args, app)
        finally:
            await app.close()
    return run


def build_parser(plugin_commands: Sequence[CliCommand] = ()) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mailhost", description="A pluggable mail server for people who run their own mail."
    )
    common = config_option()
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    sub.add_parser("serve", parents=[common], help="run the server")
    sub.add_parser("check-config", parents=[common], help="validate a config file and exit")
    p = sub.add_parser(
        "deliver", parents=[common],
        help="store one message from stdin (local delivery agent; exit codes follow sysexits)",
    )
    p.add_argument("--to", required=True, metavar="ADDRESS", help="local recipient address")
    p.add_argument("--from", dest="sender", default="", metavar="ADDRESS",
                   help="envelope sender for Return-Path (default: <>, as for bounces)")
    sub.add_parser("plugins", parents=[common], help="list loaded plugins and their hooks")

    def group(name: str, help_text: str) -> Any:
        p = sub.add_parser(name, help=help_text)
        return p.add_subparsers(dest="action", metavar="ACTION", required=True)

    users = group("user", "manage user accounts")
    for action, help_text in (("add", "create an account"), ("passwd", "change a password")):
        p = users.add_parser(action, parents=[common], help=help_text)
        p.add_argument("address", help="full address, e.g. alice@example.test")
        p.add_argument("--password-stdin", action="store_true",
                       help="read the password from standard input instead of prompting")
    p = users.add_parser("del", parents=[common], help="delete an account and its mail")
    p.add_argument("address")
    p.add_argument("--keep-mail", action="store_true",
                   help="keep the account's mail database file")
    users.add_parser("list", parents=[common], help="list accounts")
    p = users.add_parser("quota", parents=[common],
                         help="set or show an account's storage and message limits")
    p.add_argument("address")
    p.add_argument("--storage", type=parse_size, metavar="SIZE",
                   help="largest total size of the account's mail, e.g. 500M or 2G; none: no "
                        "limit")
    p.add_argument("--messages", type=parse_count, metavar="N",
                   help="most messages the account may hold; none: no limit")

    aliases = group("alias", "manage aliases (extra addresses delivering to an account)")
    p = aliases.add_parser("add", parents=[common], help="add or replace an alias")
    p.add_argument("alias")
    p.add_argument("target")
    p = aliases.add_parser("del", parents=[common], help="delete an alias")
    p.add_argument("alias")
    aliases.add_parser("list", parents=[common], help="list aliases")

    domains = group("domain", "manage local domains (added automatically with users)")
    for action, help_text in (("add", "accept mail for a domain"), ("del", "stop accepting")):
        p = domains.add_parser(action, parents=[common], help=help_text)
        p.add_argument("domain")
    domains.add_parser("list", parents=[common], help="list local domains")

    for plugin_command in plugin_commands:
        p = sub.add_parser(plugin_command.name, parents=[common], help=plugin_command.help)
        plugin_command.configure(p)
        _handlers[plugin_command.name] = _run_plugin_command(plugin_command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser(_plugin_commands(argv))
    args = parser.parse_args(argv)
    name = args.command
    if getattr(args, "action", None) and f"{name} {args.action}" in _handlers:
        name = f"{name} {args.action}"
    configure_logging(logging.INFO if name == "serve" else logging.WARNING)
    # A failing local delivery agent must make the MTA retry, not bounce: EX_TEMPFAIL.
    failure = os.EX_TEMPFAIL if name == "deliver" else EXIT_FAIL
    try:
        config = load_config(getattr(args, "config", None))
        logging.getLogger().setLevel(config.server.log_level.upper() if name == "serve"
                                     else logging.WARNING)
        if name == "serve":
            from mailhost.server import run_on_loop

            return run_on_loop(_handlers[name](args, config), config.server.event_loop)
        return asyncio.run(_handlers[name](args, config))
    except ConfigError as exc:
        print(f"mailhost: config error: {exc}", file=sys.stderr)
    except (CliError, StoreError, AddressError, OSError) as exc:
        print(f"mailhost: {exc}", file=sys.stderr)
    except KeyboardInterrupt:
        return failure
    except Exception as exc:
        if name != "deliver":
            raise
        print(f"mailhost deliver: unexpected error, message left with the MTA: {exc!r}",
              file=sys.stderr)
    return failure


if __name__ == "__main__":
    sys.exit(main())
