"""The verb table: a plugin's wrapper keeps a verb's states, and runs it one at a time
unless the wrapper itself says it is safe alongside the session's other commands."""

from __future__ import annotations

from typing import Any

from mailhost.protocols.imap.plugin import mailhost_imap_commands
from mailhost.protocols.pop3.plugin import mailhost_pop3_commands
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


def test_wrapping_a_verb_drops_its_instant_form_so_the_wrapper_sees_every_call() -> None:
    registry: CommandRegistry[Any] = CommandRegistry("pop3")
    mailhost_pop3_commands(registry=registry)
    assert entry_of(registry, "RETR").instant is not None
    registry.wrap("RETR", passthrough, owner="audit")
    assert entry_of(registry, "RETR").instant is None
    assert entry_of(registry, "DELE").instant is not None  # other verbs keep theirs
