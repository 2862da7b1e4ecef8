"""Parsing mailbox commands (RFC 3501 §6.3 examples) and their extensions."""

from __future__ import annotations

import datetime

import pytest

from mailhost.protocols.imap import commands as cmd
from mailhost.protocols.imap.commands import ListReturn, ListSelect, StatusItem
from mailhost.protocols.imap.errors import ParseError
from mailhost.protocols.imap.sequence import SequenceSet
from tests.unit.test_imap_support import parse_wire

MESSAGE_310 = (
    b"Date: Mon, 7 Feb 1994 21:52:25 -0800 (PST)\r\n"
    b"From: Fred Foobar <foobar@Blurdybloop.COM>\r\n"
    b"Subject: afternoon meeting\r\n"
    b"To: mooch@owatagu.siam.edu\r\n"
    b"Message-Id: <B27397-0100000@Blurdybloop.COM>\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\r\n"
    b"\r\n"
    b"Hello Joe, do you think we can meet at 3:30 tomorrow?\r\n"
)

NEWS = "#news.comp.mail.mime"


@pytest.mark.parametrize(
    ("wire", "expected"),
    [
        (b"A142 SELECT INBOX", cmd.Select(b"A142", "INBOX")),
        (b"A932 EXAMINE blurdybloop", cmd.Examine(b"A932", "blurdybloop")),
        (b"A003 CREATE owatagusiam/", cmd.Create(b"A003", "owatagusiam/")),
        (b"A683 DELETE blurdybloop", cmd.Delete(b"A683", "blurdybloop")),
        (b"A685 DELETE foo/bar", cmd.Delete(b"A685", "foo/bar")),
        (b"A683 RENAME blurdybloop sarasoop", cmd.Rename(b"A683", "blurdybloop", "sarasoop")),
        (b"Z433 RENAME INBOX old-mail", cmd.Rename(b"Z433", "INBOX", "old-mail")),
        (b"A002 SUBSCRIBE #news.comp.mail.mime", cmd.Subscribe(b"A002", NEWS)),
        (b"A002 UNSUBSCRIBE #news.comp.mail.mime", cmd.Unsubscribe(b"A002", NEWS)),
        (b'A002 LSUB "#news." "comp.mail.*"', cmd.Lsub(b"A002", "#news.", "comp.mail.*")),
        (b'A003 LSUB "#news." comp.%', cmd.Lsub(b"A003", "#news.", "comp.%")),
    ],
)  # fmt: skip
def test_rfc_3501_examples(wire: bytes, expected: cmd.Command) -> None:
    assert parse_wire(wire) == expected


def test_examine_is_a_read_only_select() -> None:
    command = parse_wire(b"A932 EXAMINE blurdybloop")
    assert isinstance(command, cmd.Select) and command.read_only


@pytest.mark.parametrize("spelling", [b"inbox", b"InBoX", b'"INBOX"', b"{5}\r\niNbOx"])
def test_inbox_is_case_insensitive(spelling: bytes) -> None:
    assert parse_wire(b"a SELECT " + spelling) == cmd.Select(b"a", "INBOX")


def test_only_the_exact_inbox_name_is_normalised() -> None:
    assert parse_wire(b"a SELECT inbox/sub") == cmd.Select(b"a", "inbox/sub")
    assert parse_wire(b"a SELECT inboxes") == cmd.Select(b"a", "inboxes")


def test_mailbox_names_are_decoded_from_modified_utf7() -> None:
    command = parse_wire(b'a CREATE "~peter/mail/&U,BTFw-/&ZeVnLIqe-"')
    assert command == cmd.Create(b"a", "~peter/mail/台北/日本語")


@pytest.mark.parametrize("name", [b"&Jjo!", b"&AGE-", b'"Entw\xc3\xbcrfe"', b"{3}\r\na\xffb"])
def test_invalid_mailbox_names_are_parse_errors(name: bytes) -> None:
    with pytest.raises(ParseError) as caught:
        parse_wire(b"a7 SELECT " + name)
    assert caught.value.tag == b"a7"


def test_select_condstore() -> None:
    assert parse_wire(b"a SELECT INBOX (CONDSTORE)") == cmd.Select(b"a", "INBOX", condstore=True)


def test_select_qresync_full_form() -> None:
    wire = b"A03 SELECT INBOX (QRESYNC (67890007 90060115194045000 41:211,214:541 (1:20 4:33)))"
    command = parse_wire(wire)
    assert command == cmd.Select(
        b"A03",
        "INBOX",
        qresync=cmd.QresyncParams(
            uidvalidity=67890007,
            modseq=90060115194045000,
            known_uids=SequenceSet.parse(b"41:211,214:541"),
            known_sequences=SequenceSet.parse(b"1:20"),
            known_sequence_uids=SequenceSet.parse(b"4:33"),
        ),
    )


