"""Parsing SEARCH: every RFC 3501 key, CHARSET, ESEARCH RETURN, SEARCHRES and MODSEQ."""

from __future__ import annotations

import datetime

import pytest

from mailhost.protocols.imap import commands as cmd
from mailhost.protocols.imap.commands import SearchReturn
from mailhost.protocols.imap.errors import BADCHARSET_CODE, NO, ParseError
from mailhost.protocols.imap.searchkeys import (
    All,
    And,
    BodyContains,
    DateField,
    DateMatch,
    DateRelation,
    HasFlag,
    HeaderContains,
    Larger,
    ModSeqAtLeast,
    Not,
    Or,
    SearchKey,
    SequenceMatch,
    Smaller,
    TextContains,
    UidMatch,
)
from mailhost.protocols.imap.sequence import STAR, SequenceSet
from tests.unit.test_imap_support import parse_wire

FEB_1 = datetime.date(1994, 2, 1)
SEEN, RECENT = HasFlag("\\Seen"), HasFlag("\\Recent")


def search(wire: bytes) -> cmd.Search:
    command = parse_wire(wire)
    assert isinstance(command, cmd.Search)
    return command


def key_of(keys: bytes) -> SearchKey:
    return search(b"a SEARCH " + keys).key


def test_rfc_3501_examples() -> None:
    assert search(b'A282 SEARCH FLAGGED SINCE 1-Feb-1994 NOT FROM "Smith"') == cmd.Search(
        b"A282",
        And(
            (
                HasFlag("\\Flagged"),
                DateMatch(DateField.INTERNAL, DateRelation.SINCE, FEB_1),
                Not(HeaderContains("from", "Smith")),
            )
        ),
    )
    assert search(b'A283 SEARCH TEXT "string not in mailbox"').key == TextContains(
        "string not in mailbox"
    )
    text = "тест".encode()
    utf8 = search(b"A284 SEARCH CHARSET UTF-8 TEXT {%d}\r\n" % len(text) + text)
    assert utf8.charset == "UTF-8" and utf8.key == TextContains("тест")


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        (b"ALL", All()),
        (b"ANSWERED", HasFlag("\\Answered")),
        (b"DELETED", HasFlag("\\Deleted")),
        (b"DRAFT", HasFlag("\\Draft")),
        (b"FLAGGED", HasFlag("\\Flagged")),
        (b"SEEN", SEEN),
        (b"RECENT", RECENT),
        (b"NEW", And((RECENT, Not(SEEN)))),
        (b"OLD", Not(RECENT)),
        (b"UNANSWERED", Not(HasFlag("\\Answered"))),
        (b"UNDELETED", Not(HasFlag("\\Deleted"))),
        (b"UNDRAFT", Not(HasFlag("\\Draft"))),
        (b"UNFLAGGED", Not(HasFlag("\\Flagged"))),
        (b"UNSEEN", Not(SEEN)),
        (b"KEYWORD $Forwarded", HasFlag("$Forwarded")),
        (b"UNKEYWORD Junk", Not(HasFlag("Junk"))),
        (b"BCC joe", HeaderContains("bcc", "joe")),
        (b"CC joe", HeaderContains("cc", "joe")),
        (b"FROM joe", HeaderContains("from", "joe")),
        (b'SUBJECT "lunch plans"', HeaderContains("subject", "lunch plans")),
        (b"TO joe", HeaderContains("to", "joe")),
        (b'HEADER Message-ID "<x@y>"', HeaderContains("message-id", "<x@y>")),
        (b'HEADER X-Spam ""', HeaderContains("x-spam", "")),
        (b"BODY {4}\r\nnoon", BodyContains("noon")),
        (b"TEXT meeting", TextContains("meeting")),
        (b"BEFORE 1-Feb-1994", DateMatch(DateField.INTERNAL, DateRelation.BEFORE, FEB_1)),
        (b'ON "01-feb-1994"', DateMatch(DateField.INTERNAL, DateRelation.ON, FEB_1)),
        (b"SINCE 1-FEB-1994", DateMatch(DateField.INTERNAL, DateRelation.SINCE, FEB_1)),
        (b"SENTBEFORE 1-Feb-1994", DateMatch(DateField.SENT, DateRelation.BEFORE, FEB_1)),
        (b"SENTON 1-Feb-1994", DateMatch(DateField.SENT, DateRelation.ON, FEB_1)),
        (b"SENTSINCE 1-Feb-1994", DateMatch(DateField.SENT, DateRelation.SINCE, FEB_1)),
        (b"LARGER 1024", Larger(1024)),
        (b"SMALLER 10000000000", Smaller(10000000000)),
        (b"NOT NOT SEEN", Not(Not(SEEN))),
        (b"OR SEEN (FLAGGED DRAFT)", Or(SEEN, And((HasFlag("\\Flagged"), HasFlag("\\Draft"))))),
        (b"OR OR SEEN RECENT ALL", Or(Or(SEEN, RECENT), All())),
        (b"UID 1:100,200", UidMatch(SequenceSet(((1, 100), (200, 200))))),
        (b"2:4,*", SequenceMatch(SequenceSet(((2, 4), (STAR, STAR))))),
        (b"$", SequenceMatch(SequenceSet(saved=True))),
        (b"(SEEN)", SEEN),
        (b"((SEEN) (DELETED))", And((SEEN, HasFlag("\\Deleted")))),
        (b"MODSEQ 0", ModSeqAtLeast(0)),
        (b'MODSEQ "/flags/\\\\draft" all 620162338', ModSeqAtLeast(620162338, "\\Draft", "all")),
        (b'MODSEQ "/flags/$Junk" PRIV 5', ModSeqAtLeast(5, "$Junk", "priv")),
    ],
)
def test_every_key(keys: bytes, expected: SearchKey) -> None:
    assert key_of(keys) == expected


