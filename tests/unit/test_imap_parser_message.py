"""Parsing selected-state commands: FETCH, STORE, COPY, MOVE, EXPUNGE and their UID forms."""

from __future__ import annotations

import pytest

from mailhost.protocols.imap import commands as cmd
from mailhost.protocols.imap.commands import StoreMode
from mailhost.protocols.imap.errors import ParseError
from mailhost.protocols.imap.fetchatt import (
    BinarySection,
    BinarySize,
    BodySection,
    FetchAttribute,
    FetchItem,
    Partial,
    Section,
    SectionText,
)
from mailhost.protocols.imap.sequence import STAR, SequenceSet
from tests.unit.test_imap_support import parse_wire


def fetch_items(wire: bytes) -> tuple[FetchItem, ...]:
    command = parse_wire(wire)
    assert isinstance(command, cmd.Fetch)
    return command.attributes


def test_fetch_rfc_example() -> None:
    command = parse_wire(b"A654 FETCH 2:4 (FLAGS BODY[HEADER.FIELDS (DATE FROM)])")
    header_fields = Section((), SectionText.HEADER_FIELDS, ("DATE", "FROM"))
    assert command == cmd.Fetch(
        b"A654", SequenceSet(((2, 4),)), (FetchAttribute.FLAGS, BodySection(header_fields))
    )


def test_uid_fetch_rfc_example() -> None:
    command = parse_wire(b"A999 UID FETCH 4827313:4828442 FLAGS")
    assert command == cmd.Fetch(
        b"A999", SequenceSet(((4827313, 4828442),)), (FetchAttribute.FLAGS,), uid=True
    )


@pytest.mark.parametrize(
    ("macro", "expanded"),
    [
        (b"FAST", ("FLAGS", "INTERNALDATE", "RFC822_SIZE")),
        (b"all", ("FLAGS", "INTERNALDATE", "RFC822_SIZE", "ENVELOPE")),
        (b"FULL", ("FLAGS", "INTERNALDATE", "RFC822_SIZE", "ENVELOPE", "BODY")),
    ],
)
def test_fetch_macros_expand(macro: bytes, expanded: tuple[str, ...]) -> None:
    assert fetch_items(b"a FETCH 1 " + macro) == tuple(FetchAttribute[n] for n in expanded)


def test_macros_are_not_allowed_in_lists() -> None:
    with pytest.raises(ParseError):
        parse_wire(b"a FETCH 1 (ALL)")


def test_every_simple_attribute() -> None:
    names = b" ".join(attribute.value.lower() for attribute in FetchAttribute)
    assert fetch_items(b"a FETCH 1:* (" + names + b")") == tuple(FetchAttribute)


@pytest.mark.parametrize(
    ("item", "expected", "response_name"),
    [
        (b"BODY[]", BodySection(Section()), b"BODY[]"),
        (b"BODY.PEEK[]<0.2048>", BodySection(Section(), Partial(0, 2048), peek=True), b"BODY[]<0>"),
        (b"body[text]", BodySection(Section(text=SectionText.TEXT)), b"BODY[TEXT]"),
        (b"BODY[1.2.3]", BodySection(Section((1, 2, 3))), b"BODY[1.2.3]"),
        (b"BODY[4.2.HEADER]", BodySection(Section((4, 2), SectionText.HEADER)),
         b"BODY[4.2.HEADER]"),
        (b"BODY[3.mime]", BodySection(Section((3,), SectionText.MIME)), b"BODY[3.MIME]"),
        (
            b'BODY.PEEK[HEADER.FIELDS.NOT (Received "X-Spam" {4}\r\nDate)]<10.5>',
            BodySection(
                Section((), SectionText.HEADER_FIELDS_NOT, ("Received", "X-Spam", "Date")),
                Partial(10, 5),
                peek=True,
            ),
            b"BODY[HEADER.FIELDS.NOT (Received X-Spam Date)]<10>",
        ),
        (
            b"BODY[2.HEADER.FIELDS (SUBJECT)]<0.100>",
            BodySection(Section((2,), SectionText.HEADER_FIELDS, ("SUBJECT",)), Partial(0, 100)),
            b"BODY[2.HEADER.FIELDS (SUBJECT)]<0>",
        ),
        (b"BINARY[1.2]", BinarySection((1, 2)), b"BINARY[1.2]"),
        (b"BINARY.PEEK[]<5.6>", BinarySection((), Partial(5, 6), peek=True), b"BINARY[]<5>"),
        (b"BINARY.SIZE[3]", BinarySize((3,)), b"BINARY.SIZE[3]"),
    ],
)  # fmt: skip
def test_sections_and_their_response_names(
    item: bytes, expected: FetchItem, response_name: bytes
) -> None:
    (parsed,) = fetch_items(b"a FETCH 1 (" + item + b")")
    assert parsed == expected
    assert parsed.response_name == response_name


def test_bare_section_item_without_parentheses() -> None:
    assert fetch_items(b"a FETCH 1 BODY.PEEK[]") == (BodySection(Section(), peek=True),)


@pytest.mark.parametrize(
    "items",
    [
        b"()",
        b"(FLAGS",
        b"(FLAGS  UID)",
        b"BOGUS",
        b"BODY.PEEK",
        b"FLAGS[]",
        b"BODY[HEADER.FIELDS]",
        b"BODY[HEADER.FIELDS ()]",
        b"BODY[HEADER.FIELDS (a:b)]",
        b"BODY[MIME]",
        b"BODY[0]",
        b"BODY[01]",
        b"BODY[1.]",
        b"BODY[1..2]",
        b"BODY[TEXT.1]",
        b"BODY[FOO]",
        b"BODY[]<0>",
        b"BODY[]<0.0>",
        b"BODY[]<-1.5>",
        b"BODY[",
        b"BINARY[TEXT]",
        b"BINARY.SIZE[1]<0.5>",
        b"RFC822.FOO",
    ],
)
def test_fetch_rejects(items: bytes) -> None:
    with pytest.raises(ParseError):
        parse_wire(b"a FETCH 1 " + items)


