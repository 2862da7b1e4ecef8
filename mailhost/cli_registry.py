"""How a plugin adds a subcommand to ``mailhost`` (see the ``mailhost_cli_commands`` hook)."""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mailhost.app import App


@dataclass(frozen=True)
class CliCommand:
    """``mailhost NAME ...``: ``configure`` adds arguments, ``run`` does the work.

    ``run`` gets the parsed arguments and an opened App (store and plugins loaded, no
    listeners) and returns the exit status. Raise ``mailhost.cli.CliError`` for a one-line
    failure message.
    """

    name: str
    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace, App], Awaitable[int]]


def config_option() -> argparse.ArgumentParser:
    """A parent parser with ``-c/--config``, for the nested subcommands a plugin adds.

    Pass it as ``parents=[config_option()]`` to every parser that takes positional arguments,
    so ``-c FILE`` works after them as it does for the built-in commands.
    """
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("-c", "--config", metavar="FILE", default=argparse.SUPPRESS,
                        help="TOML config file (default: built-in defaults, data in ./var)")
    return parent
