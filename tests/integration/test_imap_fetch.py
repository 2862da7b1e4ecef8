"""FETCH over a real server (RFC 3501 §6.4.5, §7.4.2): every data item and section kind on a
message nested three levels deep (multipart inside multipart, and a message/rfc822 part
holding its own multipart), with the expected bytes cut from the message by hand."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from mailhost.testing.server import MailhostTestServer
from tests.integration.helpers import ALICE, RawImap, fetch_items
from tests.unit.imap_grammar import Lst, parse, validate_body, validate_envelope

HEADER = (
    "From: Fred Foobar <foobar@example.test>\r\n"
    "To: mooch@example.test, \"Zoë\" <zoe@example.test>\r\n"
    "Subject: nested parts\r\n"
    "Date: Mon, 7 Feb 1994 21:52:25 -0800\r\n"
    "Message-ID: <nested@example.test>\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=\"outer\"\r\n"
    "\r\n"
)
PART1_MIME = "Content-Type: text/plain; charset=us-ascii\r\n\r\n"
PART1 = "part one\r\nsecond line"
PART21_MIME = ("Content-Type: text/plain; charset=utf-8\r\n"
               "Content-Transfer-Encoding: quoted-printable\r\n\r\n")
PART21 = "Gr=C3=BC=C3=9Fe"
PART22_MIME = "Content-Type: text/html; charset=utf-8\r\n\r\n"
PART22 = "<p>hello</p>"
PART2 = (f"--inner\r\n{PART21_MIME}{PART21}\r\n--inner\r\n{PART22_MIME}{PART22}\r\n"
         "--inner--")
PART2_MIME = "Content-Type: multipart/alternative; boundary=inner\r\n\r\n"
INNER_HEADER = ("From: inner@example.test\r\nSubject: forwarded\r\nMIME-Version: 1.0\r\n"
                "Content-Type: multipart/mixed; boundary=deep\r\n\r\n")
PART31_MIME = "Content-Type: text/plain\r\n\r\n"
PART31 = "forwarded text"
PART32_MIME = ("Content-Type: application/octet-stream; name=\"x.bin\"\r\n"
               "Content-Transfer-Encoding: base64\r\n"
               "Content-Disposition: attachment; filename=\"x.bin\"\r\n"
               "Content-Language: en\r\n"
               "Content-Location: http://example.test/x.bin\r\n"
               "Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\r\n\r\n")
PART32 = "AAECAw=="
INNER_TEXT = (f"--deep\r\n{PART31_MIME}{PART31}\r\n--deep\r\n{PART32_MIME}{PART32}\r\n"
              "--deep--\r\n")
PART3 = INNER_HEADER + INNER_TEXT
PART3_MIME = ("Content-Type: message/rfc822\r\n"
              "Content-Disposition: attachment; filename=\"fwd.eml\"\r\n\r\n")
TEXT = (f"preamble\r\n--outer\r\n{PART1_MIME}{PART1}\r\n--outer\r\n{PART2_MIME}{PART2}\r\n"
        f"--outer\r\n{PART3_MIME}{PART3}\r\n--outer--\r\n")
MESSAGE = (HEADER + TEXT).encode()
SECTIONS = {  # section -> expected bytes, all cut from the text above
    "": MESSAGE, "HEADER": HEADER, "TEXT": TEXT,
    "1": PART1, "1.MIME": PART1_MIME,
    "2": PART2, "2.MIME": PART2_MIME,
    "2.1": PART21, "2.1.MIME": PART21_MIME, "2.2": PART22, "2.2.MIME": PART22_MIME,
    "3": PART3, "3.MIME": PART3_MIME, "3.HEADER": INNER_HEADER, "3.TEXT": INNER_TEXT,
    "3.1": PART31, "3.1.MIME": PART31_MIME, "3.2": PART32, "3.2.MIME": PART32_MIME,
    "HEADER.FIELDS (Subject DATE)": ("Subject: nested parts\r\n"
                                     "Date: Mon, 7 Feb 1994 21:52:25 -0800\r\n\r\n"),
    "HEADER.FIELDS.NOT (From To Message-ID MIME-Version Content-Type)": (
        "Subject: nested parts\r\nDate: Mon, 7 Feb 1994 21:52:25 -0800\r\n\r\n"),
    "3.HEADER.FIELDS (SUBJECT)": "Subject: forwarded\r\n\r\n",
    "3.HEADER.FIELDS.NOT (SUBJECT FROM)": ("MIME-Version: 1.0\r\n"
                                           "Content-Type: multipart/mixed; boundary=deep\r\n"
                                           "\r\n"),
    "HEADER.FIELDS (X-NOT-THERE)": "\r\n",
}


SIMPLE = b"Subject: simple\r\n\r\nline one\r\nline two\r\n"


@pytest.fixture
def inbox(users: MailhostTestServer, raw_imap: RawImap) -> Iterator[RawImap]:
    """The two messages, selected read-write: for tests that change flags."""
    users.append(ALICE, MESSAGE)
    users.append(ALICE, SIMPLE)
    raw_imap.login()
    raw_imap.ok(b"SELECT INBOX")
    yield raw_imap


@pytest.fixture(scope="module")
def examined(module_users: MailhostTestServer) -> Iterator[RawImap]:
    """The two messages, EXAMINEd on a server shared by the module: nothing can change."""
    module_users.append(ALICE, MESSAGE)
    module_users.append(ALICE, SIMPLE)
    raw = RawImap(module_users.port("imap", "starttls"))
    raw.login()
    raw.ok(b"EXAMINE INBOX")
    yield raw
    raw.close()


def fetch(raw: RawImap, text: bytes) -> dict[bytes, bytes]:
    lines = [line for line in raw.ok(b"FETCH " + text) if b" FETCH (" in line]
    assert len(lines) == 1, lines
    return fetch_items(lines[0])


def as_bytes(value: str | bytes) -> bytes:
    return value.encode() if isinstance(value, str) else value


@pytest.mark.parametrize("section", list(SECTIONS))
def test_body_section(examined: RawImap, section: str) -> None:
    items = fetch(examined, f"1 BODY.PEEK[{section}]".encode())
    assert items == {f"BODY[{section}]".encode(): as_bytes(SECTIONS[section])}


def test_partial_sections(examined: RawImap) -> None:
    items = fetch(examined, b"1 (BODY.PEEK[]<0.4> BODY.PEEK[TEXT]<10.7> BODY.PEEK[3.1]<3.100> "
                         b"BODY.PEEK[1]<1000.10>)")
    assert items == {b"BODY[]<0>": b"From", b"BODY[TEXT]<10>": TEXT[10:17].encode(),
                     b"BODY[3.1]<3>": PART31[3:].encode(), b"BODY[1]<1000>": b""}


def test_single_part_message_has_part_one(examined: RawImap) -> None:
    items = fetch(examined, b"2 (BODY.PEEK[1] BODY.PEEK[TEXT] BODY.PEEK[1.MIME])")
    assert items[b"BODY[1]"] == items[b"BODY[TEXT]"] == b"line one\r\nline two\r\n"
    # §6.4.5: "part 1" of a non-multipart message is its body; its MIME header is the
    # message header.
    assert items[b"BODY[1.MIME]"] == b"Subject: simple\r\n\r\n"


def test_nonexistent_part_is_empty_or_nil(examined: RawImap) -> None:
    for section in (b"4", b"2.3", b"1.1", b"3.2.1"):
        value = fetch(examined, b"1 BODY.PEEK[%s]" % section)[b"BODY[%s]" % section]
        assert value in (b"", b"NIL"), section


def test_rfc822_items_and_seen(users: MailhostTestServer, inbox: RawImap) -> None:
    items = fetch(inbox, b"1 (RFC822.HEADER RFC822.SIZE FLAGS)")  # a PEEK: stays unseen
    assert items == {b"RFC822.HEADER": HEADER.encode(), b"RFC822.SIZE": b"%d" % len(MESSAGE),
                     b"FLAGS": b"(\\Recent)"}
    items = fetch(inbox, b"1 RFC822.TEXT")
    assert items == {b"RFC822.TEXT": TEXT.encode(), b"FLAGS": b"(\\Seen \\Recent)"}
    items = fetch(inbox, b"2 (RFC822 FLAGS)")
    assert items[b"RFC822"] == SIMPLE
    assert items[b"FLAGS"] == b"(\\Seen \\Recent)"
    assert users.message_flags(ALICE) == {1: ("\\Seen",), 2: ("\\Seen",)}


def test_body_without_peek_sets_seen_but_not_when_examined(users: MailhostTestServer,
                                                           inbox: RawImap) -> None:
    inbox.ok(b"EXAMINE INBOX")
    items = fetch(inbox, b"1 (BODY[1] RFC822.TEXT)")
    assert set(items) == {b"BODY[1]", b"RFC822.TEXT"}  # no FLAGS: nothing changed
    assert users.message_flags(ALICE)[1] == ()
    inbox.ok(b"SELECT INBOX")
    items = fetch(inbox, b"1 BODY[3.2]<0.2>")
    assert items == {b"BODY[3.2]<0>": b"AA", b"FLAGS": b"(\\Seen)"}
    assert users.message_flags(ALICE)[1] == ("\\Seen",)
    inbox.ok(b"STORE 1 -FLAGS (\\Seen)")
    lines = inbox.ok(b"FETCH 1 (UID BODY[HEADER])")  # the item and the new flags, once
    assert [fetch_items(line) for line in lines] == [
        {b"UID": b"1", b"BODY[HEADER]": HEADER.encode(), b"FLAGS": b"(\\Seen)"}]


def test_macros(examined: RawImap) -> None:
    fast = fetch(examined, b"1 FAST")
    assert list(fast) == [b"FLAGS", b"INTERNALDATE", b"RFC822.SIZE"]
    assert list(fetch(examined, b"1 ALL")) == [*fast, b"ENVELOPE"]
    full = fetch(examined, b"1 FULL")
    assert list(full) == [*fast, b"ENVELOPE", b"BODY"]
    assert re.fullmatch(rb'"[ 0-9]{2}-[A-Z][a-z]{2}-[0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} '
                        rb'[-+][0-9]{4}"', full[b"INTERNALDATE"])
    validate_body(full[b"BODY"], extensible=False)


def test_envelope(examined: RawImap) -> None:
    envelope = fetch(examined, b"1 ENVELOPE")[b"ENVELOPE"]
    validate_envelope(envelope)
    assert envelope == (
        b'("Mon, 7 Feb 1994 21:52:25 -0800" "nested parts" '
        b'(("Fred Foobar" NIL "foobar" "example.test")) '
        b'(("Fred Foobar" NIL "foobar" "example.test")) '
        b'(("Fred Foobar" NIL "foobar" "example.test")) '
        b'((NIL NIL "mooch" "example.test")({4}\r\nZo\xc3\xab NIL "zoe" "example.test")) '
        b'NIL NIL NIL "<nested@example.test>")')


def test_bodystructure_with_extension_data(examined: RawImap) -> None:
    items = fetch(examined, b"1 (BODY BODYSTRUCTURE UID)")
    assert items[b"UID"] == b"1"
    validate_body(items[b"BODY"], extensible=False)
    structure = validate_body(items[b"BODYSTRUCTURE"], extensible=True)
    assert isinstance(structure, Lst)
    part1, part2, part3, subtype, params = structure[:5]
    assert (subtype, params) == (b"mixed", [b"boundary", b"outer"])
    assert part1[:7] == [b"text", b"plain", [b"charset", b"us-ascii"], None, None, b"7bit",
                         len(PART1)]
    assert part1[7] == 2  # lines
    assert part2[2:4] == [b"alternative", [b"boundary", b"inner"]]
    assert part2[0][5:7] == [b"quoted-printable", len(PART21)]
    assert part2[1][:2] == [b"text", b"html"]
    assert part3[:2] == [b"message", b"rfc822"]
    assert part3[6] == len(PART3)
    assert part3[7][1] == b"forwarded"  # the envelope of the attached message
    inner = part3[8]
    assert inner[2] == b"mixed"
    attachment = inner[1]
    assert attachment[:7] == [b"application", b"octet-stream", [b"name", b"x.bin"], None,
                              None, b"base64", len(PART32)]
    md5, disposition, language, location = attachment[7:11]
    assert md5 == b"Q2hlY2sgSW50ZWdyaXR5IQ=="
    assert disposition == [b"attachment", [b"filename", b"x.bin"]]
    assert language in (b"en", [b"en"])
    assert location == b"http://example.test/x.bin"
    assert part3[10] is None and part3[11] == [b"attachment", [b"filename", b"fwd.eml"]]


def test_each_leaf_size_matches_its_section(examined: RawImap) -> None:
    """body-fld-octets and body-fld-lines agree with the bytes BODY[part] returns."""
    structure = parse(fetch(examined, b"1 BODYSTRUCTURE")[b"BODYSTRUCTURE"])
    leaves = {"1": structure[0], "2.1": structure[1][0], "2.2": structure[1][1],  # type: ignore[index]
              "3.1": structure[2][8][0], "3.2": structure[2][8][1]}  # type: ignore[index]
    for section, leaf in leaves.items():
        data = fetch(examined, f"1 BODY.PEEK[{section}]".encode())[f"BODY[{section}]".encode()]
        assert leaf[6] == len(data), section
        if leaf[0] == b"text":
            assert leaf[7] == data.count(b"\n") + (not data.endswith(b"\n")), section


def test_bad_fetches(examined: RawImap) -> None:
    for bad in (b"FETCH 1 (BODY[HEADER.FIELDS ()])", b"FETCH 1 BODY[0]", b"FETCH 1 NOTHING",
                b"FETCH 1 BODY[]<1.0.2>", b"FETCH 3 FLAGS", b"FETCH 1 (FLAGS"):
        assert examined.command(bad)[-1].split()[1] == b"BAD", bad