def test_keys_are_case_insensitive() -> None:
    assert key_of(b"unseen or Seen flagged") == And((Not(SEEN), Or(SEEN, HasFlag("\\Flagged"))))


def test_search_strings_are_utf8_text() -> None:
    assert key_of("SUBJECT {6}\r\nGrüß".encode()) == HeaderContains("subject", "Grüß")
    with pytest.raises(ParseError):
        key_of(b"SUBJECT {2}\r\n\xc3\x28")


@pytest.mark.parametrize("charset", [b"us-ascii", b"UTF-8", b'"utf-8"'])
def test_supported_charsets(charset: bytes) -> None:
    assert search(b"a SEARCH CHARSET " + charset + b" ALL").charset in ("US-ASCII", "UTF-8")


def test_unsupported_charset_is_a_distinct_no() -> None:
    with pytest.raises(ParseError) as caught:
        parse_wire(b"A5 SEARCH CHARSET ISO-8859-1 SUBJECT x")
    error = caught.value
    assert (error.tag, error.status, error.code) == (b"A5", NO, BADCHARSET_CODE)


def test_esearch_return_options() -> None:
    command = search(b"A1 UID SEARCH RETURN (MIN MAX COUNT SAVE) UNDELETED")
    assert command.uid
    assert command.return_options == frozenset(
        {SearchReturn.MIN, SearchReturn.MAX, SearchReturn.COUNT, SearchReturn.SAVE}
    )
    assert search(b"A1 SEARCH RETURN () ALL").return_options == frozenset({SearchReturn.ALL})
    assert search(b"A1 SEARCH ALL").return_options is None
    both = search(b"A1 SEARCH RETURN (ALL) CHARSET UTF-8 UID $")
    assert both.charset == "UTF-8" and both.key == UidMatch(SequenceSet(saved=True))


def test_searchres_saved_set_with_or() -> None:
    key = key_of(b"OR $ 1:5")
    assert key == Or(SequenceMatch(SequenceSet(saved=True)), SequenceMatch(SequenceSet(((1, 5),))))


@pytest.mark.parametrize(
    "keys",
    [
        b"",
        b"BOGUS",
        b"FROM",
        b"NOT",
        b"OR SEEN",
        b"BEFORE 31-Feb-1994",
        b"BEFORE 1-Foo-1994",
        b"BEFORE 1994-02-01",
        b'BEFORE "1-Feb-1994',
        b"LARGER x",
        b"LARGER 9223372036854775808",
        b"KEYWORD \\Seen",
        b"HEADER a:b x",
        b"UID *:x",
        b"0",
        b"()",
        b"(SEEN",
        b"SEEN)",
        b"SEEN  DELETED",
        b"MODSEQ -1",
        b'MODSEQ "/flags/\\\\bogus" all 5',
        b'MODSEQ "/other/x" all 5',
        b'MODSEQ "/flags/x" some 5',
        b"CHARSET UTF-8",
    ],
)
def test_search_rejects(keys: bytes) -> None:
    with pytest.raises(ParseError):
        parse_wire(b"a SEARCH " + keys)


def test_return_must_come_first_and_be_known() -> None:
    for wire in (b"a SEARCH CHARSET UTF-8 RETURN (MIN) ALL", b"a SEARCH RETURN (FIRST) ALL"):
        with pytest.raises(ParseError):
            parse_wire(wire)


def test_moderate_nesting_is_fine() -> None:
    depth = 30
    key = key_of(b"(" * depth + b"SEEN" + b")" * depth)
    assert key == SEEN
    assert key_of(b"NOT " * depth + b"SEEN") is not None
