"""The retention plugin's hooks: its settings schema, the scheduled sweep, and its CLI."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from mailhost.cli_registry import CliCommand
from mailhost.hookspecs import hookimpl
from mailhost_retention.cli import COMMAND
from mailhost_retention.settings import RetentionSettings
from mailhost_retention.sweep import run_schedule

if TYPE_CHECKING:
    from mailhost.app import App

NAME = "retention"


@hookimpl
def mailhost_settings_schema() -> Mapping[str, type]:
    return {NAME: RetentionSettings}


@hookimpl
def mailhost_startup(app: App) -> None:
    """Start the scheduled sweep; the server cancels it at shutdown."""
    settings: RetentionSettings = app.plugin_settings(NAME)
    if settings.sweep:
        app.spawn(run_schedule(app, settings), name="retention-sweep")


@hookimpl
def mailhost_cli_commands() -> Sequence[CliCommand]:
    return [COMMAND]
