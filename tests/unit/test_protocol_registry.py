"""The verb table: a plugin's wrapper keeps a verb's states, and runs it one at a time
unless the wrapper itself says it is safe alongside the session's other commands."""

from __future__ import annotations

from typing import Any

from mailhost.protocols.imap.plugin import mailhost_imap_commands
from mailhost.protocols.registry import CommandEntry, CommandRegistry, Handler


def imap_registry() -> CommandRegistry[Any]:
    registry: CommandRegistry[Any] = CommandRegistry("imap")
    mailhost_imap_commands(registry=registry)
    return registry


def entry_of(registry: CommandRegistry[Any], verb: str) -> CommandEntry[Any]:
    entry = registry.get(verb)
    assert entry is not None
    return entry


def passthrough(handler: Handler[Any]) -> Handler[Any]:
    return handler


def test_only_append_is_built_in_as_concurrent() -> None:
    registry = imap_registry()
    concurrent = [verb for verb in registry.verbs() if entry_of(registry, verb).concurrent]
    assert concurrent == ["APPEND"]


def test_a_wrapper_runs_the_verb_sequentially_unless_it_opts_in() -> None:
    registry = imap_registry()
    states = entry_of(registry, "APPEND").states
    registry.wrap("APPEND", passthrough, owner="cautious")
    entry = entry_of(registry, "APPEND")
    assert not entry.concurrent and entry.states == states and entry.owner == "cautious"

    registry = imap_registry()
    registry.wrap("APPEND", passthrough, owner="reentrant", concurrent=True)
    assert entry_of(registry, "APPEND").concurrent
    registry.wrap("NOOP", passthrough, concurrent=True)  # a sequential verb stays sequential
    assert not entry_of(registry, "NOOP").concurrent
