"""Every SEARCH key of RFC 3501 §6.4.4 over a real server, against messages built so that
each key picks out a known set. The messages go in with APPEND (flags, INTERNALDATE) on a
server shared by the module; searches do not change them."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest

from mailhost.testing.server import MailhostTestServer
from tests.integration.helpers import ALICE, RawImap, imap_client, mail

LONG_BODY = "lorem ipsum " * 500  # makes message 3 the only one over 4000 octets
MESSAGES: list[tuple[bytes, str, str]] = [  # (message, flags, INTERNALDATE)
    (mail(1, sender="Alice Smith <asmith@example.org>", to="bob@example.test",
          extra="Cc: Carol <carol@example.com>\r\n", subject="Quarterly report",
          date="Mon, 1 Jan 2024 10:00:00 +0000", body="the numbers are up"),
     "(\\Seen \\Answered)", "01-Jan-2024 10:00:00 +0000"),
    (mail(2, sender="=?utf-8?q?Bj=C3=B8rn_=C3=98deg=C3=A5rd?= <bjorn@example.no>",
          subject="=?utf-8?q?Gr=C3=BC=C3=9Fe_aus_K=C3=B6ln?=",
          date="Mon, 15 Jan 2024 23:30:00 -0800", body="Schöne Grüße aus dem Rheinland"),
     "(\\Flagged $Important)", "15-Jan-2024 23:30:00 -0800"),
    (mail(3, sender="carol@example.com", extra="Bcc: hidden@example.net\r\n",
          subject="Lunch?", date="Thu, 1 Feb 2024 12:00:00 +0100", body=LONG_BODY),
     "(\\Deleted)", "01-Feb-2024 12:00:00 +0100"),
    (mail(4, subject="draft of the plan", date="Sat, 10 Feb 2024 08:00:00 +0000",
          body="unfinished"),
     "(\\Draft $Later)", "10-Feb-2024 08:00:00 +0000"),
    (mail(5, subject="encoded", date="Fri, 1 Mar 2024 09:00:00 +0000",
          extra="X-Mailer: mutt/2.2\r\n",
          body=base64.b64encode(b"the secret phrase is swordfish").decode())
     .replace(b"Content-Transfer-Encoding: 8bit", b"Content-Transfer-Encoding: base64"),
     "(\\Seen $Important)", "01-Mar-2024 09:00:00 +0000"),
    (mail(6, sender="Иван <ivan@example.ru>", subject="Привет, мир",
          date="Sun, 31 Mar 2024 23:59:59 +0000", body="ПРИВЕТСТВУЮ всех"),
     "()", "31-Mar-2024 23:59:59 +0000"),
]
ALL = list(range(1, len(MESSAGES) + 1))


def others(*excluded: int) -> list[int]:
    return [n for n in ALL if n not in excluded]


@pytest.fixture(scope="module")
def searcher(module_users: MailhostTestServer) -> Iterator[RawImap]:
    loader = imap_client(module_users)
    for message, flags, when in MESSAGES:
        typ, data = loader.append("INBOX", flags, f'"{when}"', message)
        assert typ == "OK", data
    loader.logout()
    raw = RawImap(module_users.port("imap", "starttls"))
    raw.login()
    raw.ok(b"EXAMINE INBOX")  # read-only: nothing a search does can change the messages
    yield raw
    raw.close()


def search(raw: RawImap, criteria: bytes) -> list[int]:
    lines = [line for line in raw.ok(b"SEARCH " + criteria) if line.startswith(b"* SEARCH")]
    assert len(lines) == 1, lines
    return [int(n) for n in lines[0].split()[2:]]


CASES: list[tuple[bytes, list[int]]] = [
    (b"ALL", ALL),
    (b"1:3", [1, 2, 3]),
    (b"2,4:*", [2, 4, 5, 6]),
    (b"*", [6]),
    (b"UID 2:3,6", [2, 3, 6]),
    (b"UID 5:*", [5, 6]),
    (b"ANSWERED", [1]), (b"UNANSWERED", others(1)),
    (b"DELETED", [3]), (b"UNDELETED", others(3)),
    (b"DRAFT", [4]), (b"UNDRAFT", others(4)),
    (b"FLAGGED", [2]), (b"UNFLAGGED", others(2)),
    (b"SEEN", [1, 5]), (b"UNSEEN", others(1, 5)),
    (b"KEYWORD $Important", [2, 5]), (b"UNKEYWORD $Important", others(2, 5)),
    (b"KEYWORD $Nothing", []), (b"UNKEYWORD $Nothing", ALL),
    # INTERNALDATE, by its date in its own time zone (§6.4.4: time and zone disregarded)
    (b"BEFORE 15-Jan-2024", [1]), (b"ON 15-Jan-2024", [2]), (b"SINCE 1-Mar-2024", [5, 6]),
    (b"ON 31-Mar-2024", [6]), (b"SINCE 1-Feb-2024 BEFORE 1-Mar-2024", [3, 4]),
    # the Date: header, likewise by the date as written
    (b"SENTBEFORE 15-Jan-2024", [1]), (b"SENTON 15-Jan-2024", [2]),
    (b"SENTSINCE 1-Feb-2024", [3, 4, 5, 6]), (b"SENTON 1-Feb-2024", [3]),
    (b"SENTON 31-Mar-2024", [6]),
    # header fields: case-insensitive substrings of the decoded text
    (b"FROM smith", [1]), (b"FROM ASMITH@EXAMPLE.ORG", [1]), (b"FROM example.no", [2]),
    (b"TO bob", [1]), (b"TO alice", others(1)), (b"CC carol", [1]), (b"BCC hidden", [3]),
    (b"SUBJECT REPORT", [1]), (b'SUBJECT "draft of"', [4]), (b"SUBJECT nothing", []),
    (b'HEADER X-Mailer "mutt/2"', [5]), (b'HEADER x-mailer ""', [5]),
    (b'HEADER Message-ID "<m6@"', [6]), (b"HEADER X-Absent x", []),
    # bodies, after undoing the transfer encoding
    (b"BODY numbers", [1]), (b"BODY SWORDFISH", [5]), (b"BODY report", []),
    (b"TEXT report", [1]), (b"TEXT mutt", [5]), (b"TEXT swordfish", [5]),
    (b"LARGER 4000", [3]), (b"SMALLER 4000", others(3)), (b"LARGER 100000", []),
    (b"NOT SEEN", others(1, 5)), (b"NOT NOT SEEN", [1, 5]),
    (b"OR FLAGGED DRAFT", [2, 4]), (b"OR (SEEN ANSWERED) DELETED", [1, 3]),
    (b"NOT (OR SEEN (DRAFT UNSEEN))", [2, 3, 6]),
    (b"(OR FROM smith FROM carol) (OR 1 3)", [1, 3]),
    (b"SEEN KEYWORD $Important UID 1:*", [5]),
]


@pytest.mark.parametrize(("criteria", "expected"), CASES, ids=[c.decode() for c, _ in CASES])
def test_search_key(searcher: RawImap, criteria: bytes, expected: list[int]) -> None:
    assert search(searcher, criteria) == expected


NON_ASCII: list[tuple[str, str, list[int]]] = [
    ("FROM", "ødegård", [2]),
    ("FROM", "ИВАН", [6]),
    ("SUBJECT", "grüsse aus köln", [2]),  # ß case-folds to ss
    ("SUBJECT", "ПРИВЕТ", [6]),
    ("BODY", "schöne grüße", [2]),
    ("TEXT", "приветствую", [6]),
    ("TEXT", "köln", [2]),
    ("HEADER Subject", "Привет", [6]),
]


@pytest.mark.parametrize(("key", "value", "expected"), NON_ASCII,
                         ids=[f"{k} {v}" for k, v, _ in NON_ASCII])
def test_search_non_ascii_with_literals(module_users: MailhostTestServer, searcher: RawImap,
                                        key: str, value: str, expected: list[int]) -> None:
    data = value.encode()
    criteria = b"CHARSET UTF-8 %s {%d+}\r\n%s" % (key.encode(), len(data), data)
    assert search(searcher, criteria) == expected
    if key == "SUBJECT":  # the same with a synchronising literal, as imaplib sends it
        client = imap_client(module_users)
        client.select("INBOX", readonly=True)
        client.literal = data  # type: ignore[attr-defined]
        typ, found = client.search("UTF-8", "SUBJECT")
        assert typ == "OK" and found == [" ".join(map(str, expected)).encode()]
        client.logout()


def test_uid_search_and_bad_keys(searcher: RawImap) -> None:
    lines = searcher.ok(b"UID SEARCH OR FLAGGED DRAFT")
    assert lines == [b"* SEARCH 2 4\r\n"]
    for bad in (b"SEARCH NOSUCHKEY", b"SEARCH BEFORE 31-Feb-2024", b"SEARCH (SEEN",
                b"SEARCH LARGER x", b"SEARCH 7:8x"):
        assert searcher.command(bad)[-1].split()[1] == b"BAD", bad
    assert searcher.command(b"SEARCH 99")[-1].split()[1] == b"BAD"  # beyond the last message


def test_recent_new_and_old(users: MailhostTestServer) -> None:
    """\\Recent belongs to the first session that sees a message (RFC 3501 §2.3.2)."""
    users.append(ALICE, mail(1), flags=["\\Seen"])
    users.append(ALICE, mail(2))
    first = RawImap(users.port("imap", "starttls"))
    first.login()
    first.ok(b"SELECT INBOX")
    assert search(first, b"RECENT") == [1, 2]
    assert search(first, b"NEW") == [2]  # recent and unseen
    assert search(first, b"OLD") == []
    users.append(ALICE, mail(3))
    second = RawImap(users.port("imap", "starttls"))
    second.login()
    second.ok(b"SELECT INBOX")  # takes message 3, which the first session has not seen
    assert search(second, b"RECENT") == [3]
    assert search(second, b"OLD") == [1, 2]
    assert search(second, b"NOT RECENT") == [1, 2]
    first.ok(b"NOOP")
    assert search(first, b"RECENT") == [1, 2]
    assert search(first, b"OLD") == [3]
    first.close()
    second.close()