def test_fetch_changedsince_and_vanished() -> None:
    command = parse_wire(b"s100 UID FETCH 300:500 (FLAGS) (CHANGEDSINCE 12345 VANISHED)")
    assert command == cmd.Fetch(
        b"s100",
        SequenceSet(((300, 500),)),
        (FetchAttribute.FLAGS,),
        uid=True,
        changedsince=12345,
        vanished=True,
    )
    plain = parse_wire(b"s FETCH 1:* (FLAGS) (CHANGEDSINCE 1)")
    assert isinstance(plain, cmd.Fetch) and plain.changedsince == 1 and not plain.vanished


@pytest.mark.parametrize(
    "wire",
    [
        b"s FETCH 1:* FLAGS (CHANGEDSINCE 5 VANISHED)",
        b"s UID FETCH 1:* FLAGS (VANISHED)",
        b"s FETCH 1 FLAGS (CHANGEDSINCE 0)",
        b"s FETCH 1 FLAGS (CHANGEDSINCE 9223372036854775808)",
        b"s FETCH 1 FLAGS (CHANGEDSINCE 1 CHANGEDSINCE 2)",
        b"s FETCH 1 FLAGS (FOO)",
        b"s FETCH 1 FLAGS ()",
    ],
)
def test_fetch_modifier_rules(wire: bytes) -> None:
    with pytest.raises(ParseError):
        parse_wire(wire)


def test_store_rfc_example() -> None:
    assert parse_wire(b"A003 STORE 2:4 +FLAGS (\\Deleted)") == cmd.Store(
        b"A003", SequenceSet(((2, 4),)), StoreMode.ADD, False, ("\\Deleted",)
    )


@pytest.mark.parametrize(
    ("item", "mode", "silent"),
    [
        (b"FLAGS", StoreMode.REPLACE, False),
        (b"flags.silent", StoreMode.REPLACE, True),
        (b"+FLAGS.SILENT", StoreMode.ADD, True),
        (b"-FLAGS", StoreMode.REMOVE, False),
    ],
)
def test_store_modes(item: bytes, mode: StoreMode, silent: bool) -> None:
    command = parse_wire(b"a STORE 1 " + item + b" (\\Seen)")
    assert isinstance(command, cmd.Store) and (command.mode, command.silent) == (mode, silent)


def test_store_flags_without_parentheses_and_keywords() -> None:
    command = parse_wire(b"a UID STORE 1:* -FLAGS \\seen $Junk \\Seen")
    assert command == cmd.Store(
        b"a", SequenceSet(((1, STAR),)), StoreMode.REMOVE, False, ("\\Seen", "$Junk"), uid=True
    )
    empty = parse_wire(b"a STORE 1 FLAGS ()")
    assert isinstance(empty, cmd.Store) and empty.flags == ()


def test_store_unchangedsince() -> None:
    command = parse_wire(b"d105 STORE 7,5,9 (UNCHANGEDSINCE 320162338) +FLAGS.SILENT (\\Deleted)")
    assert isinstance(command, cmd.Store)
    assert command.unchangedsince == 320162338 and command.silent
    zero = parse_wire(b"d STORE 1 (UNCHANGEDSINCE 0) FLAGS ()")
    assert isinstance(zero, cmd.Store) and zero.unchangedsince == 0


@pytest.mark.parametrize(
    "rest",
    [
        b"FLAGS",
        b"FLAGS \\Recent",
        b"FLAGS (\\*)",
        b"FLAGS.LOUD (\\Seen)",
        b"*FLAGS (\\Seen)",
        b"(UNCHANGEDSINCE 1 UNCHANGEDSINCE 2) FLAGS ()",
        b"(CHANGEDSINCE 1) FLAGS ()",
        b"FLAGS (a b",
    ],
)
def test_store_rejects(rest: bytes) -> None:
    with pytest.raises(ParseError):
        parse_wire(b"a STORE 1 " + rest)


def test_copy_move_and_uid_forms() -> None:
    two_to_four = SequenceSet(((2, 4),))
    assert parse_wire(b"A003 COPY 2:4 MEETING") == cmd.Copy(b"A003", two_to_four, "MEETING")
    assert parse_wire(b"a UID COPY 2:4 inbox") == cmd.Copy(b"a", two_to_four, "INBOX", uid=True)
    assert parse_wire(b"a MOVE 2:4 Trash") == cmd.Move(b"a", two_to_four, "Trash")
    assert parse_wire(b'a UID MOVE $ "Old Mail"') == cmd.Move(
        b"a", SequenceSet(saved=True), "Old Mail", uid=True
    )


def test_expunge_and_uid_expunge() -> None:
    assert parse_wire(b"A202 EXPUNGE") == cmd.Expunge(b"A202")
    assert parse_wire(b"A003 UID EXPUNGE 3000:3002") == cmd.Expunge(
        b"A003", SequenceSet(((3000, 3002),))
    )
    for bad in (b"A EXPUNGE 1", b"A UID EXPUNGE", b"A UID EXPUNGE x"):
        with pytest.raises(ParseError):
            parse_wire(bad)


@pytest.mark.parametrize("verb", [b"NOOP", b"CHECK", b"SELECT INBOX", b"LOGOUT", b"UID"])
def test_uid_accepts_only_its_sub_commands(verb: bytes) -> None:
    with pytest.raises(ParseError, match=r"unknown UID command|expected"):
        parse_wire(b"a UID " + verb)
