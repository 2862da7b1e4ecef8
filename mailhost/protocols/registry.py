"""Verb tables filled by plugins, and the description of a wire protocol.

Like aiosmtpd's ``smtp_VERB`` table, each protocol dispatches a command by looking its verb up
in a table, except that here the table is filled through pluggy hooks: the built-in commands
register exactly as a plugin's X-command would, and ``wrap`` lets a plugin decorate any of them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    from mailhost.app import App
    from mailhost.config import ListenerSection
    from mailhost.connection import Connection

SessionT = TypeVar("SessionT")
Handler = Callable[[SessionT, Any], Awaitable[None]]
# Answers a command synchronously when all it needs is in memory: True if it answered, False
# (having done nothing) to leave the command to the handler.
Instant = Callable[[SessionT, Any], bool]


@dataclass(frozen=True)
class CommandEntry(Generic[SessionT]):
    """One verb: its handler, the session states that allow it, and who registered it.

    ``concurrent`` says the handler may run while earlier commands of the same session are
    still running (IMAP's pipelined APPEND); the session still sends replies in order.
    ``instant`` may answer the command without awaiting anything (see :data:`Instant`); it must
    behave exactly as the handler does, and wrapping the verb drops it so that the wrapper
    sees every call.
    """

    verb: str
    handler: Handler[SessionT]
    states: frozenset[str]
    owner: str
    concurrent: bool = False
    instant: Instant[SessionT] | None = None


class CommandRegistry(Generic[SessionT]):
    """The verb table of one protocol for one server (built once, then read on every command)."""

    def __init__(self, protocol: str) -> None:
        self.protocol = protocol
        self._entries: dict[str, CommandEntry[SessionT]] = {}
        # The protocol's own parser table, where verbs need parsing rules (IMAP's
        # ParserRegistry); a plugin adding a verb registers its parser here too.
        self.parsers: Any = None

    def add(
        self, verb: str, handler: Handler[SessionT], *, states: frozenset[str] | set[str],
        owner: str = "builtin", concurrent: bool = False, instant: Instant[SessionT] | None = None,
    ) -> None:
        """Register ``verb``; a later registration of the same verb replaces the earlier one."""
        key = verb.upper()
        self._entries[key] = CommandEntry(key, handler, frozenset(states), owner, concurrent,
                                          instant)

    def wrap(
        self, verb: str, wrapper: Callable[[Handler[SessionT]], Handler[SessionT]],
        owner: str = "plugin", concurrent: bool = False,
    ) -> None:
        """Replace ``verb``'s handler by ``wrapper(old_handler)``, keeping its states.

        A wrapped command runs one at a time unless the wrapper says it is safe to run
        alongside the session's other commands (``concurrent`` and the wrapped verb's own).
        """
        key = verb.upper()
        entry = self._entries.get(key)
        if entry is None:
            raise KeyError(f"{self.protocol}: cannot wrap unknown command {key}")
        self._entries[key] = replace(entry, handler=wrapper(entry.handler), owner=owner,
                                     concurrent=entry.concurrent and concurrent, instant=None)

    def get(self, verb: str) -> CommandEntry[SessionT] | None:
        return self._entries.get(verb.upper())

    def verbs(self) -> Iterator[str]:
        return iter(sorted(self._entries))

    def __contains__(self, verb: object) -> bool:
        return isinstance(verb, str) and verb.upper() in self._entries


ServeFn = Callable[["App", "Connection", "ListenerSection"], Awaitable[None]]


@dataclass(frozen=True)
class ProtocolHandler:
    """How to serve one connection of a named protocol on a listener."""

    name: str
    serve: ServeFn
    refuse: Callable[[str], bytes]  # the protocol's "go away" line, for connection limits
    description: str = ""
