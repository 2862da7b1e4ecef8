"""Mail delivered over LMTP or SMTP is stored before its MIME analysis (store/sqlite/bodies.py);
an IMAP client reading it at once must see what it would see for the same message appended."""

from __future__ import annotations

import re
import smtplib

from mailhost.testing.server import MailhostTestServer
from tests.integration.helpers import ALICE
from tests.integration.sync.conftest import Connect
from tests.unit.test_store_deferred_analysis import message

MESSAGE = message(7)  # multipart, RFC 2047 words, quoted-printable and base64 parts


def structure(lines: list[bytes]) -> list[bytes]:
    """The FETCH lines without the message number and UID, which differ."""
    return [re.sub(rb"^\* \d+ FETCH \(UID \d+ ", b"", line) for line in lines]


def test_delivered_mail_reads_as_appended_mail_at_once(
    users: MailhostTestServer, connect: Connect,
) -> None:
    with smtplib.LMTP("127.0.0.1", users.port("lmtp"), timeout=10) as lmtp:
        assert lmtp.sendmail("s@remote.test", [ALICE], MESSAGE) == {}
    with smtplib.SMTP("127.0.0.1", users.port("smtp"), timeout=10) as smtp:
        assert smtp.sendmail("s@remote.test", [ALICE], MESSAGE) == {}
    session = connect()  # straight away: the background analysis may not have run yet
    session.append(b"INBOX", MESSAGE)
    assert session.ok(b"UID SEARCH TEXT quokka") == [b"* SEARCH 1 2 3"]
    assert session.ok(b'UID SEARCH FROM jurgen TO ann BODY "number 7"') == [b"* SEARCH 1 2 3"]
    fetched = structure(session.ok(b"UID FETCH 1:3 (ENVELOPE BODYSTRUCTURE)"))
    assert len(fetched) == 3 and fetched[0] == fetched[1] == fetched[2], fetched
    assert b'("application" "pdf" ("name" "a.pdf") NIL NIL "base64"' in fetched[0]
    assert b'("text" "plain" ("charset" "utf-8") NIL NIL "quoted-printable"' in fetched[0]
    assert b'"<7@example.test>"' in fetched[0]
