"""``mailhost pop3-policy show|set USER ...``: per-user POP3 choices, stored with the account."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from typing import TYPE_CHECKING

from mailhost.cli_registry import CliCommand, config_option
from mailhost_leave_on_server.policy import USER_KEYS, Policy, PolicyError, parse_assignment

if TYPE_CHECKING:
    from mailhost.app import App

NAME = "leave_on_server"


def _configure(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="policy_action", metavar="ACTION", required=True)
    show = actions.add_parser("show", parents=[config_option()],
                              help="print a user's effective POP3 policy")
    show.add_argument("user")
    change = actions.add_parser(
        "set", parents=[config_option()],
        help="change a user's choices: key=value ... (value 'default' clears one)",
        description="Keys: " + ", ".join(USER_KEYS) + ". Example: on_retrieve=archive "
                    "keep_days=30 scope=since_enabled",
    )
    change.add_argument("user")
    change.add_argument("assignments", nargs="+", metavar="key=value")


async def _run(args: argparse.Namespace, app: App) -> int:
    from mailhost.cli import CliError

    directory = app.store.directory
    user = await directory.get_user(args.user)
    if user is None:
        raise CliError(f"no user {args.user}")
    overrides = dict(await directory.get_setting(user.address, NAME, "policy") or {})
    if args.policy_action == "set":
        try:
            for text in args.assignments:
                key, value = parse_assignment(text)
                if value is None:
                    overrides.pop(key, None)
                else:
                    overrides[key] = value
        except PolicyError as exc:
            raise CliError(str(exc)) from None
        await directory.set_setting(user.address, NAME, "policy", overrides or None)
    policy = Policy.effective(app.plugin_settings(NAME), overrides)
    print(f"POP3 policy of {user.address}:")
    for key, value in asdict(policy).items():
        if key in USER_KEYS:
            source = "user" if key in overrides else "server default"
            print(f"  {key:<12} {value!s:<16} ({source})")
    return 0


POP3_POLICY = CliCommand(
    name="pop3-policy", help="show or set a user's POP3 leave-on-server policy",
    configure=_configure, run=_run,
)