def test_examine_qresync_short_forms() -> None:
    short = parse_wire(b"B EXAMINE INBOX (QRESYNC (67890007 90060115194045000))")
    assert isinstance(short, cmd.Examine) and short.read_only
    assert short.qresync == cmd.QresyncParams(67890007, 90060115194045000)
    match_only = parse_wire(b"B SELECT INBOX (QRESYNC (1 2 (1:3 5:7)) CONDSTORE)")
    assert isinstance(match_only, cmd.Select) and match_only.condstore
    assert match_only.qresync is not None and match_only.qresync.known_uids is None
    assert match_only.qresync.known_sequences == SequenceSet.parse(b"1:3")


@pytest.mark.parametrize(
    "params",
    [
        b"()",
        b"(CONDSTORE CONDSTORE)",
        b"(FOO)",
        b"(QRESYNC (0 5))",
        b"(QRESYNC (1 0))",
        b"(QRESYNC (1 5 1:*))",
        b"(QRESYNC (1 5 $))",
        b"(QRESYNC (1 5 1:3 ))",
        b"(QRESYNC (1 5 (1:3)))",
        b"(QRESYNC (1 5 (1 2 3)))",
        b"(QRESYNC 1 5)",
    ],
)
def test_select_rejects_bad_parameters(params: bytes) -> None:
    with pytest.raises(ParseError):
        parse_wire(b"a SELECT INBOX " + params)


def test_create_special_use() -> None:
    command = parse_wire(b"t1 CREATE MySpecial (USE (\\drafts \\Sent \\X-Custom))")
    assert command == cmd.Create(b"t1", "MySpecial", ("\\Drafts", "\\Sent", "\\X-Custom"))
    assert parse_wire(b"t1 CREATE x (USE ())") == cmd.Create(b"t1", "x", ())
    for bad in (b"(USE (Sent))", b"(FOO (\\Sent))", b"(USE (\\Sent) USE (\\Junk))", b"()"):
        with pytest.raises(ParseError):
            parse_wire(b"t1 CREATE x " + bad)


@pytest.mark.parametrize(
    ("wire", "reference", "patterns"),
    [
        (b'A101 LIST "" ""', "", ("",)),
        (b'A102 LIST #news.comp.mail.misc ""', "#news.comp.mail.misc", ("",)),
        (b'A103 LIST /usr/staff/jones ""', "/usr/staff/jones", ("",)),
        (b"A202 LIST ~/Mail/ %", "~/Mail/", ("%",)),
        (b'A682 LIST "" *', "", ("*",)),
        (b'a LIST "" inbox', "", ("inbox",)),
        (b'a LIST "" "Entw&APw-rfe/*"', "", ("Entwürfe/*",)),
    ],
)
def test_basic_list(wire: bytes, reference: str, patterns: tuple[str, ...]) -> None:
    command = parse_wire(wire)
    assert isinstance(command, cmd.List)
    assert (command.reference, command.patterns, command.extended) == (reference, patterns, False)
    assert not command.selection and not command.return_options


def test_extended_list_with_everything() -> None:
    wire = (
        b'A04 LIST (SUBSCRIBED RECURSIVEMATCH remote) "" ("%" "Foo/*") '
        b"RETURN (CHILDREN SUBSCRIBED SPECIAL-USE STATUS (MESSAGES UNSEEN SIZE))"
    )
    assert parse_wire(wire) == cmd.List(
        b"A04",
        "",
        ("%", "Foo/*"),
        selection=frozenset({ListSelect.SUBSCRIBED, ListSelect.RECURSIVEMATCH, ListSelect.REMOTE}),
        return_options=frozenset(
            {ListReturn.CHILDREN, ListReturn.SUBSCRIBED, ListReturn.SPECIAL_USE, ListReturn.STATUS}
        ),
        status_items=(StatusItem.MESSAGES, StatusItem.UNSEEN, StatusItem.SIZE),
        extended=True,
    )


def test_extended_list_forms() -> None:
    special = parse_wire(b't1 LIST (SPECIAL-USE) "" "*"')
    assert isinstance(special, cmd.List) and special.extended
    assert special.selection == frozenset({ListSelect.SPECIAL_USE})
    returning = parse_wire(b'a LIST "" % RETURN ()')
    assert isinstance(returning, cmd.List) and returning.extended
    multiple = parse_wire(b'a LIST "" (INBOX "Sent Items")')
    assert isinstance(multiple, cmd.List) and multiple.patterns == ("INBOX", "Sent Items")
    empty_selection = parse_wire(b'a LIST () "" %')
    assert isinstance(empty_selection, cmd.List) and empty_selection.extended


