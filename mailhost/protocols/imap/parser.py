"""IMAP command parser: tag, verb, then the verb's parse function from a registry.

Plugins add verbs (e.g. an ``XFOO`` command) with :meth:`ParserRegistry.register`; the
parse function reads its arguments through the :class:`~.cursor.Cursor` and returns a
:class:`~.commands.Command` subclass that lists its own ``states``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Final

from mailhost.protocols.imap import commands as cmd
from mailhost.protocols.imap.charclasses import ATOM_CHARS
from mailhost.protocols.imap.chunks import CommandChunks
from mailhost.protocols.imap.cursor import Cursor
from mailhost.protocols.imap.errors import ParseError
from mailhost.protocols.imap.parse_list import parse_list, parse_lsub
from mailhost.protocols.imap.parse_mailbox import (
    parse_append,
    parse_create,
    parse_delete,
    parse_examine,
    parse_getquota,
    parse_getquotaroot,
    parse_rename,
    parse_select,
    parse_setquota,
    parse_status,
    parse_subscribe,
    parse_unsubscribe,
)
from mailhost.protocols.imap.parse_message import (
    parse_copy,
    parse_expunge,
    parse_fetch,
    parse_move,
    parse_search,
    parse_store,
    parse_uid_expunge,
)
from mailhost.protocols.imap.parse_session import (
    ParseFn,
    no_arguments,
    parse_authenticate,
    parse_enable,
    parse_id,
    parse_login,
)

__all__ = ["DEFAULT_REGISTRY", "ParseError", "ParseFn", "ParserRegistry", "parse_command"]

_UID: Final = b"UID"


class ParserRegistry:
    """Maps verbs (and ``UID`` sub-verbs) to parse functions.

    A parse function is called with the cursor just after the verb and the command's
    tag; it reads the arguments (starting with the separating space) and returns the
    command. The registry checks that nothing is left over.
    """

    def __init__(self) -> None:
        self._parsers: dict[bytes, ParseFn] = {}
        self._uid_parsers: dict[bytes, ParseFn] = {}

    def register(
        self, verb: bytes, parse_fn: ParseFn, *, uid: bool = False, replace: bool = False
    ) -> None:
        """Add ``verb`` (``UID verb`` when ``uid``); refuse silent overrides."""
        name = verb.upper()
        if not name or not all(byte in ATOM_CHARS for byte in name) or name == _UID:
            raise ValueError(f"not a registrable command name: {verb!r}")
        table = self._uid_parsers if uid else self._parsers
        if name in table and not replace:
            raise ValueError(f"command already registered: {verb!r}")
        table[name] = parse_fn

    def lookup(self, verb: bytes, *, uid: bool = False) -> ParseFn | None:
        """The parse function for ``verb`` (any case), or None."""
        return (self._uid_parsers if uid else self._parsers).get(verb.upper())

    def verbs(self, *, uid: bool = False) -> frozenset[bytes]:
        """The registered verbs, e.g. for tests or a capability check."""
        return frozenset(self._uid_parsers if uid else self._parsers)

    def parse(self, chunks: CommandChunks) -> cmd.Command:
        """Parse one assembled command; raises :class:`ParseError` and nothing else."""
        cursor = Cursor(chunks)
        tag = cursor.tag_token()
        cursor.tag = tag
        cursor.sp()
        verb = cursor.keyword()
        uid = verb == _UID
        if uid:
            cursor.sp()
            verb = cursor.keyword()
        parse_fn = self.lookup(verb, uid=uid)
        if parse_fn is None:
            cursor.fail("unknown UID command" if uid else "unknown command")
        command = parse_fn(cursor, tag)
        cursor.expect_end()
        return command


def _no_argument_parsers() -> dict[bytes, ParseFn]:
    simple: dict[bytes, Callable[[bytes], cmd.Command]] = {
        b"CAPABILITY": cmd.Capability,
        b"NOOP": cmd.Noop,
        b"LOGOUT": cmd.Logout,
        b"STARTTLS": cmd.Starttls,
        b"NAMESPACE": cmd.Namespace,
        b"IDLE": cmd.Idle,
        b"CHECK": cmd.Check,
        b"CLOSE": cmd.Close,
        b"UNSELECT": cmd.Unselect,
    }
    return {verb: no_arguments(command) for verb, command in simple.items()}


def default_registry() -> ParserRegistry:
    """A fresh registry with every built-in command (for a server to extend)."""
    registry = ParserRegistry()
    parsers: dict[bytes, ParseFn] = {
        **_no_argument_parsers(),
        b"LOGIN": parse_login,
        b"AUTHENTICATE": parse_authenticate,
        b"ID": parse_id,
        b"ENABLE": parse_enable,
        b"SELECT": parse_select,
        b"EXAMINE": parse_examine,
        b"CREATE": parse_create,
        b"DELETE": parse_delete,
        b"RENAME": parse_rename,
        b"SUBSCRIBE": parse_subscribe,
        b"UNSUBSCRIBE": parse_unsubscribe,
        b"LIST": parse_list,
        b"LSUB": parse_lsub,
        b"STATUS": parse_status,
        b"APPEND": parse_append,
        b"GETQUOTA": parse_getquota,
        b"GETQUOTAROOT": parse_getquotaroot,
        b"SETQUOTA": parse_setquota,
        b"EXPUNGE": parse_expunge,
        b"SEARCH": parse_search,
        b"FETCH": parse_fetch,
        b"STORE": parse_store,
        b"COPY": parse_copy,
        b"MOVE": parse_move,
    }
    for verb, parse_fn in parsers.items():
        registry.register(verb, parse_fn)
    uid_parsers: dict[bytes, ParseFn] = {
        b"SEARCH": partial(parse_search, uid=True),
        b"FETCH": partial(parse_fetch, uid=True),
        b"STORE": partial(parse_store, uid=True),
        b"COPY": partial(parse_copy, uid=True),
        b"MOVE": partial(parse_move, uid=True),
        b"EXPUNGE": parse_uid_expunge,
    }
    for verb, parse_fn in uid_parsers.items():
        registry.register(verb, parse_fn, uid=True)
    return registry


DEFAULT_REGISTRY: Final = default_registry()
"""The registry :func:`parse_command` uses unless given another."""


def parse_command(chunks: CommandChunks, registry: ParserRegistry | None = None) -> cmd.Command:
    """Parse an assembled command (see :mod:`.reader`) into a typed command object."""
    return (DEFAULT_REGISTRY if registry is None else registry).parse(chunks)
