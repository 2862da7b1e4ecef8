"""The command state table and the parser registry's extension points."""

from __future__ import annotations

from dataclasses import FrozenInstanceError, dataclass

import pytest

from mailhost.protocols.imap import commands as cmd
from mailhost.protocols.imap.chunks import CommandChunks
from mailhost.protocols.imap.commands import ANY_STATE, Command
from mailhost.protocols.imap.cursor import Cursor
from mailhost.protocols.imap.errors import ParseError
from mailhost.protocols.imap.parser import ParserRegistry, default_registry, parse_command
from mailhost.protocols.imap.state import State
from tests.unit.test_imap_support import parse_wire

NOT_AUTH, AUTH, SELECTED, LOGOUT = (
    State.NOT_AUTHENTICATED,
    State.AUTHENTICATED,
    State.SELECTED,
    State.LOGOUT,
)


def all_command_classes() -> list[type[Command]]:
    found: list[type[Command]] = []
    pending = list(Command.__subclasses__())
    while pending:
        current = pending.pop()
        found.append(current)
        pending.extend(current.__subclasses__())
    return found


@pytest.mark.parametrize(
    ("command_class", "states"),
    [
        (cmd.Capability, {NOT_AUTH, AUTH, SELECTED}),
        (cmd.Noop, {NOT_AUTH, AUTH, SELECTED}),
        (cmd.Logout, {NOT_AUTH, AUTH, SELECTED}),
        (cmd.Id, {NOT_AUTH, AUTH, SELECTED}),
        (cmd.Starttls, {NOT_AUTH}),
        (cmd.Login, {NOT_AUTH}),
        (cmd.Authenticate, {NOT_AUTH}),
        (cmd.Select, {AUTH, SELECTED}),
        (cmd.Examine, {AUTH, SELECTED}),
        (cmd.List, {AUTH, SELECTED}),
        (cmd.Append, {AUTH, SELECTED}),
        (cmd.Idle, {AUTH, SELECTED}),
        (cmd.SetQuota, {AUTH, SELECTED}),
        (cmd.Enable, {AUTH}),
        (cmd.Fetch, {SELECTED}),
        (cmd.Store, {SELECTED}),
        (cmd.Expunge, {SELECTED}),
        (cmd.Move, {SELECTED}),
        (cmd.Unselect, {SELECTED}),
        (cmd.Close, {SELECTED}),
    ],
)
def test_state_table(command_class: type[Command], states: set[State]) -> None:
    assert command_class.states == frozenset(states)


def test_every_command_has_states_and_none_runs_in_logout() -> None:
    classes = all_command_classes()
    assert len(classes) >= 33
    for command_class in classes:
        assert command_class.states, command_class
        assert LOGOUT not in command_class.states, command_class


def test_states_are_found_through_the_parsed_object() -> None:
    command = parse_wire(b"a LOGIN fred pw")
    assert AUTH not in type(command).states
    assert NOT_AUTH in type(command).states


def test_commands_are_immutable_and_hashable() -> None:
    command = parse_wire(b"a FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (From)])")
    with pytest.raises(FrozenInstanceError):
        command.tag = b"b"  # type: ignore[misc]
    assert hash(command) == hash(parse_wire(b"a FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (From)])"))


@dataclass(frozen=True)
class XPing(Command):
    payload: str
    states = ANY_STATE


def parse_xping(cursor: Cursor, tag: bytes) -> XPing:
    cursor.sp()
    payload = cursor.astring()
    if payload == b"boom":
        cursor.fail("no boom allowed")
    return XPing(tag, payload.decode("ascii"))


def test_plugin_adds_a_verb_without_touching_the_parser() -> None:
    registry = default_registry()
    registry.register(b"xping", parse_xping)
    assert b"XPING" in registry.verbs()
    command = parse_command(CommandChunks.from_line(b'p1 XPING "hello there"'), registry)
    assert command == XPing(b"p1", "hello there")
    with pytest.raises(ParseError, match="unexpected data"):
        parse_command(CommandChunks.from_line(b"p1 XPING a b"), registry)
    with pytest.raises(ParseError) as caught:
        parse_command(CommandChunks.from_line(b"p2 XPING boom"), registry)
    assert (caught.value.tag, caught.value.message) == (b"p2", "no boom allowed")
    # The shared default registry is untouched.
    with pytest.raises(ParseError, match="unknown command"):
        parse_command(CommandChunks.from_line(b"p1 XPING x"))


def test_plugin_adds_a_uid_sub_command() -> None:
    registry = default_registry()
    registry.register(b"XPING", parse_xping, uid=True)
    command = parse_command(CommandChunks.from_line(b"u UID XPING x"), registry)
    assert command == XPing(b"u", "x")
    with pytest.raises(ParseError):
        parse_command(CommandChunks.from_line(b"u XPING x"), registry)


def test_registry_refuses_silent_overrides_and_bad_names() -> None:
    registry = ParserRegistry()
    registry.register(b"XPING", parse_xping)
    with pytest.raises(ValueError):
        registry.register(b"xping", parse_xping)
    registry.register(b"XPING", parse_xping, replace=True)
    for bad in (b"UID", b"", b"X PING", b"X(", b"X\xff"):
        with pytest.raises(ValueError):
            registry.register(bad, parse_xping)


def test_empty_registry_knows_nothing() -> None:
    with pytest.raises(ParseError, match="unknown command"):
        ParserRegistry().parse(CommandChunks.from_line(b"a NOOP"))