@pytest.mark.parametrize(
    "wire",
    [
        b'a LIST (RECURSIVEMATCH) "" %',
        b'a LIST (REMOTE RECURSIVEMATCH) "" %',
        b'a LIST (BOGUS) "" %',
        b'a LIST "" % RETURN (BOGUS)',
        b'a LIST "" % RETURN (STATUS ())',
        b'a LIST "" % RETURN (STATUS (MESSAGES) STATUS (UNSEEN))',
        b'a LIST "" % RETURNS ()',
        b'a LIST "" ()',
        b"a LIST %",
        b'a LIST "" % %',
    ],
)
def test_list_rejects(wire: bytes) -> None:
    with pytest.raises(ParseError):
        parse_wire(wire)


def test_status() -> None:
    assert parse_wire(b"A042 STATUS blurdybloop (UIDNEXT MESSAGES)") == cmd.Status(
        b"A042", "blurdybloop", (StatusItem.UIDNEXT, StatusItem.MESSAGES)
    )
    every = (
        b"(MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN HIGHESTMODSEQ SIZE DELETED DELETED-STORAGE)"
    )
    command = parse_wire(b"a STATUS INBOX " + every)
    assert isinstance(command, cmd.Status) and command.items == tuple(StatusItem)
    for bad in (b"()", b"(MESSAGES BOGUS)", b"MESSAGES"):
        with pytest.raises(ParseError):
            parse_wire(b"a STATUS INBOX " + bad)


def test_append_rfc_example() -> None:
    assert len(MESSAGE_310) == 310
    command = parse_wire(b"A003 APPEND saved-messages (\\Seen) {310}\r\n" + MESSAGE_310)
    assert command == cmd.Append(b"A003", "saved-messages", ("\\Seen",), None, MESSAGE_310)


def test_append_with_date_time_and_literal_plus() -> None:
    wire = b'a APPEND INBOX (\\seen $Label) "17-Jul-1996 02:44:25 -0700" {5+}\r\nHello'
    command = parse_wire(wire)
    zone = datetime.timezone(-datetime.timedelta(hours=7))
    assert command == cmd.Append(
        b"a",
        "INBOX",
        ("\\Seen", "$Label"),
        datetime.datetime(1996, 7, 17, 2, 44, 25, tzinfo=zone),
        b"Hello",
    )
    bare = parse_wire(b'a APPEND INBOX " 7-Jul-1996 02:44:25 +0000" {1}\r\nx')
    assert isinstance(bare, cmd.Append) and bare.flags == () and bare.date_time is not None
    assert bare.date_time.day == 7


def test_append_keeps_stray_nul_bytes_of_the_message() -> None:
    command = parse_wire(b"a APPEND INBOX {3}\r\na\x00b")
    assert isinstance(command, cmd.Append) and command.message == b"a\x00b"
    with pytest.raises(ParseError):
        parse_wire(b"a APPEND {3}\r\na\x00b {1}\r\nx")


@pytest.mark.parametrize(
    "wire",
    [
        b'a APPEND INBOX "Hello"',
        b"a APPEND INBOX (\\Recent) {1}\r\nx",
        b"a APPEND INBOX (\\Bogus) {1}\r\nx",
        b'a APPEND INBOX "7-Jul-1996 02:44:25 +0000" {1}\r\nx',
        b'a APPEND INBOX "31-Feb-1996 02:44:25 +0000" {1}\r\nx',
        b'a APPEND INBOX "17-Jul-1996 25:44:25 +0000" {1}\r\nx',
        b'a APPEND INBOX "17-Jul-1996 02:44:25 +0099" {1}\r\nx',
        b"a APPEND INBOX 17-Jul-1996 {1}\r\nx",
        b"a APPEND INBOX {1}\r\nx {1}\r\ny",
    ],
)
def test_append_rejects(wire: bytes) -> None:
    with pytest.raises(ParseError):
        parse_wire(wire)


def test_quota_commands() -> None:
    assert parse_wire(b'G1 GETQUOTA ""') == cmd.GetQuota(b"G1", "")
    assert parse_wire(b"G2 GETQUOTAROOT INBOX") == cmd.GetQuotaRoot(b"G2", "INBOX")
    command = parse_wire(b'S1 SETQUOTA "" (STORAGE 512 message 10000000000)')
    assert command == cmd.SetQuota(b"S1", "", (("STORAGE", 512), ("MESSAGE", 10000000000)))
    assert parse_wire(b"S1 SETQUOTA user ()") == cmd.SetQuota(b"S1", "user", ())
    for bad in (b"(STORAGE)", b"(STORAGE 1 STORAGE 2)", b"(STORAGE -1)", b"STORAGE 1"):
        with pytest.raises(ParseError):
            parse_wire(b'S1 SETQUOTA "" ' + bad)
